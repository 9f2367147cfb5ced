// SPDX-License-Identifier: MIT
/* Unit tests for builder/kmod.c: the real Debian kernel and modules, a linux-virt tree. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/util.h"
#include "tests/unit/testutil.h"
#include "tests/unit/builder_util.h"
#include "hostkernel.h"

#define KVER HOST_KVER
#define KIMAGE HOST_KERNEL
#define KMODS HOST_MODULES
#define VIRT "6.6.99-0-virt"

static void same_as_host(const struct tree *t, const char *in_tree, const char *host)
{
	struct buf b = BUF_INIT;
	const struct tree_node *n = tree_lookup(t, in_tree, false);

	ck_assert_msg(n != NULL, "%s missing", in_tree);
	tu_read_file(&b, host);
	ck_assert_uint_eq(n->size, b.len);
	ck_assert(!memcmp(n->data, b.data, b.len));
	ck_assert_uint_eq(n->mode, S_IFREG | 0644);
	buf_release(&b);
}

/* A file copied as it is from the host: the same path in the tree. */
static void same_file(const struct tree *t, const char *path)
{
	same_as_host(t, path, path);
}

/* The text of in_tree is what the shell command cmd prints. */
static void same_as_shell(struct tree *t, const char *in_tree, const char *cmd)
{
	struct buf want = BUF_INIT;

	tu_shell(cmd, &want);
	ck_assert_msg(!strcmp(tu_tree_text(t, in_tree), want.data), "'%s' is not what '%s' prints",
		      in_tree, cmd);
	buf_release(&want);
}

/* kmod_add_from_dir must fail with code and msg. */
static void check_dir_fails(struct tree *t, const char *dir, const char *version,
			    const struct strlist *names, int code, const char *msg)
{
	struct kmod_result res = {0};
	struct it_error err = IT_ERROR_INIT;

	ck_assert_int_eq(kmod_add_from_dir(t, dir, version, names, NULL, &res, &err), code);
	ck_assert_str_eq(err.msg, msg);
	kmod_result_release(&res);
}

/* kmod_from_tree must fail with code and msg. */
static void check_tree_fails(struct tree *t, const struct strlist *names, int code, const char *msg)
{
	struct kmod_result res = {0};
	struct it_error err = IT_ERROR_INIT;

	ck_assert_int_eq(kmod_from_tree(t, NULL, names, NULL, &res, &err), code);
	ck_assert_str_eq(err.msg, msg);
	kmod_result_release(&res);
}

/* modules.dep for virtio_net, in the host's order and lines. */
#define VIRTIO_NET_DEP                                                                             \
	"kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"                  \
	"kernel/drivers/virtio/virtio_ring.ko:\n"                                                  \
	"kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko "                    \
	"kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko "                             \
	"kernel/drivers/virtio/virtio_ring.ko\n"                                                   \
	"kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"                        \
	"kernel/net/core/failover.ko:\n"

