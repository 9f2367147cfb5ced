// SPDX-License-Identifier: MIT
/* Unit tests for src/scenario.c: keywords, includes, every error with its line, shipped scenarios.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/buf.h"
#include "common/util.h"
#include "expect/expect.h"
#include "scenario/scenario.h"
#include "tests/unit/testutil.h"

#define DATA "tests/data/scenarios"

/* Short enough that every path built from them fits in PATH_MAX. */
static char basedir[256]; /* made by main() before Check forks, removed after all tests */
static char tmpdir[512];  /* one per test, inside basedir */
static char tmpfile_path[600];

static void tmp_setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/t.XXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_int_eq(path_join(tmpfile_path, sizeof(tmpfile_path), tmpdir, SCENARIO_FILE), 0);
}

/* Check skips this after a failed test: main() removes basedir in any case. */
static void tmp_teardown(void)
{
	rm_rf(tmpdir);
}

static void write_bytes(const char *path, const char *data, size_t len)
{
	ck_assert_int_eq(write_file_atomic(path, data, len, 0644), 0);
}

/* Write text as TMPDIR/scenario and load that directory. */
static int load_text(struct scenario *s, struct it_error *e, const char *text)
{
	write_bytes(tmpfile_path, text, strlen(text));
	scenario_init(s);
	it_error_clear(e);
	return scenario_load(s, tmpdir, e);
}

/* Load the scenario text (see load_text): it must load. */
static void load_ok(struct scenario *s, const char *text)
{
	struct it_error e = IT_ERROR_INIT;
	int r = load_text(s, &e, text);

	ck_assert_msg(r == 0, "%s", e.msg);
}

/* Load the scenario at path (a directory or a file): it must load. */
static void load_path_ok(struct scenario *s, const char *path)
{
	struct it_error e = IT_ERROR_INIT;
	int r;

	scenario_init(s);
	r = scenario_load(s, path, &e);
	ck_assert_msg(r == 0, "%s: %s", path, e.msg);
}

static void assert_empty(const struct scenario *s)
{
	ck_assert_ptr_null(s->name);
	ck_assert_ptr_null(s->path);
	ck_assert_uint_eq(s->nsteps, 0);
	ck_assert_uint_eq(s->nfails, 0);
	ck_assert_uint_eq(s->build.packages.n, 0);
	ck_assert_uint_eq(s->build.repos.n, 0);
	ck_assert_uint_eq(s->files.n, 0);
	ck_assert_ptr_null(s->build.hostname);
}

/* ---- every keyword ----------------------------------------------------- */

