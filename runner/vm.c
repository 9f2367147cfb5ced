// SPDX-License-Identifier: MIT
/* Start a VM on a pty, stop it (QMP, SIGTERM, SIGKILL) and reap it, whatever happened before. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "runner/internal.h"

#define RUNTIME_TEMPLATE "initrd-test-vm.XXXXXX"
#define QMP_SOCKET "qmp.sock"
#define TERM_WAIT_MS 1000
#define STOP_TICK_MS 10

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static struct vm *vm_new(void)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm->info.pid = -1;
	vm->info.first_output_ms = -1;
	vm->console_fd = -1;
	vm->stderr_fd = -1;
	vm->input_fd = -1;
	vm->agent_fd = -1;
	buf_init(&vm->outq, VM_WRITE_QUEUE_MAX);
	buf_init(&vm->agentq, VM_AGENT_QUEUE_MAX);
	buf_init(&vm->errtext, VM_STDERR_MAX);
	return vm;
}

/* A file we are about to hand to the VM must be a readable regular file. */
static int check_readable(const char *what, const char *path, struct it_error *err)
{
	struct stat st;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		it_error_set(err, r, "cannot read %s '%s': %s", what, path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		it_error_set(err, r, "cannot read %s '%s': %s", what, path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		r = it_error_set(err, -EINVAL, "cannot read %s '%s': not a regular file", what,
				 path);
	}
	close(fd);
	return r;
}

static bool is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* execvp's rule, done before forking so that a missing binary is a clear error. */
static int find_binary(const char *name, char **out)
{
	const char *path = getenv("PATH");
	char full[PATH_MAX];
	char dir[PATH_MAX];

	if (strchr(name, '/')) {
		if (!is_executable(name))
			return -IT_ENOTFOUND;
		*out = strdup(name);
		return *out ? 0 : -ENOMEM;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		size_t len = (size_t)(end - p);

		if (len < sizeof(dir)) {
			memcpy(dir, len ? p : ".", len ? len : 1);
			dir[len ? len : 1] = '\0';
			if (path_join(full, sizeof(full), dir, name) == 0 && is_executable(full)) {
				*out = strdup(full);
				return *out ? 0 : -ENOMEM;
			}
		}
		if (!*end)
			break;
		p = end;
	}
	return -IT_ENOTFOUND;
}

static int binary_not_found(const struct vm_config *c, const char *name, struct it_error *err)
{
	const struct vm_preset *p = vm_preset_of_binary(name);

	if (strchr(name, '/')) {
		it_error_set(err, -IT_ENOTFOUND, "'%s' not found or not executable", name);
		it_error_hint(err, "check the path of the %s binary", vm_backend_name(c->backend));
		return -IT_ENOTFOUND;
	}
	it_error_set(err, -IT_ENOTFOUND, "'%s' not found in PATH", name);
	if (c->backend == VM_BACKEND_CROSVM)
		it_error_hint(err, "install crosvm or use --backend qemu");
	else if (p)
		it_error_hint(err, "apt-get install %s", p->package);
	else
		it_error_hint(err, "install it or give the full path");
	return -IT_ENOTFOUND;
}

/*
 * A private directory for the QMP socket: $XDG_RUNTIME_DIR, else $TMPDIR,
 * else /tmp, the first where the socket path fits in sun_path.
 */
static int make_runtime_dir(struct vm *vm, struct it_error *err)
{
	const char *bases[] = {getenv("XDG_RUNTIME_DIR"), getenv("TMPDIR"), "/tmp"};
	struct sockaddr_un sa;
	char tmpl[PATH_MAX];
	char sock[PATH_MAX];
	int r = -ENAMETOOLONG;
	const char *tried = "/tmp";

	for (size_t i = 0; i < ARRAY_SIZE(bases); i++) {
		if (!bases[i] || !*bases[i])
			continue;
		tried = bases[i];
		if (path_join(tmpl, sizeof(tmpl), bases[i], RUNTIME_TEMPLATE) < 0)
			continue;
		/* mkdtemp keeps the length: check the socket path before creating anything. */
		if (path_join(sock, sizeof(sock), tmpl, QMP_SOCKET) < 0 ||
		    strlen(sock) >= sizeof(sa.sun_path))
			continue;
		if (!mkdtemp(tmpl)) {
			r = -errno;
			continue;
		}
		path_join(sock, sizeof(sock), tmpl, QMP_SOCKET);
		vm->runtime_dir = strdup(tmpl);
		vm->qmp_path = strdup(sock);
		if (!vm->runtime_dir || !vm->qmp_path) {
			rmdir(tmpl);
			return -ENOMEM;
		}
		vm->info.runtime_dir = vm->runtime_dir;
		return 0;
	}
	it_error_set(err, r, "cannot create a runtime directory in '%s': %s", tried,
		     it_strerror(r));
	it_error_hint(err, "set TMPDIR to a short, writable directory");
	return r;
}

/* A pty in raw mode: the slave for the VM, the master (non-blocking) for us. */
static int open_console(int *master, int *slave, struct it_error *err)
{
	struct termios t;
	char name[128];
	int r;

	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0)
		goto fail;
	if (grantpt(*master) < 0 || unlockpt(*master) < 0)
		goto fail;
	r = ptsname_r(*master, name, sizeof(name));
	if (r != 0) {
		errno = r;
		goto fail;
	}
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0)
		goto fail;
	if (tcgetattr(*slave, &t) < 0)
		goto fail;
	cfmakeraw(&t);
	/*
	 * cfmakeraw only clears OPOST, and qemu's stdio chardev sets OPOST again:
	 * with ONLCR left on, every "\r\n" from the guest would reach us as
	 * "\r\r\n". No output flag at all means no translation either way.
	 */
	t.c_oflag = 0;
	if (tcsetattr(*slave, TCSANOW, &t) < 0)
		goto fail;
	if (fcntl(*master, F_SETFL, O_RDWR | O_NONBLOCK) < 0)
		goto fail;
	return 0;
