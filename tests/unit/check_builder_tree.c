// SPDX-License-Identifier: MIT
/* Unit tests for builder/tree.c: path rules, symlinks, apk's ownership rules, real packages. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/internal.h"
#include "builder/rootfs.h"
#include "common/err.h"
#include "tests/unit/testutil.h"
#include "tests/unit/builder_util.h"

static const struct tree_pkg *pkg(struct tree *t, const char *name, const char *origin,
				  const char *replaces)
{
	struct strlist rep = STRLIST_INIT;
	const struct tree_pkg *p = NULL;

	if (replaces)
		ck_assert_int_eq(strlist_add(&rep, replaces), 0);
	ck_assert_int_eq(tree_package(t, name, origin, &rep, 0, &p), 0);
	strlist_clear(&rep);
	return p;
}

static int add_file(struct tree *t, const char *path, const char *text, const struct tree_pkg *p,
		    struct it_error *err)
{
	struct tree_entry e = {
	    .path = path,
	    .mode = S_IFREG | 0644,
	    .mtime = 1700000000,
	    .content = text,
	    .size = strlen(text),
	};

	return tree_add(t, &e, p, err);
}

static int add_link(struct tree *t, const char *path, const char *target, const struct tree_pkg *p,
		    struct it_error *err)
{
	struct tree_entry e = {.path = path, .mode = S_IFLNK | 0777, .link_target = target};

	return tree_add(t, &e, p, err);
}

static int add_dir(struct tree *t, const char *path, unsigned perm, unsigned uid, unsigned gid,
		   const struct tree_pkg *p)
{
	struct tree_entry e = {.path = path, .mode = S_IFDIR | perm, .uid = uid, .gid = gid};

	return tree_add(t, &e, p, NULL);
}

START_TEST(test_path_rules)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;
	const struct tree_pkg *a;
	const struct tree_node *n;

	tree_init(&t);
	a = pkg(&t, "a", NULL, NULL);
	ck_assert_int_eq(add_file(&t, "etc/passwd", "one", a, NULL), 0);
	ck_assert_int_eq(add_file(&t, "/etc/passwd", "two", a, NULL), 0);
	ck_assert_int_eq(add_file(&t, "./etc//./passwd", "three", a, NULL), 0);
	ck_assert_uint_eq(tree_count(&t), 2);
	ck_assert_str_eq(tu_tree_text(&t, "etc/passwd"), "three");
	ck_assert_ptr_eq(tree_lookup(&t, "/etc/passwd", false),
			 tree_lookup(&t, "etc//passwd", false));

	/* Parents are made 0755 root:root, and later explicit entries set them. */
	ck_assert_int_eq(add_file(&t, "usr/share/doc/x", "x", a, NULL), 0);
	n = tree_lookup(&t, "usr/share", false);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(n->mode, S_IFDIR | 0755);
	ck_assert_uint_eq(n->uid, 0);
	ck_assert(n->implicit);
	ck_assert_int_eq(add_dir(&t, "usr/share", 0750, 5, 6, a), 0);
	ck_assert_uint_eq(n->mode, S_IFDIR | 0750);
	ck_assert_uint_eq(n->uid, 5);
	ck_assert(!n->implicit);

	ck_assert_int_eq(add_file(&t, "../x", "x", a, &err), -IT_EPATH);
	ck_assert_str_eq(err.msg, "'../x' in 'a': path leaves the root");
	it_error_clear(&err);
	ck_assert_int_eq(add_file(&t, "etc/../../x", "x", a, &err), -IT_EPATH);
	ck_assert_str_eq(err.msg, "'etc/../../x' in 'a': path leaves the root");
	it_error_clear(&err);
	/* Even a '..' that stays inside is refused in an entry name. */
	ck_assert_int_eq(add_file(&t, "etc/../y", "y", a, NULL), -IT_EPATH);
	ck_assert_ptr_null(tree_lookup(&t, "y", false));
	ck_assert_int_eq(add_file(&t, "/", "x", a, &err), -IT_EPATH);
	ck_assert_uint_eq(tree_count(&t), 6);

	/* apk does not install a package's .keep_ files; configuration may. */
	ck_assert_int_eq(add_file(&t, "var/empty/.keep_dir", "", a, NULL), 0);
	ck_assert_ptr_null(tree_lookup(&t, "var/empty/.keep_dir", false));
	ck_assert(tree_is_dir(tree_lookup(&t, "var/empty", false)));
	ck_assert_int_eq(add_file(&t, "var/empty/.keep_dir", "", NULL, NULL), 0);
	ck_assert_ptr_nonnull(tree_lookup(&t, "var/empty/.keep_dir", false));
	ck_assert_int_eq(tree_remove(&t, "var"), 1);

	/* A file where a directory is needed. */
	it_error_clear(&err);
	ck_assert_int_eq(add_file(&t, "etc/passwd/x", "x", a, &err), -ENOTDIR);
	ck_assert_str_eq(err.msg,
			 "cannot place 'etc/passwd/x' from 'a': '/etc/passwd' is not a directory");
	tree_release(&t);
}
END_TEST

