// SPDX-License-Identifier: MIT
/* Unit tests for builder/rootfs.c on the real alpine-base packages, files byte for byte. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/util.h"
#include "tests/unit/testutil.h"
#include "tests/unit/builder_util.h"

static const struct rootfs_script base_scripts[] = {
    {"alpine-baselayout", "3.4.3-r2", "pre-install"},
    {"busybox", "1.36.1-r15", "trigger"},
    {"busybox", "1.36.1-r15", "post-install"},
    {"alpine-baselayout", "3.4.3-r2", "post-install"},
    {"alpine-baselayout", "3.4.3-r2", "post-upgrade"},
    {"openrc", "0.52.1-r2", "post-install"},
    {"mkinitfs", "3.9.1-r0", "post-install"},
    {"ca-certificates", "20230506-r0", "trigger"},
};

/* The tree after the packages' scripts, as apk would leave it. */
static void configured_base(struct tree *t)
{
	struct strlist skipped = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;

	tu_tree_alpine_base(t);
	if (rootfs_run_scripts(t, base_scripts, 6, &skipped, &err) != 0)
		ck_abort_msg("%s", err.msg);
	strlist_clear(&skipped);
}

static const char *link_of(const struct tree *t, const char *path)
{
	const struct tree_node *n = tree_lookup(t, path, false);

	ck_assert_msg(n != NULL, "%s missing", path);
	ck_assert(tree_is_symlink(n));
	return n->target;
}

START_TEST(test_scripts)
{
	struct tree t;
	struct strlist skipped = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	size_t before;

	tu_tree_alpine_base(&t);
	ck_assert_uint_eq(tree_count(&t), 477);
	ck_assert_ptr_null(tree_lookup(&t, "bin/ls", false));
	ck_assert_int_eq(
	    rootfs_run_scripts(&t, base_scripts, ARRAY_SIZE(base_scripts), &skipped, &err), 0);
	/* What is not emulated is reported; upgrade scripts never run on an install. */
	ck_assert_uint_eq(skipped.n, 2);
	ck_assert_str_eq(skipped.v[0], "mkinitfs-3.9.1-r0.post-install");
	ck_assert_str_eq(skipped.v[1], "ca-certificates-20230506-r0.trigger");
	/* 304 applet paths, 3 shipped by packages (bin/sh, sbin/ifup, sbin/ifdown). */
	ck_assert_uint_eq(tree_count(&t), 477 + 301);
	ck_assert_str_eq(link_of(&t, "bin/ls"), "/bin/busybox");
	ck_assert_str_eq(link_of(&t, "usr/bin/["), "/bin/busybox");
	ck_assert_str_eq(link_of(&t, "sbin/init"), "/bin/busybox");
	ck_assert_str_eq(link_of(&t, "sbin/ifup"), "/sbin/ifupdown");
	ck_assert_str_eq(tree_lookup(&t, "bin/sh", false)->owner->name, "busybox-binsh");
	/* bbsuid --install ran after busybox --install -s: its links win. */
	ck_assert_str_eq(link_of(&t, "bin/su"), "/bin/bbsuid");
	ck_assert_str_eq(link_of(&t, "bin/mount"), "/bin/bbsuid");
	ck_assert_str_eq(link_of(&t, "usr/bin/passwd"), "/bin/bbsuid");
	ck_assert_str_eq(link_of(&t, "usr/bin/vlock"), "/bin/bbsuid");
	ck_assert_str_eq(link_of(&t, "usr/bin/less"), "/bin/busybox");
	ck_assert_uint_eq(tree_lookup(&t, "etc/shadow", false)->mode, S_IFREG | 0640);
	ck_assert_uint_eq(tree_lookup(&t, "etc/shadow", false)->gid, 42);
	/* Running them again changes nothing. */
	before = tree_count(&t);
	ck_assert_int_eq(rootfs_run_scripts(&t, base_scripts, 6, &skipped, &err), 0);
	ck_assert_uint_eq(tree_count(&t), before);

	/* The shadow group is added when missing (addgroup -S -g 42 shadow). */
	{
		const char *g = tu_tree_text(&t, "etc/group");
		const char *line = strstr(g, "shadow:x:42:\n");
		struct buf nb = BUF_INIT;

		ck_assert_ptr_nonnull(line);
		buf_add(&nb, g, (size_t)(line - g));
		buf_addstr(&nb, line + strlen("shadow:x:42:\n"));
		ck_assert_int_eq(tree_set_content(&t, "etc/group", nb.data, nb.len), 0);
		ck_assert_int_eq(rootfs_run_scripts(&t, base_scripts, 1, &skipped, &err), 0);
		buf_addstr(&nb, "shadow:x:42:\n");
		ck_assert_str_eq(tu_tree_text(&t, "etc/group"), nb.data);
		buf_release(&nb);
	}
	strlist_clear(&skipped);

	/* Without busybox there is nothing to link: an error naming the file. */
	ck_assert_int_eq(tree_remove(&t, "etc/busybox-paths.d"), 1);
	ck_assert_int_eq(rootfs_busybox_links(&t, "busybox", NULL, &err), -IT_ENOTFOUND);
	ck_assert_str_eq(
	    err.msg,
	    "cannot make the busybox applet links: no '/etc/busybox-paths.d/busybox' in the tree");
	tree_release(&t);
}
END_TEST

