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

#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"

enum vm_backend { VM_BACKEND_QEMU = 0, VM_BACKEND_CROSVM };
/*
 * The guest agent's channel (docs/agent-protocol.md): none, a virtio
 * console port named VM_AGENT_PORT, or a second serial port (ttyS1) for a
 * guest without virtio console. Either way qemu gets one end of a
 * socketpair as fd VM_AGENT_FD; vm_run() serves the other.
 */
enum vm_agent { VM_AGENT_NONE = 0, VM_AGENT_VIRTIO, VM_AGENT_SERIAL };
enum vm_accel { VM_ACCEL_AUTO = 0, VM_ACCEL_TCG, VM_ACCEL_KVM };
/* The guest's architecture; the command layer sets it from the kernel image (common/kimage.h). */
enum vm_arch { VM_ARCH_X86_64 = 0, VM_ARCH_AARCH64 };

/*
 * What follows from the guest's arch (runner/preset.c): the qemu binary, the
 * default machine, the CPU under TCG (NULL: qemu's default), the kernel's
 * console and the default NIC. vm_config's binary, machine, console and
 * nic_model override each; vm_build_argv() uses the preset of config.arch.
 * package is the Debian package with the binary, for the hint when it is missing.
 *   x86_64:  qemu-system-x86_64  -machine pc    (qemu's CPU)     console=ttyS0    e1000
 *   aarch64: qemu-system-aarch64 -machine virt  -cpu cortex-a57  console=ttyAMA0  e1000
 */
struct vm_preset {
	const char *arch;
	const char *binary;
	const char *machine;
	const char *tcg_cpu;
	const char *console;
	const char *nic;
	const char *package;
};
const struct vm_preset *vm_preset(enum vm_arch a);
/* The preset whose qemu binary is named binary, or NULL. */
const struct vm_preset *vm_preset_of_binary(const char *binary);
/* "x86_64", "aarch64". */
const char *vm_arch_name(enum vm_arch a);
/* "x86_64" / "aarch64"; -IT_EUSAGE (text in err) for anything else. */
int vm_arch_parse(const char *s, enum vm_arch *out, struct it_error *err);

/*
 * Timeouts that know the emulator: budgets and step timeouts are written as
 * for KVM on an x86_64 host and multiplied by vm_timeout_factor() of the
 * resolved accelerator and the guest's arch (1 for KVM; TCG x86_64
 * VM_TCG_FACTOR; TCG aarch64 VM_TCG_FACTOR * VM_AARCH64_TCG_RATIO, the
 * ratio measured here by bench/arch.sh: docs/architectures.md).
 * VM_TIMEOUT_FACTOR_ENV overrides it: vm_timeout_factor_env() returns 1
 * and sets *out when it is set, 0 when not, -IT_EUSAGE when it is no
 * number from 0.1 to 100.
 */
#define VM_TCG_FACTOR 3.0
#define VM_AARCH64_TCG_RATIO 1.0
#define VM_TIMEOUT_FACTOR_ENV "INITRD_TEST_TIMEOUT_FACTOR"
double vm_timeout_factor(enum vm_accel accel, enum vm_arch arch);
int vm_timeout_factor_env(double *out, struct it_error *err);

struct vm_config {
	enum vm_backend backend;
	enum vm_accel accel; /* AUTO: KVM when /dev/kvm is usable; INITRD_TEST_ACCEL overrides */
	enum vm_arch arch;   /* the preset: x86_64 (default) or aarch64 */
	char *binary;	     /* NULL: the preset's qemu (qemu-system-x86_64) / crosvm from PATH */
	char *kernel;	     /* bzImage or arm64 Image path */
	char *initrd;	     /* initrd path */
	char *console;	     /* NULL: the preset's (ttyS0, ttyAMA0): "console=TTY" */
	char *append;	     /* extra kernel command line, after "console=TTY" */
	long memory_mib;     /* 0: 512 */
	long cpus;	     /* 0: 1 */
	char *machine;	 /* NULL: the preset's; "pc", "q35", "microvm" (x86_64), "virt" (aarch64) */
	char *nic_model; /* NULL: the preset's (e1000); "none" for no NIC */
	bool nic_restrict;	   /* restrict=on: nothing leaves qemu (default true) */
	struct strlist extra_args; /* appended to the backend's command line */
	enum vm_agent agent;	   /* the agent channel; qemu only */
	bool incoming;		   /* qemu waits for vm_restore() ('-incoming defer'); qemu only */
};

void vm_config_init(struct vm_config *c);
void vm_config_release(struct vm_config *c);

