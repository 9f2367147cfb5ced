// SPDX-License-Identifier: MIT
/* Checkpoints of a scenario's prefix: their key, their cache directory, save and restore files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builder/builder.h"
#include "common/log.h"
#include "common/util.h"
#include "src/checkpoint.h"
#include "src/signals.h"

#define KEY_FORMAT "initrd-test checkpoint key 1\n"
#define META_FORMAT 1
#define ID_LEN 16
#define META_MAX (16 * 1024 * 1024)

/* qemu options that give the VM a disk or a shared folder: its state is not all in RAM. */
static const char *const disk_opts[] = {
    "-drive", "-hda",	 "-hdb",    "-hdc",	 "-hdd", "-cdrom",    "-blockdev",
    "-fsdev", "-virtfs", "-pflash", "-mtdblock", "-sd",	 "-snapshot",
};

const char *checkpoint_unsupported(const struct scenario *s)
{
	if (s->vm.backend != VM_BACKEND_QEMU)
		return "the crosvm backend has no checkpoints";
	for (size_t i = 0; i < s->vm.extra_args.n; i++) {
		for (size_t j = 0; j < ARRAY_SIZE(disk_opts); j++) {
			if (!strcmp(s->vm.extra_args.v[i], disk_opts[j]))
				return "the VM has a disk or a shared folder (in qemu-args): "
				       "a restore would share and change it";
		}
	}
	return NULL;
}

/* ---- the key ------------------------------------------------------------------------------- */

struct hasher {
	EVP_MD_CTX *ctx;
	int err;
};

static void h_add(struct hasher *h, const void *p, size_t n)
{
	if (!h->err && EVP_DigestUpdate(h->ctx, p, n) != 1)
		h->err = -ENOMEM;
}

/* "tag=value\n" with value's length first, so that no two lists hash alike. */
static void h_str(struct hasher *h, const char *tag, const char *value)
{
	char head[96];
	size_t n = value ? strlen(value) : 0;
	int len = snprintf(head, sizeof(head), "%s %zu%s=", tag, n, value ? "" : " null");

	h_add(h, head, (size_t)len);
	h_add(h, value ? value : "", n);
	h_add(h, "\n", 1);
}

static void h_int(struct hasher *h, const char *tag, long long v)
{
	char text[32];

	snprintf(text, sizeof(text), "%lld", v);
	h_str(h, tag, text);
}

/* A file's bytes, read as it goes: an initrd can be large. */
static int h_file(struct hasher *h, const char *tag, const char *path, struct it_error *err)
{
	char chunk[64 * 1024];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return it_error_set(err, -errno, "cannot read '%s' for the checkpoint's key: %s",
				    path, strerror(errno));
	h_str(h, tag, "file");
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			return it_error_set(err, -e,
					    "cannot read '%s' for the checkpoint's key: %s", path,
					    strerror(e));
		}
		h_add(h, chunk, (size_t)n);
	}
	close(fd);
	h_add(h, "\n", 1);
	return 0;
}

/* The command line without where the images are: their bytes are hashed on their own. */
static int h_argv(struct hasher *h, const struct scenario *s, enum vm_accel accel,
		  struct it_error *err)
{
	struct strlist argv = STRLIST_INIT;
	int r = vm_build_argv(&s->vm, accel, NULL, &argv, err);

	for (size_t i = 0; r == 0 && i < argv.n; i++) {
		const char *a = argv.v[i];

		if (s->vm.kernel && !strcmp(a, s->vm.kernel))
			a = "KERNEL";
		else if (s->vm.initrd && !strcmp(a, s->vm.initrd))
			a = "INITRD";
		h_str(h, "argv", a);
	}
	strlist_clear(&argv);
	return r;
}

static int h_step(struct hasher *h, const struct scenario_step *st, struct it_error *err)
{
	h_str(h, "step", scenario_step_kind_name(st->kind));
	h_str(h, "name", st->name);
	h_int(h, "literal", st->literal);
	h_int(h, "timeout", st->timeout_ms);
	h_int(h, "status", st->status);
	h_int(h, "stderr", st->from_stderr);
	h_str(h, "dest", st->dest);
	h_int(h, "mode", st->mode);
	h_int(h, "every", st->every_ms);
	/* A copied-in file is what it holds, wherever it lies. */
	if (st->kind == SCENARIO_STEP_COPY_IN)
		return h_file(h, "text", st->text, err);
	h_str(h, "text", st->text);
	return 0;
}