START_TEST(test_conflicts_and_replaces)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;
	const struct tree_pkg *a, *b, *c, *d, *e1, *e2;
	const struct tree_node *n;

	tree_init(&t);
	a = pkg(&t, "a", "a", NULL);
	b = pkg(&t, "b", "b", NULL);
	c = pkg(&t, "c", "c", "a"); /* c replaces a */
	d = pkg(&t, "d", "d", NULL);
	e1 = pkg(&t, "e-doc", "e", NULL); /* same origin as e-dev */
	e2 = pkg(&t, "e-dev", "e", NULL);

	ck_assert_int_eq(add_file(&t, "usr/bin/x", "from a", a, NULL), 0);
	ck_assert_int_eq(add_file(&t, "usr/bin/x", "from b", b, &err), -IT_ECONFLICT);
	ck_assert_str_eq(err.msg, "'/usr/bin/x' is in both 'a' and 'b'");
	ck_assert_str_ne(err.hint, "");
	ck_assert_str_eq(tu_tree_text(&t, "usr/bin/x"), "from a");

	/* The new package names the owner in its replaces: it overwrites. */
	ck_assert_int_eq(add_file(&t, "usr/bin/x", "from c", c, NULL), 0);
	ck_assert_str_eq(tu_tree_text(&t, "usr/bin/x"), "from c");
	ck_assert_ptr_eq(tree_lookup(&t, "usr/bin/x", false)->owner, c);

	/* The owner replaces the newcomer: the old file stays, silently. */
	ck_assert_int_eq(add_file(&t, "usr/bin/y", "from c", c, NULL), 0);
	ck_assert_int_eq(add_file(&t, "usr/bin/y", "from a", a, NULL), 0);
	ck_assert_str_eq(tu_tree_text(&t, "usr/bin/y"), "from c");

	/* A version constraint after the name still names the package. */
	it_error_clear(&err);
	ck_assert_int_eq(add_file(&t, "usr/bin/z", "from d", d, NULL), 0);
	pkg(&t, "b", "b", "d<2.0-r1");
	ck_assert_int_eq(add_file(&t, "usr/bin/z", "from b", b, &err), 0);
	ck_assert_str_eq(tu_tree_text(&t, "usr/bin/z"), "from b");

	/* Same origin: subpackages may overwrite each other. */
	ck_assert_int_eq(add_file(&t, "usr/share/e", "doc", e1, NULL), 0);
	ck_assert_int_eq(add_file(&t, "usr/share/e", "dev", e2, NULL), 0);
	ck_assert_str_eq(tu_tree_text(&t, "usr/share/e"), "dev");

	/* Configuration (no package) overwrites anything but a directory. */
	ck_assert_int_eq(add_file(&t, "usr/bin/x", "config", NULL, NULL), 0);
	ck_assert_ptr_null(tree_lookup(&t, "usr/bin/x", false)->owner);
	it_error_clear(&err);
	ck_assert_int_eq(add_file(&t, "usr/bin", "config", NULL, &err), -EISDIR);
	ck_assert_str_eq(err.msg, "'/usr/bin' from 'configuration' would replace a directory");
	it_error_clear(&err);
	ck_assert_int_eq(add_file(&t, "usr/bin", "oops", a, &err), -IT_ECONFLICT);
	n = tree_lookup(&t, "usr/bin", false);
	ck_assert(tree_is_dir(n));

	/* A directory where a package has a file. */
	it_error_clear(&err);
	ck_assert_int_eq(add_dir(&t, "usr/share/e", 0755, 0, 0, a), -IT_ECONFLICT);
	tree_release(&t);
}
END_TEST

