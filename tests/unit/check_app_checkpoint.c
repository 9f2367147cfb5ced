// SPDX-License-Identifier: MIT
/*
 * Tests of checkpoints' keys and cache (src/checkpoint.c): what changes a
 * key and what does not, a cache directory's checkpoints found, read,
 * taken as broken and pruned, on real files. Saving and restoring a VM is
 * tests/e2e/t_checkpoint.sh's.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "scenario/scenario.h"
#include "src/checkpoint.h"
#include "tests/unit/testutil.h"

#define DAY (24 * 3600)

static void put(const char *name, const char *text)
{
	char path[512];

	tu_path(path, sizeof(path), name);
	ck_assert_int_eq(write_file_atomic(path, text, strlen(text), 0644), 0);
}

/* A scenario in tu_dir/NAME with text, booting tu_dir/vmlinuz and tu_dir/initrd.img. */
static void load(struct scenario *s, const char *name, const char *text)
{
	struct it_error err = IT_ERROR_INIT;
	char dir[512], file[600];

	tu_path(dir, sizeof(dir), name);
	ck_assert_int_eq(mkdir_p(dir, 0755), 0);
	snprintf(file, sizeof(file), "%s/scenario", name);
	put(file, text);
	scenario_init(s);
	ck_assert_msg(scenario_load(s, dir, &err) == 0, "%s", err.msg);
	s->vm.kernel = strdup(tu_in_dir("vmlinuz"));
	s->vm.initrd = strdup(tu_in_dir("initrd.img"));
}