START_TEST(test_all_keywords)
{
	struct scenario s;
	const struct build_config *b = &s.build;
	const struct scenario_step *st;

	load_path_ok(&s, DATA "/all-keywords");
	ck_assert_str_eq(s.name, "all-keywords");
	ck_assert_str_eq(s.dir, DATA "/all-keywords");
	ck_assert_str_eq(s.path, DATA "/all-keywords/scenario");
	ck_assert_uint_eq(s.files.n, 2);
	ck_assert_str_eq(s.files.v[1], DATA "/all-keywords/part/fragment");

	ck_assert_uint_eq(b->repos.n, 2);
	ck_assert_str_eq(b->repos.v[0], "https://dl-cdn.alpinelinux.org/alpine/v3.19/main");
	ck_assert_str_eq(b->repos.v[1], "tests/data/alpine-3.19.1");
	ck_assert_str_eq(b->arch, "x86_64");
	ck_assert_uint_eq(b->packages.n, 4);
	ck_assert_str_eq(b->packages.v[0], "alpine-base");
	ck_assert_str_eq(b->packages.v[1], "busybox>=1.36");
	ck_assert_str_eq(b->packages.v[2], "!apk-tools");
	ck_assert_str_eq(b->packages.v[3], "openssh-server");

	ck_assert_uint_eq(b->nservices, 7);
	ck_assert_str_eq(b->services[0].runlevel, "boot");
	ck_assert_str_eq(b->services[0].name, "devfs");
	ck_assert_str_eq(b->services[3].runlevel, "sysinit");
	ck_assert_str_eq(b->services[3].name, "hwdrivers");
	ck_assert_str_eq(b->services[6].runlevel, "default");
	ck_assert_str_eq(b->services[6].name, "sshd");
	ck_assert_uint_eq(b->consoles.n, 2);
	ck_assert_str_eq(b->consoles.v[1], "tty1");

	ck_assert_uint_eq(b->nifaces, 3);
	ck_assert_str_eq(b->ifaces[0].name, "lo");
	ck_assert_str_eq(b->ifaces[0].method, "loopback");
	ck_assert(b->ifaces[0].autostart);
	ck_assert_str_eq(b->ifaces[1].method, "dhcp");
	ck_assert_ptr_null(b->ifaces[1].address);
	ck_assert_str_eq(b->ifaces[2].name, "eth1");
	ck_assert_str_eq(b->ifaces[2].method, "static");
	ck_assert_str_eq(b->ifaces[2].address, "10.0.3.15/24");
	ck_assert_str_eq(b->ifaces[2].gateway, "10.0.3.2");
	ck_assert(!b->ifaces[2].autostart);

	/* The fragment said 'from-fragment'; the line after the include wins. */
	ck_assert_str_eq(b->hostname, "alpine-test");
	ck_assert_str_eq(b->root_password_hash,
			 "$6$salt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ./");
	ck_assert_uint_eq(b->nusers, 2);
	ck_assert_str_eq(b->users[0].name, "alice");
	ck_assert_int_eq(b->users[0].uid, 1000);
	ck_assert_uint_eq(b->users[0].groups.n, 2);
	ck_assert_str_eq(b->users[0].groups.v[0], "wheel");
	ck_assert_str_eq(b->users[0].groups.v[1], "video");
	ck_assert_str_eq(b->users[0].shell, "/bin/ash");
	ck_assert_str_eq(b->users[0].authorized_keys, DATA "/all-keywords/alice.pub");
	ck_assert_ptr_null(b->users[0].password_hash); /* locked */
	ck_assert_ptr_null(b->users[0].home);
	ck_assert_str_eq(b->users[1].name, "bob");
	ck_assert_int_eq(b->users[1].uid, -1);
	ck_assert_str_eq(b->users[1].password_hash, "");
	ck_assert_str_eq(b->users[1].home, "/srv/bob");

	/* Named overlays in order (the fragment's relative to its own directory), rootfs/ last. */
	ck_assert_uint_eq(b->overlays.n, 3);
	ck_assert_str_eq(b->overlays.v[0], DATA "/all-keywords/part/fragroot");
	ck_assert_str_eq(b->overlays.v[1], DATA "/all-keywords/extra");
	ck_assert_str_eq(b->overlays.v[2], DATA "/all-keywords/rootfs");

	ck_assert(!s.kernel_host);
	ck_assert_str_eq(b->kernel_image, "/boot/vmlinuz-test");
	ck_assert_str_eq(b->modules_dir, "/lib/modules/test");
	ck_assert_ptr_null(b->kernel_package);
	ck_assert_uint_eq(b->modules.n, 3);
	ck_assert_str_eq(b->modules.v[0], "loop");
	ck_assert_str_eq(b->modules.v[2], "virtio_net");

	ck_assert_int_eq(s.vm.memory_mib, 1024);
	ck_assert_int_eq(s.vm.cpus, 2);
	ck_assert_str_eq(s.vm.machine, "q35");
	ck_assert_str_eq(s.vm.append, "quiet loglevel=4");
	ck_assert_str_eq(s.vm.nic_model, "virtio-net-pci");
	ck_assert_str_eq(s.vm.console, "hvc0");
	ck_assert_int_eq(s.vm.backend, VM_BACKEND_CROSVM);
	ck_assert_int_eq(s.vm.accel, VM_ACCEL_TCG);
	ck_assert_int_eq(s.timeout_ms, 180000);
	ck_assert_int_eq(s.step_timeout_ms, 45000);

	ck_assert_uint_eq(s.nfails, 2);
	ck_assert_str_eq(s.fails[0].pattern, "Kernel panic");
	ck_assert(!s.fails[0].literal);
	ck_assert_str_eq(s.fails[0].where, DATA "/all-keywords/scenario:33");
	ck_assert_str_eq(s.fails[1].pattern, "Segmentation fault");
	ck_assert(s.fails[1].literal);
	ck_assert_uint_eq(s.fails[1].line, 34);

	ck_assert_uint_eq(s.nsteps, 7);
	st = &s.steps[0];
	ck_assert_int_eq(st->kind, SCENARIO_STEP_EXPECT);
	ck_assert_str_eq(st->name, "openrc");
	ck_assert_str_eq(st->text, "OpenRC [0-9.]+ is starting up");
	ck_assert(!st->literal);
	ck_assert_int_eq(st->timeout_ms, 45000);
	ck_assert(!st->timeout_explicit);
	ck_assert_str_eq(st->file, DATA "/all-keywords/scenario");
	ck_assert_uint_eq(st->line, 35);
	ck_assert_str_eq(st->where, DATA "/all-keywords/scenario:35");
	st = &s.steps[1];
	ck_assert_str_eq(st->name, "step 2");
	ck_assert_str_eq(st->text, "udhcpc: lease of 10.0.2.15 obtained");
	ck_assert(st->literal);
	ck_assert_int_eq(st->timeout_ms, 90000);
	ck_assert(st->timeout_explicit);
	st = &s.steps[2];
	ck_assert_str_eq(st->name, "login");
	ck_assert_str_eq(st->text, "login: $");
	ck_assert_int_eq(st->timeout_ms, 90000);
	ck_assert_uint_eq(st->line, 37);
	st = &s.steps[3];
	ck_assert_int_eq(st->kind, SCENARIO_STEP_SEND);
	ck_assert_str_eq(st->name, "step 4");
	ck_assert_str_eq(st->text, "root\n");
	ck_assert_int_eq(st->timeout_ms, 0);
	ck_assert_str_eq(s.steps[4].text, "# $");
	ck_assert_str_eq(s.steps[5].text, "ip addr show eth0\n");
	ck_assert_str_eq(s.steps[6].name, "ip");
	ck_assert_str_eq(s.steps[6].text, "inet (10\\.0\\.2\\.15)\\/");
	scenario_release(&s);
	ck_assert_ptr_null(s.steps);
	ck_assert_ptr_null(s.build.hostname);
}
END_TEST

/* ---- includes ---------------------------------------------------------- */

START_TEST(test_include_override_append)
{
	struct scenario s;

	load_path_ok(&s, DATA "/include/child");
	ck_assert_uint_eq(s.files.n, 2);
	ck_assert_str_eq(s.files.v[1], DATA "/include/parent/scenario");
	/* Lists append in reading order. */
	ck_assert_uint_eq(s.build.repos.n, 2);
	ck_assert_str_eq(s.build.repos.v[0], "https://a.example/alpine/main");
	ck_assert_str_eq(s.build.repos.v[1], "https://b.example/alpine/community");
	ck_assert_uint_eq(s.build.packages.n, 2);
	ck_assert_str_eq(s.build.packages.v[1], "busybox");
	ck_assert_uint_eq(s.build.nservices, 2);
	ck_assert_str_eq(s.build.services[1].name, "sysfs");
	ck_assert_uint_eq(s.nfails, 1);
	/* Scalars: the last one read wins, the include counts where it stands. */
	ck_assert_str_eq(s.build.hostname, "parent");
	ck_assert_int_eq(s.vm.memory_mib, 768);
	ck_assert_int_eq(s.vm.cpus, 2);
	/* Steps in reading order, each naming its own file. */
	ck_assert_uint_eq(s.nsteps, 3);
	ck_assert_str_eq(s.steps[0].name, "p1");
	ck_assert_str_eq(s.steps[0].where, DATA "/include/parent/scenario:10");
	ck_assert_str_eq(s.steps[2].name, "c1");
	ck_assert_str_eq(s.steps[2].where, DATA "/include/child/scenario:9");
	/* The child's step-timeout, read last, applies to the parent's steps too, but not over
	 * 'within'. */
	ck_assert_int_eq(s.step_timeout_ms, 20000);
	ck_assert_int_eq(s.steps[0].timeout_ms, 20000);
	ck_assert_int_eq(s.steps[1].timeout_ms, 5000);
	ck_assert_int_eq(s.steps[2].timeout_ms, 20000);
	scenario_release(&s);
}
END_TEST

