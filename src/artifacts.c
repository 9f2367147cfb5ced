// SPDX-License-Identifier: MIT
/* A failed run's artifacts folder: its logs, its scenario files and the initrd's listing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/builder.h"
#include "common/buf.h"
#include "common/util.h"
#include "src/artifacts.h"

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Copy a file whole or not at all (a temp file renamed over dst). */
static int copy_file(const char *src, const char *dst, struct it_error *err)
{
	char tmp[PATH_MAX], chunk[65536];
	int in = -1, fd = -1, r = 0;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return it_error_set(err, -errno, "cannot read '%s': %s", src, strerror(errno));
	fd = open_tmp_beside(dst, tmp, sizeof(tmp));
	if (fd < 0) {
		r = it_error_set(err, fd, "cannot write '%s': %s", dst, it_strerror(fd));
		goto out;
	}
	for (;;) {
		ssize_t n = read(in, chunk, sizeof(chunk)), w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = it_error_set(err, -errno, "cannot read '%s': %s", src, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		while (w < n && r == 0) {
			ssize_t k = write(fd, chunk + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				r = it_error_set(err, -errno, "cannot write '%s': %s", dst,
						 strerror(errno));
			else
				w += k;
		}
		if (r < 0)
			break;
	}
	if (r == 0 && close(fd) < 0)
		r = it_error_set(err, -errno, "cannot write '%s': %s", dst, strerror(errno));
	else if (r < 0)
		close(fd);
	fd = -1;
	if (r == 0 && rename(tmp, dst) < 0)
		r = it_error_set(err, -errno, "cannot write '%s': %s", dst, strerror(errno));
	if (r < 0)
		unlink(tmp);
out:
	if (in >= 0)
		close(in);
	return r;
}

static int copy_scenario_files(const char *dest, const struct strlist *files, struct it_error *err)
{
	char dir[PATH_MAX], path[PATH_MAX], name[NAME_MAX + 1];
	struct buf index;
	int r;

	if (path_join(dir, sizeof(dir), dest, "scenario") < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s/scenario': name too long", dest);
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return it_error_set(err, r, "cannot create '%s': %s", dir, it_strerror(r));
	buf_init(&index, 0);
	for (size_t i = 0; i < files->n && r == 0; i++) {
		char parent[PATH_MAX], *slash;
		const char *base = strrchr(files->v[i], '/');

		/* "1-networking_scenario": the directory says which scenario file it was. */
		snprintf(parent, sizeof(parent), "%s", files->v[i]);
		slash = strrchr(parent, '/');
		if (slash) {
			*slash = '\0';
			slash = strrchr(parent, '/');
		}
		if (snprintf(name, sizeof(name), "%zu-%s%s%s", i + 1,
			     base ? (slash ? slash + 1 : parent) : "", base ? "_" : "",
			     base ? base + 1 : files->v[i]) >= (int)sizeof(name) ||
		    path_join(path, sizeof(path), dir, name) < 0)
			r = it_error_set(err, -ENAMETOOLONG, "'%s/%s': name too long", dir, name);
		if (r == 0)
			r = copy_file(files->v[i], path, err);
		if (r == 0)
			r = buf_addf(&index, "%s\t%s\n", name, files->v[i]);
	}
	if (r == 0 && path_join(path, sizeof(path), dir, "index.txt") == 0) {
		r = write_file_atomic(path, index.data, index.len, 0644);
		if (r < 0)
			it_error_set(err, r, "cannot write '%s': %s", path, it_strerror(r));
	}
	buf_release(&index);
	return r;
}

static int write_listing(const char *initrd, const char *dest, struct it_error *err)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f = NULL;
	int fd, r;

	if (path_join(path, sizeof(path), dest, "initrd.list") < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s/initrd.list': name too long", dest);
	fd = open_tmp_beside(path, tmp, sizeof(tmp));
	if (fd < 0)
		return it_error_set(err, fd, "cannot write '%s': %s", path, it_strerror(fd));
	f = fdopen(fd, "w");
	if (!f) {
		r = it_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		return r;
	}
	r = builder_list_initrd(initrd, f, BUILDER_LIST_LONG, NULL, err);
	if (fclose(f) != 0 && r == 0)
		r = it_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
	if (r == 0 && rename(tmp, path) < 0)
		r = it_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
	if (r < 0)
		unlink(tmp);
	return r;
}

int artifacts_collect(const char *run_dir, const char *dest, const struct strlist *files,
		      const char *initrd, struct it_error *err)
{
	static const char *const logs[] = {"console.raw", "console.log", "command.txt", "plan.txt",
					   "result.json", "run.log",	 "crash.txt"};
	char src[PATH_MAX], dst[PATH_MAX];
	int r;

	r = rm_rf(dest);
	if (r == 0)
		r = mkdir_p(dest, 0755);
	if (r < 0)
		return it_error_set(err, r, "cannot create '%s': %s", dest, it_strerror(r));
	for (size_t i = 0; i < ARRAY_SIZE(logs); i++) {
		if (path_join(src, sizeof(src), run_dir, logs[i]) < 0 ||
		    path_join(dst, sizeof(dst), dest, logs[i]) < 0)
			return it_error_set(err, -ENAMETOOLONG, "'%s': name too long", run_dir);
		if (!is_file(src))
			continue;
		r = copy_file(src, dst, err);
		if (r < 0)
			return r;
	}
	if (files && files->n) {
		r = copy_scenario_files(dest, files, err);
		if (r < 0)
			return r;
	}
	if (initrd && is_file(initrd))
		r = write_listing(initrd, dest, err);
	return r;
}