static void key_of(const struct scenario *s, enum vm_accel accel, const char *qemu, char key[65])
{
	struct it_error err = IT_ERROR_INIT;

	ck_assert_msg(checkpoint_key(s, accel, qemu, key, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(strlen(key), 64);
}

#define BASE                                                                                       \
	"expect login /login: /\n"                                                                 \
	"send root\n"                                                                              \
	"agent-ready\n"                                                                            \
	"copy-in data.txt /tmp/data.txt\n"                                                         \
	"checkpoint ready\n"

static void same(const char *a, const char *b, const char *what)
{
	ck_assert_msg(!strcmp(a, b), "%s changed the key", what);
}

static void differ(const char *a, const char *b, const char *what)
{
	ck_assert_msg(strcmp(a, b), "%s left the key as it was", what);
}

/* Everything that shaped the saved VM changes the key; the steps after it, the run's timeout and
 * where the images lie do not. */
START_TEST(test_key)
{
	struct scenario s, t;
	char k0[65], k[65], path[512];

	put("vmlinuz", "a kernel");
	put("initrd.img", "an initrd");
	load(&s, "a", BASE "run true\n");
	put("a/data.txt", "data");
	key_of(&s, VM_ACCEL_TCG, "QEMU 7.2", k0);
	key_of(&s, VM_ACCEL_TCG, "QEMU 7.2", k);
	same(k0, k, "nothing");

	/* The same bytes elsewhere. */
	put("vmlinuz.copy", "a kernel");
	tu_path(path, sizeof(path), "vmlinuz.copy");
	free(s.vm.kernel);
	s.vm.kernel = strdup(path);
	key_of(&s, VM_ACCEL_TCG, "QEMU 7.2", k);
	same(k0, k, "the kernel's path");
	put("vmlinuz.copy", "a kernel!");
	key_of(&s, VM_ACCEL_TCG, "QEMU 7.2", k);
	differ(k0, k, "the kernel's bytes");
	put("vmlinuz.copy", "a kernel");

	put("initrd.img", "an initrd, rebuilt");
	key_of(&s, VM_ACCEL_TCG, "QEMU 7.2", k);
	differ(k0, k, "the initrd's bytes");
	put("initrd.img", "an initrd");

	key_of(&s, VM_ACCEL_TCG, "QEMU 8.2", k);
	differ(k0, k, "the qemu version");
	key_of(&s, VM_ACCEL_KVM, "QEMU 7.2", k);
	differ(k0, k, "the accelerator");
	s.vm.memory_mib = 1024;
	key_of(&s, VM_ACCEL_TCG, "QEMU 7.2", k);
	differ(k0, k, "the memory");
	s.vm.memory_mib = 0;

	/* A copied-in file is its bytes. */
	put("a/data.txt", "other data");
	key_of(&s, VM_ACCEL_TCG, "QEMU 7.2", k);
	differ(k0, k, "a copied-in file's bytes");
	put("a/data.txt", "data");
	key_of(&s, VM_ACCEL_TCG, "QEMU 7.2", k);
	same(k0, k, "the copied-in file put back");

	/* The steps after it, the run's timeout. */
	load(&t, "b", BASE "run false\nexpect more /x/\ntimeout 20m\n");
	put("b/data.txt", "data");
	key_of(&t, VM_ACCEL_TCG, "QEMU 7.2", k);
	same(k0, k, "a step after the checkpoint");
	scenario_release(&t);

	/* A step before it, a timeout of one, a fail pattern, the agent, the name. */
	static const char *const changed[] = {
	    "expect login /login:/\nsend root\nagent-ready\ncopy-in data.txt /tmp/data.txt\n"
	    "checkpoint ready\n",
	    "expect login /login: / within 30s\nsend root\nagent-ready\n"
	    "copy-in data.txt /tmp/data.txt\ncheckpoint ready\n",
	    "fail /oops/\n" BASE,
	    "agent serial\n" BASE,
	    "expect login /login: /\nsend root\nagent-ready\ncopy-in data.txt /tmp/data.txt\n"
	    "checkpoint set\n",
	    "vm memory 1G\n" BASE,
	};
	for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++) {
		char name[16];

		snprintf(name, sizeof(name), "c%zu", i);
		load(&t, name, changed[i]);
		snprintf(path, sizeof(path), "%s/data.txt", name);
		put(path, "data");
		key_of(&t, VM_ACCEL_TCG, "QEMU 7.2", k);
		differ(k0, k, changed[i]);
		scenario_release(&t);
	}
	scenario_release(&s);
}
END_TEST

START_TEST(test_unsupported)
{
	struct scenario s;

	put("vmlinuz", "k");
	put("initrd.img", "i");
	load(&s, "a", BASE);
	ck_assert_ptr_null(checkpoint_unsupported(&s));
	strlist_add(&s.vm.extra_args, "-drive");
	strlist_add(&s.vm.extra_args, "file=disk.qcow2");
	ck_assert_ptr_nonnull(strstr(checkpoint_unsupported(&s), "disk"));
	strlist_clear(&s.vm.extra_args);
	s.vm.backend = VM_BACKEND_CROSVM;
	ck_assert_str_eq(checkpoint_unsupported(&s), "the crosvm backend has no checkpoints");
	scenario_release(&s);
}
END_TEST

/* CACHE/checkpoints/ID as a save leaves it: meta.json, a state of 'bytes', used 'age' ago. */
static void fake(const char *id, const char *name, size_t bytes, long age, bool broken)
{
	char rel[128], path[512], meta[1024];
	struct timespec t[2];
	int fd;

	snprintf(rel, sizeof(rel), "cache/checkpoints/%s", id);
	tu_path(path, sizeof(path), rel);
	ck_assert_int_eq(mkdir_p(path, 0755), 0);
	snprintf(rel, sizeof(rel), "cache/checkpoints/%s/state", id);
	tu_path(path, sizeof(path), rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)bytes), 0);
	close(fd);
	snprintf(meta, sizeof(meta),
		 "{\"format\": 1, \"name\": \"%s\", \"id\": \"%s\", \"scenario\": \"s-%s\", "
		 "\"created\": %ld, \"state_bytes\": %zu, \"save_ms\": 80, \"at_ms\": 18000, "
		 "\"first_byte_ms\": 400, \"agent_ready\": true, \"upto\": 2, "
		 "\"steps\": [{\"at_ms\": 5000, \"line\": \"login: root\"}, "
		 "{\"at_ms\": 5100, \"line\": null}], "
		 "\"captures\": [{\"ref\": \"0\", \"value\": \"login: \"}, "
		 "{\"ref\": \"ip\", \"value\": \"10.0.2.15\"}]}\n",
		 name, id, name, (long)time(NULL) - age, bytes + (broken ? 1 : 0));
	snprintf(rel, sizeof(rel), "cache/checkpoints/%s/meta.json", id);
	put(rel, meta);
	tu_path(path, sizeof(path), rel);
	t[0].tv_sec = t[1].tv_sec = time(NULL) - age;
	t[0].tv_nsec = t[1].tv_nsec = 0;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
}

static bool present(const char *id)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "cache/checkpoints/%s", id);
	return access(tu_in_dir(rel), F_OK) == 0;
}

#define ID_OLD "00000000000000a1"
#define ID_MID "00000000000000b2"
#define ID_NEW "00000000000000c3"
#define ID_BAD "00000000000000d4"