START_TEST(test_directory_merge)
{
	struct tree t;
	const struct tree_pkg *a, *b, *c;
	const struct tree_node *n;

	tree_init(&t);
	a = pkg(&t, "a", NULL, NULL);
	b = pkg(&t, "b", NULL, NULL);
	c = pkg(&t, "c", NULL, NULL);
	ck_assert_int_eq(add_dir(&t, "var/lib/x", 0775, 100, 100, a), 0);
	n = tree_lookup(&t, "var/lib/x", false);
	ck_assert_ptr_eq(n->owner, a);
	/* A lower uid wins outright. */
	ck_assert_int_eq(add_dir(&t, "var/lib/x", 0755, 0, 0, b), 0);
	ck_assert_uint_eq(n->mode, S_IFDIR | 0755);
	ck_assert_uint_eq(n->uid, 0);
	/* A higher uid loses. */
	ck_assert_int_eq(add_dir(&t, "var/lib/x", 0777, 100, 0, c), 0);
	ck_assert_uint_eq(n->mode, S_IFDIR | 0755);
	ck_assert_uint_eq(n->uid, 0);
	/* Same owner: the modes are ANDed. */
	ck_assert_int_eq(add_dir(&t, "var/lib/x", 0700, 0, 0, c), 0);
	ck_assert_uint_eq(n->mode, S_IFDIR | 0700);
	/* Sticky and setgid bits survive an identical entry. */
	ck_assert_int_eq(add_dir(&t, "tmp", 01777, 0, 0, a), 0);
	ck_assert_int_eq(add_dir(&t, "tmp", 01777, 0, 0, b), 0);
	ck_assert_uint_eq(tree_lookup(&t, "tmp", false)->mode, S_IFDIR | 01777);
	/* Configuration sets directly. */
	ck_assert_int_eq(tree_add_dir(&t, "var/lib/x", 0711, 7, 8, NULL), 0);
	ck_assert_uint_eq(n->mode, S_IFDIR | 0711);
	ck_assert_uint_eq(n->gid, 8);
	ck_assert_uint_eq(tree_count(&t), 4);
	tree_release(&t);
}
END_TEST

START_TEST(test_symlinks_inside_tree)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;
	const struct tree_pkg *a;

	tree_init(&t);
	a = pkg(&t, "a", NULL, NULL);
	/* An absolute link is relative to the tree root, never to the host. */
	ck_assert_int_eq(add_link(&t, "lib64", "/usr/lib", a, NULL), 0);
	ck_assert_int_eq(add_file(&t, "lib64/libz.so", "z", a, NULL), 0);
	ck_assert_str_eq(tu_tree_text(&t, "usr/lib/libz.so"), "z");
	ck_assert(tree_is_symlink(tree_lookup(&t, "lib64", false)));
	ck_assert_ptr_eq(tree_lookup(&t, "lib64", true), tree_lookup(&t, "usr/lib", false));
	/* Relative links, chains, '..' that stays inside. */
	ck_assert_int_eq(add_link(&t, "usr/lib/alt", "../share/alt", a, NULL), 0);
	ck_assert_int_eq(add_link(&t, "opt", "usr/lib/alt", a, NULL), 0);
	ck_assert_int_eq(add_file(&t, "opt/f", "f", a, NULL), 0);
	ck_assert_str_eq(tu_tree_text(&t, "usr/share/alt/f"), "f");
	ck_assert_ptr_eq(tree_lookup(&t, "opt/f", false),
			 tree_lookup(&t, "/usr/share/alt/f", false));
	/* Final symlinks are followed by lookups only when asked. */
	ck_assert_int_eq(add_link(&t, "etc/zz", "/opt/f", a, NULL), 0);
	ck_assert(tree_is_symlink(tree_lookup(&t, "etc/zz", false)));
	ck_assert_str_eq(tu_tree_text(&t, "etc/zz"), "f");

	/* x -> ../../.. climbs out: refused when something is placed through it. */
	ck_assert_int_eq(add_link(&t, "x", "../../..", a, NULL), 0);
	ck_assert_int_eq(add_file(&t, "x/evil", "evil", a, &err), -IT_EPATH);
	ck_assert_str_eq(err.msg, "'x/evil' in 'a': path leaves the root through symlink '/x'");
	ck_assert_ptr_null(tree_lookup(&t, "x/evil", false));
	ck_assert_ptr_null(tree_lookup(&t, "x", true));
	it_error_clear(&err);
	ck_assert_int_eq(add_link(&t, "usr/up", "/../etc", a, NULL), 0);
	ck_assert_int_eq(add_file(&t, "usr/up/passwd", "evil", a, &err), -IT_EPATH);
	ck_assert_str_eq(err.msg,
			 "'usr/up/passwd' in 'a': path leaves the root through symlink '/usr/up'");

	/* Loops end. */
	it_error_clear(&err);
	ck_assert_int_eq(add_link(&t, "l1", "l2", a, NULL), 0);
	ck_assert_int_eq(add_link(&t, "l2", "/l1", a, NULL), 0);
	ck_assert_int_eq(add_file(&t, "l1/f", "f", a, &err), -ELOOP);
	ck_assert_ptr_null(tree_lookup(&t, "l1", true));

	/* A directory entry over a symlink to a directory keeps the link (apk's mkdir). */
	ck_assert_int_eq(add_dir(&t, "lib64", 0755, 0, 0, a), 0);
	ck_assert(tree_is_symlink(tree_lookup(&t, "lib64", false)));
	/* A file entry over a symlink replaces the link, never writes through it. */
	ck_assert_int_eq(add_file(&t, "etc/zz", "own", a, NULL), 0);
	ck_assert(tree_is_reg(tree_lookup(&t, "etc/zz", false)));
	ck_assert_str_eq(tu_tree_text(&t, "usr/share/alt/f"), "f");
	/* A dangling link in the middle: the directories are made where it points. */
	ck_assert_int_eq(add_link(&t, "var/run", "/run", a, NULL), 0);
	ck_assert_int_eq(add_file(&t, "var/run/utmp", "", a, NULL), 0);
	ck_assert(tree_is_dir(tree_lookup(&t, "run", false)));
	ck_assert(tree_is_reg(tree_lookup(&t, "run/utmp", false)));
	tree_release(&t);
}
END_TEST

