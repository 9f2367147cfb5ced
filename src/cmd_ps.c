// SPDX-License-Identifier: MIT
/* 'initrd-test ps': list the VMs that initrd-test runs now. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "runner/runner.h"
#include "src/cmds.h"
#include "src/options.h"

static const char intro[] =
    "usage: initrd-test ps\n"
    "\n"
    "List the VMs that initrd-test runs now, oldest first: NAME (for attach and\n"
    "stop), PID (of initrd-test), SCENARIO, UPTIME and the current STEP. Entries\n"
    "left behind by an initrd-test that died are removed.\n"
    "\n";

static const char outro[] =
    "exit codes: 0 listed (also when none runs), 3 the directory cannot be read\n";

static const struct opt_cmd ps_cmd = {"ps", intro, outro, NULL, 0, false};

static void format_uptime(int64_t secs, char *out, size_t outsz)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(out, outsz, "%llds", (long long)secs);
	else if (secs < 3600)
		snprintf(out, outsz, "%lldm%02llds", (long long)secs / 60, (long long)secs % 60);
	else if (secs < 86400)
		snprintf(out, outsz, "%lldh%02lldm", (long long)secs / 3600,
			 (long long)secs % 3600 / 60);
	else
		snprintf(out, outsz, "%lldd%02lldh", (long long)secs / 86400,
			 (long long)secs % 86400 / 3600);
}

static int widest(int w, const char *s)
{
	int n = (int)strlen(s);

	return n > w ? n : w;
}

static void print_list(const struct vm_hub_list *list)
{
	int64_t now = (int64_t)time(NULL);
	int wname = widest(0, "NAME"), wscen = widest(0, "SCENARIO");
	char uptime[32];

	for (size_t i = 0; i < list->n; i++) {
		wname = widest(wname, list->v[i].name);
		wscen = widest(wscen, list->v[i].scenario);
	}
	printf("%-*s  %7s  %-*s  %7s  %s\n", wname, "NAME", "PID", wscen, "SCENARIO", "UPTIME",
	       "STEP");
	for (size_t i = 0; i < list->n; i++) {
		const struct vm_hub_entry *e = &list->v[i];

		format_uptime(now - e->started, uptime, sizeof(uptime));
		printf("%-*s  %7ld  %-*s  %7s  %s\n", wname, e->name, (long)e->pid, wscen,
		       e->scenario[0] ? e->scenario : "-", uptime, e->step[0] ? e->step : "-");
	}
}

int cmd_ps(int argc, char **argv)
{
	struct vm_hub_list list = VM_HUB_LIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	int first = opt_parse(&ps_cmd, NULL, argc, argv), r;

	if (first < 0)
		return first == OPT_HELP_SHOWN ? EXIT_PASS : EXIT_USAGE;
	if (first < argc) {
		opt_usage_error(&ps_cmd, "'ps' takes no arguments");
		return EXIT_USAGE;
	}
	r = vm_hub_list(&list, &err);
	if (r < 0) {
		log_it_error(&err, r);
		return EXIT_INFRA;
	}
	print_list(&list);
	vm_hub_list_release(&list);
	if (fflush(stdout) != 0) {
		log_error("cannot write the list: %s", strerror(errno));
		return EXIT_INFRA;
	}
	return EXIT_PASS;
}