int checkpoint_key(const struct scenario *s, enum vm_accel accel, const char *qemu, char key[65],
		   struct it_error *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t upto = scenario_checkpoint(s);
	struct hasher h = {EVP_MD_CTX_new(), 0};
	int r = 0;

	if (!h.ctx || EVP_DigestInit_ex(h.ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h.ctx);
		return it_error_set(err, -ENOMEM, "cannot hash the checkpoint: %s",
				    strerror(ENOMEM));
	}
	h_add(&h, KEY_FORMAT, strlen(KEY_FORMAT));
	h_str(&h, "qemu", qemu);
	r = h_file(&h, "kernel", s->vm.kernel, err);
	if (r == 0)
		r = h_file(&h, "initrd", s->vm.initrd, err);
	if (r == 0)
		r = h_argv(&h, s, accel, err);
	h_int(&h, "agent", s->vm.agent);
	for (size_t i = 0; i < s->nfails; i++) {
		h_str(&h, "fail", s->fails[i].pattern);
		h_int(&h, "fail.literal", s->fails[i].literal);
	}
	for (size_t i = 0; r == 0 && upto != SIZE_MAX && i <= upto; i++)
		r = h_step(&h, &s->steps[i], err);
	if (r == 0 && (h.err || EVP_DigestFinal_ex(h.ctx, md, &mdlen) != 1))
		r = it_error_set(err, -ENOMEM, "cannot hash the checkpoint: %s", strerror(ENOMEM));
	EVP_MD_CTX_free(h.ctx);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < 32 && i < mdlen; i++) {
		key[2 * i] = hex[md[i] >> 4];
		key[2 * i + 1] = hex[md[i] & 15];
	}
	key[64] = '\0';
	return 0;
}

