// SPDX-License-Identifier: MIT
/* Unit tests for builder/cpio.c: output read back by libarchive and GNU cpio, errors, ls. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "tests/unit/testutil.h"
#include "tests/unit/builder_util.h"

#define EPOCH 1700000000LL

static void add(struct tree *t, const char *path, unsigned mode, unsigned uid, unsigned gid,
		int64_t mtime, const char *text, const char *target)
{
	struct tree_entry e = {
	    .path = path,
	    .mode = mode,
	    .uid = uid,
	    .gid = gid,
	    .mtime = mtime,
	    .content = text,
	    .size = text ? strlen(text) : 0,
	};

	if (S_ISLNK(mode))
		e.link_target = target;
	else
		e.hardlink = target;
	ck_assert_int_eq(tree_add(t, &e, NULL, NULL), 0);
}

/*
 * A small tree with every kind of entry. Sorted order: bin, bin/view (a
 * hard link before its file), dev, dev/console, dev/sda, etc, etc/motd,
 * etc/shadow, run, run/fifo, tmp, usr, usr/bin, usr/bin/ex, usr/bin/su,
 * usr/bin/vi.
 */
static void sample_tree(struct tree *t)
{
	struct tree_entry dev = {.path = "dev/console",
				 .mode = S_IFCHR | 0600,
				 .devmajor = 5,
				 .devminor = 1,
				 .mtime = TREE_MTIME_UNSET};

	tree_init(t);
	add(t, "etc/motd", S_IFREG | 0644, 0, 0, EPOCH + 1000, "Welcome\n", NULL);
	add(t, "etc/shadow", S_IFREG | 0640, 0, 42, EPOCH - 1000, "root:::0:::::\n", NULL);
	add(t, "tmp", S_IFDIR | 01777, 0, 0, TREE_MTIME_UNSET, NULL, NULL);
	add(t, "usr/bin/vi", S_IFREG | 0755, 0, 0, 1000, "vi binary", NULL);
	add(t, "usr/bin/su", S_IFREG | 04755, 0, 0, 1000, "su", NULL);
	add(t, "bin/view", S_IFREG | 0755, 0, 0, 1000, NULL, "usr/bin/vi");
	add(t, "usr/bin/ex", S_IFREG | 0755, 0, 0, 1000, NULL, "usr/bin/vi");
	add(t, "bin/sh", S_IFLNK | 0777, 0, 0, TREE_MTIME_UNSET, NULL, "/bin/busybox");
	ck_assert_int_eq(tree_add(t, &dev, NULL, NULL), 0);
	dev.path = "dev/sda";
	dev.mode = S_IFBLK | 0660;
	dev.gid = 6;
	dev.devmajor = 8;
	dev.devminor = 0;
	ck_assert_int_eq(tree_add(t, &dev, NULL, NULL), 0);
	add(t, "run/fifo", S_IFIFO | 0600, 0, 0, TREE_MTIME_UNSET, NULL, NULL);
	add(t, "home/user", S_IFDIR | 02750, 1000, 1000, TREE_MTIME_UNSET, NULL, NULL);
}

static void write_ok(const struct tree *t, const char *path, enum compression c,
		     struct cpio_stats *st)
{
	struct cpio_opts o = {.compression = c, .epoch = EPOCH};
	struct it_error err = IT_ERROR_INIT;

	if (cpio_write(t, path, &o, st, &err) != 0)
		ck_abort_msg("%s", err.msg);
}

struct got {
	char path[128];
	unsigned mode, uid, gid, nlink, rmaj, rmin;
	long long mtime, ino;
	char data[64];
	long long size;
	char sym[64], hard[64];
};