fail:
	r = -errno;
	close_fd(master);
	close_fd(slave);
	return it_error_set(err, r, "cannot open a pty for the VM console: %s", strerror(-r));
}

/* In the child: put fd on target, CLOEXEC off. Only async-signal-safe calls. */
static void child_move_fd(int fd, int target)
{
	if (fd == target) {
		fcntl(fd, F_SETFD, 0);
		return;
	}
	dup2(fd, target);
}

static void child_exec(const char *path, char *const argv[], int slave, int errw, int agent,
		       int execw, pid_t parent)
{
	static const int reset[] = {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGHUP, SIGQUIT};
	struct sigaction sa;
	sigset_t none;
	int e;

	/* Its own session and process group: we signal the group, a ^C on our tty does not. */
	setsid();
	/* Die with us, whatever kills us; and we may already be gone. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(reset); i++)
		sigaction(reset[i], &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Move the fds above VM_AGENT_FD first, so that none is overwritten by another. */
	slave = fcntl(slave, F_DUPFD_CLOEXEC, 10);
	errw = fcntl(errw, F_DUPFD_CLOEXEC, 10);
	bool want_agent = agent >= 0;

	if (want_agent)
		agent = fcntl(agent, F_DUPFD_CLOEXEC, 10);
	if (slave < 0 || errw < 0 || (want_agent && agent < 0))
		goto fail;
	child_move_fd(slave, STDIN_FILENO);
	child_move_fd(slave, STDOUT_FILENO);
	child_move_fd(errw, STDERR_FILENO);
	if (agent >= 0)
		child_move_fd(agent, VM_AGENT_FD);
	execv(path, argv);
fail:
	e = errno;
	if (write(execw, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

static void log_command(const struct strlist *argv)
{
	struct buf b;

	if (log_verbosity < LOG_DEBUG)
		return;
	buf_init(&b, 64 * 1024);
	for (size_t i = 0; i < argv->n; i++)
		buf_addf(&b, i ? " '%s'" : "%s", argv->v[i]);
	log_debug("starting %s", b.data);
	buf_release(&b);
}

/* Fork and exec; on return the child runs argv (or we know why it could not). */
static int spawn(struct vm *vm, const struct strlist *argv, int slave, int agent,
		 struct it_error *err)
{
	int errp[2] = {-1, -1}, execp[2] = {-1, -1};
	pid_t parent = getpid();
	ssize_t n;
	int e = 0, r = 0;

	if (pipe2(errp, O_CLOEXEC) < 0 || pipe2(execp, O_CLOEXEC) < 0) {
		r = -errno;
		it_error_set(err, r, "cannot create a pipe for the VM: %s", strerror(errno));
		goto out;
	}
	if (fcntl(errp[0], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		it_error_set(err, r, "cannot set up the VM's stderr pipe: %s", strerror(errno));
		goto out;
	}
	log_command(argv);
	vm->info.start_ms = now_ms();
	vm->info.pid = fork();
	if (vm->info.pid < 0) {
		r = -errno;
		it_error_set(err, r, "cannot start '%s': fork: %s", vm->name, strerror(errno));
		goto out;
	}
	if (vm->info.pid == 0)
		child_exec(vm->binary_path, argv->v, slave, errp[1], agent, execp[1], parent);

	close_fd(&errp[1]);
	close_fd(&execp[1]);
	vm->stderr_fd = errp[0];
	errp[0] = -1;
	/* End of file: exec succeeded (the pipe was close-on-exec); else the child's errno. */
	do {
		n = read(execp[0], &e, sizeof(e));
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(e)) {
		vmi_reap(vm, 0);
		r = it_error_set(err, -IT_EVM, "cannot execute '%s': %s", vm->binary_path,
				 strerror(e));
	}
out:
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&execp[0]);
	close_fd(&execp[1]);
	return r;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static const char *binary_name(const struct vm_config *c)
{
	if (c->binary && *c->binary)
		return c->binary;
	return c->backend == VM_BACKEND_CROSVM ? VM_CROSVM_BINARY : vm_preset(c->arch)->binary;
}

int vm_find_binary(const struct vm_config *c, char **out, struct it_error *err)
{
	const char *name = binary_name(c);
	int r = find_binary(name, out);

	if (r == -IT_ENOTFOUND)
		return binary_not_found(c, name, err);
	if (r < 0)
		return it_error_set(err, r, "cannot find '%s': %s", name, it_strerror(r));
	return 0;
}

/* Everything that can be checked before anything is created. */
static int preflight(struct vm *vm, const struct vm_config *c, struct it_error *err)
{
	const char *name = binary_name(c);
	int r;

	if (!c->kernel || !c->initrd)
		return it_error_set(err, -IT_EUSAGE, "no %s given for the VM",
				    c->kernel ? "initrd" : "kernel");
	r = check_readable("kernel", c->kernel, err);
	if (r == 0)
		r = check_readable("initrd", c->initrd, err);
	if (r == 0)
		r = vm_accel_resolve(c->accel, NULL, &vm->info.accel, vm->info.accel_desc,
				     sizeof(vm->info.accel_desc), err);
	if (r < 0)
		return r;
	vm->name = strdup(basename_of(name));
	if (!vm->name)
		return it_error_set(err, -ENOMEM, "cannot start the VM: %s", strerror(ENOMEM));
	r = find_binary(name, &vm->binary_path);
	if (r == -IT_ENOTFOUND)
		return binary_not_found(c, name, err);
	if (r < 0)
		return it_error_set(err, r, "cannot start '%s': %s", name, it_strerror(r));
	vm->info.binary = vm->binary_path;
	if (vm->info.accel == VM_ACCEL_KVM && access("/dev/kvm", R_OK | W_OK) < 0) {
		r = it_error_set(err, -IT_EVM, "cannot use kvm: cannot open '/dev/kvm': %s",
				 strerror(errno));
		it_error_hint(err, "set %s=tcg to run without kvm", VM_ACCEL_ENV);
		return r;
	}
	return 0;
}

/* The agent channel: a socketpair, our end non-blocking in vm, qemu's end in *theirs. */
static int open_agent(struct vm *vm, int *theirs, struct it_error *err)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return it_error_set(err, -errno, "cannot make the agent channel: %s",
				    strerror(errno));
	if (fcntl(sv[0], F_SETFL, O_RDWR | O_NONBLOCK) < 0) {
		int r = -errno;

		close(sv[0]);
		close(sv[1]);
		return it_error_set(err, r, "cannot make the agent channel: %s", strerror(-r));
	}
	vm->agent_fd = sv[0];
	*theirs = sv[1];
	return 0;
}

int vm_start(const struct vm_config *c, struct vm **out, struct it_error *err)
{
	struct strlist argv = STRLIST_INIT;
	struct vm *vm = NULL;
	int slave = -1, agent = -1, r;

	*out = NULL;
	vm = vm_new();
	if (!vm)
		return it_error_set(err, -ENOMEM, "cannot start the VM: %s", strerror(ENOMEM));
	vm->backend = c->backend;
	r = preflight(vm, c, err);
	if (r == 0 && c->backend == VM_BACKEND_QEMU)
		r = make_runtime_dir(vm, err);
	if (r == 0)
		r = vm_build_argv(c, vm->info.accel, vm->qmp_path, &argv, err);
	if (r == 0)
		r = open_console(&vm->console_fd, &slave, err);
	if (r == 0 && c->agent != VM_AGENT_NONE)
		r = open_agent(vm, &agent, err);
	if (r == 0)
		r = spawn(vm, &argv, slave, agent, err);
	if (r < 0)
		goto out;
	*out = vm;
	vm = NULL;
out:
	close_fd(&slave);
	close_fd(&agent);
	strlist_clear(&argv);
	vm_free(vm);
	return r;
}

int vmi_reap(struct vm *vm, int flags)
{
	siginfo_t si;
	int status = 0;
	pid_t p;

	if (vm->info.exited || vm->info.pid <= 0)
		return 1;
	/* Look first without reaping (WNOWAIT): */
	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, (id_t)vm->info.pid, &si, WEXITED | WNOWAIT | flags) < 0) {
		if (errno == EINTR)
			continue;
		/* ECHILD: someone else reaped it (SIGCHLD ignored by the caller?): status unknown.
		 */
		vm->info.exited = true;
		vm->info.wait_status = -1;
		return 1;
	}
	if (si.si_pid == 0)
		return 0;
	/*
	 * It is a zombie now, so its pid, and the id of its process group,
	 * cannot be reused yet: whatever it left in its group goes too.
	 */
	kill(-vm->info.pid, SIGKILL);
	do {
		p = waitpid(vm->info.pid, &status, 0);
	} while (p < 0 && errno == EINTR);
	vm->info.exited = true;
	vm->info.wait_status = p < 0 ? -1 : status;
	return 1;
}

/* Wait until the VM is reaped or deadline_ms passes, draining its outputs. */
static bool wait_exit(struct vm *vm, int64_t deadline_ms)
{
	struct pollfd p[2];
	int tick;

	for (;;) {
		if (vmi_reap(vm, WNOHANG))
			return true;
		if (now_ms() >= deadline_ms)
			return false;
		p[0] =
		    (struct pollfd){.fd = vm->console_eof ? -1 : vm->console_fd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = vm->stderr_fd, .events = POLLIN};
		tick = ms_until(deadline_ms);
		if (tick > STOP_TICK_MS)
			tick = STOP_TICK_MS;
		if (poll(p, 2, tick) > 0) {
			vmi_pump_console(vm, NULL, NULL);
			vmi_pump_stderr(vm);
		}
	}
}

int vm_stop(struct vm *vm, int grace_ms, struct it_error *err)
{
	pid_t pid;

	(void)err;
	if (!vm || vm->info.pid <= 0)
		return 0;
	pid = vm->info.pid;
	if (vmi_reap(vm, WNOHANG))
		goto reaped;
	if (grace_ms > 0 && vm->qmp_path) {
		int64_t deadline = now_ms() + grace_ms;

		if (vmi_qmp_quit(vm->qmp_path, deadline) == 0 && wait_exit(vm, deadline)) {
			vm->info.stopped_by = VM_STOP_QMP;
			goto reaped;
		}
	}
	if (grace_ms > 0) {
		int wait = vm->qmp_path ? TERM_WAIT_MS : grace_ms;

		kill(-pid, SIGTERM);
		if (wait_exit(vm, now_ms() + wait)) {
			vm->info.stopped_by = VM_STOP_TERM;
			goto reaped;
		}
	}
	kill(-pid, SIGKILL);
	vmi_reap(vm, 0);
	vm->info.stopped_by = VM_STOP_KILL;
reaped:
	vmi_pump_console(vm, NULL, NULL);
	vmi_pump_stderr(vm);
	vmi_hub_retire(vm, vm->info.hub_poweroff ? "powered off" : "the VM was stopped");
	return 0;
}

void vm_free(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->info.pid > 0)
		vm_stop(vm, 0, NULL);
	vmi_hub_free(vm);
	close_fd(&vm->console_fd);
	close_fd(&vm->stderr_fd);
	close_fd(&vm->agent_fd);
	buf_release(&vm->agentq);
	if (vm->runtime_dir)
		rm_rf(vm->runtime_dir);
	buf_release(&vm->outq);
	buf_release(&vm->errtext);
	free(vm->binary_path);
	free(vm->name);
	free(vm->runtime_dir);
	free(vm->qmp_path);
	free(vm);
}

const struct vm_info *vm_info(const struct vm *vm)
{
	return &vm->info;
}

const char *vm_stderr(const struct vm *vm)
{
	return vm->errtext.data;
}

const char *vm_describe_exit(const struct vm *vm, char *buf, size_t bufsz)
{
	int st = vm->info.wait_status;

	if (!vm->info.exited)
		snprintf(buf, bufsz, "is running");
	else if (st == -1)
		snprintf(buf, bufsz, "exited (status unknown: reaped elsewhere)");
	else if (WIFEXITED(st))
		snprintf(buf, bufsz, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, bufsz, "was killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(buf, bufsz, "ended with wait status %#x", (unsigned)st);
	return buf;
}
