// SPDX-License-Identifier: MIT
/* Entry point: global options and the table that dispatches subcommands. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "src/cmds.h"

static const struct cmd commands[] = {
    {"build", cmd_build, "build an Alpine initrd from APK repositories"},
    {"resolve", cmd_resolve, "print the install plan for packages, without building"},
    {"lock", cmd_lock, "write a scenario's initrd-test.lock: its exact packages"},
    {"ls", cmd_ls, "list the contents of an initrd (cpio, optionally compressed)"},
    {"run", cmd_run, "build, boot in qemu and check the console against a scenario"},
    {"boot", cmd_boot, "build, boot and attach this terminal to the console, by hand"},
    {"replay", cmd_replay, "check a scenario's expectations against a recorded console log"},
    {"report", cmd_report, "merge the results of runs, suites and shards into one verdict"},
    {"attach", cmd_attach, "connect the terminal to a running VM's console (Ctrl-] d detaches)"},
    {"ps", cmd_ps, "list the VMs that initrd-test runs now"},
    {"stop", cmd_stop, "power a running VM off cleanly"},
    {"exec", cmd_exec, "run a command in a running VM's guest: its output and exit status"},
    {"cp", cmd_cp, "copy a file into or out of a running VM's guest, checksummed"},
    {"cache", cmd_cache, "list and prune the saved checkpoints that let runs skip a boot"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: initrd-test [-q|-v] [--version] <command> [options] [args]\n\n"
		   "Build Alpine Linux initrds from APK repositories without root, boot them\n"
		   "in qemu and check the serial console against a scenario; run commands\n"
		   "and copy files in the guest over its agent's own channel.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\nglobal options:\n"
		"  -q, --quiet      only errors\n"
		"  -v, --verbose    more detail (repeat for debug)\n"
		"  -V, --version    print the version\n"
		"  -h, --help       this help\n\n"
		"'initrd-test <command> --help' explains a command.\n"
		"exit codes: 0 passed, 1 scenario failed, 2 usage or scenario error,\n"
		"            3 infrastructure error, 4 timeout, 130 interrupted\n\n"
		"environment:\n"
		"  INITRD_TEST_ACCEL  kvm or tcg: overrides --accel (tcg where KVM must not run)\n"
		"  INITRD_TEST_KEYS   trusted keys directory (default: keys/ beside the binary,\n"
		"                     else " IT_DATADIR "/keys)\n"
		"  XDG_CACHE_HOME     the download cache is $XDG_CACHE_HOME/initrd-test\n"
		"  XDG_RUNTIME_DIR    running VMs' console sockets: $XDG_RUNTIME_DIR/initrd-test\n"
		"  SOURCE_DATE_EPOCH  newest mtime in the initrd (reproducible builds)\n"
		"  NO_COLOR           no colours in tables and progress\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	log_init();
	/* '+': stop at the first non-option, the command name. */
	while ((c = getopt_long(argc, argv, "+qvVh", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			log_verbosity = LOG_QUIET;
			break;
		case 'v':
			log_verbosity++;
			break;
		case 'V':
			printf("initrd-test %s\n", IT_VERSION);
			return EXIT_PASS;
		case 'h':
			usage(stdout);
			return EXIT_PASS;
		default:
			fprintf(stderr, "try 'initrd-test --help'\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name))
			continue;
		int sub_argc = argc - optind;
		char **sub_argv = argv + optind;

		optind = 0; /* full reset of getopt for the subcommand */
		return commands[i].fn(sub_argc, sub_argv);
	}
	log_error("unknown command '%s'", argv[optind]);
	fprintf(stderr, "try 'initrd-test --help'\n");
	return EXIT_USAGE;
}