/* Read an archive back with libarchive (any compression). */
static size_t read_back(const char *path, struct got *g, size_t max)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	size_t n = 0;

	archive_read_support_filter_all(a);
	archive_read_support_format_cpio(a);
	ck_assert_int_eq(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		struct got *x = &g[n];
		ssize_t k;

		if (n == max) {
			n++;
			continue;
		}
		memset(x, 0, sizeof(*x));
		snprintf(x->path, sizeof(x->path), "%s", archive_entry_pathname(ae));
		x->mode = archive_entry_mode(ae);
		x->uid = (unsigned)archive_entry_uid(ae);
		x->gid = (unsigned)archive_entry_gid(ae);
		x->nlink = archive_entry_nlink(ae);
		x->rmaj = archive_entry_rdevmajor(ae);
		x->rmin = archive_entry_rdevminor(ae);
		x->mtime = archive_entry_mtime(ae);
		x->ino = archive_entry_ino64(ae);
		x->size = archive_entry_size(ae);
		if (archive_entry_symlink(ae))
			snprintf(x->sym, sizeof(x->sym), "%s", archive_entry_symlink(ae));
		if (archive_entry_hardlink(ae))
			snprintf(x->hard, sizeof(x->hard), "%s", archive_entry_hardlink(ae));
		k = archive_read_data(a, x->data, sizeof(x->data) - 1);
		ck_assert_int_ge(k, 0);
		n++;
	}
	ck_assert_int_eq(archive_read_free(a), ARCHIVE_OK);
	return n;
}

static void check_sample(const char *path)
{
	static const char *order[] = {
	    "bin",	"bin/sh",     "bin/view",   "dev",	  "dev/console", "dev/sda",  "etc",
	    "etc/motd", "etc/shadow", "home",	    "home/user",  "run",	 "run/fifo", "tmp",
	    "usr",	"usr/bin",    "usr/bin/ex", "usr/bin/su", "usr/bin/vi",
	};
	struct got g[32];
	size_t n = read_back(path, g, 32);

	/* Inodes in order; the hard links (16, 18) take their group's, so 17 is one lower. */
	static const long long ino[] = {0,  1,	2,  3,	4,  5,	6, 7,  8, 9,
					10, 11, 12, 13, 14, 15, 2, 16, 2};

	ck_assert_uint_eq(n, ARRAY_SIZE(order));
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(g[i].path, order[i]);
		ck_assert_int_eq(g[i].ino, CPIO_FIRST_INO + ino[i]);
	}
	/* Directories: 2 + subdirectories. */
	ck_assert_uint_eq(g[0].mode, S_IFDIR | 0755);
	ck_assert_uint_eq(g[0].nlink, 2);
	ck_assert_uint_eq(g[14].nlink, 3); /* usr has usr/bin */
	ck_assert_uint_eq(g[10].mode, S_IFDIR | 02750);
	ck_assert_uint_eq(g[10].uid, 1000);
	ck_assert_uint_eq(g[13].mode, S_IFDIR | 01777);
	/* Symlink: no NUL in the data, the target read back. */
	ck_assert_uint_eq(g[1].mode, S_IFLNK | 0777);
	ck_assert_str_eq(g[1].sym, "/bin/busybox");
	ck_assert_int_eq(g[1].size, 12);
	/* Devices and a fifo. */
	ck_assert_uint_eq(g[4].mode, S_IFCHR | 0600);
	ck_assert_uint_eq(g[4].rmaj, 5);
	ck_assert_uint_eq(g[4].rmin, 1);
	ck_assert_uint_eq(g[5].mode, S_IFBLK | 0660);
	ck_assert_uint_eq(g[5].gid, 6);
	ck_assert_uint_eq(g[5].rmaj, 8);
	ck_assert_uint_eq(g[12].mode, S_IFIFO | 0600);
	/* Files, owners, setuid, mtimes clamped to the epoch, unset ones at it. */
	ck_assert_str_eq(g[7].data, "Welcome\n");
	ck_assert_int_eq(g[7].mtime, EPOCH);
	ck_assert_uint_eq(g[8].gid, 42);
	ck_assert_uint_eq(g[8].mode, S_IFREG | 0640);
	ck_assert_int_eq(g[8].mtime, EPOCH - 1000);
	ck_assert_int_eq(g[0].mtime, EPOCH);
	ck_assert_uint_eq(g[17].mode, S_IFREG | 04755);
	ck_assert_str_eq(g[17].data, "su");
	/* Hard links: one inode, nlink 3, data with the last in order (usr/bin/vi). */
	ck_assert_int_eq(g[2].ino, g[16].ino);
	ck_assert_int_eq(g[2].ino, g[18].ino);
	ck_assert_uint_eq(g[2].nlink, 3);
	ck_assert_uint_eq(g[18].nlink, 3);
	ck_assert_str_eq(g[16].hard, "bin/view");
	ck_assert_str_eq(g[18].hard, "bin/view");
	ck_assert_str_eq(g[18].data, "vi binary");
}

