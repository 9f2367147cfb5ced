// SPDX-License-Identifier: MIT
/* 'initrd-test run': build a scenario's initrd, boot it, drive the console, give a verdict. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/builder.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "expect/expect.h"
#include "runner/runner.h"
#include "src/cmds.h"
#include "src/overrides.h"
#include "src/report.h"
#include "src/run.h"
#include "src/scenario.h"

static const char run_usage[] =
	"usage: initrd-test run [options] SCENARIO\n"
	"\n"
	"Build the scenario's initrd (packages come from the cache when they can), boot it\n"
	"in qemu with the serial console on a pty, and check the console against the\n"
	"scenario's steps. The VM stops as soon as the last step passes.\n"
	"\n"
	"  -o, --out DIR          where the run's files go (default initrd-test-out/NAME):\n"
	"                         initrd.img, vmlinuz, console.log (timestamped, cleaned),\n"
	"                         console.raw, command.txt, plan.txt, result.json\n"
	"      --initrd FILE      boot this initrd instead of building one (needs --kernel)\n"
	"      --accel A          auto (KVM when /dev/kvm is usable), kvm or tcg;\n"
	"                         INITRD_TEST_ACCEL overrides\n"
	"      --backend B        qemu (default) or crosvm\n"
	"      --memory SIZE      guest memory (512M, 1G)\n"
	"      --timeout DUR      the whole run (180s, 5m); --step-timeout DUR per step\n"
	"      --junit FILE       JUnit XML for CI\n"
	"      --json FILE        the result as JSON (timings of every step)\n"
	"  -q, --quiet            no live console, no table: the verdict only\n"
	"  -h, --help             this help\n"
	"\n" OVERRIDES_HELP "\n"
	"examples:\n"
	"  initrd-test run scenarios/networking\n"
	"  initrd-test run --repo tests/data/alpine-3.19.1 --kernel host scenarios/networking\n"
	"  initrd-test run --junit results.xml -q scenarios/minimal\n"
	"\n"
	"exit codes: 0 passed, 1 failed or crashed, 2 usage or scenario error,\n"
	"            3 infrastructure error (qemu, kernel, packages), 4 timed out\n";

enum {
	OPT_OUT = OPT_SHARED_MAX + 1,
	OPT_INITRD,
	OPT_ACCEL,
	OPT_BACKEND,
	OPT_MEMORY,
	OPT_TIMEOUT,
	OPT_STEP_TIMEOUT,
	OPT_JUNIT,
	OPT_JSON,
};

void run_opts_init(struct run_opts *o)
{
	memset(o, 0, sizeof(*o));
	overrides_init(&o->ov);
	o->accel = -1;
	o->backend = -1;
}

void run_opts_release(struct run_opts *o)
{
	overrides_release(&o->ov);
}

/* The live state of one run, shared by the loop's callbacks. */
struct run_ctx {
	struct vm *vm;
	struct expect *engine;
	struct conlog *conlog;
	struct buf logbuf;          /* cleaned, timestamped lines waiting to be written */
	int raw_fd, log_fd;
	bool live;                  /* console to stdout */
	int64_t start_ms;
	int err;                    /* first write error */
};

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Hand the engine's queued bytes (sends, cursor-position answers) to the VM. */
static int flush_engine_output(struct run_ctx *c)
{
	struct blob out = expect_output(c->engine);
	int r;

	if (!out.len)
		return 0;
	r = vm_write(c->vm, out.ptr, out.len);
	if (r < 0)
		return r;
	expect_output_consume(c->engine, out.len);
	return 0;
}

static int state_to_stop(int state)
{
	return state == EXPECT_RUNNING ? 0 : 1;
}

static int on_output(void *ctx, const char *buf, size_t len, int64_t now)
{
	struct run_ctx *c = ctx;
	int state, r;

	if (c->raw_fd >= 0 && !c->err)
		c->err = write_all(c->raw_fd, buf, len);
	if (c->conlog && !c->err) {
		r = conlog_feed(c->conlog, buf, len, now, &c->logbuf);
		if (r == 0 && c->logbuf.len) {
			r = write_all(c->log_fd, c->logbuf.data, c->logbuf.len);
			buf_reset(&c->logbuf);
		}
		if (r < 0)
			c->err = r;
	}
	if (c->live)
		write_all(STDOUT_FILENO, buf, len);
	state = expect_feed(c->engine, buf, len, now);
	if (state < 0)
		return state;
	r = flush_engine_output(c);
	if (r < 0)
		return r;
	return state_to_stop(state);
}