START_TEST(test_include_reset)
{
	struct scenario s;

	load_path_ok(&s, DATA "/include/reset/scenario");
	ck_assert_str_eq(s.name, "reset");
	ck_assert_uint_eq(s.build.repos.n, 1);
	ck_assert_str_eq(s.build.repos.v[0], "https://c.example/alpine/main");
	ck_assert_uint_eq(s.build.modules.n, 0);
	ck_assert_uint_eq(s.nfails, 0);
	ck_assert_uint_eq(s.nsteps, 1);
	ck_assert_str_eq(s.steps[0].name, "r1");
	/* Untouched lists stay. */
	ck_assert_uint_eq(s.build.packages.n, 1);
	ck_assert_uint_eq(s.build.nservices, 1);
	scenario_release(&s);
}
END_TEST

static void assert_load_error(const char *path, const char *msg)
{
	struct scenario s;
	struct it_error e = IT_ERROR_INIT;

	scenario_init(&s);
	ck_assert_int_eq(scenario_load(&s, path, &e), -IT_ESCENARIO);
	ck_assert_str_eq(e.msg, msg);
	assert_empty(&s);
	scenario_release(&s);
}

START_TEST(test_include_cycles)
{
	assert_load_error(DATA "/cycle/a", DATA "/cycle/b/scenario:3: include cycle: " DATA
						"/cycle/a/scenario -> " DATA
						"/cycle/b/scenario -> " DATA "/cycle/a/scenario");
	assert_load_error(DATA "/cycle/self",
			  DATA "/cycle/self/scenario:2: include cycle: " DATA
			       "/cycle/self/scenario -> " DATA "/cycle/self/scenario");
	assert_load_error(DATA "/cycle/twice",
			  DATA "/cycle/twice/scenario:3: '" DATA
			       "/include/parent/scenario' is included twice (a file is read once)");
}
END_TEST