START_TEST(test_image_version)
{
	struct it_error err = IT_ERROR_INIT;
	char *v = NULL;
	unsigned char fake[0x800];

	ck_assert_int_eq(kmod_image_version_file(KIMAGE, &v, &err), 0);
	ck_assert_str_eq(v, KVER);
	free(v);
	/* Not a bzImage, a header without a version, no file. */
	memset(fake, 0, sizeof(fake));
	ck_assert_int_eq(kmod_image_version(fake, sizeof(fake), "junk", &v, &err), -IT_EKERNEL);
	ck_assert_str_eq(err.msg, "'junk' is not a Linux kernel image: no bzImage 'HdrS' setup "
				  "header, no arm64 Image magic");
	ck_assert_ptr_null(v);
	/* An arm64 Image: the version is in its banner (a format string before it is not). */
	memcpy(fake + 0x38, "ARM\x64", 4);
	it_error_clear(&err);
	ck_assert_int_eq(kmod_image_version(fake, sizeof(fake), "arm", &v, &err), -IT_EKERNEL);
	ck_assert_str_eq(err.msg, "'arm' has no kernel version string");
	memcpy(fake + 0x400, "Linux version %s (%s)", 21);
	memcpy(fake + 0x500, "Linux version 6.1.0-57-arm64 (debian-kernel@lists.debian.org)", 62);
	ck_assert_int_eq(kmod_image_version(fake, sizeof(fake), "arm", &v, NULL), 0);
	ck_assert_str_eq(v, "6.1.0-57-arm64");
	free(v);
	v = NULL;
	memset(fake, 0, sizeof(fake));
	memcpy(fake + 0x202, "HdrS", 4);
	fake[0x206] = 0x0f;
	fake[0x207] = 0x02;
	it_error_clear(&err);
	ck_assert_int_eq(kmod_image_version(fake, sizeof(fake), "junk", &v, &err), -IT_EKERNEL);
	ck_assert_str_eq(err.msg, "'junk' has no kernel version string");
	fake[0x20E] = 0x00;
	fake[0x20F] = 0x04;
	memcpy(fake + 0x600, "6.6.1-virt (x@y) #1", 19);
	ck_assert_int_eq(kmod_image_version(fake, sizeof(fake), "ok", &v, NULL), 0);
	ck_assert_str_eq(v, "6.6.1-virt");
	free(v);
	ck_assert_int_eq(kmod_image_version_file("/nonexistent/vmlinuz", &v, NULL), -ENOENT);
}
END_TEST

START_TEST(test_host_e1000)
{
	struct tree t;
	struct kmod_result res = {0};
	struct strlist names = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;

	tree_init(&t);
	strlist_add(&names, "e1000");
	ck_assert_int_eq(kmod_add_from_dir(&t, KMODS, KVER, &names, NULL, &res, &err), 0);
	ck_assert_str_eq(res.version, KVER);
	ck_assert_uint_eq(res.modules.n, 1);
	ck_assert_str_eq(res.modules.v[0], "kernel/drivers/net/ethernet/intel/e1000/e1000.ko");
	same_file(&t, KMODS "/kernel/drivers/net/ethernet/intel/e1000/e1000.ko");
	ck_assert_str_eq(tu_tree_text(&t, KMODS "/modules.dep"),
			 "kernel/drivers/net/ethernet/intel/e1000/e1000.ko:\n");
	ck_assert_str_eq(tu_tree_text(&t, KMODS "/modules.order"),
			 "kernel/drivers/net/ethernet/intel/e1000/e1000.ko\n");
	/* The aliases mdev's coldplug needs for the PCI ids, as grep finds them. */
	same_as_shell(&t, KMODS "/modules.alias", "grep -E '^#| e1000$' " KMODS "/modules.alias");
	ck_assert_ptr_nonnull(strstr(tu_tree_text(&t, KMODS "/modules.alias"),
				     "alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000\n"));
	ck_assert_str_eq(tu_tree_text(&t, KMODS "/modules.symbols"),
			 "# Aliases for symbols, used by symbol_request().\n");
	same_file(&t, KMODS "/modules.builtin");
	same_file(&t, KMODS "/modules.builtin.modinfo");
	ck_assert_ptr_null(tree_lookup(&t, KMODS "/modules.dep.bin", false));
	ck_assert_ptr_null(tree_lookup(&t, KMODS "/kernel/drivers/net/dummy.ko", false));
	kmod_result_release(&res);

	/* /lib/modules plus the version finds the same; the version must match. */
	ck_assert_int_eq(kmod_add_from_dir(&t, "/lib/modules", KVER, &names, NULL, &res, &err), 0);
	kmod_result_release(&res);
	check_dir_fails(&t, KMODS, "6.6.0-virt", &names, -IT_EKERNEL,
			"the kernel is version '6.6.0-virt' but the modules in '" KMODS
			"' are for '" KVER "'");
	check_dir_fails(&t, "/lib/modules", NULL, &names, -IT_EKERNEL,
			"no modules.dep in '/lib/modules'");

	strlist_clear(&names);
	tree_release(&t);
}
END_TEST