static int64_t on_deadline(void *ctx)
{
	struct run_ctx *c = ctx;

	return expect_deadline(c->engine);
}

static int on_timer(void *ctx, int64_t now)
{
	struct run_ctx *c = ctx;
	int state = expect_tick(c->engine, now);

	if (state < 0)
		return state;
	return state_to_stop(state);
}

static int open_log(const char *dir, const char *name, int *fd, struct it_error *err)
{
	char path[PATH_MAX];

	if (path_join(path, sizeof(path), dir, name) < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s/%s': name too long", dir, name);
	*fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (*fd < 0)
		return it_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

static int write_text_file(const char *dir, const char *name, const char *text,
			   struct it_error *err)
{
	char path[PATH_MAX];
	int r;

	if (path_join(path, sizeof(path), dir, name) < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s/%s': name too long", dir, name);
	r = write_file_atomic(path, text, strlen(text), 0644);
	if (r < 0)
		return it_error_set(err, r, "cannot write '%s': %s", path, it_strerror(r));
	return 0;
}

/* Build the initrd and kernel into the run directory, unless the user gave them. */
static int build_image(struct scenario *s, const struct run_opts *o, const char *dir,
		       struct vm_config *vm, struct it_error *err)
{
	struct build_result res;
	char path[PATH_MAX];
	int r;

	if (o->initrd) {
		if (!s->build.kernel_image)
			return it_error_set(err, -IT_EUSAGE, "--initrd needs --kernel PATH");
		free(vm->initrd);
		free(vm->kernel);
		vm->initrd = strdup(o->initrd);
		vm->kernel = strdup(s->build.kernel_image);
		return vm->initrd && vm->kernel ? 0 : -ENOMEM;
	}
	if (path_join(path, sizeof(path), dir, "initrd.img") < 0)
		return -ENAMETOOLONG;
	free(s->build.output);
	s->build.output = strdup(path);
	if (path_join(path, sizeof(path), dir, "vmlinuz") < 0)
		return -ENAMETOOLONG;
	free(s->build.kernel_out);
	s->build.kernel_out = strdup(path);
	if (!s->build.output || !s->build.kernel_out)
		return -ENOMEM;
	memset(&res, 0, sizeof(res));
	r = builder_build(&s->build, &res, err);
	if (r == 0 && res.plan_text)
		r = write_text_file(dir, "plan.txt", res.plan_text, err);
	if (r == 0 && !res.kernel_path)
		r = it_error_set(err, -IT_EKERNEL, "scenario '%s' has no kernel", s->path);
	if (r == 0) {
		log_info("built %s: %zu packages, %.1f MiB, kernel %s", s->build.output,
			 res.plan.n, res.initrd_bytes / 1048576.0,
			 res.kernel_version ? res.kernel_version : "?");
		free(vm->initrd);
		free(vm->kernel);
		vm->initrd = strdup(s->build.output);
		vm->kernel = strdup(res.kernel_path);
		if (!vm->initrd || !vm->kernel)
			r = -ENOMEM;
	}
	build_result_release(&res);
	return r;
}

static int apply_vm_options(struct scenario *s, const struct run_opts *o)
{
	if (o->accel >= 0)
		s->vm.accel = (enum vm_accel)o->accel;
	if (o->backend >= 0)
		s->vm.backend = (enum vm_backend)o->backend;
	if (o->memory_mib > 0)
		s->vm.memory_mib = o->memory_mib;
	if (o->timeout_ms > 0)
		s->timeout_ms = o->timeout_ms;
	if (o->step_timeout_ms > 0)
		scenario_set_step_timeout(s, o->step_timeout_ms);
	return 0;
}

static int boot_and_check(struct scenario *s, struct run_ctx *c, struct run_report *rep,
			  const char *dir, struct it_error *err)
{
	static const struct vm_ops ops = { on_output, on_deadline, on_timer };
	struct vm_info const *info;
	struct strlist argv = STRLIST_INIT;
	struct it_error stop_err = IT_ERROR_INIT;
	int r;

	r = vm_start(&s->vm, &c->vm, err);
	if (r < 0)
		return r;
	info = vm_info(c->vm);
	log_info("booting %s with %s (%s)", s->name, info->binary, info->accel_desc);
	run_report_setstr(&rep->accel, vm_accel_name(info->accel));
	if (vm_build_argv(&s->vm, info->accel, NULL, &argv, NULL) == 0) {
		run_report_set_command(rep, argv.v);
		if (rep->command) {
			char line[PATH_MAX * 2];

			snprintf(line, sizeof(line), "%s\n", rep->command);
			write_text_file(dir, "command.txt", line, NULL);
		}
	}
	strlist_clear(&argv);
	rep->start_wall_ms = (int64_t)time(NULL) * 1000;
	c->start_ms = info->start_ms;
	r = expect_start(c->engine, info->start_ms);
	if (r == 0 && c->conlog)
		conlog_start(c->conlog, info->start_ms);
	if (r == 0)
		r = vm_run(c->vm, &ops, c, err);
	info = vm_info(c->vm);
	rep->first_byte_ms = info->first_output_ms;
	rep->duration_ms = now_ms() - info->start_ms;
	if (r == VM_RUN_EXITED && expect_state(c->engine) == EXPECT_RUNNING)
		expect_eof(c->engine, now_ms());
	if (r >= 0)
		r = 0;
	vm_stop(c->vm, 3000, &stop_err);
	return r;
}

static int finish_logs(struct run_ctx *c)
{
	int r = 0;

	if (c->conlog) {
		r = conlog_finish(c->conlog, &c->logbuf);
		if (r == 0 && c->logbuf.len && c->log_fd >= 0)
			r = write_all(c->log_fd, c->logbuf.data, c->logbuf.len);
		buf_reset(&c->logbuf);
	}
	return r;
}

int run_scenario(const char *scenario, const struct run_opts *o, struct it_error *err)
{
	struct scenario s;
	struct run_ctx c;
	struct run_report rep;
	const struct run_report *reps[1] = { &rep };
	char dir[PATH_MAX], path[PATH_MAX];
	int r, code;

	scenario_init(&s);
	run_report_init(&rep);
	memset(&c, 0, sizeof(c));
	c.raw_fd = -1;
	c.log_fd = -1;
	buf_init(&c.logbuf, 0);

	r = scenario_load(&s, scenario, err);
	/* A scenario that is not there is the user's mistake, not the infrastructure's. */
	if (r == -ENOENT || r == -ENOTDIR || r == -EISDIR) {
		err->code = -IT_EUSAGE;
		r = -IT_EUSAGE;
	}
	if (r == 0)
		r = overrides_apply(&o->ov, &s, err);
	if (r == 0)
		r = apply_vm_options(&s, o);
	if (r == 0)
		r = scenario_resolve_kernel(&s, err);
	if (s.name) {
		run_report_setstr(&rep.scenario_name, s.name);
	} else {
		const char *slash = strrchr(scenario, '/');

		run_report_setstr(&rep.scenario_name, slash && slash[1] ? slash + 1 : scenario);
	}
	run_report_setstr(&rep.scenario_path, s.path ? s.path : scenario);
	run_report_setstr(&rep.backend, vm_backend_name(s.vm.backend));
	if (r < 0)
		goto report;

	if (o->out_dir)
		snprintf(dir, sizeof(dir), "%s", o->out_dir);
	else
		snprintf(dir, sizeof(dir), "initrd-test-out/%s", s.name);
	r = mkdir_p(dir, 0755);
	if (r < 0) {
		it_error_set(err, r, "cannot create '%s': %s", dir, it_strerror(r));
		goto report;
	}
	r = expect_new(&c.engine);
	if (r == 0)
		r = scenario_to_expect(&s, c.engine, err);
	if (r == 0)
		r = conlog_new(&c.conlog);
	if (r == 0)
		r = open_log(dir, "console.raw", &c.raw_fd, err);
	if (r == 0)
		r = open_log(dir, "console.log", &c.log_fd, err);
	if (r < 0)
		goto report;
	path_join(path, sizeof(path), dir, "console.raw");
	run_report_setstr(&rep.console_raw, path);
	path_join(path, sizeof(path), dir, "console.log");
	run_report_setstr(&rep.console_log, path);

	r = build_image(&s, o, dir, &s.vm, err);
	if (r < 0)
		goto report;
	c.live = !o->quiet && isatty(STDOUT_FILENO);
	r = boot_and_check(&s, &c, &rep, dir, err);
	if (r == 0 && c.err)
		r = it_error_set(err, c.err, "cannot write the console log in '%s': %s", dir,
				 it_strerror(c.err));
	finish_logs(&c);
	if (c.live)
		fputs("\n", stdout);
report:
	if (rep.console_log)
		run_report_load_tail(&rep, rep.console_log, NULL);
	run_report_finish(&rep, c.engine, r, err);
	code = run_report_exit_code(&rep);
	run_report_print(&rep, stdout, o->quiet);
	if (o->junit)
		run_report_write_junit(reps, 1, o->junit, NULL);
	if (o->json)
		run_report_write_json(reps, 1, o->json, NULL);
	if (rep.console_log) {
		path_join(path, sizeof(path), dir, "result.json");
		run_report_write_json(reps, 1, path, NULL);
	}
	if (c.vm)
		vm_free(c.vm);
	if (c.raw_fd >= 0)
		close(c.raw_fd);
	if (c.log_fd >= 0)
		close(c.log_fd);
	buf_release(&c.logbuf);
	conlog_free(c.conlog);
	expect_free(c.engine);
	run_report_release(&rep);
	scenario_release(&s);
	return code;
}

int run_parse_option(struct run_opts *o, int c, const char *arg, struct it_error *err)
{
	long v;
	int r;

	switch (c) {
	case 'o':
	case OPT_OUT:
		o->out_dir = arg;
		return 1;
	case OPT_INITRD:
		o->initrd = arg;
		return 1;
	case OPT_ACCEL: {
		enum vm_accel a;

		r = vm_accel_parse(arg, &a, err);
		if (r < 0)
			return r;
		o->accel = (int)a;
		return 1;
	}
	case OPT_BACKEND: {
		enum vm_backend b;

		r = vm_backend_parse(arg, &b, err);
		if (r < 0)
			return r;
		o->backend = (int)b;
		return 1;
	}
	case OPT_MEMORY:
		if (!parse_size_mib(arg, &v))
			return it_error_set(err, -IT_EUSAGE, "bad --memory '%s': give a size like 512M or 1G",
					    arg);
		o->memory_mib = v;
		return 1;
	case OPT_TIMEOUT:
	case OPT_STEP_TIMEOUT: {
		int64_t ms;

		if (!parse_duration_ms(arg, &ms) || ms <= 0)
			return it_error_set(err, -IT_EUSAGE, "bad duration '%s': give one like 90s or 5m",
					    arg);
		if (c == OPT_TIMEOUT)
			o->timeout_ms = ms;
		else
			o->step_timeout_ms = ms;
		return 1;
	}
	case OPT_JUNIT:
		o->junit = arg;
		return 1;
	case OPT_JSON:
		o->json = arg;
		return 1;
	case 'q':
		o->quiet = true;
		return 1;
	case 'r':
		return overrides_take(&o->ov, OPT_REPO, arg, err);
	default:
		return overrides_take(&o->ov, c, arg, err);
	}
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, OPT_OUT },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "accel", required_argument, NULL, OPT_ACCEL },
		{ "backend", required_argument, NULL, OPT_BACKEND },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "step-timeout", required_argument, NULL, OPT_STEP_TIMEOUT },
		{ "junit", required_argument, NULL, OPT_JUNIT },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		OVERRIDES_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct it_error err = IT_ERROR_INIT;
	struct run_opts o;
	int c, r;

	run_opts_init(&o);
	while ((c = getopt_long(argc, argv, "o:qhr:j:", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(run_usage, stdout);
			run_opts_release(&o);
			return EXIT_PASS;
		}
		r = run_parse_option(&o, c, optarg, &err);
		if (r <= 0) {
			if (r < 0)
				log_it_error(&err, r);
			fprintf(stderr, "try 'initrd-test run --help'\n");
			run_opts_release(&o);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		log_error(optind >= argc ? "no scenario given" : "one scenario at a time");
		fprintf(stderr, "try 'initrd-test run --help'\n");
		run_opts_release(&o);
		return EXIT_USAGE;
	}
	if (o.quiet && log_verbosity == LOG_NORMAL)
		log_verbosity = LOG_QUIET;
	r = run_scenario(argv[optind], &o, &err);
	run_opts_release(&o);
	return r;
}