static const char inittab_head[] = "# /etc/inittab\n"
				   "\n"
				   "::sysinit:/sbin/openrc sysinit\n"
				   "::sysinit:/sbin/openrc boot\n"
				   "::wait:/sbin/openrc default\n"
				   "\n"
				   "# Set up a couple of getty's\n"
				   "tty1::respawn:/sbin/getty 38400 tty1\n"
				   "tty2::respawn:/sbin/getty 38400 tty2\n"
				   "tty3::respawn:/sbin/getty 38400 tty3\n"
				   "tty4::respawn:/sbin/getty 38400 tty4\n"
				   "tty5::respawn:/sbin/getty 38400 tty5\n"
				   "tty6::respawn:/sbin/getty 38400 tty6\n"
				   "\n"
				   "# Put a getty on the serial port\n";
static const char inittab_tail[] = "\n"
				   "# Stuff to do for the 3-finger salute\n"
				   "::ctrlaltdel:/sbin/reboot\n"
				   "\n"
				   "# Stuff to do before rebooting\n"
				   "::shutdown:/sbin/openrc shutdown\n"
				   "\n";

START_TEST(test_consoles)
{
	struct tree t;
	struct strlist consoles = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	struct buf want = BUF_INIT;
	const char *securetty;

	tu_tree_alpine_base(&t);
	buf_addf(&want, "%s#ttyS0::respawn:/sbin/getty -L ttyS0 115200 vt100\n%s", inittab_head,
		 inittab_tail);
	ck_assert_str_eq(tu_tree_text(&t, "etc/inittab"), want.data);
	securetty = strdup(tu_tree_text(&t, "etc/securetty"));

	strlist_add(&consoles, "ttyS0");
	strlist_add(&consoles, "ttyS3");
	strlist_add(&consoles, "tty1");
	ck_assert_int_eq(rootfs_add_consoles(&t, &consoles, &err), 0);
	/* ttyS0 uncommented in place, ttyS3 added at the end, tty1 left as it was. */
	buf_reset(&want);
	buf_addf(&want,
		 "%sttyS0::respawn:/sbin/getty -L ttyS0 115200 vt100\n%s"
		 "ttyS3::respawn:/sbin/getty -L 115200 ttyS3 vt100\n",
		 inittab_head, inittab_tail);
	ck_assert_str_eq(tu_tree_text(&t, "etc/inittab"), want.data);
	/* securetty has ttyS0 already; ttyS3 is appended. */
	buf_reset(&want);
	buf_addf(&want, "%sttyS3\n", securetty);
	ck_assert_str_eq(tu_tree_text(&t, "etc/securetty"), want.data);
	ck_assert_uint_eq(tree_lookup(&t, "etc/inittab", false)->mode, S_IFREG | 0644);
	ck_assert_str_eq(tree_lookup(&t, "etc/inittab", false)->owner->name,
			 "alpine-baselayout-data");
	/* Twice is the same as once. */
	ck_assert_int_eq(rootfs_add_consoles(&t, &consoles, &err), 0);
	ck_assert_str_eq(tu_tree_text(&t, "etc/securetty"), want.data);

	strlist_clear(&consoles);
	strlist_add(&consoles, "ttyS0:x");
	ck_assert_int_eq(rootfs_add_consoles(&t, &consoles, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "bad console name 'ttyS0:x'");
	strlist_clear(&consoles);
	strlist_add(&consoles, "hvc0");
	/* A missing securetty is made. */
	ck_assert_int_eq(tree_remove(&t, "etc/securetty"), 1);
	ck_assert_int_eq(rootfs_add_consoles(&t, &consoles, &err), 0);
	ck_assert_str_eq(tu_tree_text(&t, "etc/securetty"), "hvc0\n");
	ck_assert_uint_eq(tree_lookup(&t, "etc/securetty", false)->mode, S_IFREG | 0644);
	/* A missing inittab is an error, and nothing is changed. */
	ck_assert_int_eq(tree_remove(&t, "etc/inittab"), 1);
	ck_assert_int_eq(tree_remove(&t, "etc/securetty"), 1);
	it_error_clear(&err);
	ck_assert_int_eq(rootfs_add_consoles(&t, &consoles, &err), -IT_ENOTFOUND);
	ck_assert_str_eq(err.msg, "cannot edit '/etc/inittab': not in the tree");
	ck_assert_ptr_null(tree_lookup(&t, "etc/securetty", false));
	free((void *)securetty);
	strlist_clear(&consoles);
	buf_release(&want);
	tree_release(&t);
}
END_TEST

/* The guest agent: its binary at /sbin/initrd-test-agent, started by inittab's first line. */
START_TEST(test_agent)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;
	struct buf want = BUF_INIT;
	const struct tree_node *n;
	char bin[256];
	FILE *f;

	tu_tree_alpine_base(&t);
	tu_path(bin, sizeof(bin), "agent.bin");
	f = fopen(bin, "wb");
	ck_assert_ptr_nonnull(f);
	fputs("\177ELF not really", f);
	fclose(f);
	ck_assert_int_eq(rootfs_add_agent_binary(&t, bin, &err), 0);
	n = tree_lookup(&t, "sbin/initrd-test-agent", false);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(n->mode, S_IFREG | 0755);
	ck_assert_str_eq(tu_tree_text(&t, "sbin/initrd-test-agent"), "\177ELF not really");

	/* First, before OpenRC's sysinit line and any getty; twice is once. */
	buf_addf(&want, "::sysinit:/sbin/initrd-test-agent --daemon\n%s",
		 tu_tree_text(&t, "etc/inittab"));
	ck_assert_int_eq(rootfs_start_agent(&t, &err), 0);
	ck_assert_str_eq(tu_tree_text(&t, "etc/inittab"), want.data);
	ck_assert_int_eq(rootfs_start_agent(&t, &err), 0);
	ck_assert_str_eq(tu_tree_text(&t, "etc/inittab"), want.data);
	ck_assert_uint_eq(tree_lookup(&t, "etc/inittab", false)->mode, S_IFREG | 0644);

	/* A missing binary says what to do; a missing inittab too. */
	ck_assert_int_eq(rootfs_add_agent_binary(&t, "/nonexistent/agent", &err), -ENOENT);
	ck_assert_str_eq(err.msg, "cannot read the guest agent '/nonexistent/agent': No such file "
				  "or directory");
	ck_assert_str_eq(err.hint,
			 "build it with 'make agent', or write 'agent off' in the scenario");
	it_error_clear(&err);
	ck_assert_int_eq(tree_remove(&t, "etc/inittab"), 1);
	ck_assert_int_eq(rootfs_start_agent(&t, &err), -IT_ENOTFOUND);
	ck_assert_str_eq(err.msg, "cannot start the agent: no '/etc/inittab'");
	unlink(bin);
	buf_release(&want);
	tree_release(&t);
}
END_TEST