START_TEST(test_host_dependencies)
{
	struct tree t;
	struct kmod_result res = {0};
	struct strlist names = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;

	tree_init(&t);
	/* '-' and '_' alike, and a module built into the kernel. */
	strlist_add(&names, "virtio-net");
	strlist_add(&names, "amd-uncore");
	ck_assert_int_eq(kmod_add_from_dir(&t, KMODS, KVER, &names, NULL, &res, &err), 0);
	ck_assert_uint_eq(res.modules.n, 5);
	ck_assert_uint_eq(res.builtin.n, 1);
	ck_assert_str_eq(res.builtin.v[0], "amd_uncore");
	/* modules.dep keeps the host's order and lines. */
	same_as_shell(
	    &t, KMODS "/modules.dep",
	    "grep -E '^kernel/(drivers/net/virtio_net|drivers/net/net_failover|net/core/failover|"
	    "drivers/virtio/virtio|drivers/virtio/virtio_ring)\\.ko:' " KMODS "/modules.dep");
	ck_assert_str_eq(tu_tree_text(&t, KMODS "/modules.dep"), VIRTIO_NET_DEP);
	same_as_shell(&t, KMODS "/modules.symbols",
		      "grep -E '^#| (virtio_net|net_failover|failover|virtio|virtio_ring)$' " KMODS
		      "/modules.symbols");
	same_as_shell(&t, KMODS "/modules.order",
		      "grep -E '^(kernel/drivers/net/virtio_net|kernel/drivers/net/net_failover|"
		      "kernel/net/core/failover|kernel/drivers/virtio/virtio|"
		      "kernel/drivers/virtio/virtio_ring)\\.ko$' " KMODS "/modules.order");
	same_file(&t, KMODS "/kernel/net/core/failover.ko");
	kmod_result_release(&res);

	strlist_clear(&names);
	strlist_add(&names, "e1000");
	strlist_add(&names, "nosuchmod");
	check_dir_fails(&t, KMODS, KVER, &names, -IT_ENOTFOUND,
			"module 'nosuchmod' not found in '" KMODS "/modules.dep'");
	strlist_clear(&names);
	tree_release(&t);
}
END_TEST

/*
 * Optional modules (the agent's virtio_console, virtio_pci): taken with
 * their dependencies when the kernel has them as modules, left out without
 * a word when it has not (built in, or absent), beside the required ones.
 */
START_TEST(test_host_optional)
{
	struct tree t;
	struct kmod_result res = {0};
	struct strlist names = STRLIST_INIT, optional = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;

	tree_init(&t);
	strlist_add(&names, "e1000");
	strlist_add(&optional, "virtio_console");
	strlist_add(&optional, "nosuchmod");
	strlist_add(&optional, "amd-uncore");
	ck_assert_msg(kmod_add_from_dir(&t, KMODS, KVER, &names, &optional, &res, &err) == 0, "%s",
		      err.msg);
	/* modules.dep: the lines of e1000 and virtio_console with its dependencies, as the host's.
	 */
	same_as_shell(
	    &t, KMODS "/modules.dep",
	    "grep -E '^kernel/(drivers/net/ethernet/intel/e1000/e1000|drivers/char/"
	    "virtio_console|drivers/virtio/virtio|drivers/virtio/virtio_ring)\\.ko:' " KMODS
	    "/modules.dep");
	same_file(&t, KMODS "/kernel/drivers/char/virtio_console.ko");
	same_file(&t, KMODS "/kernel/drivers/virtio/virtio_ring.ko");
	ck_assert_uint_eq(res.modules.n, 4);
	ck_assert_ptr_null(tree_lookup(&t, KMODS "/kernel/drivers/virtio/virtio_pci.ko", false));
	kmod_result_release(&res);

	/* Only optional ones: none of them is required, so an unknown one is no error either. */
	tree_release(&t);
	tree_init(&t);
	strlist_clear(&names);
	ck_assert_int_eq(kmod_add_from_dir(&t, KMODS, KVER, &names, &optional, &res, &err), 0);
	ck_assert_uint_eq(res.modules.n, 3);
	ck_assert_ptr_nonnull(strstr(tu_tree_text(&t, KMODS "/modules.dep"),
				     "kernel/drivers/char/virtio_console.ko: "));
	kmod_result_release(&res);
	strlist_clear(&optional);
	tree_release(&t);
}
END_TEST