START_TEST(test_newc_read_back)
{
	static const enum compression comps[] = {COMPRESS_NONE, COMPRESS_GZIP, COMPRESS_ZSTD};
	struct tree t;
	struct cpio_stats st;
	struct stat sb;

	sample_tree(&t);
	for (size_t i = 0; i < ARRAY_SIZE(comps); i++) {
		const char *out = tu_in_dir("initrd");

		write_ok(&t, out, comps[i], &st);
		ck_assert_uint_eq(st.entries, 19);
		ck_assert_uint_eq(st.bytes % 512, 0);
		ck_assert_int_eq(stat(out, &sb), 0);
		ck_assert_uint_eq((unsigned long long)sb.st_size, st.written);
		if (comps[i] == COMPRESS_NONE)
			ck_assert_uint_eq(st.bytes, st.written);
		else
			ck_assert_uint_lt(st.written, st.bytes);
		check_sample(out);
	}
	tree_release(&t);
}
END_TEST

START_TEST(test_gnu_cpio_reads_it)
{
	struct tree t;
	struct buf b = BUF_INIT;
	char cmd[2048];
	struct stat s1, s2, s3;

	sample_tree(&t);
	write_ok(&t, tu_in_dir("initrd.gz"), COMPRESS_GZIP, NULL);
	write_ok(&t, tu_in_dir("initrd.zst"), COMPRESS_ZSTD, NULL);
	write_ok(&t, tu_in_dir("initrd"), COMPRESS_NONE, NULL);
	/* GNU cpio lists the same names, modes and owners. */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && gzip -dc initrd.gz | cpio -itv --numeric-uid-gid --quiet"
		 " | awk '{print $1, $3, $4, $NF}' > gz.txt"
		 " && zstd -qdc initrd.zst | cpio -it --quiet > zst.txt"
		 " && cpio -it --quiet < initrd > plain.txt"
		 " && cpio -itv --numeric-uid-gid --quiet < initrd"
		 " | awk '$1 ~ /^[cb]/ {print $5 $6, $NF}' > dev.txt",
		 tu_dir);
	tu_run(cmd);
	tu_read_file(&b, tu_in_dir("dev.txt"));
	ck_assert_str_eq(b.data, "5,1 dev/console\n8,0 dev/sda\n");
	tu_read_file(&b, tu_in_dir("gz.txt"));
	ck_assert_str_eq(b.data, "drwxr-xr-x 0 0 bin\n"
				 "lrwxrwxrwx 0 0 /bin/busybox\n"
				 "-rwxr-xr-x 0 0 bin/view\n"
				 "drwxr-xr-x 0 0 dev\n"
				 "crw------- 0 0 dev/console\n"
				 "brw-rw---- 0 6 dev/sda\n"
				 "drwxr-xr-x 0 0 etc\n"
				 "-rw-r--r-- 0 0 etc/motd\n"
				 "-rw-r----- 0 42 etc/shadow\n"
				 "drwxr-xr-x 0 0 home\n"
				 "drwxr-s--- 1000 1000 home/user\n"
				 "drwxr-xr-x 0 0 run\n"
				 "prw------- 0 0 run/fifo\n"
				 "drwxrwxrwt 0 0 tmp\n"
				 "drwxr-xr-x 0 0 usr\n"
				 "drwxr-xr-x 0 0 usr/bin\n"
				 "-rwxr-xr-x 0 0 usr/bin/ex\n"
				 "-rwsr-xr-x 0 0 usr/bin/su\n"
				 "-rwxr-xr-x 0 0 usr/bin/vi\n");
	tu_read_file(&b, tu_in_dir("zst.txt"));
	ck_assert_str_eq(b.data, "bin\nbin/sh\nbin/view\ndev\ndev/console\ndev/sda\netc\netc/motd\n"
				 "etc/shadow\nhome\nhome/user\nrun\nrun/fifo\ntmp\nusr\nusr/bin\n"
				 "usr/bin/ex\nusr/bin/su\nusr/bin/vi\n");
	tu_read_file(&b, tu_in_dir("plain.txt"));
	ck_assert_str_eq(b.data, "bin\nbin/sh\nbin/view\ndev\ndev/console\ndev/sda\netc\netc/motd\n"
				 "etc/shadow\nhome\nhome/user\nrun\nrun/fifo\ntmp\nusr\nusr/bin\n"
				 "usr/bin/ex\nusr/bin/su\nusr/bin/vi\n");

	/* GNU cpio extracts the hard links as one file with the content, and the symlink. */
	snprintf(cmd, sizeof(cmd),
		 "mkdir '%s/x' && cd '%s/x' && gzip -dc ../initrd.gz"
		 " | cpio -idm --quiet --no-absolute-filenames --nonmatching 'dev/*' 'run/*'",
		 tu_dir, tu_dir);
	tu_run(cmd);
	ck_assert_int_eq(stat(tu_in_dir("x/bin/view"), &s1), 0);
	ck_assert_int_eq(stat(tu_in_dir("x/usr/bin/ex"), &s2), 0);
	ck_assert_int_eq(stat(tu_in_dir("x/usr/bin/vi"), &s3), 0);
	ck_assert_uint_eq(s1.st_ino, s2.st_ino);
	ck_assert_uint_eq(s1.st_ino, s3.st_ino);
	ck_assert_uint_eq(s1.st_nlink, 3);
	tu_read_file(&b, tu_in_dir("x/bin/view"));
	ck_assert_str_eq(b.data, "vi binary");
	tu_read_file(&b, tu_in_dir("x/etc/motd"));
	ck_assert_str_eq(b.data, "Welcome\n");
	ck_assert_int_eq(lstat(tu_in_dir("x/bin/sh"), &s1), 0);
	ck_assert(S_ISLNK(s1.st_mode));
	ck_assert_int_eq(stat(tu_in_dir("x/usr/bin/su"), &s1), 0);
	ck_assert_uint_eq(s1.st_mode & 07777, 04755);
	ck_assert_int_eq(s1.st_mtime, 1000);
	buf_release(&b);
	tree_release(&t);
}
END_TEST