START_TEST(test_services)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;
	struct service_spec s[] = {
	    {(char *)"default", (char *)"networking"},
	    {(char *)"boot", (char *)"hostname"},
	    {(char *)"sysinit", (char *)"mdev"},
	    {(char *)"custom", (char *)"local"},
	};
	struct service_spec bad = {(char *)"default", (char *)"sshd"};
	struct service_spec evil = {(char *)"..", (char *)"local"};

	tu_tree_alpine_base(&t);
	ck_assert_int_eq(rootfs_enable_services(&t, s, ARRAY_SIZE(s), &err), 0);
	ck_assert_str_eq(link_of(&t, "etc/runlevels/default/networking"), "/etc/init.d/networking");
	ck_assert_str_eq(link_of(&t, "etc/runlevels/boot/hostname"), "/etc/init.d/hostname");
	ck_assert_str_eq(link_of(&t, "etc/runlevels/sysinit/mdev"), "/etc/init.d/mdev");
	ck_assert_str_eq(link_of(&t, "etc/runlevels/custom/local"), "/etc/init.d/local");
	ck_assert(tree_is_reg(tree_lookup(&t, "etc/runlevels/default/networking", true)));
	ck_assert_uint_eq(tree_lookup(&t, "etc/runlevels/custom", false)->mode, S_IFDIR | 0755);
	ck_assert_int_eq(rootfs_enable_services(&t, &bad, 1, &err), -IT_ENOTFOUND);
	ck_assert_str_eq(
	    err.msg, "service 'sshd' not found: no /etc/init.d/sshd (is its package installed?)");
	ck_assert_ptr_null(tree_lookup(&t, "etc/runlevels/default/sshd", false));
	ck_assert_int_eq(rootfs_enable_services(&t, &evil, 1, NULL), -EINVAL);
	tree_release(&t);
}
END_TEST

