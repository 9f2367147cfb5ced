// SPDX-License-Identifier: MIT
/* 'initrd-test stop': ask the initrd-test that runs a VM to power it off, and wait. */
#include <stdint.h>
#include <stdio.h>

#include "common/log.h"
#include "common/util.h"
#include "runner/runner.h"
#include "src/cmds.h"
#include "src/options.h"
#include "src/running.h"

#define STOP_TIMEOUT_MS (30 * 1000)

static const char intro[] =
    "usage: initrd-test stop [options] NAME|PID\n"
    "\n"
    "Ask the initrd-test that runs a VM to power it off cleanly (QMP quit, then\n"
    "signals), and wait until it has. Its 'initrd-test run' ends as interrupted.\n"
    "\n";

static const char outro[] =
    "exit codes: 0 stopped, 2 usage error (several VMs match), 3 no such VM or\n"
    "            the connection failed, 4 it did not stop in time\n";

static const struct opt stop_opts[] = {
    {1, 't', "timeout", "DUR", "how long to wait (default 30s)"},
};

static int take(void *ctx, int id, const char *arg, struct it_error *err)
{
	int64_t *timeout = ctx;

	(void)id;
	if (!parse_duration_ms(arg, timeout) || *timeout <= 0 || *timeout > INT32_MAX)
		return it_error_set(err, -IT_EUSAGE,
				    "bad --timeout '%s': give a duration like 30s or 2m", arg);
	return 0;
}

static const struct opt_group stop_group = OPT_GROUP(NULL, stop_opts, take);
static const struct opt_group *const groups[] = {&stop_group};
static const struct opt_cmd stop_cmd = {"stop", intro, outro, groups, ARRAY_SIZE(groups), false};

int cmd_stop(int argc, char **argv)
{
	struct vm_hub_list list = VM_HUB_LIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	const struct vm_hub_entry *vm = NULL;
	int64_t timeout = STOP_TIMEOUT_MS;
	void *ctxs[] = {&timeout};
	int first = opt_parse(&stop_cmd, ctxs, argc, argv), r;

	if (first < 0)
		return first == OPT_HELP_SHOWN ? EXIT_PASS : EXIT_USAGE;
	if (argc - first != 1) {
		opt_usage_error(&stop_cmd, first < argc ? "one VM at a time" : "no VM given");
		return EXIT_USAGE;
	}
	r = running_find(&list, argv[first], &vm, &err);
	if (r == 0)
		r = vm_hub_poweroff(vm, (int)timeout, &err);
	if (r == 0)
		log_info("stopped %s", vm->name);
	vm_hub_list_release(&list);
	if (r < 0) {
		log_it_error(&err, r);
		return exit_code_for(r);
	}
	return EXIT_PASS;
}