START_TEST(test_list_and_prune)
{
	struct checkpoint_list l;
	struct it_error err = IT_ERROR_INIT;
	char cache[512], lock[600];
	size_t removed = 9;
	uint64_t freed = 0;
	int fd;

	tu_path(cache, sizeof(cache), "cache");
	/* None yet: an empty list, not an error. */
	ck_assert_int_eq(checkpoint_list(cache, &l, &err), 0);
	ck_assert_uint_eq(l.n, 0);
	fake(ID_OLD, "old", 1 << 20, 40L * DAY, false);
	fake(ID_MID, "mid", 3 << 20, 2L * DAY, false);
	fake(ID_NEW, "new", 3 << 20, 1L * DAY, false);
	fake(ID_BAD, "bad", 1 << 10, 3L * DAY, true);
	ck_assert_int_eq(mkdir_p(tu_in_dir("cache/checkpoints/00000000000000e5.tmp.7"), 0755), 0);
	ck_assert_int_eq(checkpoint_list(cache, &l, &err), 0);
	ck_assert_uint_eq(l.n, 4);
	/* Least recently used first. */
	ck_assert_str_eq(l.v[0].id, ID_OLD);
	ck_assert_str_eq(l.v[1].id, ID_BAD);
	ck_assert_str_eq(l.v[2].name, "mid");
	ck_assert_str_eq(l.v[2].scenario, "s-mid");
	ck_assert_str_eq(l.v[3].id, ID_NEW);
	ck_assert(l.v[1].broken);
	ck_assert(!l.v[0].broken && !l.v[3].broken);
	ck_assert_uint_ge(l.v[2].bytes, 3 << 20);
	checkpoint_list_release(&l);

	/* Broken, then too old, then the least recently used over 5 MiB. */
	ck_assert_int_eq(
	    checkpoint_prune(cache, false, 30L * DAY, 5 << 20, NULL, &removed, &freed, &err), 0);
	ck_assert_uint_eq(removed, 3);
	ck_assert_uint_ge(freed, (1 << 20) + (3 << 20));
	ck_assert(!present(ID_OLD) && !present(ID_BAD) && !present(ID_MID));
	ck_assert(present(ID_NEW));

	/* 'keep' and a lock another run holds keep one; --all takes the rest. */
	fake(ID_MID, "mid", 1 << 20, 2L * DAY, false);
	fake(ID_OLD, "old", 1 << 20, 2L * DAY, false);
	snprintf(lock, sizeof(lock), "%s/checkpoints/%s.lock", cache, ID_MID);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	ck_assert_int_eq(checkpoint_prune(cache, true, -1, 0, ID_NEW, &removed, NULL, &err), 0);
	ck_assert_uint_eq(removed, 1);
	ck_assert(present(ID_MID) && present(ID_NEW) && !present(ID_OLD));
	close(fd);
	ck_assert_int_eq(checkpoint_prune(cache, true, -1, 0, NULL, &removed, NULL, &err), 0);
	ck_assert_uint_eq(removed, 2);
	ck_assert_int_eq(checkpoint_list(cache, &l, &err), 0);
	ck_assert_uint_eq(l.n, 0);
}
END_TEST

/* Open: nothing there (make it), a complete one (restore it), a broken one (make it again). */
START_TEST(test_open)
{
	struct scenario s;
	struct checkpoint *cp = NULL;
	struct it_error err = IT_ERROR_INIT;
	const struct checkpoint_prefix *p;
	char cache[512], id[17];

	put("vmlinuz", "k");
	put("initrd.img", "i");
	load(&s, "a", "expect login /login: /\nsend root\ncheckpoint ready\nrun true\n");
	tu_path(cache, sizeof(cache), "cache");
	ck_assert_msg(checkpoint_open(&cp, &s, cache, -1, &err) == 0, "%s", err.msg);
	ck_assert(checkpoint_making(cp));
	ck_assert_ptr_null(checkpoint_prefix(cp));
	ck_assert_str_eq(checkpoint_name(cp), "ready");
	snprintf(id, sizeof(id), "%s", checkpoint_id(cp));
	checkpoint_close(cp);

	fake(id, "ready", 4096, 0, false);
	ck_assert_int_eq(checkpoint_open(&cp, &s, cache, -1, &err), 0);
	ck_assert(!checkpoint_making(cp));
	p = checkpoint_prefix(cp);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->steps.upto, 2);
	ck_assert_int_eq(p->steps.at_ms[1], 5100);
	ck_assert_str_eq(p->steps.lines[0], "login: root");
	ck_assert_ptr_null(p->steps.lines[1]);
	ck_assert_uint_eq(p->steps.ncaps, 2);
	ck_assert_str_eq(p->steps.refs[1], "ip");
	ck_assert_str_eq(p->steps.values[1], "10.0.2.15");
	ck_assert_int_eq(p->at_ms, 18000);
	ck_assert_int_eq(p->first_byte_ms, 400);
	ck_assert(p->agent_ready);
	ck_assert_int_ge(checkpoint_state_fd(cp), 0);
	/* qemu could not load it: it goes, and this run makes it again. */
	ck_assert(checkpoint_restore_failed(cp));
	ck_assert(checkpoint_making(cp));
	ck_assert(!present(id));
	checkpoint_close(cp);

	/* A state that is not the size meta.json says (a save cut short) is no checkpoint. */
	fake(id, "ready", 4096, 0, true);
	ck_assert_int_eq(checkpoint_open(&cp, &s, cache, -1, &err), 0);
	ck_assert(checkpoint_making(cp));
	ck_assert(!present(id));
	checkpoint_close(cp);
	scenario_release(&s);
}
END_TEST

static Suite *checkpoint_suite(void)
{
	Suite *s = suite_create("checkpoint");
	TCase *tc = tcase_create("checkpoint");

	tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_key);
	tcase_add_test(tc, test_unsupported);
	tcase_add_test(tc, test_list_and_prune);
	tcase_add_test(tc, test_open);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(checkpoint_suite());
}