START_TEST(test_interfaces)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;
	struct iface_spec ifs[] = {
	    {(char *)"eth0", (char *)"dhcp", NULL, NULL, true},
	    {(char *)"eth1", (char *)"static", (char *)"10.0.2.15/24", (char *)"10.0.2.2", true},
	    {(char *)"eth2", (char *)"manual", NULL, NULL, false},
	};
	struct iface_spec lo = {(char *)"lo", (char *)"loopback", NULL, NULL, false};
	struct iface_spec bad = {(char *)"eth0", (char *)"static", NULL, NULL, true};

	tu_tree_alpine_base(&t);
	ck_assert_int_eq(rootfs_write_interfaces(&t, ifs, ARRAY_SIZE(ifs), &err), 0);
	ck_assert_str_eq(tu_tree_text(&t, "etc/network/interfaces"), "auto lo\n"
								     "iface lo inet loopback\n"
								     "\n"
								     "auto eth0\n"
								     "iface eth0 inet dhcp\n"
								     "\n"
								     "auto eth1\n"
								     "iface eth1 inet static\n"
								     "\taddress 10.0.2.15/24\n"
								     "\tgateway 10.0.2.2\n"
								     "\n"
								     "iface eth2 inet manual\n");
	ck_assert_uint_eq(tree_lookup(&t, "etc/network/interfaces", false)->mode, S_IFREG | 0644);
	/* lo given by the caller is not doubled. */
	ck_assert_int_eq(rootfs_write_interfaces(&t, &lo, 1, &err), 0);
	ck_assert_str_eq(tu_tree_text(&t, "etc/network/interfaces"), "iface lo inet loopback\n");
	ck_assert_int_eq(rootfs_write_interfaces(&t, &bad, 1, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "interface 'eth0': static needs an address");
	bad.method = (char *)"ppp";
	it_error_clear(&err);
	ck_assert_int_eq(rootfs_write_interfaces(&t, &bad, 1, &err), -EINVAL);
	ck_assert_str_eq(err.msg,
			 "interface 'eth0': unknown method 'ppp' (loopback, dhcp, static, manual)");
	ck_assert_str_eq(tu_tree_text(&t, "etc/network/interfaces"), "iface lo inet loopback\n");
	tree_release(&t);
}
END_TEST

START_TEST(test_hostname)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;

	tu_tree_alpine_base(&t);
	ck_assert_str_eq(tu_tree_text(&t, "etc/hosts"),
			 "127.0.0.1\tlocalhost localhost.localdomain\n"
			 "::1\t\tlocalhost localhost.localdomain\n");
	ck_assert_int_eq(rootfs_set_hostname(&t, "vm1", &err), 0);
	ck_assert_str_eq(tu_tree_text(&t, "etc/hostname"), "vm1\n");
	ck_assert_str_eq(tu_tree_text(&t, "etc/hosts"),
			 "127.0.0.1\tvm1 localhost localhost.localdomain\n"
			 "::1\t\tvm1 localhost localhost.localdomain\n");
	ck_assert_str_eq(tree_lookup(&t, "etc/hosts", false)->owner->name,
			 "alpine-baselayout-data");
	/* Again, with a domain: the old name stays, the new ones come first. */
	ck_assert_int_eq(rootfs_set_hostname(&t, "web.example.org", &err), 0);
	ck_assert_str_eq(tu_tree_text(&t, "etc/hostname"), "web.example.org\n");
	ck_assert_str_eq(tu_tree_text(&t, "etc/hosts"),
			 "127.0.0.1\tweb.example.org web vm1 localhost localhost.localdomain\n"
			 "::1\t\tweb.example.org web vm1 localhost localhost.localdomain\n");
	ck_assert_int_eq(rootfs_set_hostname(&t, "web.example.org", &err), 0);
	ck_assert_str_eq(tu_tree_text(&t, "etc/hosts"),
			 "127.0.0.1\tweb.example.org web vm1 localhost localhost.localdomain\n"
			 "::1\t\tweb.example.org web vm1 localhost localhost.localdomain\n");
	/* Missing lines and files are made. */
	ck_assert_int_eq(tree_set_content(&t, "etc/hosts", "# mine\n", 7), 0);
	ck_assert_int_eq(rootfs_set_hostname(&t, "vm1", &err), 0);
	ck_assert_str_eq(tu_tree_text(&t, "etc/hosts"),
			 "# mine\n"
			 "127.0.0.1\tvm1 localhost localhost.localdomain\n"
			 "::1\tvm1 localhost localhost.localdomain\n");
	ck_assert_int_eq(rootfs_set_hostname(&t, "bad_name", &err), -EINVAL);
	ck_assert_str_eq(err.msg, "bad hostname 'bad_name'");
	ck_assert_int_eq(rootfs_set_hostname(&t, "-x", NULL), -EINVAL);
	ck_assert_int_eq(rootfs_set_hostname(&t, "a..b", NULL), -EINVAL);
	ck_assert_str_eq(tu_tree_text(&t, "etc/hostname"), "vm1\n");
	tree_release(&t);
}
END_TEST