START_TEST(test_reproducible)
{
	static const enum compression comps[] = {COMPRESS_NONE, COMPRESS_GZIP, COMPRESS_ZSTD};
	struct tree t1, t2;
	struct buf a = BUF_INIT, b = BUF_INIT;

	sample_tree(&t1);
	/* The same tree built in another order. */
	tree_init(&t2);
	add(&t2, "home/user", S_IFDIR | 02750, 1000, 1000, TREE_MTIME_UNSET, NULL, NULL);
	{
		struct tree_entry fifo = {
		    .path = "run/fifo", .mode = S_IFIFO | 0600, .mtime = TREE_MTIME_UNSET};
		struct tree_entry dev = {.path = "dev/sda",
					 .mode = S_IFBLK | 0660,
					 .gid = 6,
					 .devmajor = 8,
					 .mtime = TREE_MTIME_UNSET};

		ck_assert_int_eq(tree_add(&t2, &fifo, NULL, NULL), 0);
		ck_assert_int_eq(tree_add(&t2, &dev, NULL, NULL), 0);
		dev.path = "dev/console";
		dev.mode = S_IFCHR | 0600;
		dev.gid = 0;
		dev.devmajor = 5;
		dev.devminor = 1;
		ck_assert_int_eq(tree_add(&t2, &dev, NULL, NULL), 0);
	}
	add(&t2, "bin/sh", S_IFLNK | 0777, 0, 0, TREE_MTIME_UNSET, NULL, "/bin/busybox");
	add(&t2, "usr/bin/vi", S_IFREG | 0755, 0, 0, 1000, "vi binary", NULL);
	add(&t2, "usr/bin/ex", S_IFREG | 0755, 0, 0, 1000, NULL, "usr/bin/vi");
	add(&t2, "bin/view", S_IFREG | 0755, 0, 0, 1000, NULL, "usr/bin/ex");
	add(&t2, "usr/bin/su", S_IFREG | 04755, 0, 0, 1000, "su", NULL);
	add(&t2, "tmp", S_IFDIR | 01777, 0, 0, TREE_MTIME_UNSET, NULL, NULL);
	add(&t2, "etc/shadow", S_IFREG | 0640, 0, 42, EPOCH - 1000, "root:::0:::::\n", NULL);
	add(&t2, "etc/motd", S_IFREG | 0644, 0, 0, EPOCH + 5, "Welcome\n", NULL);
	for (size_t i = 0; i < ARRAY_SIZE(comps); i++) {
		write_ok(&t1, tu_in_dir("one"), comps[i], NULL);
		write_ok(&t2, tu_in_dir("two"), comps[i], NULL);
		tu_read_file(&a, tu_in_dir("one"));
		tu_read_file(&b, tu_in_dir("two"));
		ck_assert_uint_eq(a.len, b.len);
		ck_assert(!memcmp(a.data, b.data, a.len));
		if (comps[i] == COMPRESS_GZIP) {
			/* gzip header: deflate, no FNAME flag, mtime 0, OS Unix. */
			ck_assert(!memcmp(a.data, "\x1f\x8b\x08\x00\x00\x00\x00\x00", 8));
			ck_assert_uint_eq((unsigned char)a.data[9], 3);
		}
		if (comps[i] == COMPRESS_ZSTD)
			ck_assert(!memcmp(a.data, "\x28\xb5\x2f\xfd", 4));
		if (comps[i] == COMPRESS_NONE) {
			ck_assert(!memcmp(a.data, "070701000002D1", 14));
			/* Ends with the trailer, then zeros to 512. */
			ck_assert_ptr_nonnull(memmem(a.data, a.len, "TRAILER!!!", 11));
			ck_assert_uint_eq(a.len % 512, 0);
			ck_assert_int_eq(a.data[a.len - 1], 0);
		}
	}
	buf_release(&a);
	buf_release(&b);
	tree_release(&t1);
	tree_release(&t2);
}
END_TEST