#define VM_DEFAULT_MEMORY_MIB 512
#define VM_DEFAULT_CPUS 1
#define VM_QEMU_BINARY "qemu-system-x86_64"
#define VM_CROSVM_BINARY "crosvm"
/* The environment variable that overrides vm_config.accel: "tcg", "kvm" or "auto". */
#define VM_ACCEL_ENV "INITRD_TEST_ACCEL"
/* The fd the agent channel's socket has in qemu ("-chardev socket,fd=3"). */
#define VM_AGENT_FD 3
/* The virtio port's name; the guest agent looks for it (agent/proto.h: AGENT_PORT_NAME). */
#define VM_AGENT_PORT "org.initrd-test.agent"
/* At most this many bytes written with vm_agent_write() wait in the queue. */
#define VM_AGENT_QUEUE_MAX (4 * 1024 * 1024)
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
 * qemu (the binary, machine, TCG CPU, console and NIC default to config.arch's
 * preset, above): -machine pc|q35|microvm (x86_64) | virt (aarch64), -accel tcg
 * [-cpu PRESET] | -accel kvm -cpu host, -m, -smp,
 * -kernel, -initrd, -append "console=TTY [reboot=t on microvm] <append>",
 * -nic user,model=M[,restrict=on] | -nic none (microvm, which has no PCI:
 * -netdev user + a virtio-net-device, whatever the model, unless "none"),
 * -display none, -no-reboot, the serial port on qemu's stdio (which is the
 * pty slave), -monitor none, -qmp, the agent channel (VIRTIO: -device
 * virtio-serial-pci (virtio-serial-device on microvm), -chardev
 * socket,id=agent,fd=3, -device virtserialport named VM_AGENT_PORT;
 * SERIAL: the same chardev as a second -serial, and
 * "initrd_test.agent=ttyS1" on the kernel command line), -incoming defer
 * when incoming is set, then extra_args.
 * microvm also gets -nodefaults -no-user-config.
 *
 * crosvm (KVM only; it has no user-mode network, so no NIC is given):
 * crosvm run --mem N --cpus N --serial type=file,...,path=/proc/self/fd/1,
 * input=/proc/self/fd/0 -i INITRD -p "console=ttyS0 <append>" <extra_args> KERNEL;
 * crosvm gets no agent channel (-IT_EUSAGE when one is asked for).
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
	int signal;	   /* SIGINT/SIGTERM that ended vm_run(), 0 if none */
	bool hub_poweroff; /* a console client's power-off request ended vm_run() */
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
	/*
	 * The agent channel: the guest's bytes as read; buf NULL and len 0 once
	 * the channel has closed. NULL: the bytes are discarded.
	 */
	int (*on_agent)(void *ctx, const char *buf, size_t len, int64_t now_ms);
	/*
	 * After each wakeup's work, a timer's (on_timer()) included: a moment
	 * to queue more (vm_agent_room(), vm_hub_agent_room() say how much
	 * fits) and to pause or resume the agent channel. NULL: none.
	 */
	int (*on_wakeup)(void *ctx, int64_t now_ms);
	/*
	 * A console client's agent bytes (hub frame AGENT), from the client
	 * 'client' (a number never reused by this hub); buf NULL and len 0 when
	 * that client has left. NULL: the hub answers such clients BYE "no agent
	 * here".
	 */
	int (*on_hub_agent)(void *ctx, unsigned client, const char *buf, size_t len);
};

enum vm_run_result {
	VM_RUN_STOPPED = 1, /* a callback returned 1 */
	VM_RUN_EXITED =
	    2, /* the VM exited with status 0 (guest powered off or rebooted), or was stopped */
};

/*
 * Run the loop until a callback stops it, the VM exits, SIGINT/SIGTERM
 * arrives, or a console client asks for a power-off (see vm_hub_enable()).
 * While it runs SIGINT, SIGTERM and SIGCHLD are blocked and read from a
 * signalfd (a signal the caller ignores, SIG_IGN, is left alone); the
 * previous mask is restored on return. Returns
 * VM_RUN_STOPPED, VM_RUN_EXITED, a callback's negative code,
 * -IT_EINTERRUPTED (info->signal says which signal; or info->hub_poweroff
 * is set: a client asked, and the VM has already been stopped with QMP as
 * by vm_stop()), or -IT_EVM when the VM exits with a non-zero status or is
 * killed by a signal ("'qemu-system-x86_64' exited with status 1: <its
 * stderr>"). It may be called again after it returned, for example once
 * per step; the VM keeps running in between and its console is not drained
 * then (nor are console clients served), so do not wait long.
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
 * Queue bytes for the guest agent (vm_config.agent); vm_run() writes them as
 * the channel takes them. -IT_ELIMIT when they do not fit in
 * VM_AGENT_QUEUE_MAX (nothing is queued), -EPIPE when the channel is closed
 * or there is none.
 */