START_TEST(test_users)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;
	struct user_spec u[2];
	struct buf passwd = BUF_INIT, group = BUF_INIT, shadow = BUF_INIT, want = BUF_INIT;
	const struct tree_node *n;
	char *wheel;

	configured_base(&t);
	buf_addstr(&passwd, tu_tree_text(&t, "etc/passwd"));
	buf_addstr(&group, tu_tree_text(&t, "etc/group"));
	buf_addstr(&shadow, tu_tree_text(&t, "etc/shadow"));
	ck_assert_int_eq(write_file_atomic(tu_in_dir("keys"), "ssh-ed25519 AAAA test\n", 22, 0600),
			 0);

	memset(u, 0, sizeof(u));
	u[0].name = (char *)"alice";
	u[0].uid = -1;
	u[0].authorized_keys = (char *)tu_in_dir("keys");
	strlist_add(&u[0].groups, "wheel");
	strlist_add(&u[0].groups, "video");
	strlist_add(&u[0].groups, "testers");
	u[1].name = (char *)"bob";
	u[1].uid = 2000;
	u[1].password_hash = (char *)"$6$salt$hash";
	u[1].shell = (char *)"/bin/ash";
	ck_assert_int_eq(rootfs_add_users(&t, u, 2, &err), 0);

	buf_addstr(&passwd, "alice:x:1000:1000:Linux User,,,:/home/alice:/bin/sh\n"
			    "bob:x:2000:2000:Linux User,,,:/home/bob:/bin/ash\n");
	ck_assert_str_eq(tu_tree_text(&t, "etc/passwd"), passwd.data);
	/* alice has keys and no password: '*', not '!', so that sshd takes her keys. */
	buf_addstr(&shadow, "alice:*::0:99999:7:::\n"
			    "bob:$6$salt$hash::0:99999:7:::\n");
	ck_assert_str_eq(tu_tree_text(&t, "etc/shadow"), shadow.data);
	wheel = strstr(group.data, "wheel:x:10:root\n");
	ck_assert_ptr_nonnull(wheel);
	buf_add(&want, group.data, (size_t)(wheel - group.data));
	buf_addstr(&want, "wheel:x:10:root,alice\n");
	{
		const char *after = wheel + strlen("wheel:x:10:root\n");
		const char *video = strstr(after, "video:x:27:root\n");

		ck_assert_ptr_nonnull(video);
		buf_add(&want, after, (size_t)(video - after));
		buf_addstr(&want, "video:x:27:root,alice\n");
		buf_addstr(&want, video + strlen("video:x:27:root\n"));
	}
	buf_addstr(&want, "alice:x:1000:\ntesters:x:1001:alice\nbob:x:2000:\n");
	ck_assert_str_eq(tu_tree_text(&t, "etc/group"), want.data);

	n = tree_lookup(&t, "home/alice", false);
	ck_assert_uint_eq(n->mode, S_IFDIR | 02755);
	ck_assert_uint_eq(n->uid, 1000);
	ck_assert_uint_eq(n->gid, 1000);
	n = tree_lookup(&t, "home/alice/.ssh", false);
	ck_assert_uint_eq(n->mode, S_IFDIR | 0700);
	ck_assert_uint_eq(n->uid, 1000);
	n = tree_lookup(&t, "home/alice/.ssh/authorized_keys", false);
	ck_assert_uint_eq(n->mode, S_IFREG | 0600);
	ck_assert_uint_eq(n->gid, 1000);
	ck_assert_str_eq(tu_tree_text(&t, "home/alice/.ssh/authorized_keys"),
			 "ssh-ed25519 AAAA test\n");
	n = tree_lookup(&t, "etc/shadow", false);
	ck_assert_uint_eq(n->mode, S_IFREG | 0640);
	ck_assert_uint_eq(n->gid, 42);

	/* root exists: keys and password are updated, the rest stays. */
	strlist_clear(&u[0].groups);
	memset(u, 0, sizeof(u));
	u[0].name = (char *)"root";
	u[0].uid = -1;
	u[0].authorized_keys = (char *)tu_in_dir("keys");
	ck_assert_int_eq(rootfs_add_users(&t, u, 1, &err), 0);
	ck_assert_str_eq(tu_tree_text(&t, "etc/passwd"), passwd.data);
	ck_assert_str_eq(tu_tree_text(&t, "root/.ssh/authorized_keys"), "ssh-ed25519 AAAA test\n");
	ck_assert_uint_eq(tree_lookup(&t, "root", false)->mode, S_IFDIR | 0700);
	ck_assert_int_eq(rootfs_set_root_password(&t, "$6$r$x", &err), 0);
	ck_assert(
	    !strncmp(tu_tree_text(&t, "etc/shadow"), "root:$6$r$x::0:::::\nbin:!::0:::::\n", 33));
	ck_assert_int_eq(rootfs_set_root_password(&t, "", &err), 0);
	ck_assert(!strncmp(tu_tree_text(&t, "etc/shadow"), "root:::0:::::\nbin:", 18));

	/* Errors name what is wrong and change nothing. */
	u[0].name = (char *)"carol";
	u[0].uid = 2000;
	u[0].authorized_keys = NULL;
	ck_assert_int_eq(rootfs_add_users(&t, u, 1, &err), -EEXIST);
	ck_assert_str_eq(err.msg, "uid 2000 of user 'carol' is taken in '/etc/passwd'");
	u[0].uid = -1;
	u[0].authorized_keys = (char *)tu_in_dir("nokeys");
	it_error_clear(&err);
	ck_assert_int_eq(rootfs_add_users(&t, u, 1, &err), -ENOENT);
	buf_reset(&want);
	buf_addf(&want, "cannot read '%s': No such file or directory", tu_in_dir("nokeys"));
	ck_assert_str_eq(err.msg, want.data);
	u[0].name = (char *)"ca:rol";
	ck_assert_int_eq(rootfs_add_users(&t, u, 1, NULL), -EINVAL);
	u[0].name = (char *)"ca:rol$";
	it_error_clear(&err);
	ck_assert_int_eq(rootfs_add_users(&t, u, 1, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "bad user name 'ca:rol$'");
	u[0].name = (char *)"carol";
	u[0].authorized_keys = NULL;
	u[0].shell = (char *)"bin/sh";
	ck_assert_int_eq(rootfs_add_users(&t, u, 1, NULL), -EINVAL);
	ck_assert_str_eq(tu_tree_text(&t, "etc/passwd"), passwd.data);
	ck_assert_ptr_null(strstr(tu_tree_text(&t, "etc/shadow"), "carol"));

	strlist_clear(&u[0].groups);
	buf_release(&passwd);
	buf_release(&group);
	buf_release(&shadow);
	buf_release(&want);
	tree_release(&t);
}
END_TEST

