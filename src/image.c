// SPDX-License-Identifier: MIT
/* The initrd and kernel a run boots: built into its folder, shared by a suite, or given. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "builder/builder.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "src/out.h"
#include "src/run.h"
#include "src/sbom.h"
#include "src/signals.h"

int run_write_text(const char *dir, const char *name, const char *text, struct it_error *err)
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

static int set_vm_images(struct vm_config *vm, const char *initrd, const char *kernel)
{
	free(vm->initrd);
	free(vm->kernel);
	vm->initrd = strdup(initrd);
	vm->kernel = strdup(kernel);
	return vm->initrd && vm->kernel ? 0 : -ENOMEM;
}

/* Build into dir: dir/initrd.img, dir/vmlinuz, dir/plan.txt. */
static int build_into(struct scenario *s, const char *dir, struct vm_config *vm,
		      struct it_error *err)
{
	struct build_result res;
	char path[PATH_MAX];
	int r;

	if (path_join(path, sizeof(path), dir, "initrd.img") < 0)
		return it_error_set(err, -ENAMETOOLONG, "cannot build in '%s': %s", dir,
				    strerror(ENAMETOOLONG));
	free(s->build.output);
	s->build.output = strdup(path);
	if (path_join(path, sizeof(path), dir, "vmlinuz") < 0)
		return it_error_set(err, -ENAMETOOLONG, "cannot build in '%s': %s", dir,
				    strerror(ENAMETOOLONG));
	free(s->build.kernel_out);
	s->build.kernel_out = strdup(path);
	if (!s->build.output || !s->build.kernel_out)
		return it_error_set(err, -ENOMEM, "cannot build in '%s': %s", dir,
				    strerror(ENOMEM));
	memset(&res, 0, sizeof(res));
	s->build.cancel = &sig_caught; /* SIGINT and SIGTERM stop the build (src/signals.h) */
	r = builder_build(&s->build, &res, err);
	if (r == 0 && res.plan_text)
		r = run_write_text(dir, "plan.txt", res.plan_text, err);
	if (r == 0)
		r = sbom_write(&s->build, &res, err);
	if (r == 0 && !res.kernel_path)
		r = it_error_set(err, -IT_EKERNEL, "scenario '%s' has no kernel", s->path);
	if (r == 0) {
		log_info("built %s: %zu packages, %.1f MiB, kernel %s", s->build.output, res.plan.n,
			 (double)res.initrd_bytes / 1048576.0,
			 res.kernel_version ? res.kernel_version : "?");
		r = set_vm_images(vm, s->build.output, res.kernel_path);
		if (r < 0)
			it_error_set(err, r, "cannot prepare the VM: %s", strerror(-r));
	}
	build_result_release(&res);
	return r;
}

/* Make 'name' in dir a hard link to (else a copy of) src; a convenience, errors ignored. */
static void link_into(const char *src, const char *dir, const char *name)
{
	char dst[PATH_MAX];
	struct buf b;

	if (path_join(dst, sizeof(dst), dir, name) < 0)
		return;
	unlink(dst);
	if (link(src, dst) == 0)
		return;
	buf_init(&b, 0);
	if (buf_read_file(&b, src) == 0)
		write_file_atomic(dst, b.data, b.len, 0644);
	buf_release(&b);
}

/*
 * A suite's shared build: one directory per build key, built by the first
 * run that takes its lock; the others wait for it and reuse the image. A
 * build that failed leaves no 'done' mark, so the next run tries again.
 */
static int build_shared(struct scenario *s, const struct run_opts *o, const char *dir,
			struct vm_config *vm, struct it_error *err)
{
	char key[65], bdir[PATH_MAX], path[PATH_MAX], initrd[PATH_MAX];
	struct buf kernel;
	int fd = -1, r;

