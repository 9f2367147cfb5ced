/* SPDX-License-Identifier: MIT */
/* Finding the channel: the virtio port by its name, or a serial line in raw mode, and reopening it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent/guest/guest.h"

#define PORTS_DIR "/sys/class/virtio-ports"

/* The first line of a small file, without its newline; false when it cannot be read. */
static bool read_line(const char *path, char *out, size_t outsz)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, out, outsz - 1);
	close(fd);
	if (n < 0)
		return false;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return true;
}

/* /dev/vportNpM for the port named 'name', made with mknod from its 'dev' when missing. */
static bool find_virtio_port(const char *name, char *dev, size_t devsz)
{
	char path[512], val[256];
	struct dirent *e;
	bool found = false;
	DIR *d = opendir(PORTS_DIR);

	if (!d)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		unsigned maj, min;

		if (e->d_name[0] == '.' || strlen(e->d_name) > 64)
			continue;
		snprintf(path, sizeof(path), PORTS_DIR "/%s/name", e->d_name);
		if (!read_line(path, val, sizeof(val)) || strcmp(val, name) != 0)
			continue;
		snprintf(dev, devsz, "/dev/%.64s", e->d_name);
		found = true;
		if (access(dev, F_OK) == 0)
			continue;
		snprintf(path, sizeof(path), PORTS_DIR "/%s/dev", e->d_name);
		if (!read_line(path, val, sizeof(val)) || sscanf(val, "%u:%u", &maj, &min) != 2) {
			glog("cannot read '%s'", path);
			found = false;
			continue;
		}
		if (mknod(dev, S_IFCHR | 0600, makedev(maj, min)) < 0 && errno != EEXIST) {
			glog("cannot create '%s': %s", dev, strerror(errno));
			found = false;
		}
	}
	closedir(d);
	return found;
}

/* "initrd_test.agent=ttyS1" on the kernel command line: the serial device to use instead. */
static bool cmdline_tty(char *tty, size_t ttysz)
{
	static const char key[] = "initrd_test.agent=";
	char line[4096];
	char *p;

	if (!read_line("/proc/cmdline", line, sizeof(line)))
		return false;
	for (p = strstr(line, key); p; p = strstr(p + 1, key)) {
		if (p != line && p[-1] != ' ')
			continue;
		p += sizeof(key) - 1;
		p[strcspn(p, " ")] = '\0';
		if (strcmp(p, "virtio") == 0 || *p == '\0' || strchr(p, '/'))
			return false;
		snprintf(tty, ttysz, "/dev/%s", p);
		return true;
	}
	return false;
}

static int raw_mode(int fd)
{
	struct termios t;

	if (tcgetattr(fd, &t) < 0)
		return -errno;
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	cfsetispeed(&t, B115200);
	cfsetospeed(&t, B115200);
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		return -errno;
	return 0;
}

static int open_path(struct guest *g)
{
	bool tty = strncmp(g->port_path, "/dev/tty", 8) == 0;
	int fd = open(g->port_path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return -errno;
	if (tty && raw_mode(fd) < 0)
		glog("cannot set '%s' to raw mode: %s", g->port_path, strerror(errno));
	g->port_fd = fd;
	snprintf(g->transport, sizeof(g->transport), "%s", g->port_path);
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

/*
 * Open the channel: 'tty' when given (or on the kernel command line), else
 * the virtio port 'name', waiting up to wait_ms for it to appear; without
 * it, /dev/ttyS1. 0 or -errno (logged).
 */
int port_open(struct guest *g, const char *name, const char *tty, int wait_ms)
{
	char dev[sizeof(g->port_path)];
	int r;

	if (tty)
		snprintf(dev, sizeof(dev), "%s", tty);
	else if (!cmdline_tty(dev, sizeof(dev))) {
		int waited = 0;

		while (!find_virtio_port(name, dev, sizeof(dev))) {
			if (waited >= wait_ms) {
				glog("no virtio port named '%s' after %d ms; using /dev/ttyS1",
				     name, waited);
				snprintf(dev, sizeof(dev), "/dev/ttyS1");
				break;
			}
			sleep_ms(100);
			waited += 100;
		}
	}
	snprintf(g->port_path, sizeof(g->port_path), "%s", dev);
	r = open_path(g);
	if (r < 0)
		glog("cannot open '%s': %s", dev, strerror(-r));
	return r;
}

/*
 * After an end of file or an error: close, open again, and tell whether the
 * host is there (a virtio port whose host side is closed polls POLLHUP).
 * 1 connected, 0 not yet (try again later), -errno.
 */
int port_reopen(struct guest *g)
{
	struct pollfd p;
	int r;

	if (g->port_fd >= 0)
		close(g->port_fd);
	g->port_fd = -1;
	r = open_path(g);
	if (r < 0)
		return r;
	p.fd = g->port_fd;
	p.events = POLLOUT;
	p.revents = 0;
	if (poll(&p, 1, 0) < 0)
		return -errno;
	return (p.revents & (POLLHUP | POLLERR)) ? 0 : 1;
}