START_TEST(test_users_locked_default)
{
	struct tree t;
	struct user_spec u = {.name = (char *)"dave", .uid = -1};

	configured_base(&t);
	ck_assert_int_eq(rootfs_add_users(&t, &u, 1, NULL), 0);
	ck_assert_ptr_nonnull(strstr(tu_tree_text(&t, "etc/shadow"), "\ndave:!::0:99999:7:::\n"));
	tree_release(&t);
}
END_TEST

START_TEST(test_overlay)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;
	const struct tree_node *n;
	char cmd[1024];

	tu_tree_alpine_base(&t);
	snprintf(
	    cmd, sizeof(cmd),
	    "cd '%s' && mkdir -p ov/etc/local.d ov/opt/app && chmod 0700 ov ov/etc"
	    " && printf 'Hello\\n' > ov/etc/motd && printf '#!/bin/sh\\n' > ov/etc/local.d/a.start"
	    " && chmod 0750 ov/etc/local.d/a.start && printf x > ov/opt/app/suid"
	    " && chmod 04755 ov/opt/app/suid && ln -s /opt/app/suid ov/opt/run",
	    tu_dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(rootfs_add_overlay(&t, tu_in_dir("ov"), &err), 0);
	/* A package's file is replaced; the overlay owns it now. */
	ck_assert_str_eq(tu_tree_text(&t, "etc/motd"), "Hello\n");
	n = tree_lookup(&t, "etc/motd", false);
	ck_assert_ptr_null(n->owner);
	ck_assert_uint_eq(n->uid, 0);
	ck_assert_uint_eq(n->mode, S_IFREG | 0644);
	n = tree_lookup(&t, "etc/local.d/a.start", false);
	ck_assert_uint_eq(n->mode, S_IFREG | 0750);
	ck_assert_int_eq(n->mtime, TREE_MTIME_UNSET);
	ck_assert_uint_eq(tree_lookup(&t, "opt/app/suid", false)->mode, S_IFREG | 04755);
	ck_assert_uint_eq(tree_lookup(&t, "opt/app", false)->mode, S_IFDIR | 0755);
	ck_assert_str_eq(link_of(&t, "opt/run"), "/opt/app/suid");
	/* Directories of the tree keep their mode: /etc is not made 0700. */
	ck_assert_uint_eq(tree_lookup(&t, "etc", false)->mode, S_IFDIR | 0755);

	snprintf(cmd, sizeof(cmd), "cd '%s' && mkfifo ov/etc/fifo", tu_dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(rootfs_add_overlay(&t, tu_in_dir("ov"), &err), -IT_EFORMAT);
	snprintf(cmd, sizeof(cmd),
		 "cannot copy '%s/ov/etc/fifo' from the overlay: only files, directories and "
		 "symlinks can be",
		 tu_dir);
	ck_assert_str_eq(err.msg, cmd);
	it_error_clear(&err);
	ck_assert_int_eq(rootfs_add_overlay(&t, tu_in_dir("none"), &err), -ENOENT);
	tree_release(&t);
}
END_TEST

START_TEST(test_init)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;

	tu_tree_alpine_base(&t);
	/* /sbin/init is busybox's applet link: not there before the scripts. */
	ck_assert_int_eq(rootfs_init_symlink(&t, NULL, &err), -IT_ENOTFOUND);
	ck_assert_str_eq(err.msg, "init '/sbin/init' is not in the tree");
	ck_assert_int_eq(rootfs_busybox_links(&t, "busybox", NULL, NULL), 0);
	ck_assert_int_eq(rootfs_init_symlink(&t, NULL, NULL), 0);
	ck_assert_str_eq(link_of(&t, "init"), "/sbin/init");
	ck_assert_int_eq(rootfs_init_symlink(&t, "/bin/sh", NULL), 0);
	ck_assert_str_eq(link_of(&t, "init"), "/bin/sh");
	ck_assert_int_eq(
	    write_file_atomic(tu_in_dir("myinit"), "#!/bin/sh\nexec /bin/sh\n", 23, 0644), 0);
	ck_assert_int_eq(rootfs_init_copy(&t, tu_in_dir("myinit"), NULL), 0);
	ck_assert_str_eq(tu_tree_text(&t, "init"), "#!/bin/sh\nexec /bin/sh\n");
	ck_assert_uint_eq(tree_lookup(&t, "init", false)->mode, S_IFREG | 0755);
	tree_release(&t);
}
END_TEST