START_TEST(test_host_compressed)
{
	struct tree t;
	struct kmod_result res = {0};
	struct strlist names = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	char cmd[2048], moddir[512];

	/* A modules directory with xz, zstd and gzip modules, as other distributions ship them. */
	snprintf(moddir, sizeof(moddir), "%s/lib/modules/" KVER, tu_dir);
	snprintf(
	    cmd, sizeof(cmd),
	    "set -e; d='%s'; mkdir -p \"$d/kernel/drivers/net\" \"$d/kernel/net/core\";"
	    " xz -c " KMODS
	    "/kernel/drivers/net/virtio_net.ko > \"$d/kernel/drivers/net/virtio_net.ko.xz\";"
	    " zstd -q -c " KMODS
	    "/kernel/drivers/net/net_failover.ko > \"$d/kernel/drivers/net/net_failover.ko.zst\";"
	    " gzip -c " KMODS
	    "/kernel/net/core/failover.ko > \"$d/kernel/net/core/failover.ko.gz\";"
	    " printf '%%s\\n' 'kernel/drivers/net/virtio_net.ko.xz: "
	    "kernel/drivers/net/net_failover.ko.zst kernel/net/core/failover.ko.gz'"
	    " 'kernel/drivers/net/net_failover.ko.zst: kernel/net/core/failover.ko.gz'"
	    " 'kernel/net/core/failover.ko.gz:' > \"$d/modules.dep\";"
	    " printf '%%s\\n' kernel/net/core/failover.ko kernel/drivers/net/net_failover.ko"
	    " kernel/drivers/net/virtio_net.ko > \"$d/modules.order\"",
	    moddir);
	ck_assert_int_eq(system(cmd), 0);
	tree_init(&t);
	strlist_add(&names, "virtio_net");
	if (kmod_add_from_dir(&t, moddir, KVER, &names, NULL, &res, &err) != 0)
		ck_abort_msg("%s", err.msg);
	ck_assert_uint_eq(res.modules.n, 3);
	same_file(&t, KMODS "/kernel/drivers/net/virtio_net.ko");
	same_file(&t, KMODS "/kernel/drivers/net/net_failover.ko");
	same_file(&t, KMODS "/kernel/net/core/failover.ko");
	ck_assert_ptr_null(tree_lookup(&t, KMODS "/kernel/net/core/failover.ko.gz", false));
	ck_assert_str_eq(tu_tree_text(&t, KMODS "/modules.dep"),
			 "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko "
			 "kernel/net/core/failover.ko\n"
			 "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
			 "kernel/net/core/failover.ko:\n");
	ck_assert_str_eq(tu_tree_text(&t, KMODS "/modules.order"),
			 "kernel/net/core/failover.ko\nkernel/drivers/net/net_failover.ko\n"
			 "kernel/drivers/net/virtio_net.ko\n");
	kmod_result_release(&res);

	/* A corrupt compressed module is an error naming it. */
	snprintf(cmd, sizeof(cmd), "echo garbage > '%s/kernel/net/core/failover.ko.gz'", moddir);
	ck_assert_int_eq(system(cmd), 0);
	tree_release(&t);
	tree_init(&t);
	ck_assert_int_eq(kmod_add_from_dir(&t, moddir, NULL, &names, NULL, &res, &err),
			 -IT_EFORMAT);
	ck_assert(!strncmp(err.msg, "cannot decompress '", 19));
	ck_assert_ptr_nonnull(strstr(err.msg, "failover.ko.gz"));
	kmod_result_release(&res);
	strlist_clear(&names);
	tree_release(&t);
}
END_TEST