/* The first line 'BINARY --version' prints. */
static int qemu_version(const char *binary, char *out, size_t outsz)
{
	int p[2], status;
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(p[1], STDOUT_FILENO);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execl(binary, binary, "--version", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (len + 1 < outsz && (n = read(p[0], out + len, outsz - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	out[len] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

int checkpoint_qemu_id(const struct scenario *s, struct buf *out, struct it_error *err)
{
	char version[256];
	char *binary = NULL;
	struct stat st;
	int r = vm_find_binary(&s->vm, &binary, err);

	if (r < 0)
		return r;
	if (stat(binary, &st) < 0) {
		r = it_error_set(err, -errno, "cannot stat '%s': %s", binary, strerror(errno));
		goto out;
	}
	r = qemu_version(binary, version, sizeof(version));
	if (r < 0) {
		r = it_error_set(err, r, "cannot run '%s --version': %s", binary, strerror(-r));
		goto out;
	}
	buf_reset(out);
	r = buf_addf(out, "%s path=%s size=%lld mtime=%lld", version, binary, (long long)st.st_size,
		     (long long)st.st_mtime);
out:
	free(binary);
	return r;
}

/* ---- the cache directory ------------------------------------------------------------------ */

int checkpoint_dir(const char *cache, char *out, size_t outsz)
{
	return path_join(out, outsz, cache ? cache : builder_default_cache_dir(),
			 CHECKPOINT_SUBDIR);
}

struct checkpoint {
	char name[128];
	char id[ID_LEN + 1];
	char root[PATH_MAX]; /* CACHE/checkpoints */
	char dir[PATH_MAX];  /* root/ID */
	int lock_fd;	     /* held while making */
	int state_fd;	     /* restoring: root/ID/state */
	dev_t state_dev;
	ino_t state_ino;
	struct checkpoint_prefix prefix;
	bool restoring;
	/* What prefix points into. */
	struct buf raw, log;
	int64_t *at;
	char **lines, **refs, **values;
	size_t nlines, ncaps;
};

static int sub_path(const struct checkpoint *cp, const char *name, char *out, size_t outsz)
{
	return path_join(out, outsz, cp->dir, name);
}

static void unlock(struct checkpoint *cp)
{
	if (cp->lock_fd >= 0)
		close(cp->lock_fd);
	cp->lock_fd = -1;
}

static void forget_prefix(struct checkpoint *cp)
{
	for (size_t i = 0; i < cp->nlines; i++)
		free(cp->lines[i]);
	for (size_t i = 0; i < cp->ncaps; i++) {
		free(cp->refs[i]);
		free(cp->values[i]);
	}
	free(cp->at);
	free(cp->lines);
	free(cp->refs);
	free(cp->values);
	cp->at = NULL;
	cp->lines = cp->refs = cp->values = NULL;
	cp->nlines = cp->ncaps = 0;
	buf_release(&cp->raw);
	buf_release(&cp->log);
	if (cp->state_fd >= 0)
		close(cp->state_fd);
	cp->state_fd = -1;
	memset(&cp->prefix, 0, sizeof(cp->prefix));
	cp->restoring = false;
}

void checkpoint_close(struct checkpoint *cp)
{
	if (!cp)
		return;
	unlock(cp);
	forget_prefix(cp);
	free(cp);
}

const char *checkpoint_name(const struct checkpoint *cp)
{
	return cp->name;
}

const char *checkpoint_id(const struct checkpoint *cp)
{
	return cp->id;
}

bool checkpoint_making(const struct checkpoint *cp)
{
	return cp->lock_fd >= 0 && !cp->restoring;
}

const struct checkpoint_prefix *checkpoint_prefix(const struct checkpoint *cp)
{
	return cp->restoring ? &cp->prefix : NULL;
}

int checkpoint_state_fd(const struct checkpoint *cp)
{
	return cp->state_fd;
}

/* Take root/ID.lock: wait (blocking == true) or try once. 1 taken, 0 busy, <0 error. */
static int lock_key(const char *root, const char *id, bool blocking, int *fd_out,
		    struct it_error *err)
{
	char path[PATH_MAX], name[ID_LEN + 8];
	int fd, r;

	snprintf(name, sizeof(name), "%s.lock", id);
	if (path_join(path, sizeof(path), root, name) < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s': name too long", root);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return it_error_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
	/* Ctrl-C while another run makes it: neither wait for it nor restore after. */
	r = sig_flock(fd, path, blocking, err);
	if (r == 1)
		*fd_out = fd;
	else
		close(fd);
	return r;
}

/* ---- meta.json ------------------------------------------------------------------------------ */

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static char *meta_text(const struct checkpoint *cp, const struct checkpoint_run *run,
		       uint64_t bytes, int64_t save_ms)
{
	json_t *top = json_object(), *steps = json_array(), *caps = json_array();
	const char *value;
	char ref[64], *text = NULL;

	if (!top || !steps || !caps)
		goto out;
	for (size_t i = 0; i < run->upto; i++) {
		const struct expect_step_result *st = expect_step(run->e, i);

		json_array_append_new(steps, json_pack("{s:I, s:o}", "at_ms", (json_int_t)st->at_ms,
						       "line", jstr_or_null(st->line)));
	}
	for (size_t i = 0; expect_capture_at(run->e, i, ref, sizeof(ref), &value); i++)
		json_array_append_new(
		    caps, json_pack("{s:s, s:o}", "ref", ref, "value", jstr_or_null(value)));
	json_object_set_new(top, "format", json_integer(META_FORMAT));
	json_object_set_new(top, "name", json_string(cp->name));
	json_object_set_new(top, "id", json_string(cp->id));
	json_object_set_new(top, "scenario", jstr_or_null(run->scenario));
	json_object_set_new(top, "created", json_integer((json_int_t)time(NULL)));
	json_object_set_new(top, "state_bytes", json_integer((json_int_t)bytes));
	json_object_set_new(top, "save_ms", json_integer(save_ms));
	json_object_set_new(top, "at_ms", json_integer(run->at_ms));
	json_object_set_new(top, "first_byte_ms", json_integer(run->first_byte_ms));
	json_object_set_new(top, "agent_ready", json_boolean(run->agent_ready));
	json_object_set_new(top, "upto", json_integer((json_int_t)run->upto));
	json_object_set_new(top, "steps", steps);
	json_object_set_new(top, "captures", caps);
	steps = caps = NULL;
	text = json_dumps(top, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
out:
	json_decref(steps);
	json_decref(caps);
	json_decref(top);
	return text;
}

static char *dup_or_null(const json_t *v)
{
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

/* meta.json into cp->prefix: 0, or -IT_EFORMAT for anything that is not one we wrote. */
static int meta_read(struct checkpoint *cp, const char *path, size_t nsteps)
{
	json_error_t je;
	json_t *top = json_load_file(path, 0, &je), *steps, *caps;
	size_t upto;
	int r = -IT_EFORMAT;

	if (!top)
		return -IT_EFORMAT;
	steps = json_object_get(top, "steps");
	caps = json_object_get(top, "captures");
	if (json_integer_value(json_object_get(top, "format")) != META_FORMAT ||
	    !json_is_array(steps) || !json_is_array(caps) ||
	    !json_is_integer(json_object_get(top, "upto")) ||
	    !json_is_integer(json_object_get(top, "at_ms")))
		goto out;
	upto = (size_t)json_integer_value(json_object_get(top, "upto"));
	if (upto >= nsteps || json_array_size(steps) != upto)
		goto out;
	r = -ENOMEM;
	cp->at = calloc(upto + 1, sizeof(*cp->at));
	cp->lines = calloc(upto + 1, sizeof(*cp->lines));
	cp->refs = calloc(json_array_size(caps) + 1, sizeof(*cp->refs));
	cp->values = calloc(json_array_size(caps) + 1, sizeof(*cp->values));
	if (!cp->at || !cp->lines || !cp->refs || !cp->values)
		goto out;
	for (size_t i = 0; i < upto; i++) {
		json_t *st = json_array_get(steps, i);

		cp->at[i] = json_integer_value(json_object_get(st, "at_ms"));
		cp->lines[i] = dup_or_null(json_object_get(st, "line"));
		cp->nlines = i + 1;
	}
	for (size_t i = 0; i < json_array_size(caps); i++) {
		json_t *c = json_array_get(caps, i);

		cp->refs[i] = dup_or_null(json_object_get(c, "ref"));
		cp->values[i] = dup_or_null(json_object_get(c, "value"));
		cp->ncaps = i + 1;
		if (!cp->refs[i]) {
			r = -IT_EFORMAT;
			goto out;
		}
	}
	cp->prefix.steps = (struct expect_restored){
	    .upto = upto,
	    .at_ms = cp->at,
	    .lines = (const char *const *)cp->lines,
	    .ncaps = cp->ncaps,
	    .refs = (const char *const *)cp->refs,
	    .values = (const char *const *)cp->values,
	};
	cp->prefix.at_ms = json_integer_value(json_object_get(top, "at_ms"));
	cp->prefix.first_byte_ms = json_is_integer(json_object_get(top, "first_byte_ms"))
				       ? json_integer_value(json_object_get(top, "first_byte_ms"))
				       : -1;
	cp->prefix.agent_ready = json_is_true(json_object_get(top, "agent_ready"));
	cp->prefix.state_bytes = (uint64_t)json_integer_value(json_object_get(top, "state_bytes"));
	r = 0;
out:
	json_decref(top);
	return r;
}

/* A complete checkpoint in cp->dir, read to restore: 0; <0 when none is there or it is broken. */
static int load(struct checkpoint *cp, size_t nsteps)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	if (sub_path(cp, "meta.json", path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	if (access(path, F_OK) < 0)
		return -ENOENT;
	r = meta_read(cp, path, nsteps);
	/* The console logs are for people: a checkpoint goes without them. */
	if (r == 0 && sub_path(cp, "console.raw", path, sizeof(path)) == 0 &&
	    buf_read_file(&cp->raw, path) == -ENOENT)
		buf_reset(&cp->raw);
	if (r == 0 && sub_path(cp, "console.log", path, sizeof(path)) == 0 &&
	    buf_read_file(&cp->log, path) == -ENOENT)
		buf_reset(&cp->log);
	if (r == 0 && sub_path(cp, "state", path, sizeof(path)) == 0) {
		cp->state_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (cp->state_fd < 0 || fstat(cp->state_fd, &st) < 0)
			r = -errno;
		else if ((uint64_t)st.st_size != cp->prefix.state_bytes)
			r = -IT_EFORMAT;
	}
	if (r < 0) {
		forget_prefix(cp);
		return r;
	}
	cp->state_dev = st.st_dev;
	cp->state_ino = st.st_ino;
	cp->prefix.raw = buf_blob(&cp->raw);
	cp->prefix.log = buf_blob(&cp->log);
	cp->restoring = true;
	/* Its mtime is its last use: pruning goes by it. */
	if (sub_path(cp, "meta.json", path, sizeof(path)) == 0)
		utimensat(AT_FDCWD, path, NULL, 0);
	return 0;
}

int checkpoint_open(struct checkpoint **out, const struct scenario *s, const char *cache,
		    int status_fd, struct it_error *err)
{
	struct checkpoint *cp = calloc(1, sizeof(*cp));
	struct buf qemu = BUF_INIT;
	enum vm_accel accel;
	char key[65], desc[128];
	size_t at = scenario_checkpoint(s);
	int r;

	*out = NULL;
	if (!cp)
		return it_error_set(err, -ENOMEM, "cannot open the checkpoint: %s",
				    strerror(ENOMEM));
	cp->lock_fd = cp->state_fd = -1;
	snprintf(cp->name, sizeof(cp->name), "%s", at != SIZE_MAX ? s->steps[at].text : "?");
	r = vm_accel_resolve(s->vm.accel, NULL, &accel, desc, sizeof(desc), err);
	if (r == 0)
		r = checkpoint_qemu_id(s, &qemu, err);
	if (r == 0)
		r = checkpoint_key(s, accel, qemu.data, key, err);
	buf_release(&qemu);
	if (r < 0)
		goto fail;
	memcpy(cp->id, key, ID_LEN);
	cp->id[ID_LEN] = '\0';
	if (checkpoint_dir(cache, cp->root, sizeof(cp->root)) < 0 ||
	    path_join(cp->dir, sizeof(cp->dir), cp->root, cp->id) < 0) {
		r = it_error_set(err, -ENAMETOOLONG, "the checkpoint cache's name is too long");
		goto fail;
	}
	r = mkdir_p(cp->root, 0755);
	if (r < 0) {
		it_error_set(err, r, "cannot create '%s': %s", cp->root, it_strerror(r));
		goto fail;
	}
	if (status_fd >= 0)
		dprintf(status_fd, "waiting for checkpoint %s\n", cp->name);
	r = lock_key(cp->root, cp->id, true, &cp->lock_fd, err);
	if (r < 0)
		goto fail;
	r = load(cp, s->nsteps);
	if (r == 0) {
		unlock(cp);
	} else if (r != -ENOENT) {
		log_warn("checkpoint %s in '%s' is broken (%s): making it again", cp->name, cp->dir,
			 it_strerror(r));
		rm_rf(cp->dir);
	}
	*out = cp;
	return 0;
fail:
	checkpoint_close(cp);
	return r;
}

bool checkpoint_restore_failed(struct checkpoint *cp)
{
	char path[PATH_MAX];
	struct stat st;
	bool same;

	if (lock_key(cp->root, cp->id, false, &cp->lock_fd, NULL) != 1) {
		forget_prefix(cp);
		return false;
	}
	same = sub_path(cp, "state", path, sizeof(path)) == 0 && stat(path, &st) == 0 &&
	       st.st_dev == cp->state_dev && st.st_ino == cp->state_ino;
	forget_prefix(cp);
	/* Another run may have made a good one meanwhile: only this bad one goes. */
	if (same)
		rm_rf(cp->dir);
	else if (stat(path, &st) == 0)
		unlock(cp);
	return checkpoint_making(cp);
}

static int prune_root(const char *root, bool all, int64_t max_age_s, uint64_t max_bytes,
		      const char *keep, size_t *removed, uint64_t *freed, struct it_error *err);

/* The cache's bounds, after a save: a failure is only a warning. */
static void bound_cache(const struct checkpoint *cp)
{
	struct it_error err = IT_ERROR_INIT;
	size_t removed = 0;
	uint64_t freed = 0;

	if (prune_root(cp->root, false, CHECKPOINT_MAX_AGE_S, CHECKPOINT_MAX_BYTES, cp->id,
		       &removed, &freed, &err) < 0)
		log_warn("cannot prune the checkpoints in '%s': %s", cp->root, err.msg);
	else if (removed)
		log_info("pruned %zu old checkpoint(s) in '%s' (%" PRIu64 " MiB)", removed,
			 cp->root, freed >> 20);
}

/* A file of the run's folder (as written so far) into the new checkpoint. */
static int copy_log(const char *from_dir, const char *to_dir, const char *name)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct buf b = BUF_INIT;
	int r;

	if (path_join(from, sizeof(from), from_dir, name) < 0 ||
	    path_join(to, sizeof(to), to_dir, name) < 0)
		return -ENAMETOOLONG;
	r = buf_read_file(&b, from);
	if (r == -ENOENT)
		r = 0;
	if (r == 0)
		r = write_file_atomic(to, b.data ? b.data : "", b.len, 0644);
	buf_release(&b);
	return r;
}

int checkpoint_save(struct checkpoint *cp, struct vm *vm, const struct checkpoint_run *run,
		    uint64_t *bytes, int64_t *ms, struct it_error *err)
{
	char tmp[PATH_MAX], path[PATH_MAX], suffix[40];
	struct stat st;
	char *meta = NULL;
	int64_t t0 = now_ms();
	int fd = -1, r;

	*bytes = 0;
	*ms = 0;
	if (!checkpoint_making(cp))
		return it_error_set(err, -EINVAL, "checkpoint %s: not ours to make", cp->name);
	snprintf(suffix, sizeof(suffix), "%s.tmp.%ld", cp->id, (long)getpid());
	if (path_join(tmp, sizeof(tmp), cp->root, suffix) < 0 ||
	    path_join(path, sizeof(path), tmp, "state") < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s': name too long", cp->root);
	rm_rf(tmp);
	r = mkdir_p(tmp, 0755);
	if (r < 0) {
		it_error_set(err, r, "cannot create '%s': %s", tmp, it_strerror(r));
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = it_error_set(err, -errno, "cannot create '%s': %s", path, strerror(errno));
		goto out;
	}
	r = vm_save(vm, fd, CHECKPOINT_SAVE_TIMEOUT_MS, err);
	if (r < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		r = it_error_set(err, -errno, "cannot stat '%s': %s", path, strerror(errno));
		goto out;
	}
	*bytes = (uint64_t)st.st_size;
	*ms = now_ms() - t0;
	r = copy_log(run->run_dir, tmp, "console.raw");
	if (r == 0)
		r = copy_log(run->run_dir, tmp, "console.log");
	if (r < 0) {
		it_error_set(err, r, "cannot copy the console logs into '%s': %s", tmp,
			     it_strerror(r));
		goto out;
	}
	meta = meta_text(cp, run, *bytes, *ms);
	if (!meta || path_join(path, sizeof(path), tmp, "meta.json") < 0) {
		r = it_error_set(err, -ENOMEM, "cannot write the checkpoint's meta.json: %s",
				 strerror(ENOMEM));
		goto out;
	}
	r = write_file_atomic(path, meta, strlen(meta), 0644);
	if (r < 0) {
		it_error_set(err, r, "cannot write '%s': %s", path, it_strerror(r));
		goto out;
	}
	rm_rf(cp->dir);
	if (rename(tmp, cp->dir) < 0) {
		r = it_error_set(err, -errno, "cannot rename '%s' to '%s': %s", tmp, cp->dir,
				 strerror(errno));
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	free(meta);
	if (r < 0)
		rm_rf(tmp);
	unlock(cp);
	if (r == 0)
		bound_cache(cp);
	return r;
}

/* ---- the cache ---------------------------------------------------------------------------- */

static bool is_id(const char *name)
{
	if (strlen(name) != ID_LEN)
		return false;
	for (size_t i = 0; i < ID_LEN; i++) {
		if (hex_digit_value(name[i]) < 0)
			return false;
	}
	return true;
}

/* The bytes of the files in dir (one level: a checkpoint has no subfolders). */
static uint64_t dir_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t n = 0;
	struct stat st;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			n += (uint64_t)st.st_size;
	}
	closedir(d);
	return n;
}

static void entry_read(struct checkpoint_entry *e, const char *dir)
{
	char path[PATH_MAX];
	json_error_t je;
	json_t *top = NULL;
	struct stat st;

	e->bytes = dir_bytes(dir);
	e->broken = true;
	if (path_join(path, sizeof(path), dir, "meta.json") == 0 && stat(path, &st) == 0) {
		e->used = (int64_t)st.st_mtime;
		top = json_load_file(path, 0, &je);
	} else if (stat(dir, &st) == 0) {
		e->used = (int64_t)st.st_mtime;
	}
	e->created = e->used;
	if (top) {
		json_t *c = json_object_get(top, "created");

		e->name = dup_or_null(json_object_get(top, "name"));
		e->scenario = dup_or_null(json_object_get(top, "scenario"));
		if (json_is_integer(c))
			e->created = json_integer_value(c);
		e->broken = path_join(path, sizeof(path), dir, "state") < 0 ||
			    stat(path, &st) < 0 ||
			    (uint64_t)st.st_size !=
				(uint64_t)json_integer_value(json_object_get(top, "state_bytes"));
		json_decref(top);
	}
	if (!e->name)
		e->name = strdup("?");
	if (!e->scenario)
		e->scenario = strdup("?");
}

static int by_use(const void *a, const void *b)
{
	const struct checkpoint_entry *x = a, *y = b;

	return x->used < y->used ? -1 : x->used > y->used ? 1 : strcmp(x->id, y->id);
}

static int list_root(const char *root, struct checkpoint_list *list, struct it_error *err)
{
	DIR *d = opendir(root);
	struct dirent *de;
	char dir[PATH_MAX];

	memset(list, 0, sizeof(*list));
	if (!d && errno == ENOENT)
		return 0;
	if (!d)
		return it_error_set(err, -errno, "cannot read '%s': %s", root, strerror(errno));
	while ((de = readdir(d))) {
		struct checkpoint_entry *v;

		if (!is_id(de->d_name) || path_join(dir, sizeof(dir), root, de->d_name) < 0)
			continue;
		v = realloc(list->v, (list->n + 1) * sizeof(*v));
		if (!v) {
			closedir(d);
			checkpoint_list_release(list);
			return it_error_set(err, -ENOMEM, "cannot list '%s': %s", root,
					    strerror(ENOMEM));
		}
		list->v = v;
		memset(&v[list->n], 0, sizeof(*v));
		memcpy(v[list->n].id, de->d_name, ID_LEN + 1);
		entry_read(&v[list->n], dir);
		list->n++;
	}
	closedir(d);
	if (list->n)
		qsort(list->v, list->n, sizeof(*list->v), by_use);
	return 0;
}

int checkpoint_list(const char *cache, struct checkpoint_list *list, struct it_error *err)
{
	char root[PATH_MAX];

	memset(list, 0, sizeof(*list));
	if (checkpoint_dir(cache, root, sizeof(root)) < 0)
		return it_error_set(err, -ENAMETOOLONG, "the checkpoint cache's name is too long");
	return list_root(root, list, err);
}

void checkpoint_list_release(struct checkpoint_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->v[i].name);
		free(list->v[i].scenario);
	}
	free(list->v);
	memset(list, 0, sizeof(*list));
}

/* Remove one checkpoint unless a run holds its lock: true when it went. */
static bool remove_entry(const char *root, const struct checkpoint_entry *e)
{
	char dir[PATH_MAX];
	int fd = -1;

	/* The lock file stays: a run may wait on it, and a new one would not be its lock. */
	if (lock_key(root, e->id, false, &fd, NULL) != 1)
		return false;
	if (path_join(dir, sizeof(dir), root, e->id) == 0)
		rm_rf(dir);
	close(fd);
	return true;
}

static int prune_root(const char *root, bool all, int64_t max_age_s, uint64_t max_bytes,
		      const char *keep, size_t *removed, uint64_t *freed, struct it_error *err)
{
	struct checkpoint_list list;
	int64_t now = (int64_t)time(NULL);
	uint64_t total = 0, gone = 0;
	size_t n = 0;
	int r = list_root(root, &list, err);

	if (r < 0)
		return r;
	for (size_t i = 0; i < list.n; i++)
		total += list.v[i].bytes;
	/* Oldest use first: the age limit, then the size limit, each in that order. */
	for (size_t i = 0; i < list.n; i++) {
		struct checkpoint_entry *e = &list.v[i];
		bool go = all || e->broken || (max_age_s >= 0 && now - e->used > max_age_s) ||
			  (max_bytes && total > max_bytes);

		if (!go || (keep && !strcmp(e->id, keep)) || !remove_entry(root, e))
			continue;
		total -= e->bytes;
		gone += e->bytes;
		n++;
	}
	checkpoint_list_release(&list);
	if (removed)
		*removed = n;
	if (freed)
		*freed = gone;
	return 0;
}

int checkpoint_prune(const char *cache, bool all, int64_t max_age_s, uint64_t max_bytes,
		     const char *keep, size_t *removed, uint64_t *freed, struct it_error *err)
{
	char root[PATH_MAX];

	if (checkpoint_dir(cache, root, sizeof(root)) < 0)
		return it_error_set(err, -ENAMETOOLONG, "the checkpoint cache's name is too long");
	return prune_root(root, all, max_age_s, max_bytes, keep, removed, freed, err);
}