START_TEST(test_apply)
{
	struct tree t;
	struct build_config cfg;
	struct strlist skipped = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	struct service_spec svc = {strdup("default"), strdup("networking")};
	struct iface_spec eth = {strdup("eth0"), strdup("dhcp"), NULL, NULL, true};

	tu_tree_alpine_base(&t);
	build_config_init(&cfg);
	cfg.hostname = strdup("box");
	strlist_add(&cfg.consoles, "ttyS0");
	cfg.services = &svc;
	cfg.nservices = 1;
	cfg.ifaces = &eth;
	cfg.nifaces = 1;
	cfg.root_password_hash = strdup("");
	if (rootfs_add_initdb(&t, &err) != 0 ||
	    rootfs_apply(&t, &cfg, base_scripts, ARRAY_SIZE(base_scripts), &skipped, &err) != 0)
		ck_abort_msg("%s", err.msg);
	ck_assert_str_eq(link_of(&t, "init"), "/sbin/init");
	ck_assert_str_eq(link_of(&t, "sbin/init"), "/bin/busybox");
	ck_assert_str_eq(tu_tree_text(&t, "etc/hostname"), "box\n");
	ck_assert_str_eq(link_of(&t, "etc/runlevels/default/networking"), "/etc/init.d/networking");
	ck_assert_ptr_nonnull(strstr(tu_tree_text(&t, "etc/inittab"), "\nttyS0::respawn:"));
	ck_assert_ptr_nonnull(
	    strstr(tu_tree_text(&t, "etc/network/interfaces"), "iface eth0 inet dhcp\n"));
	ck_assert_uint_eq(skipped.n, 2);
	/* The console the kernel opens for init before devtmpfs is mounted. */
	ck_assert_uint_eq(tree_lookup(&t, "dev/console", false)->mode, S_IFCHR | 0600);
	ck_assert_uint_eq(tree_lookup(&t, "dev/console", false)->devmajor, 5);
	ck_assert_uint_eq(tree_lookup(&t, "dev/console", false)->devminor, 1);
	ck_assert_uint_eq(tree_lookup(&t, "dev/null", false)->mode, S_IFCHR | 0666);
	ck_assert_uint_eq(tree_lookup(&t, "dev/null", false)->devmajor, 1);
	/* The rest of what apk --initdb makes (apk 2.14 from the shared packages, run here). */
	ck_assert_uint_eq(tree_lookup(&t, "dev/zero", false)->devminor, 5);
	ck_assert_uint_eq(tree_lookup(&t, "dev/random", false)->devminor, 8);
	ck_assert_uint_eq(tree_lookup(&t, "dev/urandom", false)->mode, S_IFCHR | 0666);
	ck_assert_uint_eq(tree_lookup(&t, "dev/urandom", false)->devminor, 9);
	ck_assert_uint_eq(tree_lookup(&t, "tmp", false)->mode, S_IFDIR | 01777);
	ck_assert_uint_eq(tree_lookup(&t, "var/cache/misc", false)->mode, S_IFDIR | 0755);
	cfg.services = NULL;
	cfg.nservices = 0;
	cfg.ifaces = NULL;
	cfg.nifaces = 0;
	free(svc.runlevel);
	free(svc.name);
	free(eth.name);
	free(eth.method);
	build_config_release(&cfg);
	strlist_clear(&skipped);
	tree_release(&t);
}
END_TEST