START_TEST(test_include_depth)
{
	char path[PATH_MAX], text[64], msg[PATH_MAX + 64];

	/* d0 includes d1 ... d17: deeper than the limit, without a cycle. */
	for (int i = 0; i <= SCENARIO_MAX_INCLUDE_DEPTH + 1; i++) {
		snprintf(path, sizeof(path), "%s/d%d", tmpdir, i);
		ck_assert_int_eq(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/d%d/scenario", tmpdir, i);
		snprintf(text, sizeof(text), "packages alpine-base\ninclude ../d%d\n", i + 1);
		write_bytes(path, text, strlen(text));
	}
	snprintf(path, sizeof(path), "%s/d0", tmpdir);
	snprintf(msg, sizeof(msg), "%s/d%d/scenario:2: includes nested deeper than %d", tmpdir,
		 SCENARIO_MAX_INCLUDE_DEPTH - 1, SCENARIO_MAX_INCLUDE_DEPTH);
	assert_load_error(path, msg);
}
END_TEST

/* ---- the table of bad scenarios ---------------------------------------- */

/* Replace every @FILE@ and @DIR@ in 'in'. */
static void expand(char *out, size_t n, const char *in)
{
	struct buf b;

	buf_init(&b, 0);
	while (*in) {
		if (!strncmp(in, "@FILE@", 6)) {
			buf_addstr(&b, tmpfile_path);
			in += 6;
		} else if (!strncmp(in, "@DIR@", 5)) {
			buf_addstr(&b, tmpdir);
			in += 5;
		} else {
			buf_addch(&b, *in++);
		}
	}
	snprintf(out, n, "%s", b.data);
	buf_release(&b);
}

static int run_error_case(const char *title, const char *text, const char *want_msg,
			  const char *want_hint)
{
	struct scenario s;
	struct it_error e = IT_ERROR_INIT;
	char msg[2048], hint[512];
	int r = load_text(&s, &e, text);

	expand(msg, sizeof(msg), want_msg);
	expand(hint, sizeof(hint), want_hint);
	ck_assert_msg(r == -IT_ESCENARIO, "case '%s': returned %d (%s)", title, r, e.msg);
	ck_assert_msg(!strcmp(e.msg, msg), "case '%s':\n  got  %s\n  want %s", title, e.msg, msg);
	ck_assert_msg(!want_hint[0] || !strcmp(e.hint, hint),
		      "case '%s': hint\n  got  %s\n  want %s", title, e.hint, hint);
	assert_empty(&s);
	scenario_release(&s);
	return 1;
}

START_TEST(test_error_table)
{
	struct buf file, text;
	char title[256] = "", msg[2048] = "", hint[512] = "";
	enum { NONE, TEXT, ERROR, HINT } state = NONE;
	char *line, *end;
	int cases = 0;

	buf_init(&file, 0);
	buf_init(&text, 0);
	ck_assert_int_eq(buf_read_file(&file, DATA "/errors.test"), 0);
	buf_addstr(&file, "\n=== end\n");
	/* Line by line, blank lines included: they count in a case's line numbers. */
	for (line = file.data; *line; line = end + 1) {
		end = strchr(line, '\n');
		ck_assert_ptr_nonnull(end);
		*end = '\0';
		if (!strncmp(line, "=== ", 4)) {
			if (state != NONE)
				cases += run_error_case(title, text.data, msg, hint);
			snprintf(title, sizeof(title), "%s", line + 4);
			buf_reset(&text);
			msg[0] = hint[0] = '\0';
			state = TEXT;
		} else if (!strcmp(line, "--- error")) {
			state = ERROR;
		} else if (!strcmp(line, "--- hint")) {
			state = HINT;
		} else if (state == TEXT) {
			buf_addstr(&text, line);
			buf_addch(&text, '\n');
		} else if (state == ERROR && !msg[0]) {
			snprintf(msg, sizeof(msg), "%s", line);
		} else if (state == HINT && !hint[0]) {
			snprintf(hint, sizeof(hint), "%s", line);
		}
	}
	ck_assert_int_ge(cases, 80);
	buf_release(&file);
	buf_release(&text);
}
END_TEST

/* ---- patterns, text, names, timeouts ----------------------------------- */

START_TEST(test_pattern_delimiters)
{
	struct scenario s;

	load_ok(&s, "packages alpine-base\n"
		    "expect a /inet (10\\.0\\.2\\.15)\\/24/\n"
		    "expect b /a/b/c/   within 2s\n"
		    "expect c /# $/ # a comment without a slash\n"
		    "expect d /root@alpine-test:~# /\n"
		    "expect e /lease of (?<ip>\\S+)/\n"
		    "expect f /inet ${ip}\\/${1}/\n"
		    "expect g /a \"quoted\" word/\n"
		    "expect h \"a /literal/ with # and \\\"quotes\\\" and \\\\\"\n"
		    "expect i \"${ip} [ ok ]\" within 500ms\n"
		    "fail /Oops: [0-9]+/\n");
	ck_assert_uint_eq(s.nsteps, 9);
	ck_assert_str_eq(s.steps[0].text, "inet (10\\.0\\.2\\.15)\\/24");
	ck_assert_str_eq(s.steps[1].text, "a/b/c");
	ck_assert_int_eq(s.steps[1].timeout_ms, 2000);
	ck_assert_str_eq(s.steps[2].text, "# $");
	ck_assert_str_eq(s.steps[3].text, "root@alpine-test:~# ");
	ck_assert_str_eq(s.steps[4].text, "lease of (?<ip>\\S+)");
	/* Capture references are left for the engine. */
	ck_assert_str_eq(s.steps[5].text, "inet ${ip}\\/${1}");
	ck_assert_str_eq(s.steps[6].text, "a \"quoted\" word");
	ck_assert(!s.steps[6].literal);
	ck_assert_str_eq(s.steps[7].text, "a /literal/ with # and \"quotes\" and \\");
	ck_assert(s.steps[7].literal);
	ck_assert_str_eq(s.steps[8].text, "${ip} [ ok ]");
	ck_assert_int_eq(s.steps[8].timeout_ms, 500);
	ck_assert_str_eq(s.fails[0].pattern, "Oops: [0-9]+");
	scenario_release(&s);
}
END_TEST

START_TEST(test_send_text)
{
	struct scenario s;

	load_ok(&s, "packages alpine-base\n"
		    "send root\n"
		    "send   echo  two  spaces   # the comment is not sent\n"
		    "send echo a#b 'c # d'\n"
		    "send \"ip addr show eth0\\n\"\n"
		    "send \"\\e[A\\x03\\101\\t\\r\\\\\\\"\\'\\a\\b\\f\\v\" # ESC [ A, ^C, ...\n"
		    "send \"no newline\"\n"
		    "send \"\\xff\\177\"\n"
		    "send echo ${1}\n");
	ck_assert_uint_eq(s.nsteps, 8);
	ck_assert_str_eq(s.steps[0].text, "root\n");
	ck_assert_str_eq(s.steps[1].text, "echo  two  spaces\n");
	/* A '#' starts a comment only at the start of a word. */
	ck_assert_str_eq(s.steps[2].text, "echo a#b 'c\n");
	ck_assert_str_eq(s.steps[3].text, "ip addr show eth0\n");
	ck_assert_str_eq(s.steps[4].text, "\033[A\003A\t\r\\\"'\a\b\f\v");
	ck_assert_str_eq(s.steps[5].text, "no newline");
	ck_assert_str_eq(s.steps[6].text, "\xff\177");
	ck_assert_str_eq(s.steps[7].text, "echo ${1}\n");
	for (size_t i = 0; i < s.nsteps; i++) {
		ck_assert_int_eq(s.steps[i].kind, SCENARIO_STEP_SEND);
		ck_assert_int_eq(s.steps[i].timeout_ms, 0);
	}
	scenario_release(&s);
}
END_TEST

START_TEST(test_step_names_and_timeouts)
{
	struct scenario s;

	load_ok(&s, "expect /first/\n"
		    "send x\n"
		    "expect named.step-1_x /third/ within 1m\n"
		    "expect \"fourth\"\n"
		    "timeout 10m\n"
		    "step-timeout 30s\n"
		    "packages alpine-base\n");
	ck_assert_uint_eq(s.nsteps, 4);
	ck_assert_str_eq(s.steps[0].name, "step 1");
	ck_assert_str_eq(s.steps[1].name, "step 2");
	ck_assert_str_eq(s.steps[2].name, "named.step-1_x");
	ck_assert_str_eq(s.steps[3].name, "step 4");
	/* A step-timeout after the steps still applies to them. */
	ck_assert_int_eq(s.steps[0].timeout_ms, 30000);
	ck_assert_int_eq(s.steps[2].timeout_ms, 60000);
	ck_assert_int_eq(s.steps[3].timeout_ms, 30000);
	ck_assert_int_eq(s.timeout_ms, 600000);
	/* As the command layer does for --step-timeout. */
	scenario_set_step_timeout(&s, 5000);
	ck_assert_int_eq(s.step_timeout_ms, 5000);
	ck_assert_int_eq(s.steps[0].timeout_ms, 5000);
	ck_assert_int_eq(s.steps[1].timeout_ms, 0);
	ck_assert_int_eq(s.steps[2].timeout_ms, 60000);
	ck_assert_int_eq(s.steps[3].timeout_ms, 5000);
	scenario_release(&s);
}
END_TEST

/* 'budget' after 'within' or before it, or alone; it never changes the step's timeout. */
START_TEST(test_step_budgets)
{
	struct scenario s;

	load_ok(&s, "expect lease \"lease of\" within 60s budget 20s\n"
		    "expect login /login: / budget 1.5s within 2m\n"
		    "expect shell \"# \" budget 250ms\n"
		    "expect ip /a\\/b/ budget 3s\n"
		    "expect last /x/\n"
		    "packages alpine-base\n");
	ck_assert_uint_eq(s.nsteps, 5);
	ck_assert_int_eq(s.steps[0].budget_ms, 20000);
	ck_assert_int_eq(s.steps[0].timeout_ms, 60000);
	ck_assert(s.steps[0].timeout_explicit);
	ck_assert_int_eq(s.steps[1].budget_ms, 1500);
	ck_assert_int_eq(s.steps[1].timeout_ms, 120000);
	ck_assert_int_eq(s.steps[2].budget_ms, 250);
	ck_assert(!s.steps[2].timeout_explicit);
	ck_assert_int_eq(s.steps[2].timeout_ms, SCENARIO_DEFAULT_STEP_TIMEOUT_MS);
	ck_assert_str_eq(s.steps[3].text, "a\\/b");
	ck_assert_int_eq(s.steps[3].budget_ms, 3000);
	ck_assert_int_eq(s.steps[4].budget_ms, 0);
	scenario_release(&s);
}
END_TEST

START_TEST(test_defaults_and_scalars)
{
	struct scenario s;

	load_ok(&s, "packages alpine-base\n"
		    "kernel package linux-virt\n"
		    "root-password locked\n"
		    "vm memory 256\n"
		    "vm memory 2G\n"
		    "vm append console=tty0\n"
		    "vm append quiet\n"
		    "iface eth0 dhcp\n"
		    "iface eth0 static 192.168.1.2/24\n"
		    "iface eth1 static fd00::2/64 gateway fd00::1\n"
		    "user alice uid 1000\n"
		    "user alice shell /bin/bash password $y$j9T$salt$hash\n");
	ck_assert_int_eq(s.timeout_ms, SCENARIO_DEFAULT_TIMEOUT_MS);
	ck_assert_int_eq(s.step_timeout_ms, SCENARIO_DEFAULT_STEP_TIMEOUT_MS);
	ck_assert_str_eq(s.build.kernel_package, "linux-virt");
	ck_assert(!s.kernel_host);
	ck_assert_ptr_null(s.build.kernel_image);
	ck_assert_str_eq(s.build.root_password_hash, "!");
	ck_assert_int_eq(s.vm.memory_mib, 2048);
	ck_assert_str_eq(s.vm.append, "quiet");
	ck_assert_int_eq(s.vm.accel, VM_ACCEL_AUTO);
	ck_assert_int_eq(s.vm.backend, VM_BACKEND_QEMU);
	ck_assert_ptr_null(s.vm.machine);
	/* An iface or a user named again is replaced, in its place. */
	ck_assert_uint_eq(s.build.nifaces, 2);
	ck_assert_str_eq(s.build.ifaces[0].method, "static");
	ck_assert_str_eq(s.build.ifaces[0].address, "192.168.1.2/24");
	ck_assert_str_eq(s.build.ifaces[1].gateway, "fd00::1");
	ck_assert_uint_eq(s.build.nusers, 1);
	ck_assert_int_eq(s.build.users[0].uid, -1);
	ck_assert_str_eq(s.build.users[0].shell, "/bin/bash");
	ck_assert_str_eq(s.build.users[0].password_hash, "$y$j9T$salt$hash");
	/* No rootfs/ here: no overlay. */
	ck_assert_uint_eq(s.build.overlays.n, 0);
	scenario_release(&s);

	/* Each kernel form replaces the others. */
	load_ok(&s, "packages alpine-base\n"
		    "kernel package linux-virt\n"
		    "kernel image vmlinuz modules mods\n"
		    "root-password none\n"
		    "root-password keep\n");
	ck_assert_ptr_null(s.build.kernel_package);
	ck_assert_ptr_null(s.build.root_password_hash);
	{
		char img[PATH_MAX + 16], mods[PATH_MAX + 16];

		snprintf(img, sizeof(img), "%s/vmlinuz", tmpdir);
		snprintf(mods, sizeof(mods), "%s/mods", tmpdir);
		ck_assert_str_eq(s.build.kernel_image, img);
		ck_assert_str_eq(s.build.modules_dir, mods);
	}
	scenario_release(&s);
	load_ok(&s, "packages alpine-base\n"
		    "kernel image /boot/vmlinuz-x\n"
		    "kernel host\n");
	ck_assert(s.kernel_host);
	ck_assert_ptr_null(s.build.kernel_image);
	ck_assert_ptr_null(s.build.modules_dir);
	scenario_release(&s);
}
END_TEST

START_TEST(test_crlf_comments_blanks)
{
	struct scenario s;
	struct it_error e = IT_ERROR_INIT;

	ck_assert_msg(load_text(&s, &e,
				"# a comment\r\n"
				"\r\n"
				"   \t  \r\n"
				"  # an indented comment\r\n"
				"packages alpine-base busybox # two packages\r\n"
				"hostname box\r\n"
				"send \"x\"\r\n"
				"expect done /ok$/\r\n"
				"nonsense at the last line without a newline") == -IT_ESCENARIO,
		      "%s", e.msg);
	ck_assert_str_eq(e.msg + strlen(tmpfile_path), ":9: unknown keyword 'nonsense'");
	scenario_release(&s);
	load_ok(&s, "packages alpine-base busybox # two packages\r\n"
		    "hostname box\r\n"
		    "send \"x\"\r\n"
		    "expect done /ok$/\r\n"
		    "send last line without a newline");
	ck_assert_uint_eq(s.build.packages.n, 2);
	ck_assert_str_eq(s.build.hostname, "box");
	ck_assert_str_eq(s.steps[0].text, "x");
	ck_assert_str_eq(s.steps[1].text, "ok$");
	ck_assert_str_eq(s.steps[2].text, "last line without a newline\n");
	scenario_release(&s);
}
END_TEST

START_TEST(test_nul_and_size)
{
	static const char nul[] = "packages alpine-base\nhostname a\0b\n";
	struct scenario s;
	struct it_error e = IT_ERROR_INIT;
	char *big = NULL;

	write_bytes(tmpfile_path, nul, sizeof(nul) - 1);
	scenario_init(&s);
	ck_assert_int_eq(scenario_load(&s, tmpdir, &e), -IT_ESCENARIO);
	tu_assert_textf(e.msg, false, "%s:2: NUL byte in the line", tmpfile_path);
	assert_empty(&s);

	big = malloc(SCENARIO_MAX_FILE_BYTES + 2);
	ck_assert_ptr_nonnull(big);
	memset(big, '#', SCENARIO_MAX_FILE_BYTES + 1);
	big[SCENARIO_MAX_FILE_BYTES + 1] = '\0';
	it_error_clear(&e);
	ck_assert_int_eq(load_text(&s, &e, big), -IT_ESCENARIO);
	tu_assert_textf(e.msg, false, "cannot read scenario '%s': larger than %d bytes",
			tmpfile_path, SCENARIO_MAX_FILE_BYTES);

	/* A quoted text is capped at 64 KiB. */
	memcpy(big, "send \"", 6);
	memset(big + 6, 'a', 70000);
	memcpy(big + 70006, "\"\n", 3);
	ck_assert_int_eq(load_text(&s, &e, big), -IT_ESCENARIO);
	tu_assert_textf(e.msg, false, "%s:1: text longer than 65536 bytes", tmpfile_path);
	assert_empty(&s);
	free(big);
	scenario_release(&s);
}
END_TEST

START_TEST(test_locating)
{
	struct scenario s;
	struct it_error e = IT_ERROR_INIT;
	char path[PATH_MAX + 32];

	scenario_init(&s);
	ck_assert_int_eq(scenario_load(&s, DATA "/does-not-exist", &e), -ENOENT);
	ck_assert_str_eq(e.msg, "cannot read scenario '" DATA
				"/does-not-exist': No such file or directory");
	ck_assert_str_eq(e.hint, "a scenario is a directory holding a file named 'scenario'");
	assert_empty(&s);

	/* A directory without a scenario file. */
	it_error_clear(&e);
	ck_assert_int_eq(scenario_load(&s, tmpdir, &e), -ENOENT);
	tu_assert_textf(e.msg, false, "cannot read scenario '%s': No such file or directory",
			tmpfile_path);

	/* A file named directly: NAME.scenario gives the name. */
	snprintf(path, sizeof(path), "%s/boot-test.scenario", tmpdir);
	write_bytes(path, "packages alpine-base\n", 21);
	it_error_clear(&e);
	ck_assert_msg(scenario_load(&s, path, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(s.name, "boot-test");
	ck_assert_str_eq(s.dir, tmpdir);
	ck_assert_str_eq(s.path, path);
	scenario_release(&s);

	/* A trailing slash is fine. */
	ck_assert_msg(scenario_load(&s, "scenarios/minimal/", &e) == 0, "%s", e.msg);
	ck_assert_str_eq(s.name, "minimal");
	ck_assert_str_eq(s.dir, "scenarios/minimal");
	ck_assert_str_eq(s.path, "scenarios/minimal/scenario");
	scenario_release(&s);
}
END_TEST

/* ---- the shipped scenarios --------------------------------------------- */

static const struct scenario_step *step_named(const struct scenario *s, const char *name)
{
	for (size_t i = 0; i < s->nsteps; i++)
		if (!strcmp(s->steps[i].name, name))
			return &s->steps[i];
	return NULL;
}

START_TEST(test_shipped_parse)
{
	struct scenario s;
	struct it_error e = IT_ERROR_INIT;
	struct dirent *de;
	DIR *d = opendir("scenarios");
	char path[PATH_MAX];
	int n = 0;

	ck_assert_ptr_nonnull(d);
	for (de = readdir(d); de; de = readdir(d)) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "scenarios/%s", de->d_name);
		scenario_init(&s);
		ck_assert_msg(scenario_load(&s, path, &e) == 0, "%s: %s", path, e.msg);
		ck_assert_str_eq(s.name, de->d_name);
		/* All boot Alpine 3.19 on the host's kernel, with a root login on ttyS0. */
		ck_assert(s.kernel_host);
		ck_assert(strlist_has(&s.build.packages, "alpine-base"));
		ck_assert(strlist_has(&s.build.consoles, "ttyS0"));
		ck_assert_str_eq(s.build.root_password_hash, "");
		ck_assert_str_eq(s.build.repos.v[0],
				 "https://dl-cdn.alpinelinux.org/alpine/v3.19/main");
		ck_assert_int_eq(s.vm.memory_mib, 512);
		ck_assert_str_eq(s.vm.nic_model, "e1000");
		scenario_release(&s);
		n++;
	}
	closedir(d);
	ck_assert_int_ge(n, 4);

	load_path_ok(&s, "scenarios/networking");
	ck_assert(strlist_has(&s.build.modules, "e1000"));
	ck_assert_uint_eq(s.build.nifaces, 2);
	ck_assert_str_eq(s.build.ifaces[1].name, "eth0");
	ck_assert_str_eq(s.build.ifaces[1].method, "dhcp");
	ck_assert_ptr_nonnull(step_named(&s, "lease"));
	ck_assert_str_eq(s.steps[s.nsteps - 1].name, "ip");
	scenario_release(&s);

	/* no-e1000 is networking without the module, and gives up quickly at the driver. */
	ck_assert_msg(scenario_load(&s, "scenarios/no-e1000", &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(s.build.modules.n, 0);
	ck_assert_uint_eq(s.build.nifaces, 2);
	ck_assert_str_eq(s.steps[s.nsteps - 1].name, "e1000-driver");
	ck_assert(s.steps[s.nsteps - 1].timeout_explicit);
	ck_assert_int_le(s.steps[s.nsteps - 1].timeout_ms, 30000);
	scenario_release(&s);
}
END_TEST

/*
 * How many expect steps pass, one after the other, when the console is
 * replayed through the real engine (captures filled in as in a run).
 */
static size_t steps_matched(const struct scenario *s, const char *path)
{
	struct it_error e = IT_ERROR_INIT;
	struct expect *engine = NULL;
	struct buf raw;
	size_t n = 0;
	bool timed;

	buf_init(&raw, 0);
	ck_assert_int_eq(buf_read_file(&raw, path), 0);
	ck_assert_int_eq(expect_new(&engine), 0);
	ck_assert_msg(scenario_to_expect(s, engine, &e) == 0, "%s", e.msg);
	ck_assert_int_ge(expect_replay(engine, buf_blob(&raw), &timed), 0);
	for (size_t i = 0; i < expect_nsteps(engine); i++) {
		const struct expect_step_result *st = expect_step(engine, i);

		n += st->kind == EXPECT_KIND_EXPECT && st->status == EXPECT_STEP_PASSED;
	}
	expect_free(engine);
	buf_release(&raw);
	return n;
}

static size_t expect_steps(const struct scenario *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nsteps; i++)
		n += s->steps[i].kind == SCENARIO_STEP_EXPECT;
	return n;
}

/*
 * Real consoles of Alpine 3.19.1 booting on Debian's 6.1 kernel under qemu
 * TCG, with and without e1000.ko in the initrd (see DATA/README.md).
 */
START_TEST(test_shipped_against_real_consoles)
{
	struct scenario net, no, min;
	struct it_error e = IT_ERROR_INIT;
	const char *with = DATA "/console/networking.raw.log";
	const char *without = DATA "/console/no-e1000.raw.log";

	scenario_init(&net);
	scenario_init(&no);
	scenario_init(&min);
	ck_assert_msg(scenario_load(&net, "scenarios/networking", &e) == 0, "%s", e.msg);
	ck_assert_msg(scenario_load(&no, "scenarios/no-e1000", &e) == 0, "%s", e.msg);
	ck_assert_msg(scenario_load(&min, "scenarios/minimal", &e) == 0, "%s", e.msg);

	ck_assert_uint_eq(steps_matched(&net, with), expect_steps(&net));
	ck_assert_uint_eq(steps_matched(&min, with), expect_steps(&min));
	ck_assert_uint_eq(steps_matched(&min, without), expect_steps(&min));
	/* no-e1000 passes when the driver is there, so its failure is the driver's absence. */
	ck_assert_uint_eq(steps_matched(&no, with), expect_steps(&no));
	ck_assert_uint_eq(steps_matched(&no, without), expect_steps(&no) - 1);
	ck_assert_uint_lt(steps_matched(&net, without), expect_steps(&net));

	scenario_release(&net);
	scenario_release(&no);
	scenario_release(&min);
}
END_TEST

START_TEST(test_resolve_kernel)
{
	struct scenario s;
	struct it_error e = IT_ERROR_INIT, e2 = IT_ERROR_INIT;
	char *image = NULL, *moddir = NULL;
	int r;

	/* Not 'kernel host': nothing changes. */
	load_ok(&s, "packages alpine-base\nkernel image /k modules /m\n");
	ck_assert_int_eq(scenario_resolve_kernel(&s, &e), 0);
	ck_assert_str_eq(s.build.kernel_image, "/k");
	scenario_release(&s);

	/* 'kernel host' gives what builder_host_kernel() finds on this machine. */
	load_ok(&s, "packages alpine-base\nkernel host\n");
	r = builder_host_kernel(NULL, NULL, &image, &moddir, &e2);
	ck_assert_int_eq(scenario_resolve_kernel(&s, &e), r);
	if (r == 0) {
		ck_assert_str_eq(s.build.kernel_image, image);
		ck_assert_str_eq(s.build.modules_dir, moddir);
		ck_assert(!strncmp(image, "/boot/vmlinuz-", 14));
	} else {
		ck_assert_str_eq(e.msg, e2.msg);
		ck_assert_ptr_null(s.build.kernel_image);
	}
	free(image);
	free(moddir);
	scenario_release(&s);
}
END_TEST

/* ---- the agent's steps -------------------------------------------------------------------- */

START_TEST(test_agent_steps)
{
	struct scenario s;
	const struct scenario_step *st;

	load_ok(&s, "agent serial\n"
		    "agent-ready within 90s budget 20s\n"
		    "run ip addr show eth0 # not a comment for the shell\n"
		    "run \"exit 3\" status 3 within 5s name three\n"
		    "run-fail false\n"
		    "output /inet (?<addr>[0-9.]+)/ stderr\n"
		    "wait-until \"test -e /run/x\" every 200ms within 10s\n"
		    "wait-service sshd\n"
		    "wait-port 22\n"
		    "wait-file /etc/hostname\n"
		    "copy-in data.bin /tmp/data.bin mode 0600\n"
		    "copy-out /etc/ssh/sshd_config\n"
		    "copy-out /tmp/data.bin back.bin within 30s\n"
		    "run echo ${addr}\n");
	ck_assert_int_eq(s.vm.agent, VM_AGENT_SERIAL);
	ck_assert_uint_eq(s.nsteps, 13);
	ck_assert_str_eq(s.steps[0].name, "agent-ready");
	ck_assert(s.steps[0].timeout_explicit);
	ck_assert_int_eq(s.steps[0].budget_ms, 20000);
	/* Unquoted, the rest of the line is the command, up to a comment as anywhere. */
	st = &s.steps[1];
	ck_assert_int_eq(st->kind, SCENARIO_STEP_RUN);
	ck_assert_str_eq(st->name, "run");
	ck_assert_str_eq(st->text, "ip addr show eth0");
	ck_assert_int_eq(st->status, 0);
	ck_assert_int_eq(st->timeout_ms, SCENARIO_DEFAULT_STEP_TIMEOUT_MS);
	st = step_named(&s, "three");
	ck_assert_int_eq(st->status, 3);
	ck_assert_int_eq(st->timeout_ms, 5000);
	ck_assert_int_eq(s.steps[3].kind, SCENARIO_STEP_RUN_FAIL);
	ck_assert_int_eq(s.steps[3].status, -1);
	ck_assert_int_eq(s.steps[4].kind, SCENARIO_STEP_OUTPUT);
	ck_assert(s.steps[4].from_stderr);
	ck_assert_int_eq(s.steps[5].every_ms, 200);
	ck_assert_str_eq(s.steps[6].text, "sshd");
	ck_assert_str_eq(s.steps[7].text, "22");
	/* Host paths are the scenario's; the second copy-out has its own name. */
	st = &s.steps[9];
	ck_assert_ptr_nonnull(strstr(st->text, "/data.bin"));
	ck_assert_str_eq(st->dest, "/tmp/data.bin");
	ck_assert_uint_eq(st->mode, 0600);
	ck_assert_ptr_null(s.steps[10].dest);
	ck_assert_str_eq(s.steps[11].dest, "back.bin");
	ck_assert_str_eq(s.steps[12].name, "run-2");
	ck_assert(scenario_has_agent_steps(&s));
	scenario_release(&s);
	/* By default every image has the agent, on its virtio port. */
	load_ok(&s, "expect x /x/\n");
	ck_assert_int_eq(s.vm.agent, VM_AGENT_VIRTIO);
	ck_assert(!scenario_has_agent_steps(&s));
	scenario_release(&s);
}
END_TEST

/* 'checkpoint NAME': a step of its own, found, and taken out for a replay. */
START_TEST(test_checkpoint)
{
	struct scenario s;
	struct expect *e = NULL;
	struct it_error err = IT_ERROR_INIT;
	const char *text = NULL;

	load_ok(&s, "expect login /login: /\n"
		    "agent-ready\n"
		    "checkpoint ready.1\n"
		    "run true\n");
	ck_assert_uint_eq(s.nsteps, 4);
	ck_assert_uint_eq(scenario_checkpoint(&s), 2);
	ck_assert_int_eq(s.steps[2].kind, SCENARIO_STEP_CHECKPOINT);
	ck_assert_str_eq(s.steps[2].name, "ready.1");
	ck_assert_str_eq(s.steps[2].text, "ready.1");
	ck_assert_str_eq(scenario_step_kind_name(SCENARIO_STEP_CHECKPOINT), "checkpoint");
	ck_assert(!scenario_step_is_agent(SCENARIO_STEP_CHECKPOINT));
	/* In the engine an external step with no timeout: the run engine ends it. */
	ck_assert_int_eq(expect_new(&e), 0);
	ck_assert_int_eq(scenario_to_expect(&s, e, &err), 0);
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_int_eq(expect_feed(e, "login: ", 7, 10), EXPECT_RUNNING);
	ck_assert_int_eq(expect_external_done(e, true, "hello", 20), 0);
	ck_assert_uint_eq(expect_external(e, &text), 2);
	ck_assert_str_eq(text, "ready.1");
	ck_assert_int_eq(expect_tick(e, 2 * SCENARIO_DEFAULT_STEP_TIMEOUT_MS), EXPECT_RUNNING);
	expect_free(e);
	scenario_drop_checkpoint(&s);
	ck_assert_uint_eq(s.nsteps, 3);
	ck_assert_uint_eq(scenario_checkpoint(&s), SIZE_MAX);
	ck_assert_str_eq(s.steps[2].text, "true");
	scenario_drop_checkpoint(&s);
	ck_assert_uint_eq(s.nsteps, 3);
	scenario_release(&s);
}
END_TEST

static Suite *scenario_suite(void)
{
	Suite *s = suite_create("scenario");
	TCase *tc = tcase_create("scenario");

	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_all_keywords);
	tcase_add_test(tc, test_include_override_append);
	tcase_add_test(tc, test_include_reset);
	tcase_add_test(tc, test_include_cycles);
	tcase_add_test(tc, test_include_depth);
	tcase_add_test(tc, test_error_table);
	tcase_add_test(tc, test_pattern_delimiters);
	tcase_add_test(tc, test_send_text);
	tcase_add_test(tc, test_step_names_and_timeouts);
	tcase_add_test(tc, test_step_budgets);
	tcase_add_test(tc, test_defaults_and_scalars);
	tcase_add_test(tc, test_crlf_comments_blanks);
	tcase_add_test(tc, test_nul_and_size);
	tcase_add_test(tc, test_locating);
	tcase_add_test(tc, test_shipped_parse);
	tcase_add_test(tc, test_shipped_against_real_consoles);
	tcase_add_test(tc, test_resolve_kernel);
	tcase_add_test(tc, test_agent_steps);
	tcase_add_test(tc, test_checkpoint);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int status;

	if (!tu_mkdtemp(basedir, sizeof(basedir), "check_scenario")) {
		perror(basedir);
		return EXIT_FAILURE;
	}
	status = tu_run_suite(scenario_suite());
	rm_rf(basedir);
	return status;
}
