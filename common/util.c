// SPDX-License-Identifier: MIT
/* Small helpers shared by all modules. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t now_ms(void)
{
	return now_ns() / 1000000;
}

int64_t deadline_earliest(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int ms_until(int64_t deadline_ms)
{
	int64_t d;

	if (deadline_ms < 0)
		return -1;
	d = deadline_ms - now_ms();
	if (d < 0)
		return 0;
	if (d > INT32_MAX)
		return INT32_MAX;
	return (int)d;
}

int mkdir_p(const char *path, unsigned mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char sub[PATH_MAX];
	int r = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (path_join(sub, sizeof(sub), path, de->d_name) < 0) {
			r = -ENAMETOOLONG;
			continue;
		}
		if (rm_rf(sub) < 0)
			r = -errno;
	}
	closedir(d);
	if (rmdir(path) < 0)
		return -errno;
	return r;
}

int open_tmp_beside(const char *path, char *tmp, size_t tmpsz)
{
	static unsigned counter;
	int n, fd;

	for (int tries = 0; tries < 100; tries++) {
		n = snprintf(tmp, tmpsz, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
		if (n < 0 || (size_t)n >= tmpsz)
			return -ENAMETOOLONG;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int fd_write_all(int fd, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[PATH_MAX];
	int fd, r = 0;

	fd = open_tmp_beside(path, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	r = fd_write_all(fd, data, len);
	if (r < 0)
		goto out;
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		r = -errno;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		r = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (r < 0)
		unlink(tmp);
	return r;
}

bool exe_dir(char *out, size_t outsz)
{
	ssize_t n = outsz ? readlink("/proc/self/exe", out, outsz - 1) : -1;
	char *slash;

	if (n <= 0)
		return false;
	out[n] = '\0';
	slash = strrchr(out, '/');
	if (!slash)
		return false;
	*slash = '\0';
	return true;
}

const char *install_path(char *out, size_t outsz, const char *path)
{
	char exe[PATH_MAX];
	size_t le, lb = strlen(IT_BINDIR);
	int n;

	if (!exe_dir(exe, sizeof(exe)))
		return path;
	le = strlen(exe);
	if (le < lb || strcmp(exe + le - lb, IT_BINDIR) != 0)
		return path;
	n = snprintf(out, outsz, "%.*s%s", (int)(le - lb), exe, path);
	if (n < 0 || (size_t)n >= outsz)
		return path;
	return out;
}

int path_join(char *out, size_t outsz, const char *a, const char *b)
{
	size_t la = strlen(a);
	int n;

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	n = snprintf(out, outsz, "%.*s%s%s", (int)la, a, (la && a[la - 1] == '/') ? "" : "/", b);
	if (n < 0 || (size_t)n >= outsz)
		return -ENAMETOOLONG;
	return 0;
}

int hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void hex_encode(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The decimal number at the start of s (not empty); *end is what follows it. */
static bool scan_long(const char *s, long *v, char **end)
{
	if (!s || !*s)
		return false;
	errno = 0;
	*v = strtol(s, end, 10);
	return !errno && *end != s;
}

bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!scan_long(s, &v, &end) || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool parse_duration_ms(const char *s, int64_t *out)
{
	char *end;
	double v;
	double mult = 1000;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	/* '!(v >= 0)' also refuses NaN; infinities fail the range check below. */
	if (errno || end == s || !(v >= 0) || (s[0] < '0' || s[0] > '9'))
		return false;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		mult = 1000;
	else if (!strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mult = 60000;
	else if (!strcmp(end, "h"))
		mult = 3600000;
	else if (!strcmp(end, "d"))
		mult = 86400000;
	else
		return false;
	if (v * mult > 1e15)
		return false;
	*out = (int64_t)(v * mult + 0.5);
	return true;
}

bool parse_size_mib(const char *s, long *out)
{
	char *end;
	long v;

	if (!scan_long(s, &v, &end) || v <= 0)
		return false;
	if (!strcmp(end, "") || !strcmp(end, "M") || !strcmp(end, "MiB") || !strcmp(end, "m"))
		;
	else if (!strcmp(end, "G") || !strcmp(end, "GiB") || !strcmp(end, "g"))
		v *= 1024;
	else
		return false;
	*out = v;
	return true;
}

int64_t source_date_epoch(int64_t fallback)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	long v;

	if (!s || !*s)
		return fallback;
	if (!parse_long(s, 0, LONG_MAX, &v))
		return -1;
	return v;
}

void add_interrupt_signals(sigset_t *set)
{
	static const int sigs[] = {SIGINT, SIGTERM};
	struct sigaction sa;

	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		if (sigaction(sigs[i], NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			continue;
		sigaddset(set, sigs[i]);
	}
}

int take_pending_signals(const sigset_t *set)
{
	static const struct timespec now = {0, 0};
	int sig, first = 0;

	while ((sig = sigtimedwait(set, NULL, &now)) > 0)
		if (!first)
			first = sig;
	return first;
}