START_TEST(test_export)
{
	struct tree t;
	struct it_error err = IT_ERROR_INIT;
	struct rootfs_export_stats st;
	struct tree_entry hl = {
	    .path = "usr/bin/scanelf2", .mode = S_IFREG | 0755, .hardlink = "usr/bin/scanelf"};
	struct tree_entry dev = {
	    .path = "dev/console", .mode = S_IFCHR | 0600, .devmajor = 5, .devminor = 1};
	struct tree_entry fifo = {.path = "run/ctl", .mode = S_IFIFO | 0620};
	struct stat s1, s2;
	struct buf b = BUF_INIT;
	char out[512];

	snprintf(out, sizeof(out), "%s", tu_in_dir("root"));
	configured_base(&t);
	ck_assert_int_eq(tree_add(&t, &hl, NULL, NULL), 0);
	ck_assert_int_eq(tree_add(&t, &dev, NULL, NULL), 0);
	ck_assert_int_eq(tree_add(&t, &fifo, NULL, NULL), 0);
	ck_assert_int_eq(tree_add_dir(&t, "ro", 0555, 0, 0, NULL), 0);
	ck_assert_int_eq(tree_add_file(&t, "ro/f", 0444, 0, 0, "r", 1, NULL), 0);
	if (rootfs_export(&t, out, &st, &err) != 0)
		ck_abort_msg("%s", err.msg);
	ck_assert_uint_eq(st.dirs + st.files + st.symlinks + st.hardlinks + st.specials +
			      st.skipped_nodes,
			  tree_count(&t));
	ck_assert_uint_eq(st.hardlinks, 1);

	ck_assert_int_eq(lstat(tu_in_dir("root/bin/sh"), &s1), 0);
	ck_assert(S_ISLNK(s1.st_mode));
	ck_assert_int_eq(stat(tu_in_dir("root/bin/bbsuid"), &s1), 0);
	ck_assert_uint_eq(s1.st_mode & 07777, 04111);
	ck_assert_int_eq(stat(tu_in_dir("root/tmp"), &s1), 0);
	ck_assert_uint_eq(s1.st_mode & 07777, 01777);
	ck_assert_int_eq(stat(tu_in_dir("root/ro"), &s1), 0);
	ck_assert_uint_eq(s1.st_mode & 07777, 0555);
	ck_assert_int_eq(stat(tu_in_dir("root/usr/bin/scanelf"), &s1), 0);
	ck_assert_int_eq(stat(tu_in_dir("root/usr/bin/scanelf2"), &s2), 0);
	ck_assert_uint_eq(s1.st_ino, s2.st_ino);
	ck_assert_int_eq(lstat(tu_in_dir("root/run/ctl"), &s1), 0);
	ck_assert(S_ISFIFO(s1.st_mode));
	ck_assert_uint_eq(s1.st_mode & 07777, 0620);
	ck_assert_int_eq(buf_read_file(&b, tu_in_dir("root/etc/inittab")), 0);
	ck_assert_str_eq(b.data, tu_tree_text(&t, "etc/inittab"));
	ck_assert_int_eq(stat(tu_in_dir("root/etc/shadow"), &s1), 0);
	ck_assert_uint_eq(s1.st_mode & 07777, 0640);
	if (geteuid() == 0) {
		/* Root can make what the initrd has: owners and device nodes. */
		ck_assert_uint_eq(s1.st_gid, 42);
		ck_assert_int_eq(lstat(tu_in_dir("root/dev/console"), &s1), 0);
		ck_assert(S_ISCHR(s1.st_mode));
		ck_assert_uint_eq(major(s1.st_rdev), 5);
		ck_assert_uint_eq(st.skipped_nodes, 0);
	} else {
		ck_assert_int_eq(lstat(tu_in_dir("root/dev/console"), &s1), -1);
		ck_assert_uint_eq(st.skipped_nodes, 1);
	}
	/* A directory that is not empty is refused. */
	ck_assert_int_eq(rootfs_export(&t, out, NULL, &err), -ENOTEMPTY);
	buf_reset(&b);
	buf_addf(&b, "cannot write the tree to '%s': directory not empty", out);
	ck_assert_str_eq(err.msg, b.data);
	buf_release(&b);
	chmod(tu_in_dir("root/ro"), 0755);
	tree_release(&t);
}
END_TEST

START_TEST(test_export_stays_inside)
{
	struct tree t;
	struct stat s;
	char outside[600];

	/* Absolute and climbing symlinks are written as links, never followed. */
	tree_init(&t);
	snprintf(outside, sizeof(outside), "%s/outside", tu_dir);
	ck_assert_int_eq(tree_add_symlink(&t, "abs", outside, NULL), 0);
	ck_assert_int_eq(tree_add_symlink(&t, "up", "../../../../..", NULL), 0);
	ck_assert_int_eq(tree_add_file(&t, "abs2", 0644, 0, 0, "x", 1, NULL), 0);
	ck_assert_int_eq(rootfs_export(&t, tu_in_dir("out"), NULL, NULL), 0);
	ck_assert_int_eq(lstat(tu_in_dir("out/abs"), &s), 0);
	ck_assert(S_ISLNK(s.st_mode));
	ck_assert_int_eq(lstat(outside, &s), -1);
	ck_assert_int_eq(lstat(tu_in_dir("out/up"), &s), 0);
	ck_assert(S_ISLNK(s.st_mode));
	tree_release(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("builder_rootfs");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_scripts);
	tcase_add_test(tc, test_consoles);
	tcase_add_test(tc, test_agent);
	tcase_add_test(tc, test_services);
	tcase_add_test(tc, test_interfaces);
	tcase_add_test(tc, test_hostname);
	tcase_add_test(tc, test_users);
	tcase_add_test(tc, test_users_locked_default);
	tcase_add_test(tc, test_overlay);
	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_apply);
	tcase_add_test(tc, test_export);
	tcase_add_test(tc, test_export_stays_inside);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