	buf_init(&kernel, PATH_MAX);
	r = run_build_key(&s->build, key);
	if (r < 0)
		return it_error_set(err, r, "cannot compute the build key: %s", it_strerror(r));
	key[16] = '\0';
	if (path_join(bdir, sizeof(bdir), o->build_dir, key) < 0 ||
	    path_join(path, sizeof(path), bdir, "lock") < 0 ||
	    path_join(initrd, sizeof(initrd), bdir, "initrd.img") < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s': name too long", o->build_dir);
	r = mkdir_p(bdir, 0755);
	if (r < 0)
		return it_error_set(err, r, "cannot create '%s': %s", bdir, it_strerror(r));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return it_error_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
	run_status(o->status_fd, "waiting for build %s", key);
	/* Ctrl-C while another run builds: do not wait for it, nor build after it. */
	r = sig_flock(fd, path, true, err);
	if (r < 0)
		goto out;
	r = sig_check(err);
	if (r < 0)
		goto out;
	if (path_join(path, sizeof(path), bdir, "done") < 0) {
		r = -ENAMETOOLONG;
		goto out;
	}
	/* 'done' holds the kernel's path: the build is complete. */
	if (buf_read_file(&kernel, path) == 0 && kernel.len) {
		log_info("reusing the initrd of build %s: %s", key, initrd);
		r = set_vm_images(vm, initrd, kernel.data);
	} else {
		run_status(o->status_fd, "building %s", key);
		r = build_into(s, bdir, vm, err);
		if (r == 0)
			r = run_write_text(bdir, "done", vm->kernel, err);
	}
	if (r == 0) {
		link_into(initrd, dir, "initrd.img");
		if (path_join(path, sizeof(path), bdir, "plan.txt") == 0)
			link_into(path, dir, "plan.txt");
	}
out:
	close(fd); /* and the lock with it */
	buf_release(&kernel);
	return r;
}

/*
 * Build the initrd and kernel into the run directory, unless the user gave
 * them or an earlier attempt of this run built them (reuse, may be NULL).
 */
int run_build_image(struct scenario *s, const struct run_opts *o, const char *dir,
		    const struct vm_config *reuse, struct vm_config *vm, struct it_error *err)
{
	int r;

	if (reuse && reuse->initrd && reuse->kernel) {
		log_info("booting the initrd of the attempt before: %s", reuse->initrd);
		return set_vm_images(vm, reuse->initrd, reuse->kernel);
	}
	if (o->initrd) {
		if (!s->build.kernel_image)
			return it_error_set(err, -IT_EUSAGE, "--initrd needs --kernel PATH");
		r = set_vm_images(vm, o->initrd, s->build.kernel_image);
		return r < 0 ? it_error_set(err, r, "cannot prepare the VM: %s", strerror(-r)) : 0;
	}
	if (s->build.packages.n == 0) {
		it_error_set(err, -IT_EUSAGE,
			     "%s: no packages: add a line such as 'packages alpine-base'", s->path);
		it_error_hint(err, "or boot a ready initrd with --initrd FILE --kernel PATH");
		return -IT_EUSAGE;
	}
	/* What was pending comes in as the build opens to signals: look once more then. */
	sig_open(true);
	r = sig_check(err);
	if (r == 0 && o->build_dir) {
		r = build_shared(s, o, dir, vm, err);
	} else if (r == 0) {
		run_status(o->status_fd, "building");
		r = build_into(s, dir, vm, err);
	}
	sig_open(false);
	/* One that came outside the builder's own checks (the lock, the plan file) too. */
	return r < 0 ? r : sig_check(err);
}

static void key_str(struct out *o, const char *tag, const char *s)
{
	if (s)
		out_putf(o, "%s=%zu:%s\n", tag, strlen(s), s);
	else
		out_putf(o, "%s=null\n", tag);
}

static void key_list(struct out *o, const char *tag, const struct strlist *l)
{
	out_putf(o, "%s#%zu\n", tag, l->n);
	for (size_t i = 0; i < l->n; i++)
		key_str(o, tag, l->v[i]);
}

/* ---- the guest agent ---------------------------------------------------------------------- */

static bool is_file_at(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *run_default_agent(void)
{
	static const char *const beside[] = {"build/agent/initrd-test-agent",
					     "agent/initrd-test-agent"};
	static char path[PATH_MAX];
	const char *env = getenv("INITRD_TEST_AGENT");
	char exe[PATH_MAX - 64];
	bool known;

	if (env && env[0])
		return env;
	/* A build tree's own agent first (the binary in the tree's top or in build-asan/). */
	known = exe_dir(exe, sizeof(exe));
	for (size_t i = 0; known && i < ARRAY_SIZE(beside); i++) {
		snprintf(path, sizeof(path), "%s/%s", exe, beside[i]);
		if (is_file_at(path))
			return path;
	}
	snprintf(path, sizeof(path), "%s/initrd-test-agent",
		 install_path(exe, sizeof(exe), IT_LIBEXECDIR));
	return is_file_at(path) ? path : NULL;
}

/* A module the agent needs, when the kernel has it (built in, it needs none). */
static int add_module(struct build_config *b, const char *name)
{
	if (strlist_has(&b->modules, name) || strlist_has(&b->optional_modules, name))
		return 0;
	return strlist_add(&b->optional_modules, name);
}

int run_agent_setup(struct scenario *s, struct it_error *err)
{
	struct build_config *b = &s->build;
	const char *agent;
	int r = 0;

	if (s->vm.agent == VM_AGENT_NONE || b->agent_binary)
		return 0;
	agent = run_default_agent();
	if (!agent) {
		it_error_set(err, -IT_ENOTFOUND, "no guest agent to put in the image of '%s'",
			     s->path);
		it_error_hint(err, "build it with 'make agent' (or set INITRD_TEST_AGENT=FILE), "
				   "or write 'agent off' in the scenario");
		return -IT_ENOTFOUND;
	}
	b->agent_binary = strdup(agent);
	if (!b->agent_binary)
		return it_error_set(err, -ENOMEM, "out of memory");
	/* A virtio console port: its modules, where the kernel has them as modules. */
	if (s->vm.agent == VM_AGENT_VIRTIO)
		r = add_module(b, "virtio_pci");
	if (r == 0 && s->vm.agent == VM_AGENT_VIRTIO)
		r = add_module(b, "virtio_console");
	return r < 0 ? it_error_set(err, r, "out of memory") : 0;
}

/* The lock's mode and text: another lock is another build (a missing one reads as empty). */
static void key_lock(struct out *o, const struct build_config *c)
{
	struct buf text;

	if (!c->lock_file)
		return;
	buf_init(&text, 0);
	buf_read_file(&text, c->lock_file);
	out_putf(o, "lock.mode=%d\nlock=%zu\n", (int)c->lock_mode, text.len);
	out_puts(o, text.data);
	buf_release(&text);
}

int run_build_key(const struct build_config *c, char key[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct buf b;
	struct out o;
	int r;

	buf_init(&b, 0);
	o = (struct out){&b, 0};
	out_puts(&o, "initrd-test build key 1\n");
	key_list(&o, "repo", &c->repos);
	key_str(&o, "arch", c->arch);
	key_str(&o, "keys", c->keys_dir);
	out_putf(&o, "untrusted=%d\n", c->allow_untrusted);
	key_list(&o, "package", &c->packages);
	for (size_t i = 0; i < c->nservices; i++) {
		key_str(&o, "service.runlevel", c->services[i].runlevel);
		key_str(&o, "service.name", c->services[i].name);
	}
	for (size_t i = 0; i < c->nifaces; i++) {
		key_str(&o, "iface.name", c->ifaces[i].name);
		key_str(&o, "iface.method", c->ifaces[i].method);
		key_str(&o, "iface.address", c->ifaces[i].address);
		key_str(&o, "iface.gateway", c->ifaces[i].gateway);
		out_putf(&o, "iface.auto=%d\n", c->ifaces[i].autostart);
	}
	for (size_t i = 0; i < c->nusers; i++) {
		const struct user_spec *u = &c->users[i];

		key_str(&o, "user.name", u->name);
		out_putf(&o, "user.uid=%ld\n", u->uid);
		key_str(&o, "user.password", u->password_hash);
		key_str(&o, "user.shell", u->shell);
		key_str(&o, "user.home", u->home);
		key_list(&o, "user.group", &u->groups);
		key_str(&o, "user.keys", u->authorized_keys);
	}
	key_str(&o, "hostname", c->hostname);
	key_list(&o, "console", &c->consoles);
	key_str(&o, "init", c->init);
	key_str(&o, "root-password", c->root_password_hash);
	key_list(&o, "overlay", &c->overlays);
	key_str(&o, "agent", c->agent_binary);
	key_str(&o, "kernel.package", c->kernel_package);
	key_str(&o, "kernel.image", c->kernel_image);
	key_str(&o, "kernel.tree", c->kernel_tree);
	key_str(&o, "kernel.modules", c->modules_dir);
	key_list(&o, "module", &c->modules);
	key_list(&o, "optional-module", &c->optional_modules);
	out_putf(&o, "compression=%d\nepoch=%lld\n", (int)c->compression,
		 (long long)c->source_date_epoch);
	key_lock(&o, c);
	r = o.err;
	if (r == 0 && EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL) != 1)
		r = -ENOMEM;
	if (r == 0)
		hex_encode(md, 32, key);
	buf_release(&b);
	return r;
}