static size_t files_in_dir(void)
{
	char cmd[512];
	FILE *p;
	size_t n = 0;
	char line[512];

	snprintf(cmd, sizeof(cmd), "ls -A '%s'", tu_dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p))
		n++;
	pclose(p);
	return n;
}

START_TEST(test_errors_leave_nothing)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;
	struct cpio_opts o = {.compression = COMPRESS_NONE, .epoch = EPOCH};
	struct rlimit old, small;
	struct buf b = BUF_INIT;
	char big[100000];
	char want[600];
	const char *missing = tu_in_dir("no/such/tu_dir/initrd");

	sample_tree(&t);
	ck_assert_int_eq(cpio_write(&t, missing, &o, NULL, &err), -ENOENT);
	snprintf(want, sizeof(want), "cannot write '%s': No such file or directory", missing);
	ck_assert_str_eq(err.msg, want);

	/* A previous initrd survives a failed write, and no temp file is left. */
	write_ok(&t, tu_in_dir("initrd"), COMPRESS_NONE, NULL);
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(tree_add_file(&t, "big", 0644, 0, 0, big, sizeof(big), NULL), 0);
	signal(SIGXFSZ, SIG_IGN);
	/* A soft file size limit makes writes fail as a full disk would. */
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 64 * 1024;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	it_error_clear(&err);
	ck_assert_int_eq(cpio_write(&t, tu_in_dir("initrd"), &o, NULL, &err), -EFBIG);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	snprintf(want, sizeof(want), "cannot write '%s': File too large", tu_in_dir("initrd"));
	ck_assert_str_eq(err.msg, want);
	ck_assert_uint_eq(files_in_dir(), 1);
	tu_read_file(&b, tu_in_dir("initrd"));
	ck_assert_uint_lt(b.len, 64 * 1024);

	/* A hard link whose file went away. */
	ck_assert_int_eq(tree_remove(&t, "usr/bin/vi"), 1);
	it_error_clear(&err);
	ck_assert_int_eq(cpio_write(&t, tu_in_dir("initrd2"), &o, NULL, &err), -IT_EFORMAT);
	ck_assert_str_eq(
	    err.msg,
	    "hard link '/bin/view' points to '/usr/bin/vi', which is not a file in the tree");
	ck_assert_uint_eq(files_in_dir(), 1);

	/* Interrupted (the caller's SIGINT handler set the flag): stops, leaves nothing. */
	{
		volatile sig_atomic_t stop = SIGINT;
		struct cpio_opts oi = {
		    .compression = COMPRESS_GZIP, .epoch = EPOCH, .interrupted = &stop};

		struct buf prev = BUF_INIT;

		ck_assert_int_eq(tree_add_file(&t, "usr/bin/vi", 0755, 0, 0, "vi", 2, NULL), 0);
		tu_read_file(&prev, tu_in_dir("initrd"));
		it_error_clear(&err);
		ck_assert_int_eq(cpio_write(&t, tu_in_dir("initrd"), &oi, NULL, &err),
				 -IT_EINTERRUPTED);
		snprintf(want, sizeof(want), "cannot write '%s': interrupted by SIGINT",
			 tu_in_dir("initrd"));
		ck_assert_str_eq(err.msg, want);
		ck_assert_uint_eq(files_in_dir(), 1);
		tu_read_file(&b, tu_in_dir("initrd"));
		ck_assert(b.len == prev.len && !memcmp(b.data, prev.data, b.len));
		stop = 0;
		ck_assert_int_eq(cpio_write(&t, tu_in_dir("initrd"), &oi, NULL, &err), 0);
		ck_assert_uint_eq(files_in_dir(), 1);
		tu_read_file(&b, tu_in_dir("initrd"));
		ck_assert(b.len != prev.len || memcmp(b.data, prev.data, b.len));
		buf_release(&prev);
	}

	/* No epoch. */
	o.epoch = -1;
	ck_assert_int_eq(cpio_write(&t, tu_in_dir("initrd3"), &o, NULL, NULL), -EINVAL);
	buf_release(&b);
	tree_release(&t);
}
END_TEST