START_TEST(test_hardlinks_devices)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;
	const struct tree_pkg *a;
	const struct tree_node *n;
	struct tree_entry e = {
	    .path = "usr/bin/view", .mode = S_IFREG | 0755, .hardlink = "usr/bin/vi"};
	struct tree_entry dev = {
	    .path = "dev/console", .mode = S_IFCHR | 0600, .devmajor = 5, .devminor = 1};
	struct tree_entry fifo = {.path = "run/initctl", .mode = S_IFIFO | 0600};

	tree_init(&t);
	a = pkg(&t, "vim", NULL, NULL);
	ck_assert_int_eq(add_file(&t, "usr/bin/vi", "ELF", a, NULL), 0);
	ck_assert_int_eq(tree_add(&t, &e, a, NULL), 0);
	n = tree_lookup(&t, "usr/bin/view", false);
	ck_assert(n->hardlink);
	ck_assert(!tree_is_reg(n));
	ck_assert_str_eq(n->target, "usr/bin/vi");
	ck_assert_uint_eq(n->size, 0);
	/* A link to a link names the file itself; a path through a symlink is made canonical. */
	ck_assert_int_eq(add_link(&t, "bin", "usr/bin", a, NULL), 0);
	e.path = "usr/bin/ex";
	e.hardlink = "bin/view";
	ck_assert_int_eq(tree_add(&t, &e, a, NULL), 0);
	ck_assert_str_eq(tree_lookup(&t, "usr/bin/ex", false)->target, "usr/bin/vi");
	/* A missing target is an error naming it. */
	e.path = "usr/bin/rview";
	e.hardlink = "usr/bin/nothere";
	ck_assert_int_eq(tree_add(&t, &e, a, &err), -IT_EFORMAT);
	ck_assert_str_eq(err.msg, "hard link 'usr/bin/rview' -> 'usr/bin/nothere' in 'vim': the "
				  "target is not a file placed before it");
	ck_assert_ptr_null(tree_lookup(&t, "usr/bin/rview", false));
	/* Nor a directory, a symlink, nothing at all; nor the link itself. */
	it_error_clear(&err);
	e.hardlink = "usr/bin";
	ck_assert_int_eq(tree_add(&t, &e, a, &err), -IT_EFORMAT);
	ck_assert_str_eq(err.msg, "hard link 'usr/bin/rview' -> 'usr/bin' in 'vim': the target is "
				  "not a file placed before it");
	e.hardlink = "bin";
	ck_assert_int_eq(tree_add(&t, &e, a, NULL), -IT_EFORMAT);
	e.hardlink = "/";
	ck_assert_int_eq(tree_add(&t, &e, a, NULL), -IT_EFORMAT);
	it_error_clear(&err);
	e.path = "usr/bin/vi";
	e.hardlink = "usr/bin/vi";
	ck_assert_int_eq(tree_add(&t, &e, a, &err), -IT_EFORMAT);
	ck_assert_str_eq(err.msg,
			 "hard link 'usr/bin/vi' -> 'usr/bin/vi' in 'vim': links to itself");
	ck_assert(tree_is_reg(tree_lookup(&t, "usr/bin/vi", false)));

	ck_assert_int_eq(tree_add(&t, &dev, NULL, NULL), 0);
	n = tree_lookup(&t, "dev/console", false);
	ck_assert(S_ISCHR(n->mode));
	ck_assert_uint_eq(n->mode & 07777, 0600);
	ck_assert_uint_eq(n->devmajor, 5);
	ck_assert_uint_eq(n->devminor, 1);
	dev.path = "dev/sda";
	dev.mode = S_IFBLK | 0660;
	dev.gid = 6;
	dev.devmajor = 8;
	dev.devminor = 0;
	ck_assert_int_eq(tree_add(&t, &dev, NULL, NULL), 0);
	ck_assert(S_ISBLK(tree_lookup(&t, "dev/sda", false)->mode));
	ck_assert_int_eq(tree_add(&t, &fifo, NULL, NULL), 0);
	ck_assert(S_ISFIFO(tree_lookup(&t, "run/initctl", false)->mode));

	/* Setuid bits are kept as given. */
	ck_assert_int_eq(tree_add_file(&t, "bin/bbsuid", 04111, 0, 0, "x", 1, NULL), 0);
	ck_assert_uint_eq(tree_lookup(&t, "usr/bin/bbsuid", false)->mode, S_IFREG | 04111);
	tree_release(&t);
}
END_TEST

