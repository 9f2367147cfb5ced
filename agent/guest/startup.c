/* SPDX-License-Identifier: MIT */
/* The VM's first steps: /proc, /sys and /dev mounted, the virtio modules loaded. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/guest/guest.h"

#define PROC_SUPER_MAGIC 0x9fa0

/* Is 'dir' a mount point of /proc/mounts? */
static bool mounted(const char *dir)
{
	char line[1024];
	size_t dl = strlen(dir);
	bool found = false;
	FILE *f = fopen("/proc/mounts", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');

		found = sp && strncmp(sp + 1, dir, dl) == 0 && sp[1 + dl] == ' ';
	}
	fclose(f);
	return found;
}

static void mount_one(const char *src, const char *dir, const char *type, unsigned long flags,
		      const char *data)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, flags, data) < 0 && errno != EBUSY)
		glog("cannot mount %s on '%s': %s", type, dir, strerror(errno));
}

/*
 * Mounted the way OpenRC's procfs, sysfs and devfs services mount them, so
 * that those find them in place and go on: they mount only what is missing.
 * Done before --daemon forks, so init's next sysinit line never races us.
 */
void startup_mounts(void)
{
	struct statfs st;

	if (statfs("/proc", &st) < 0 || st.f_type != PROC_SUPER_MAGIC)
		mount_one("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	if (!mounted("/sys"))
		mount_one("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	if (!mounted("/dev"))
		mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755,size=10240k");
}

static void run_modprobe(const char *module)
{
	char a0[] = "modprobe", a1[] = "-q", e0[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	char *const argv[] = {a0, a1, (char *)module, NULL};
	char *const envp[] = {e0, NULL};
	int status;
	pid_t pid, r;

	if (access("/sbin/modprobe", X_OK) < 0)
		return;
	pid = fork();
	if (pid < 0) {
		glog("cannot fork for modprobe: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		execve("/sbin/modprobe", argv, envp);
		_exit(127);
	}
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	/* A module built into the kernel fails to load and is there all the same. */
}

void startup_modprobe(void)
{
	run_modprobe("virtio_pci");
	run_modprobe("virtio_console");
}