int vm_agent_write(struct vm *vm, const void *buf, size_t len);
/* How many more bytes vm_agent_write() takes now (0 without a channel). */
size_t vm_agent_room(const struct vm *vm);
/* Stop (true) or resume reading the agent channel: the guest then waits. */
void vm_agent_pause(struct vm *vm, bool pause);
/* True while the VM has an open agent channel. */
bool vm_agent_open(const struct vm *vm);

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

/*
 * Checkpoints (qemu only), with qemu's migration into a file:
 *
 * vm_save() pauses the guest ("stop"), lifts qemu's bandwidth cap, hands
 * fd (a file open for writing) to qemu ("getfd") and migrates into it
 * ("migrate" to "fd:"), waits until "query-migrate" says completed, and
 * lets the guest go on ("cont") whether that worked or not. The file then
 * holds the whole machine: RAM (zero pages as flags), CPUs, devices,
 * user-mode network state. Outside vm_run(): the console is not drained
 * meanwhile (a paused guest writes nothing).
 *
 * vm_restore() is for a VM started with vm_config.incoming and the same
 * settings (devices, memory, machine, accelerator; the same kernel and
 * initrd bytes): it hands fd (the saved file, open for reading) to qemu,
 * loads it ("migrate-incoming"), waits, and runs the guest. A file that is
 * not a saved VM, or one saved with other settings, makes qemu exit: the
 * error then carries its stderr ("'qemu-system-x86_64' exited with status
 * 1: ... load of migration failed: Invalid argument").
 *
 * Both give up after timeout_ms (-IT_ETIMEOUT), and return -IT_EVM with
 * qemu's words otherwise; the VM may then be gone (vm_info()->exited).
 */
int vm_save(struct vm *vm, int fd, int timeout_ms, struct it_error *err);
int vm_restore(struct vm *vm, int fd, int timeout_ms, struct it_error *err);

/* Kill (SIGKILL) and reap the VM if it still runs, remove its runtime directory, free it. NULL is
 * fine. */
void vm_free(struct vm *vm);

/* Borrowed; valid until vm_free(). */
const struct vm_info *vm_info(const struct vm *vm);
/* The backend's binary as vm_start() finds it (PATH searched), malloc'd; its error names it. */
int vm_find_binary(const struct vm_config *c, char **out, struct it_error *err);
/* What the backend wrote on stderr so far (the first VM_STDERR_MAX bytes), NUL-terminated. */
const char *vm_stderr(const struct vm *vm);
/*
 * "exited with status 1", "was killed by signal 9 (Killed)", "is running";
 * into buf (always NUL-terminated). Returns buf.
 */
const char *vm_describe_exit(const struct vm *vm, char *buf, size_t bufsz);

/* ---- The console hub: any number of clients share a running VM's console ---- */