/* Place hard link 'path' -> 'target' from 'p'; on failure, the message must be err.msg == want. */
static void hardlink_refused(struct tree *t, const char *path, const char *target,
			     const struct tree_pkg *p, int code, const char *want)
{
	struct tree_entry e = {.path = path, .mode = S_IFREG | 0644, .hardlink = target};
	struct it_error err = IT_ERROR_INIT;
	size_t before = tree_count(t);

	ck_assert_int_eq(tree_add(t, &e, p, &err), code);
	ck_assert_str_eq(err.msg, want);
	ck_assert_ptr_null(strchr(err.msg, '\n'));
	ck_assert_uint_eq(tree_count(t), before);
	ck_assert_ptr_null(tree_lookup(t, path, false));
}

/* A hard link may not reach outside the tree: by '..', or through a symlink that climbs out. */
START_TEST(test_hardlink_escapes)
{
	struct tree t;
	const struct tree_pkg *a;

	tree_init(&t);
	a = pkg(&t, "evil", NULL, NULL);
	ck_assert_int_eq(add_file(&t, "etc/shadow", "root:*:", a, NULL), 0);
	ck_assert_int_eq(add_link(&t, "up", "../../..", a, NULL), 0);
	ck_assert_int_eq(add_link(&t, "usr/abs", "/../etc", a, NULL), 0);
	ck_assert_int_eq(add_link(&t, "l1", "l2", a, NULL), 0);
	ck_assert_int_eq(add_link(&t, "l2", "/l1", a, NULL), 0);

	hardlink_refused(&t, "a", "../../etc/shadow", a, -IT_EPATH,
			 "hard link 'a' -> '../../etc/shadow' in 'evil': path leaves the root");
	hardlink_refused(&t, "/a", "etc/../../x", a, -IT_EPATH,
			 "hard link '/a' -> 'etc/../../x' in 'evil': path leaves the root");
	hardlink_refused(&t, "a", "/../etc/shadow", a, -IT_EPATH,
			 "hard link 'a' -> '/../etc/shadow' in 'evil': path leaves the root");
	/* As in entry names, even a '..' that would stay inside is refused. */
	hardlink_refused(&t, "a", "etc/../etc/shadow", a, -IT_EPATH,
			 "hard link 'a' -> 'etc/../etc/shadow' in 'evil': path leaves the root");
	hardlink_refused(&t, "a", "..", NULL, -IT_EPATH,
			 "hard link 'a' -> '..' in 'configuration': path leaves the root");
	/* Through symlinks that climb out, relative and absolute. */
	hardlink_refused(&t, "a", "up/etc/shadow", a, -IT_EPATH,
			 "hard link 'a' -> 'up/etc/shadow' in 'evil': path leaves the root through "
			 "symlink '/up'");
	hardlink_refused(
	    &t, "a", "usr/abs/shadow", a, -IT_EPATH,
	    "hard link 'a' -> 'usr/abs/shadow' in 'evil': path leaves the root through "
	    "symlink '/usr/abs'");
	/* A loop and a file on the way name the link too. */
	hardlink_refused(&t, "a", "l1/x", a, -ELOOP,
			 "hard link 'a' -> 'l1/x' in 'evil': too many levels of symlinks at '/l1'");
	hardlink_refused(&t, "a", "etc/shadow/x", a, -ENOTDIR,
			 "hard link 'a' -> 'etc/shadow/x' in 'evil': '/etc/shadow' is not a "
			 "directory");
	/* Hostile bytes stay on one line. */
	hardlink_refused(&t, "a", "../\nx", a, -IT_EPATH,
			 "hard link 'a' -> '../?x' in 'evil': path leaves the root");

	/* The same target without the escape works: the checks are on the path, not the name. */
	{
		struct tree_entry e = {
		    .path = "a", .mode = S_IFREG | 0644, .hardlink = "/./etc//shadow"};

		ck_assert_int_eq(tree_add(&t, &e, a, NULL), 0);
		ck_assert_str_eq(tree_lookup(&t, "a", false)->target, "etc/shadow");
	}
	tree_release(&t);
}
END_TEST