/* gzip as Alpine compresses its modules. */
static void *gzip_mem(const void *in, size_t len, size_t *outlen)
{
	z_stream z;
	size_t cap = len + 1024;
	unsigned char *out = malloc(cap);

	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	*outlen = z.total_out;
	deflateEnd(&z);
	return out;
}

static void add_host_module(struct tree *t, const char *version, const char *rel, bool gz)
{
	struct buf b = BUF_INIT;
	char host[512], path[512];
	struct tree_entry e = {.mode = S_IFREG | 0644, .mtime = 1700000000};
	size_t len = 0;
	void *data;

	snprintf(host, sizeof(host), KMODS "/%s.ko", rel);
	snprintf(path, sizeof(path), "/lib/modules/%s/%s.ko%s", version, rel, gz ? ".gz" : "");
	tu_read_file(&b, host);
	data = gz ? gzip_mem(b.data, b.len, &len) : buf_detach(&b, &len);
	e.path = path;
	e.content = data;
	e.size = len;
	e.flags = TREE_TAKE_CONTENT;
	ck_assert_int_eq(tree_add(t, &e, NULL, NULL), 0);
	buf_release(&b);
}

static const char *const virt_modules[] = {
    "kernel/drivers/virtio/virtio",
    "kernel/drivers/virtio/virtio_ring",
    "kernel/drivers/net/dummy",
    "kernel/drivers/net/virtio_net",
    "kernel/drivers/net/net_failover",
    "kernel/net/core/failover",
    "kernel/drivers/net/ethernet/intel/e1000/e1000",
};

/* A tree shaped like Alpine's linux-virt: /boot/vmlinuz-virt and gzip modules. */
static void linux_virt(struct tree *t, bool with_dep, const char *moddir_version)
{
	unsigned char img[0x2000];
	const char ver[] = VIRT " (buildozer@build-3-19-x86_64) #1-Alpine SMP PREEMPT_DYNAMIC";
	const char *order = "kernel/drivers/net/dummy.ko\nkernel/net/core/failover.ko\n"
			    "kernel/drivers/net/virtio_net.ko\n";
	struct buf b = BUF_INIT;

	tree_init(t);
	memset(img, 0x90, sizeof(img));
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x0f;
	img[0x207] = 0x02;
	img[0x20E] = 0x00;
	img[0x20F] = 0x03;
	memcpy(img + 0x500, ver, sizeof(ver));
	ck_assert_int_eq(tree_add_file(t, "boot/vmlinuz-virt", 0644, 0, 0, img, sizeof(img), NULL),
			 0);
	ck_assert_int_eq(tree_add_file(t, "boot/config-virt", 0644, 0, 0, "CONFIG_X=y\n", 11, NULL),
			 0);
	/* All gzip but virtio_ring, to have a plain one too. */
	for (size_t i = 0; i < ARRAY_SIZE(virt_modules); i++)
		add_host_module(t, moddir_version, virt_modules[i],
				strcmp(virt_modules[i], "kernel/drivers/virtio/virtio_ring"));
	if (strcmp(moddir_version, VIRT))
		return;
	if (with_dep) {
		tu_shell(
		    "grep -E "
		    "'^kernel/(drivers/net/virtio_net|drivers/net/net_failover|net/core/failover|"
		    "drivers/virtio/virtio|drivers/virtio/virtio_ring|drivers/net/dummy|"
		    "drivers/net/ethernet/intel/e1000/e1000)\\.ko:' " KMODS "/modules.dep"
		    " | sed 's/\\.ko/.ko.gz/g; s/virtio_ring\\.ko\\.gz/virtio_ring.ko/g'",
		    &b);
		ck_assert_int_eq(tree_add_file(t, "/lib/modules/" VIRT "/modules.dep", 0644, 0, 0,
					       b.data, b.len, NULL),
				 0);
		tu_shell(
		    "grep -E '^#| "
		    "(virtio_net|net_failover|failover|virtio|virtio_ring|dummy|e1000)$' " KMODS
		    "/modules.alias",
		    &b);
		ck_assert_int_eq(tree_add_file(t, "/lib/modules/" VIRT "/modules.alias", 0644, 0, 0,
					       b.data, b.len, NULL),
				 0);
	}
	ck_assert_int_eq(tree_add_file(t, "/lib/modules/" VIRT "/modules.order", 0644, 0, 0, order,
				       strlen(order), NULL),
			 0);
	ck_assert_int_eq(tree_add_file(t, "/lib/modules/" VIRT "/modules.builtin", 0644, 0, 0,
				       "kernel/fs/ext4/ext4.ko\n", 23, NULL),
			 0);
	ck_assert_int_eq(tree_add_file(t, "/lib/modules/" VIRT "/modules.dep.bin", 0644, 0, 0,
				       "\xb0\x07\xf4\x57", 4, NULL),
			 0);
	buf_release(&b);
}

