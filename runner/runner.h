/* SPDX-License-Identifier: MIT */
/*
 * Public interface of the runner: start a VM (qemu, or crosvm) with its
 * serial console on a pty, and drive one poll() loop that never stops
 * draining that console. The runner knows nothing of APK or of scenarios:
 * it is handed a kernel, an initrd and settings, and reports console bytes
 * to a callback.
 */
#ifndef IT_RUNNER_H
#define IT_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/strlist.h"

enum vm_backend { VM_BACKEND_QEMU = 0, VM_BACKEND_CROSVM };
enum vm_accel { VM_ACCEL_AUTO = 0, VM_ACCEL_TCG, VM_ACCEL_KVM };

struct vm_config {
	enum vm_backend backend;
	enum vm_accel accel; /* AUTO: KVM when /dev/kvm is usable; INITRD_TEST_ACCEL overrides */
	char *binary;	     /* NULL: qemu-system-x86_64 / crosvm from PATH */
	char *kernel;	     /* bzImage path */
	char *initrd;	     /* initrd path */
	char *append;	     /* extra kernel command line, after "console=ttyS0" */
	long memory_mib;     /* 0: 512 */
	long cpus;	     /* 0: 1 */
	char *machine;	     /* "pc" (default), "q35", "microvm" */
	char *nic_model;     /* "e1000" (default); "none" for no NIC */
	bool nic_restrict;   /* restrict=on: nothing leaves qemu (default true) */
	struct strlist extra_args; /* appended to the backend's command line */
};

void vm_config_init(struct vm_config *c);
void vm_config_release(struct vm_config *c);

#define VM_DEFAULT_MEMORY_MIB 512
#define VM_DEFAULT_CPUS 1
#define VM_QEMU_BINARY "qemu-system-x86_64"
#define VM_CROSVM_BINARY "crosvm"
/* The environment variable that overrides vm_config.accel: "tcg", "kvm" or "auto". */
#define VM_ACCEL_ENV "INITRD_TEST_ACCEL"
/* At most this many bytes typed with vm_write() wait in the queue. */
#define VM_WRITE_QUEUE_MAX (1024 * 1024)
/* The first bytes of the backend's stderr kept for error messages and vm_stderr(). */
#define VM_STDERR_MAX (16 * 1024)

/* "auto", "tcg", "kvm" / "qemu", "crosvm"; -IT_EUSAGE (with text in err) for anything else. */
int vm_accel_parse(const char *s, enum vm_accel *out, struct it_error *err);
const char *vm_accel_name(enum vm_accel a);
int vm_backend_parse(const char *s, enum vm_backend *out, struct it_error *err);
const char *vm_backend_name(enum vm_backend b);

/*
 * Decide the accelerator: INITRD_TEST_ACCEL (when set and not empty) wins
 * over 'configured'; AUTO becomes KVM when 'kvm_dev' (NULL: "/dev/kvm") can
 * be opened read-write, else TCG. *out is then TCG or KVM, and desc (if not
 * NULL) says why: "kvm (auto: /dev/kvm usable)", "tcg (INITRD_TEST_ACCEL)",
 * "tcg (auto: cannot open '/dev/kvm': No such file or directory)",
 * "tcg (configured)". An explicit KVM is not checked here (vm_start() does).
 * -IT_EUSAGE when INITRD_TEST_ACCEL holds something else.
 */
int vm_accel_resolve(enum vm_accel configured, const char *kvm_dev, enum vm_accel *out, char *desc,
		     size_t descsz, struct it_error *err);

/*
 * Build the backend's command line into argv (which must be empty; argv->v
 * is then ready for execv, argv->v[0] being the binary as configured). A
 * pure function: it reads neither the environment nor the file system.
 * 'accel' must be resolved (TCG or KVM). 'qmp_path' is the QMP socket for
 * qemu (NULL: no QMP); crosvm ignores it. On error argv is left empty and
 * -IT_EUSAGE explains the bad setting.
 *
 * qemu: -machine pc|q35|microvm, -accel tcg | -accel kvm -cpu host, -m, -smp,
 * -kernel, -initrd, -append "console=ttyS0 [reboot=t on microvm] <append>",
 * -nic user,model=M[,restrict=on] | -nic none (microvm, which has no PCI:
 * -netdev user + a virtio-net-device, whatever the model, unless "none"),
 * -display none, -no-reboot, the serial port on qemu's stdio (which is the
 * pty slave), -monitor none, -qmp, then extra_args. microvm also gets
 * -nodefaults -no-user-config.
 *
 * crosvm (KVM only; it has no user-mode network, so no NIC is given):
 * crosvm run --mem N --cpus N --serial type=file,...,path=/proc/self/fd/1,
 * input=/proc/self/fd/0 -i INITRD -p "console=ttyS0 <append>" <extra_args> KERNEL
 */
int vm_build_argv(const struct vm_config *c, enum vm_accel accel, const char *qmp_path,
		  struct strlist *argv, struct it_error *err);

/* A running (or finished) VM. Opaque; one owner, who must vm_free() it. */
struct vm;

/* How the VM process ended, when we ended it. */
enum vm_stop_how {
	VM_STOP_NONE = 0, /* still running, or it exited by itself */
	VM_STOP_QMP,	  /* quit through QMP */
	VM_STOP_TERM,	  /* SIGTERM to its process group */
	VM_STOP_KILL,	  /* SIGKILL to its process group */
};

