// SPDX-License-Identifier: MIT
/* 'initrd-test ps': list the VMs that initrd-test runs now. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "runner/runner.h"
#include "src/cmds.h"
#include "src/json.h"
#include "src/options.h"

static const char intro[] =
    "usage: initrd-test ps [-q|--json]\n"
    "\n"
    "List the VMs that initrd-test runs now, oldest first: NAME (for attach and\n"
    "stop), PID (of initrd-test), SCENARIO, UPTIME and the current STEP. Entries\n"
    "left behind by an initrd-test that died are removed.\n"
    "\n";

static const char outro[] =
    "--json prints one array of objects: name, scenario, pid, qemu_pid, started\n"
    "(unix seconds), uptime (seconds), step, socket (its console), qmp; a field\n"
    "with no value is null.\n"
    "\n"
    "examples:\n"
    "  initrd-test ps\n"
    "  initrd-test stop $(initrd-test ps -q | head -n 1)\n"
    "\n"
    "exit codes: 0 listed (also when none runs), 3 the directory cannot be read\n";

enum ps_format { PS_TABLE, PS_NAMES, PS_JSON };

static const struct opt ps_opts[] = {
    {PS_NAMES, 'q', "quiet", NULL, "the names only, one a line (for scripts and completion)"},
    {PS_JSON, 0, "json", NULL, "the list as JSON, for programs"},
};

static int take(void *ctx, int id, const char *arg, struct it_error *err)
{
	enum ps_format *f = ctx;

	(void)arg;
	(void)err;
	*f = (enum ps_format)id;
	return 0;
}

static const struct opt_group ps_group = OPT_GROUP(NULL, ps_opts, take);
static const struct opt_group *const groups[] = {&ps_group};
static const struct opt_cmd ps_cmd = {"ps", intro, outro, groups, ARRAY_SIZE(groups), false};

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

static void print_names(const struct vm_hub_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		printf("%s\n", list->v[i].name);
}

/* A string field, null when empty; escaped as results.json's are (jstr). */
static json_t *jtext(const char *s)
{
	return s && s[0] ? jstr(s) : json_null();
}

static int print_json(const struct vm_hub_list *list)
{
	int64_t now = (int64_t)time(NULL);
	json_t *a = json_array();
	int r = 0;

	for (size_t i = 0; a && i < list->n; i++) {
		const struct vm_hub_entry *e = &list->v[i];
		json_t *o = json_pack(
		    "{s:o, s:o, s:I, s:o, s:I, s:I, s:o, s:o, s:o}", "name", jtext(e->name),
		    "scenario", jtext(e->scenario), "pid", (json_int_t)e->pid, "qemu_pid",
		    e->qemu_pid > 0 ? json_integer(e->qemu_pid) : json_null(), "started",
		    (json_int_t)e->started, "uptime",
		    (json_int_t)(now > e->started ? now - e->started : 0), "step", jtext(e->step),
		    "socket", jtext(e->socket), "qmp", jtext(e->qmp));

		if (!o || json_array_append_new(a, o) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	if (!a || json_dumpf(a, stdout, JSON_INDENT(2)) != 0 || putchar('\n') == EOF)
		r = -ENOMEM;
	json_decref(a);
	return r;
}

int cmd_ps(int argc, char **argv)
{
	struct vm_hub_list list = VM_HUB_LIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	enum ps_format format = PS_TABLE;
	void *ctxs[] = {&format};
	int first = opt_parse(&ps_cmd, ctxs, argc, argv), r;

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
	r = 0;
	if (format == PS_JSON)
		r = print_json(&list);
	else if (format == PS_NAMES)
		print_names(&list);
	else
		print_list(&list);
	vm_hub_list_release(&list);
	if (r < 0 || fflush(stdout) != 0) {
		log_error("cannot write the list: %s", strerror(errno));
		return EXIT_INFRA;
	}
	return EXIT_PASS;
}