START_TEST(test_real_alpine_base)
{
	struct tree t;
	char cmd[1024];
	struct cpio_stats st;
	struct buf b = BUF_INIT;
	struct got *g = calloc(600, sizeof(*g));
	size_t n;
	bool seen = false;

	tu_tree_alpine_base(&t);
	write_ok(&t, tu_in_dir("initrd"), COMPRESS_GZIP, &st);
	ck_assert_uint_eq(st.entries, tree_count(&t));
	n = read_back(tu_in_dir("initrd"), g, 600);
	ck_assert_uint_eq(n, tree_count(&t));
	for (size_t i = 0; i < n; i++) {
		const struct tree_node *tn = tree_lookup(&t, g[i].path, false);

		ck_assert_ptr_nonnull(tn);
		ck_assert_uint_eq(g[i].mode, tn->mode);
		ck_assert_uint_eq(g[i].uid, tn->uid);
		ck_assert_uint_eq(g[i].gid, tn->gid);
		if (tree_is_reg(tn))
			ck_assert_int_eq(g[i].size, (long long)tn->size);
		if (!strcmp(g[i].path, "bin/bbsuid")) {
			ck_assert_uint_eq(g[i].mode, S_IFREG | 04111);
			seen = true;
		}
	}
	ck_assert(seen);
	/* GNU cpio agrees on the count, and busybox comes out whole. */
	{
		const struct tree_node *bb = tree_lookup(&t, "bin/busybox", false);

		ck_assert_int_eq(write_file_atomic(tu_in_dir("x.bb"), bb->data, bb->size, 0644), 0);
	}
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && gzip -dc initrd | cpio -it --quiet | wc -l > n.txt"
		 " && gzip -dc initrd | cpio -i --quiet --to-stdout bin/busybox | cmp -s - x.bb",
		 tu_dir);
	tu_run(cmd);
	tu_read_file(&b, tu_in_dir("n.txt"));
	ck_assert_int_eq(strtol(b.data, NULL, 10), (long)tree_count(&t));
	buf_release(&b);
	free(g);
	tree_release(&t);
}
END_TEST