struct vm_info {
	pid_t pid;		 /* the backend's pid (and process group); kept after reaping */
	enum vm_accel accel;	 /* resolved: VM_ACCEL_TCG or VM_ACCEL_KVM */
	char accel_desc[160];	 /* "tcg (INITRD_TEST_ACCEL)", see vm_accel_resolve() */
	const char *binary;	 /* the executable that was run (resolved path) */
	const char *runtime_dir; /* private directory holding the QMP socket */
	int64_t start_ms;	 /* CLOCK_MONOTONIC ms just before the fork */
	int64_t first_output_ms; /* ms from start_ms to the first console byte; -1: none yet */
	uint64_t console_bytes;	 /* console bytes read so far */
	bool exited;		 /* the process has been reaped */
	int wait_status;	 /* its waitpid() status, when exited */
	enum vm_stop_how stopped_by;
	int signal; /* SIGINT/SIGTERM that ended vm_run(), 0 if none */
};

/*
 * Start the VM described by c: check that kernel and initrd can be read,
 * resolve the accelerator, find the binary (-IT_ENOTFOUND "'qemu-system-x86_64'
 * not found in PATH" with an install hint), make a private runtime directory
 * for the QMP socket, open a pty, fork and exec. The child gets its own
 * session and process group, SIGKILL as its parent-death signal, the pty
 * slave (raw mode) as stdin and stdout and a pipe as stderr. On success *out
 * is a new VM the caller owns; on failure *out is NULL and nothing is left
 * running or on disk. The parent-death signal fires when the calling
 * *thread* ends: start VMs from the thread that outlives them.
 */
int vm_start(const struct vm_config *c, struct vm **out, struct it_error *err);

/*
 * The callbacks of vm_run(). ctx is handed back untouched. A callback returns
 * 0 to go on, 1 to stop the loop (success), or a negative code that ends the
 * loop and becomes vm_run()'s result. Callbacks may call vm_write() and
 * vm_info(), not vm_stop() or vm_free().
 */
struct vm_ops {
	/* Every console chunk, as read (raw bytes, not NUL-terminated); NULL: discard. */
	int (*on_output)(void *ctx, const char *buf, size_t len, int64_t now_ms);
	/* The next absolute deadline (CLOCK_MONOTONIC ms), or -1 for none; asked after every
	 * wakeup. */
	int64_t (*deadline)(void *ctx);
	/* Called when that deadline has passed; NULL means -IT_ETIMEOUT. */
	int (*on_timer)(void *ctx, int64_t now_ms);
};

enum vm_run_result {
	VM_RUN_STOPPED = 1, /* a callback returned 1 */
	VM_RUN_EXITED =
	    2, /* the VM exited with status 0 (guest powered off or rebooted), or was stopped */
};

/*
 * Run the loop until a callback stops it, the VM exits, or SIGINT/SIGTERM
 * arrives. While it runs SIGINT, SIGTERM and SIGCHLD are blocked and read
 * from a signalfd; the previous mask is restored on return. Returns
 * VM_RUN_STOPPED, VM_RUN_EXITED, a callback's negative code,
 * -IT_EINTERRUPTED (info->signal says which), or -IT_EVM when the VM exits
 * with a non-zero status or is killed by a signal ("'qemu-system-x86_64'
 * exited with status 1: <its stderr>"). It may be called again after it
 * returned, for example once per step; the VM keeps running in between and
 * its console is not drained then, so do not wait long.
 */
int vm_run(struct vm *vm, const struct vm_ops *ops, void *ctx, struct it_error *err);

/*
 * Queue bytes to type on the console; vm_run() writes them when the pty
 * takes them, never blocking. Callable from the callbacks. -IT_ELIMIT when
 * the queue would exceed VM_WRITE_QUEUE_MAX (nothing is queued then),
 * -EPIPE when the console is closed.
 */
int vm_write(struct vm *vm, const void *buf, size_t len);

/*
 * An optional input fd (borrowed; -1 to remove): vm_run() also polls it and
 * types what it reads, for interactive use. At its end of file it is no
 * longer polled.
 */
void vm_set_input(struct vm *vm, int fd);

/*
 * Power the VM off: QMP "quit" (qemu) and up to grace_ms for it to exit,
 * then SIGTERM to its process group and up to one more second (crosvm, which
 * has no QMP here: SIGTERM and up to grace_ms), then SIGKILL; the process is
 * reaped and anything left in its process group is killed. The console is
 * drained (and discarded) meanwhile. grace_ms 0 goes straight to SIGKILL.
 * info->stopped_by says which step worked. Returns 0 once reaped, also when
 * it had already exited.
 */
int vm_stop(struct vm *vm, int grace_ms, struct it_error *err);

/* Kill (SIGKILL) and reap the VM if it still runs, remove its runtime directory, free it. NULL is
 * fine. */
void vm_free(struct vm *vm);

/* Borrowed; valid until vm_free(). */
const struct vm_info *vm_info(const struct vm *vm);
/* What the backend wrote on stderr so far (the first VM_STDERR_MAX bytes), NUL-terminated. */
const char *vm_stderr(const struct vm *vm);
/*
 * "exited with status 1", "was killed by signal 9 (Killed)", "is running";
 * into buf (always NUL-terminated). Returns buf.
 */
const char *vm_describe_exit(const struct vm *vm, char *buf, size_t bufsz);

#endif