static void check_virt_selection(struct tree *t, const struct kmod_result *res)
{
	static const char *const kept[] = {
	    "kernel/drivers/virtio/virtio",  "kernel/drivers/virtio/virtio_ring",
	    "kernel/drivers/net/virtio_net", "kernel/drivers/net/net_failover",
	    "kernel/net/core/failover",
	};
	char in_tree[512], host[512];

	ck_assert_str_eq(res->version, VIRT);
	ck_assert_str_eq(res->image_path, "/boot/vmlinuz-virt");
	ck_assert_uint_eq(res->image_len, 0x2000);
	ck_assert(!memcmp(res->image + 0x202, "HdrS", 4));
	/* The image left the tree; its config stays. */
	ck_assert_ptr_null(tree_lookup(t, "boot/vmlinuz-virt", false));
	ck_assert_ptr_nonnull(tree_lookup(t, "boot/config-virt", false));
	ck_assert_uint_eq(res->modules.n, 5);
	for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
		snprintf(in_tree, sizeof(in_tree), "/lib/modules/" VIRT "/%s.ko", kept[i]);
		snprintf(host, sizeof(host), KMODS "/%s.ko", kept[i]);
		same_as_host(t, in_tree, host);
		snprintf(in_tree, sizeof(in_tree), "/lib/modules/" VIRT "/%s.ko.gz", kept[i]);
		ck_assert_ptr_null(tree_lookup(t, in_tree, false));
	}
	ck_assert_ptr_null(
	    tree_lookup(t, "/lib/modules/" VIRT "/kernel/drivers/net/dummy.ko.gz", false));
	/* Directories left empty go too. */
	ck_assert_ptr_null(
	    tree_lookup(t, "/lib/modules/" VIRT "/kernel/drivers/net/ethernet", false));
	ck_assert_ptr_null(tree_lookup(t, "/lib/modules/" VIRT "/modules.dep.bin", false));
	ck_assert_str_eq(tu_tree_text(t, "/lib/modules/" VIRT "/modules.dep"), VIRTIO_NET_DEP);
	ck_assert_str_eq(tu_tree_text(t, "/lib/modules/" VIRT "/modules.order"),
			 "kernel/net/core/failover.ko\nkernel/drivers/net/virtio_net.ko\n");
	ck_assert_str_eq(tu_tree_text(t, "/lib/modules/" VIRT "/modules.builtin"),
			 "kernel/fs/ext4/ext4.ko\n");
}