/*
 * vm_hub_enable() gives a VM a console socket that any number of clients
 * ('initrd-test attach', 'initrd-test stop') may join. vm_run() stays the
 * one reader of the pty and serves the socket from its poll() loop: each
 * console chunk goes to on_output AND to every client. Outside vm_run(),
 * new clients wait in the socket's backlog and nothing is read or sent.
 * Everything lives in one directory, vm_hub_dir(): $XDG_RUNTIME_DIR/initrd-test/
 * (when XDG_RUNTIME_DIR is set and not empty), else /tmp/initrd-test-UID/,
 * mode 0700 and owned by us (checked):
 *
 *   NAME.sock   the console socket (mode 0600; peers of another uid but root are refused)
 *   NAME.info   key=value lines, one per line, rewritten whole (rename) on change:
 *               name=networking-4f2a, scenario=networking, pid=<initrd-test>,
 *               qemu_pid=<backend>, started=<unix seconds>, socket=<path>,
 *               qmp=<QMP socket path, empty for crosvm>, step=<vm_hub_set_status() text>
 *
 * Both go away when the VM has been reaped (end of vm_run(), vm_stop()),
 * in vm_free(), and at exit() of the process that made them; files left
 * by a process that died (SIGKILL) are removed by vm_hub_list().
 *
 * The protocol, both ways: frames of [type: 1 byte][length: 2 bytes, big
 * endian][payload: length bytes, at most VM_HUB_FRAME_MAX]. Unknown types
 * are ignored, so either side may grow.
 *
 * hub -> client:
 *   'h' HELLO    first frame: key=value lines (name, scenario, pid, qemu_pid)
 *   's' STATUS   the current step text: after HELLO, and on each change
 *   'o' OUTPUT   console bytes as read: first the replay of the last
 *                VM_HUB_RING bytes (several frames), then live output.
 *                A client too slow to take them is kept, and never holds
 *                up the loop: output that would take its unsent queue past
 *                VM_HUB_CLIENT_QUEUE_MAX (less a reserve for the other
 *                frames) is skipped, whole frames only, and so is all
 *                output after it until the queue has drained to half the
 *                cap; then one NOTICE "N bytes of console output skipped:
 *                this terminal was too slow" comes, and output resumes.
 *                So a client's OUTPUT bytes and the N of its notices add up
 *                to the console, in order (a pending N is sent before BYE)
 *   'n' NOTICE   one line of text for the user ("the keyboard is held by
 *                another client", "powering off", skipped output)
 *   'a' AGENT    bytes of the guest agent's channel for this client (frames
 *                of agent/proto.h with the client's own request ids;
 *                vm_hub_agent_send()); never skipped, the sender makes room
 *   'b' BYE      why the hub closes the connection next: "detached",
 *                "powered off", "the VM exited", "the VM was stopped",
 *                "the VM is gone", "too many clients". Only a client whose
 *                queue has no room even for such a frame (one that sends
 *                frames and never reads) is disconnected without one
 * client -> hub:
 *   'a' AGENT    bytes for the guest agent (vm_ops.on_hub_agent)
 *   'q' QUIET    no more console OUTPUT for this client (exec, cp)
 *   'i' INPUT    bytes to type. The keyboard: the first client whose input
 *                is typed holds it until it disconnects; input from the
 *                others is dropped (with one NOTICE). The harness (vm_write)
 *                always types. Cursor-position reports (ESC [ n ; m R, the
 *                answer of the client's terminal to the guest's ESC [ 6 n)
 *                are removed from every client's input: the harness's expect
 *                engine answers those, and busybox must not get two answers;
 *                they neither take the keyboard nor count as typing
 *   'w' WINSIZE  rows, cols: two 2-byte big-endian numbers. Recorded
 *                (vm_hub_winsize()); a serial line has no way to carry it
 *                to the guest, so nothing is sent there
 *   'd' DETACH   the hub answers BYE "detached" and closes (closing the
 *                socket is just as good)
 *   'p' POWEROFF vm_run() stops the VM (QMP quit, then signals, as
 *                vm_stop() with VM_HUB_POWEROFF_GRACE_MS), says BYE
 *                "powered off" to every client, and returns -IT_EINTERRUPTED
 *                with info->hub_poweroff set
 *
 * The hub is not thread-safe: use it from the thread that runs vm_run().
 */
#define VM_HUB_DIR_NAME "initrd-test"
#define VM_HUB_RING (64 * 1024)		     /* console tail replayed to a joining client */
#define VM_HUB_CLIENTS_MAX 16		     /* more are told BYE "too many clients" */
#define VM_HUB_CLIENT_QUEUE_MAX (256 * 1024) /* unsent bytes per client; beyond: output skipped */
#define VM_HUB_FRAME_HDR 3
#define VM_HUB_FRAME_MAX 65535
#define VM_HUB_POWEROFF_GRACE_MS 5000
#define VM_HUB_NAME_MAX 48 /* the scenario part is cut to fit, a "-xxxx" suffix follows */

enum vm_hub_frame {
	VM_HUB_HELLO = 'h',
	VM_HUB_STATUS = 's',
	VM_HUB_OUTPUT = 'o',
	VM_HUB_NOTICE = 'n',
	VM_HUB_BYE = 'b',
	VM_HUB_INPUT = 'i',
	VM_HUB_WINSIZE = 'w',
	VM_HUB_DETACH = 'd',
	VM_HUB_POWEROFF = 'p',
	VM_HUB_AGENT = 'a',
	VM_HUB_QUIET = 'q',
};

/*
 * The hub directory (see above) into out; it is not created here.
 * -ENAMETOOLONG when it does not fit.
 */
int vm_hub_dir(char *out, size_t outsz);

/*
 * Give a started VM its console socket and metadata file. The name is
 * 'scenario' (characters other than [A-Za-z0-9._+-] become '_', cut to fit
 * VM_HUB_NAME_MAX) plus "-" and 4 random hex digits, unique in the
 * directory; vm_hub_name() returns it. Errors name the directory or the
 * socket, with a hint (for example a path too long for a unix socket).
 * On failure the VM is unchanged (no hub) and nothing is left on disk.
 * -EBUSY when the hub is already enabled, -IT_EVM when the VM has exited.
 */
int vm_hub_enable(struct vm *vm, const char *scenario, struct it_error *err);

