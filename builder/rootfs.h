/* SPDX-License-Identifier: MIT */
/*
 * Configuring an Alpine tree without chroot or root: init, consoles, services, users, scripts.
 * Private to the builder (builder/internal.h); everyone else includes builder/builder.h.
 */
#ifndef IT_BUILDER_ROOTFS_H
#define IT_BUILDER_ROOTFS_H

#include <stddef.h>

#include "builder/builder.h"
#include "builder/tree.h"
#include "common/err.h"
#include "common/strlist.h"

/*
 * Every function edits files in the tree, keeping the lines it does not
 * own, and gives an error naming the file. Files the functions create are
 * 0644 root:root unless said otherwise; edited files keep their mode,
 * owner and package.
 */

/*
 * What 'apk --initdb' makes before any package (apk 2.14's
 * apk_db_create(), checked against its output from the shared packages):
 * tmp 01777, dev 0755 with console (c 5,1 0600), null (c 1,3), zero (c
 * 1,5), random (c 1,8) and urandom (c 1,9) (0666 each), etc, etc/apk, lib,
 * lib/apk, lib/apk/db, var, var/cache, var/cache/apk, var/cache/misc 0755,
 * and proc 0555, all root:root, without a package (what is there already
 * stays). A package's directory of the same owner then ANDs its mode in, as
 * apk leaves its 0555 /proc. The kernel opens /dev/console for init before
 * anything mounts devtmpfs.
 */
int rootfs_add_initdb(struct tree *t, struct it_error *err);

/* /init: a symlink to 'target' (NULL: /sbin/init), which must be in the tree. */
int rootfs_init_symlink(struct tree *t, const char *target, struct it_error *err);
/* /init: a copy (0755 root:root) of the host file 'host_path'. */
int rootfs_init_copy(struct tree *t, const char *host_path, struct it_error *err);

/*
 * A login on each console: the name in /etc/securetty (created when
 * missing), and a getty in /etc/inittab ("ttyS0::respawn:/sbin/getty -L
 * 115200 ttyS0 vt100"). A commented-out entry for the tty is uncommented
 * instead (alpine-baselayout ships "#ttyS0::respawn:..."); an active one
 * is left alone. /etc/inittab must exist.
 */
int rootfs_add_consoles(struct tree *t, const struct strlist *consoles, struct it_error *err);

/*
 * OpenRC: /etc/runlevels/RUNLEVEL/NAME -> /etc/init.d/NAME for each service;
 * "service 'NAME' not found: no /etc/init.d/NAME (is its package installed?)"
 * when the script is not in the tree.
 */
int rootfs_enable_services(struct tree *t, const struct service_spec *s, size_t n,
			   struct it_error *err);

/*
 * Write /etc/network/interfaces (ifupdown-ng) from the list; a loopback
 * stanza for lo comes first unless the list has lo.
 */
int rootfs_write_interfaces(struct tree *t, const struct iface_spec *ifs, size_t n,
			    struct it_error *err);

/* /etc/hostname, and the name (and its first label) on the 127.0.0.1 and ::1 lines of /etc/hosts.
 */
int rootfs_set_hostname(struct tree *t, const char *name, struct it_error *err);

/*
 * Users as busybox adduser makes them: /etc/passwd ("Linux User,,,", shell
 * /bin/sh), /etc/shadow, a group of the same name with gid = uid, home
 * 02755 owned by the user; uid -1 takes the first uid from 1000 free as
 * uid and gid. A user that exists already (root, say) is updated: password,
 * shell, groups, keys. Supplementary groups are made when missing (first
 * free gid from 1000). authorized_keys is copied from the host into
 * ~/.ssh/authorized_keys (0600; ~/.ssh 0700; both the user's). A NULL
 * password locks the account with "!", or with "*" when the user has
 * authorized_keys, because OpenSSH refuses keys to a "!" account. /etc/shadow
 * ends up 0640 root:shadow.
 */
int rootfs_add_users(struct tree *t, const struct user_spec *u, size_t n, struct it_error *err);

/* Root's password field in /etc/shadow: a crypt(3) hash, or "" for none. */
int rootfs_set_root_password(struct tree *t, const char *hash, struct it_error *err);

/*
 * Copy a host directory over the tree: files, directories and symlinks,
 * root:root, permission bits kept (setuid included), mtimes left unset so
 * the cpio epoch applies. Directories already in the tree keep their mode
 * and owner. Other file types are an error naming them.
 */
int rootfs_add_overlay(struct tree *t, const char *host_dir, struct it_error *err);

/*
 * What '/bin/NAME --install -s' does for a busybox build: a symlink to
 * /bin/NAME at each path listed in /etc/busybox-paths.d/NAME that nothing
 * occupies (a package's file is never overwritten). *created (may be NULL)
 * gets the number of links made.
 */
int rootfs_busybox_links(struct tree *t, const char *name, size_t *created, struct it_error *err);

/* An install script of a package in the tree. */
struct rootfs_script {
	const char *pkgname; /* "busybox" */
	const char *version; /* "1.36.1-r15" */
	const char *action;  /* "pre-install", "post-install" or "trigger" */
};

/*
 * Do what the install scripts that matter for booting do, without running
 * them: alpine-baselayout's (group shadow, /etc/shadow root:shadow 0640),
 * busybox's post-install and trigger (busybox and busybox-extras applet
 * links, bbsuid's links), openrc's post-install (nothing to migrate in a
 * new tree). Scripts run in the order given, triggers last. Every
 * pre-install, post-install or trigger script not handled is added to
 * 'skipped' as "busybox-1.36.1-r15.post-install"; other actions (upgrade,
 * deinstall) never run on a fresh install and are ignored.
 */
int rootfs_run_scripts(struct tree *t, const struct rootfs_script *s, size_t n,
		       struct strlist *skipped, struct it_error *err);

/*
 * All of a build's configuration, in this order: scripts, device nodes,
 * overlays, hostname, interfaces (when any), consoles, services, users,
 * root password, /init. cfg->init: NULL for a symlink to /sbin/init; a path in
 * the tree for a symlink to it; otherwise a host file to copy.
 */
int rootfs_apply(struct tree *t, const struct build_config *cfg,
		 const struct rootfs_script *scripts, size_t nscripts, struct strlist *skipped,
		 struct it_error *err);

/* What rootfs_export() wrote and left out. */
struct rootfs_export_stats {
	unsigned long long dirs, files, symlinks, hardlinks, specials;
	unsigned long long skipped_nodes;  /* devices and sockets not made (not root) */
	unsigned long long skipped_owners; /* entries whose owner could not be set (not root) */
};

/*
 * Write the tree to the host directory 'dir' (made when missing; it must be
 * empty) for inspection: directories, files, symlinks, hard links and fifos
 * with their modes. Without root, device nodes and owners cannot be made:
 * they are skipped and one warning (log_warn) sums them up. Every step goes
 * through openat() with O_NOFOLLOW from 'dir', so nothing is written
 * outside it. 'st' may be NULL.
 */
int rootfs_export(const struct tree *t, const char *dir, struct rootfs_export_stats *st,
		  struct it_error *err);

/* The guest agent: the host's static binary as /sbin/initrd-test-agent (0755, root). */
int rootfs_add_agent_binary(struct tree *t, const char *host_path, struct it_error *err);
/* The first line of /etc/inittab: "::sysinit:/sbin/initrd-test-agent --daemon" (once). */
int rootfs_start_agent(struct tree *t, struct it_error *err);

#endif