START_TEST(test_tree_linux_virt)
{
	struct tree t;
	struct kmod_result res = {0};
	struct strlist names = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;

	linux_virt(&t, true, VIRT);
	strlist_add(&names, "virtio_net");
	strlist_add(&names, "ext4");
	if (kmod_from_tree(&t, NULL, &names, NULL, &res, &err) != 0)
		ck_abort_msg("%s", err.msg);
	check_virt_selection(&t, &res);
	ck_assert_uint_eq(res.builtin.n, 1);
	same_as_shell(&t, "/lib/modules/" VIRT "/modules.alias",
		      "grep -E '^#| (virtio_net|net_failover|failover|virtio|virtio_ring)$' " KMODS
		      "/modules.alias");
	kmod_result_release(&res);
	strlist_clear(&names);
	tree_release(&t);
}
END_TEST

START_TEST(test_tree_without_modules_dep)
{
	struct tree t;
	struct kmod_result res = {0};
	struct strlist names = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	const char *alias;

	/* No modules.dep: dependencies and aliases come from each module's .modinfo. */
	linux_virt(&t, false, VIRT);
	strlist_add(&names, "virtio_net");
	if (kmod_from_tree(&t, "/boot/vmlinuz-virt", &names, NULL, &res, &err) != 0)
		ck_abort_msg("%s", err.msg);
	ck_assert_uint_eq(res.modules.n, 5);
	ck_assert_ptr_null(
	    tree_lookup(&t, "/lib/modules/" VIRT "/kernel/drivers/net/dummy.ko.gz", false));
	/* The modules in path order, each with the dependencies its .modinfo names. */
	ck_assert_str_eq(tu_tree_text(&t, "/lib/modules/" VIRT "/modules.dep"),
			 "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
			 "kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio_ring.ko "
			 "kernel/drivers/virtio/virtio.ko kernel/drivers/net/net_failover.ko\n"
			 "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
			 "kernel/drivers/virtio/virtio_ring.ko:\n"
			 "kernel/net/core/failover.ko:\n");
	alias = tu_tree_text(&t, "/lib/modules/" VIRT "/modules.alias");
	ck_assert_ptr_nonnull(strstr(alias, "alias virtio:d00000001v* virtio_net\n"));
	ck_assert_ptr_null(strstr(alias, " e1000\n"));
	kmod_result_release(&res);
	strlist_clear(&names);
	tree_release(&t);
}
END_TEST

START_TEST(test_tree_errors)
{
	struct tree t;
	struct strlist names = STRLIST_INIT;

	strlist_add(&names, "virtio_net");
	linux_virt(&t, true, "6.6.98-0-virt");
	check_tree_fails(&t, &names, -IT_EKERNEL,
			 "kernel '/boot/vmlinuz-virt' is version '" VIRT
			 "' but the tree has modules for '6.6.98-0-virt'");
	tree_release(&t);

	tree_init(&t);
	check_tree_fails(&t, &names, -IT_ENOTFOUND,
			 "no kernel image in the tree: no /boot/vmlinuz*");
	tree_release(&t);

	linux_virt(&t, true, VIRT);
	strlist_add(&names, "floppy");
	check_tree_fails(&t, &names, -IT_ENOTFOUND,
			 "module 'floppy' not found in '/lib/modules/" VIRT "/modules.dep'");
	strlist_clear(&names);
	tree_release(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("builder_kmod");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_image_version);
	tcase_add_test(tc, test_host_e1000);
	tcase_add_test(tc, test_host_dependencies);
	tcase_add_test(tc, test_host_optional);
	tcase_add_test(tc, test_host_compressed);
	tcase_add_test(tc, test_tree_linux_virt);
	tcase_add_test(tc, test_tree_without_modules_dep);
	tcase_add_test(tc, test_tree_errors);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