static void list_to(const char *archive, unsigned flags, struct buf *b, int want)
{
	struct it_error err = IT_ERROR_INIT;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	unsigned long long n = 0;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(builder_list_initrd(archive, f, flags, &n, &err), want);
	fclose(f);
	buf_reset(b);
	buf_add(b, text, len);
	if (want < 0)
		buf_addstr(b, err.msg);
	free(text);
}

START_TEST(test_list)
{
	struct tree t;
	struct buf b = BUF_INIT;
	char cmd[1024], want[600];

	sample_tree(&t);
	write_ok(&t, tu_in_dir("initrd.zst"), COMPRESS_ZSTD, NULL);
	list_to(tu_in_dir("initrd.zst"), 0, &b, 0);
	ck_assert_str_eq(b.data, "bin\nbin/sh\nbin/view\ndev\ndev/console\ndev/sda\netc\netc/motd\n"
				 "etc/shadow\nhome\nhome/user\nrun\nrun/fifo\ntmp\nusr\nusr/bin\n"
				 "usr/bin/ex\nusr/bin/su\nusr/bin/vi\n");
	list_to(tu_in_dir("initrd.zst"), BUILDER_LIST_LONG | BUILDER_LIST_TIME, &b, 0);
	ck_assert_str_eq(
	    b.data,
	    "drwxr-xr-x   2     0     0          0 2023-11-14 22:13:20 bin\n"
	    "lrwxrwxrwx   1     0     0         12 2023-11-14 22:13:20 bin/sh -> /bin/busybox\n"
	    "-rwxr-xr-x   3     0     0          0 1970-01-01 00:16:40 bin/view\n"
	    "drwxr-xr-x   2     0     0          0 2023-11-14 22:13:20 dev\n"
	    "crw-------   1     0     0       5, 1 2023-11-14 22:13:20 dev/console\n"
	    "brw-rw----   1     0     6       8, 0 2023-11-14 22:13:20 dev/sda\n"
	    "drwxr-xr-x   2     0     0          0 2023-11-14 22:13:20 etc\n"
	    "-rw-r--r--   1     0     0          8 2023-11-14 22:13:20 etc/motd\n"
	    "-rw-r-----   1     0    42         14 2023-11-14 21:56:40 etc/shadow\n"
	    "drwxr-xr-x   3     0     0          0 2023-11-14 22:13:20 home\n"
	    "drwxr-s---   2  1000  1000          0 2023-11-14 22:13:20 home/user\n"
	    "drwxr-xr-x   2     0     0          0 2023-11-14 22:13:20 run\n"
	    "prw-------   1     0     0          0 2023-11-14 22:13:20 run/fifo\n"
	    "drwxrwxrwt   2     0     0          0 2023-11-14 22:13:20 tmp\n"
	    "drwxr-xr-x   3     0     0          0 2023-11-14 22:13:20 usr\n"
	    "drwxr-xr-x   2     0     0          0 2023-11-14 22:13:20 usr/bin\n"
	    "-rwxr-xr-x   3     0     0          0 1970-01-01 00:16:40 usr/bin/ex link to "
	    "bin/view\n"
	    "-rwsr-xr-x   1     0     0          2 1970-01-01 00:16:40 usr/bin/su\n"
	    "-rwxr-xr-x   3     0     0          9 1970-01-01 00:16:40 usr/bin/vi link to "
	    "bin/view\n");

	/* An uncompressed early archive, then a gzip one, as with CPU microcode. */
	tree_release(&t);
	tree_init(&t);
	ck_assert_int_eq(tree_add_file(&t, "kernel/x86/microcode/GenuineIntel.bin", 0644, 0, 0,
				       "ucode", 5, NULL),
			 0);
	write_ok(&t, tu_in_dir("early"), COMPRESS_NONE, NULL);
	tree_release(&t);
	sample_tree(&t);
	write_ok(&t, tu_in_dir("main.gz"), COMPRESS_GZIP, NULL);
	snprintf(cmd, sizeof(cmd), "cd '%s' && cat early main.gz > both", tu_dir);
	tu_run(cmd);
	list_to(tu_in_dir("both"), 0, &b, 0);
	ck_assert_str_eq(b.data, "kernel\nkernel/x86\nkernel/x86/microcode\n"
				 "kernel/x86/microcode/GenuineIntel.bin\n"
				 "bin\nbin/sh\nbin/view\ndev\ndev/console\ndev/sda\netc\netc/motd\n"
				 "etc/shadow\nhome\nhome/user\nrun\nrun/fifo\ntmp\nusr\nusr/bin\n"
				 "usr/bin/ex\nusr/bin/su\nusr/bin/vi\n");

	/* Unreadable, truncated, not an archive. */
	list_to(tu_in_dir("nothere"), 0, &b, -ENOENT);
	snprintf(want, sizeof(want), "cannot read '%s': No such file or directory",
		 tu_in_dir("nothere"));
	ck_assert_str_eq(b.data, want);
	snprintf(cmd, sizeof(cmd), "cd '%s' && head -c 300 early > cut && echo hello > text",
		 tu_dir);
	tu_run(cmd);
	list_to(tu_in_dir("cut"), 0, &b, -IT_EFORMAT);
	snprintf(want, sizeof(want), "cannot read '%s': truncated or corrupt cpio at byte 0",
		 tu_in_dir("cut"));
	ck_assert_str_eq(b.data, want);
	list_to(tu_in_dir("text"), 0, &b, -IT_EFORMAT);
	ck_assert(!strncmp(b.data, "cannot read '", 13));
	list_to(tu_dir, 0, &b, -EISDIR);
	buf_release(&b);
	tree_release(&t);
}
END_TEST

START_TEST(test_mode_string)
{
	char s[11];

	cpio_mode_string(S_IFREG | 04755, s);
	ck_assert_str_eq(s, "-rwsr-xr-x");
	cpio_mode_string(S_IFREG | 04644, s);
	ck_assert_str_eq(s, "-rwSr--r--");
	cpio_mode_string(S_IFDIR | 03770, s);
	ck_assert_str_eq(s, "drwxrws--T");
	cpio_mode_string(S_IFSOCK | 0777, s);
	ck_assert_str_eq(s, "srwxrwxrwx");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("builder_cpio");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_newc_read_back);
	tcase_add_test(tc, test_gnu_cpio_reads_it);
	tcase_add_test(tc, test_reproducible);
	tcase_add_test(tc, test_errors_leave_nothing);
	tcase_add_test(tc, test_real_alpine_base);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_mode_string);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