static int collect(const struct tree_node *n, const char *path, void *ctx)
{
	struct strlist *l = ctx;

	(void)n;
	return strlist_add(l, path);
}

START_TEST(test_walk_remove_edit)
{
	struct tree t;
	struct strlist l = STRLIST_INIT;
	const char *want[] = {"a", "a/b", "a/b/c", "a-b", "b", "b/z"};
	char *owned = strdup("taken");

	tree_init(&t);
	ck_assert_int_eq(tree_add_file(&t, "b/z", 0644, 0, 0, "", 0, NULL), 0);
	ck_assert_int_eq(tree_add_file(&t, "a-b", 0644, 0, 0, "", 0, NULL), 0);
	ck_assert_int_eq(tree_add_file(&t, "a/b/c", 0644, 0, 0, "", 0, NULL), 0);
	ck_assert_int_eq(tree_walk(&t, collect, &l), 0);
	ck_assert_uint_eq(l.n, 6);
	for (size_t i = 0; i < l.n; i++)
		ck_assert_str_eq(l.v[i], want[i]);
	strlist_clear(&l);

	ck_assert_int_eq(tree_remove(&t, "a"), 1);
	ck_assert_int_eq(tree_remove(&t, "a"), 0);
	ck_assert_uint_eq(tree_count(&t), 3);
	ck_assert_ptr_null(tree_lookup(&t, "a/b/c", false));
	ck_assert_int_eq(tree_remove(&t, "/"), -EINVAL);

	ck_assert_int_eq(tree_set_content(&t, "b/z", "new", 3), 0);
	ck_assert_str_eq(tu_tree_text(&t, "b/z"), "new");
	ck_assert_int_eq(tree_set_content(&t, "b", "new", 3), -EINVAL);
	ck_assert_int_eq(tree_set_content(&t, "nope", "new", 3), -ENOENT);
	ck_assert_int_eq(tree_chmod(&t, "b/z", 0600), 0);
	ck_assert_int_eq(tree_chown(&t, "b/z", 0, 42), 0);
	ck_assert_uint_eq(tree_lookup(&t, "b/z", false)->mode, S_IFREG | 0600);
	ck_assert_uint_eq(tree_lookup(&t, "b/z", false)->gid, 42);
	ck_assert_int_eq(tree_chmod(&t, "nope", 0600), -ENOENT);

	/* Content handed over is freed by the tree, on success and on failure. */
	{
		struct tree_entry e = {.path = "t",
				       .mode = S_IFREG | 0644,
				       .content = owned,
				       .size = 5,
				       .flags = TREE_TAKE_CONTENT};
		struct tree_entry bad = e;

		ck_assert_int_eq(tree_add(&t, &e, NULL, NULL), 0);
		ck_assert_ptr_eq(tree_lookup(&t, "t", false)->data, owned);
		bad.path = "../t";
		bad.content = strdup("lost");
		ck_assert_int_eq(tree_add(&t, &bad, NULL, NULL), -IT_EPATH);
	}
	tree_release(&t);
	ck_assert_uint_eq(tree_count(&t), 0);
}
END_TEST