/*
 * Set the current step shown by 'ps' and sent to clients as STATUS (at most
 * 255 bytes are kept; control characters become spaces). Allowed before
 * vm_hub_enable() (the text is kept for it) and from vm_run()'s callbacks.
 * Returns 0, or -errno when the metadata file cannot be rewritten (the
 * hub keeps working).
 */
int vm_hub_set_status(struct vm *vm, const char *step);

/*
 * Agent bytes for console client 'client' (split into AGENT frames).
 * -IT_ELIMIT when its queue lacks room (see vm_hub_agent_room(); nothing is
 * queued then), -ENOENT when that client is gone.
 */
int vm_hub_agent_send(struct vm *vm, unsigned client, const void *buf, size_t len);
/* How many agent bytes client 'client' takes now; 0 when it is gone. */
size_t vm_hub_agent_room(const struct vm *vm, unsigned client);
/* Say BYE 'reason' to a client and close it once that is sent. */
void vm_hub_client_bye(struct vm *vm, unsigned client, const char *reason);

/* Borrowed, valid until vm_free(); NULL when the hub is not enabled (or retired). */
const char *vm_hub_name(const struct vm *vm);
const char *vm_hub_socket(const struct vm *vm);
/* Clients connected now. */
size_t vm_hub_clients(const struct vm *vm);
/*
 * The window size last sent by the client that holds the keyboard (or, if
 * none does, by the latest client that sent one): 0 and *rows, *cols set,
 * or -ENOENT.
 */
int vm_hub_winsize(const struct vm *vm, unsigned *rows, unsigned *cols);

/* One running VM, as its metadata file describes it. Strings are owned by the list. */
struct vm_hub_entry {
	char *name;
	char *scenario;
	char *socket; /* full path of NAME.sock */
	char *qmp;    /* "" when none */
	char *step;   /* "" when none was set */
	pid_t pid;    /* the initrd-test process that runs it */
	pid_t qemu_pid;
	int64_t started; /* wall clock, unix seconds */
};

struct vm_hub_list {
	struct vm_hub_entry *v;
	size_t n;
};

#define VM_HUB_LIST_INIT                                                                           \
	{                                                                                          \
		NULL, 0                                                                            \
	}

/*
 * Read the hub directory into list (which must be empty), oldest first.
 * Entries whose initrd-test process is gone are removed from the directory
 * (NAME.info and NAME.sock) and not listed; unreadable or malformed files
 * are skipped. A missing directory is an empty list.
 */
int vm_hub_list(struct vm_hub_list *list, struct it_error *err);
void vm_hub_list_release(struct vm_hub_list *list);

/*
 * Find a VM by name, by unique name prefix, or by pid (of initrd-test or of
 * the backend). -IT_ENOTFOUND "no running VM 'X'" (hint: 'initrd-test ps'),
 * -IT_EUSAGE when a prefix matches several ("'net' matches several VMs:
 * net-1a2b, net-3c4d"). *out is borrowed from the list.
 */
int vm_hub_find(const struct vm_hub_list *list, const char *what, const struct vm_hub_entry **out,
		struct it_error *err);

/* ---- The client side of the protocol ---- */

/*
 * Connect to the console socket of e: a blocking socket (O_CLOEXEC) in *fd.
 * Errors name the VM: "cannot connect to 'net-1a2b': Connection refused".
 */
int vm_hub_connect(const struct vm_hub_entry *e, int *fd, struct it_error *err);

/*
 * Append one frame to out (len at most VM_HUB_FRAME_MAX, else -EINVAL);
 * -IT_ELIMIT when out's cap would be passed (out is unchanged then).
 */
int vm_hub_frame_add(struct buf *out, int type, const void *payload, size_t len);

/*
 * Parse the frame at the head of in: its total size (header included, > 0)
 * with *type and *payload (borrowed from in) set, or 0 when in does not hold
 * a whole frame yet. Drop it with buf_consume(in, size).
 */
size_t vm_hub_frame_parse(const struct buf *in, int *type, struct blob *payload);

/* Send one frame on a blocking socket, whole (EINTR retried, no SIGPIPE). */
int vm_hub_send(int fd, int type, const void *payload, size_t len);

/*
 * Ask the harness of e to power its VM off, then wait (up to timeout_ms)
 * for the hub to close the connection. 0 when it did after BYE "powered
 * off", or when the VM was already exiting; -IT_ETIMEOUT ("'NAME' did not
 * stop within N s"); -IT_EVM when the connection ended for another reason.
 */
int vm_hub_poweroff(const struct vm_hub_entry *e, int timeout_ms, struct it_error *err);

#endif
