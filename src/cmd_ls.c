// SPDX-License-Identifier: MIT
/* 'initrd-test ls': list the entries of an initrd, as plain paths or like 'ls -ln'. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "builder/builder.h"
#include "common/log.h"
#include "src/cmds.h"

static const char ls_usage[] =
    "usage: initrd-test ls [options] INITRD\n"
    "\n"
    "List what an initrd holds, one entry per line: a newc cpio, plain or\n"
    "compressed (gzip, zstd, xz, lzma, bzip2, lz4), or several archives one after\n"
    "the other (an uncompressed early cpio first, as for CPU microcode).\n"
    "\n"
    "  -l, --long     mode, links, uid, gid, size (or major, minor), path, -> target\n"
    "  -t, --time     also the mtime, in UTC (implies --long)\n"
    "  -h, --help     this help\n"
    "\n"
    "exit codes: 0 listed, 2 usage error, 3 the file cannot be read\n";

int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"long", no_argument, NULL, 'l'},
	    {"time", no_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct it_error err = IT_ERROR_INIT;
	unsigned flags = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "lth", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			flags |= BUILDER_LIST_LONG;
			break;
		case 't':
			flags |= BUILDER_LIST_LONG | BUILDER_LIST_TIME;
			break;
		case 'h':
			fputs(ls_usage, stdout);
			return EXIT_PASS;
		default:
			fprintf(stderr, "try 'initrd-test ls --help'\n");
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		log_error("%s", argc - optind ? "one initrd at a time" : "no initrd given");
		fprintf(stderr, "try 'initrd-test ls --help'\n");
		return EXIT_USAGE;
	}
	r = builder_list_initrd(argv[optind], stdout, flags, NULL, &err);
	if (fflush(stdout) != 0 && r == 0)
		r = it_error_set(&err, -EIO, "cannot write the listing");
	if (r < 0) {
		log_it_error(&err, r);
		return EXIT_INFRA;
	}
	return EXIT_PASS;
}