START_TEST(test_real_alpine_base)
{
	struct tree t;
	const struct tree_node *n;

	tu_tree_alpine_base(&t);
	/* The unique paths of the 25 packages (Python's tarfile counts the same). */
	ck_assert_uint_eq(tree_count(&t), 477);
	n = tree_lookup(&t, "bin/bbsuid", false);
	ck_assert_uint_eq(n->mode, S_IFREG | 04111);
	ck_assert_str_eq(n->owner->name, "busybox-suid");
	n = tree_lookup(&t, "etc/shadow", false);
	ck_assert_uint_eq(n->mode, S_IFREG | 0640);
	ck_assert_uint_eq(n->gid, 42);
	ck_assert_uint_eq(tree_lookup(&t, "tmp", false)->mode, S_IFDIR | 01777);
	ck_assert_uint_eq(tree_lookup(&t, "root", false)->mode, S_IFDIR | 0700);
	ck_assert_str_eq(tree_lookup(&t, "bin/sh", false)->target, "/bin/busybox");
	ck_assert_str_eq(tree_lookup(&t, "bin/sh", true)->owner->name, "busybox");
	ck_assert_ptr_nonnull(tree_lookup(&t, "etc/busybox-paths.d/busybox", false));
	ck_assert_ptr_nonnull(tree_lookup(&t, "lib/ld-musl-x86_64.so.1", false));
	tree_release(&t);
}
END_TEST

/*
 * apk --initdb's skeleton before the packages: a package's directory ANDs
 * its mode into it, as apk 2.14 leaves /proc 0555 though alpine-baselayout
 * has it 0755 (both run here from the shared packages).
 */
START_TEST(test_initdb_then_packages)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;
	const struct tree_pkg *base;

	tree_init(&t);
	ck_assert_int_eq(rootfs_add_initdb(&t, &err), 0);
	ck_assert_uint_eq(tree_lookup(&t, "proc", false)->mode, S_IFDIR | 0555);
	ck_assert_uint_eq(tree_lookup(&t, "dev/console", false)->mode, S_IFCHR | 0600);
	ck_assert_ptr_null(tree_lookup(&t, "proc", false)->owner);
	base = pkg(&t, "alpine-baselayout", "alpine-baselayout", NULL);
	ck_assert_int_eq(add_dir(&t, "proc", 0755, 0, 0, base), 0);
	ck_assert_int_eq(add_dir(&t, "tmp", 01777, 0, 0, base), 0);
	ck_assert_int_eq(add_dir(&t, "root", 0700, 0, 0, base), 0);
	ck_assert_uint_eq(tree_lookup(&t, "proc", false)->mode, S_IFDIR | 0555);
	ck_assert_str_eq(tree_lookup(&t, "proc", false)->owner->name, "alpine-baselayout");
	ck_assert_uint_eq(tree_lookup(&t, "tmp", false)->mode, S_IFDIR | 01777);
	ck_assert_uint_eq(tree_lookup(&t, "root", false)->mode, S_IFDIR | 0700);
	/* What is there already stays. */
	ck_assert_int_eq(rootfs_add_initdb(&t, &err), 0);
	ck_assert_uint_eq(tree_lookup(&t, "proc", false)->mode, S_IFDIR | 0555);
	tree_release(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("builder_tree");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_path_rules);
	tcase_add_test(tc, test_conflicts_and_replaces);
	tcase_add_test(tc, test_directory_merge);
	tcase_add_test(tc, test_symlinks_inside_tree);
	tcase_add_test(tc, test_hardlinks_devices);
	tcase_add_test(tc, test_hardlink_escapes);
	tcase_add_test(tc, test_walk_remove_edit);
	tcase_add_test(tc, test_real_alpine_base);
	tcase_add_test(tc, test_initdb_then_packages);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
