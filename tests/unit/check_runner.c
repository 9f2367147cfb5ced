// SPDX-License-Identifier: MIT
/* Unit tests for runner/: command lines, accelerator choice, and real qemu boots under TCG. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"
#include "common/util.h"
#include "runner/runner.h"
#include "hostkernel.h"
#include "tests/unit/testutil.h"

#define KERNEL HOST_KERNEL
#define INITRD HOST_INITRD
/* Debian's initramfs has busybox: rdinit=/bin/sh gives a shell on the console in seconds. */
#define SHELL_APPEND "rdinit=/bin/sh"
#define BOOT_LIMIT_MS (100 * 1000)
#define LOG_MAX (4 * 1024 * 1024)

static void config_for(struct vm_config *c, const char *machine, const char *append)
{
	vm_config_init(c);
	c->accel = VM_ACCEL_TCG;
	c->kernel = strdup(KERNEL);
	c->initrd = strdup(INITRD);
	c->append = append ? strdup(append) : NULL;
	c->machine = machine ? strdup(machine) : NULL;
	c->nic_model = strdup("none");
}

/* A config for the command-line tests: nothing but a kernel and an initrd. */
static void config_files(struct vm_config *c, const char *kernel, const char *initrd)
{
	vm_config_init(c);
	c->kernel = strdup(kernel);
	c->initrd = strdup(initrd);
}

static void assert_argv(const struct strlist *got, const char *const *want)
{
	size_t n = 0;

	while (want[n])
		n++;
	for (size_t i = 0; i < n && i < got->n; i++)
		ck_assert_msg(!strcmp(got->v[i], want[i]), "argv[%zu] is '%s', expected '%s'", i,
			      got->v[i], want[i]);
	ck_assert_uint_eq(got->n, n);
	ck_assert_ptr_null(got->v[n]);
}

/* vm_build_argv must succeed and give exactly want; a is left empty. */
static void check_argv(const struct vm_config *c, enum vm_accel accel, const char *qmp,
		       const char *const *want)
{
	struct strlist a = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	int r = vm_build_argv(c, accel, qmp, &a, &err);

	ck_assert_msg(r == 0, "vm_build_argv: %d (%s)", r, err.msg);
	assert_argv(&a, want);
	strlist_clear(&a);
}

/* vm_build_argv must fail with -IT_EUSAGE, this message and (unless NULL) this hint. */
static void check_argv_error(const struct vm_config *c, enum vm_accel accel, const char *msg,
			     const char *hint)
{
	struct strlist a = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;

	ck_assert_msg(vm_build_argv(c, accel, NULL, &a, &err) == -IT_EUSAGE,
		      "vm_build_argv did not fail with '%s'", msg);
	ck_assert_str_eq(err.msg, msg);
	if (hint)
		ck_assert_str_eq(err.hint, hint);
	ck_assert_uint_eq(a.n, 0);
	it_error_clear(&err);
}

/* What every qemu command line ends with: no display, the console on stdio, no monitor. */
#define QEMU_CONSOLE_ARGS                                                                          \
	"-display", "none", "-no-reboot", "-chardev", "stdio,id=con0,signal=off", "-serial",       \
	    "chardev:con0", "-monitor", "none"

/* ---- command lines ---- */

START_TEST(test_argv_qemu_pc_tcg)
{
	static const char *const want[] = {"qemu-system-x86_64",
					   "-machine",
					   "pc",
					   "-accel",
					   "tcg",
					   "-m",
					   "512",
					   "-smp",
					   "1",
					   "-kernel",
					   "/k/bzImage",
					   "-initrd",
					   "/k/initrd",
					   "-append",
					   "console=ttyS0 quiet rdinit=/bin/sh",
					   "-nic",
					   "user,model=e1000,restrict=on",
					   QEMU_CONSOLE_ARGS,
					   "-qmp",
					   "unix:/run/vm/qmp.sock,server=on,wait=off",
					   NULL};
	struct vm_config c;

	config_files(&c, "/k/bzImage", "/k/initrd");
	c.append = strdup("quiet rdinit=/bin/sh");
	check_argv(&c, VM_ACCEL_TCG, "/run/vm/qmp.sock", want);
	vm_config_release(&c);
}
END_TEST

START_TEST(test_argv_qemu_q35_kvm_extra)
{
	static const char *const want[] = {"/opt/qemu/bin/qemu-system-x86_64",
					   "-machine",
					   "q35",
					   "-accel",
					   "kvm",
					   "-cpu",
					   "host",
					   "-m",
					   "2048",
					   "-smp",
					   "4",
					   "-kernel",
					   "K",
					   "-initrd",
					   "I",
					   "-append",
					   "console=ttyS0",
					   "-nic",
					   "user,model=virtio-net-pci",
					   QEMU_CONSOLE_ARGS,
					   "-qmp",
					   "unix:/tmp/a,,b/qmp.sock,server=on,wait=off",
					   "-device",
					   "virtio-rng-pci",
					   "-S",
					   NULL};
	struct vm_config c;

	config_files(&c, "K", "I");
	c.binary = strdup("/opt/qemu/bin/qemu-system-x86_64");
	c.machine = strdup("q35");
	c.memory_mib = 2048;
	c.cpus = 4;
	c.nic_model = strdup("virtio-net-pci");
	c.nic_restrict = false;
	strlist_add(&c.extra_args, "-device");
	strlist_add(&c.extra_args, "virtio-rng-pci");
	strlist_add(&c.extra_args, "-S");
	/* A comma in the QMP path must be doubled, or qemu would read an option. */
	check_argv(&c, VM_ACCEL_KVM, "/tmp/a,b/qmp.sock", want);
	vm_config_release(&c);
}
END_TEST

START_TEST(test_argv_qemu_microvm)
{
	static const char *const want[] = {"qemu-system-x86_64",
					   "-nodefaults",
					   "-no-user-config",
					   "-machine",
					   "microvm",
					   "-accel",
					   "tcg",
					   "-m",
					   "512",
					   "-smp",
					   "1",
					   "-kernel",
					   "K",
					   "-initrd",
					   "I",
					   "-append",
					   "console=ttyS0 reboot=t panic=-1",
					   "-netdev",
					   "user,id=net0,restrict=on",
					   "-device",
					   "virtio-net-device,netdev=net0",
					   QEMU_CONSOLE_ARGS,
					   NULL};
	struct vm_config c;
	struct strlist a = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;

	config_files(&c, "K", "I");
	c.machine = strdup("microvm");
	c.append = strdup("panic=-1");
	check_argv(&c, VM_ACCEL_TCG, NULL, want);

	/* "none" means no NIC on every machine. */
	free(c.nic_model);
	c.nic_model = strdup("none");
	ck_assert_int_eq(vm_build_argv(&c, VM_ACCEL_KVM, NULL, &a, &err), 0);
	ck_assert(strlist_has(&a, "-nic"));
	ck_assert(strlist_has(&a, "none"));
	ck_assert(!strlist_has(&a, "-netdev"));
	ck_assert(strlist_has(&a, "host"));
	strlist_clear(&a);
	vm_config_release(&c);
}
END_TEST

START_TEST(test_argv_nic_none_pc)
{
	struct vm_config c;
	struct strlist a = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	size_t i;

	config_files(&c, "K", "I");
	c.nic_model = strdup("none");
	ck_assert_int_eq(vm_build_argv(&c, VM_ACCEL_TCG, NULL, &a, &err), 0);
	for (i = 0; i < a.n && strcmp(a.v[i], "-nic"); i++)
		;
	ck_assert_uint_lt(i + 1, a.n);
	ck_assert_str_eq(a.v[i + 1], "none");
	ck_assert(!strlist_has(&a, "-qmp"));
	strlist_clear(&a);
	vm_config_release(&c);
}
END_TEST

START_TEST(test_argv_crosvm)
{
	static const char *const want[] = {
	    "crosvm",
	    "run",
	    "--mem",
	    "768",
	    "--cpus",
	    "2",
	    "--serial",
	    "type=file,hardware=serial,num=1,console=true,path=/proc/self/fd/1,"
	    "input=/proc/self/fd/0",
	    "-i",
	    "/i/initrd",
	    "-p",
	    "console=ttyS0 rdinit=/bin/sh",
	    "--disable-sandbox",
	    "/k/bzImage",
	    NULL};
	struct vm_config c;

	config_files(&c, "/k/bzImage", "/i/initrd");
	c.backend = VM_BACKEND_CROSVM;
	c.append = strdup("rdinit=/bin/sh");
	c.memory_mib = 768;
	c.cpus = 2;
	strlist_add(&c.extra_args, "--disable-sandbox");
	/* The QMP path is qemu's business. */
	check_argv(&c, VM_ACCEL_KVM, "/run/q.sock", want);

	/* crosvm is KVM only. */
	check_argv_error(&c, VM_ACCEL_TCG, "crosvm needs kvm, but the accelerator is 'tcg'",
			 "use --backend qemu to run without kvm");
	vm_config_release(&c);
}
END_TEST

/* The agent's channel: a virtio console port on pc and microvm, ttyS1 as the fallback. */
START_TEST(test_argv_agent)
{
	static const char *const virtio[] = {"-chardev",
					     "socket,id=agent,fd=3",
					     "-device",
					     "virtio-serial-pci,id=agentbus",
					     "-device",
					     "virtserialport,bus=agentbus.0,chardev=agent,"
					     "name=org.initrd-test.agent",
					     NULL};
	struct vm_config c;
	struct strlist a = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	size_t i;

	config_files(&c, "K", "I");
	c.agent = VM_AGENT_VIRTIO;
	ck_assert_int_eq(vm_build_argv(&c, VM_ACCEL_TCG, NULL, &a, &err), 0);
	/* After the console (ttyS0 stays the first serial port), in this order. */
	for (i = 0; i < a.n && strcmp(a.v[i], "socket,id=agent,fd=3"); i++)
		;
	ck_assert_uint_gt(i, 0);
	ck_assert(strlist_has(&a, "chardev:con0"));
	for (size_t k = 0; virtio[k]; k++)
		ck_assert_str_eq(a.v[i - 1 + k], virtio[k]);
	ck_assert(!strstr(a.v[a.n - 1], "ttyS1"));
	strlist_clear(&a);

	/* microvm has no PCI: the virtio-mmio form. */
	c.machine = strdup("microvm");
	ck_assert_int_eq(vm_build_argv(&c, VM_ACCEL_TCG, NULL, &a, &err), 0);
	ck_assert(strlist_has(&a, "virtio-serial-device,id=agentbus"));
	ck_assert(!strlist_has(&a, "virtio-serial-pci,id=agentbus"));
	strlist_clear(&a);
	free(c.machine);
	c.machine = NULL;

	/* serial: ttyS1, and the agent is told so on the kernel command line. */
	c.agent = VM_AGENT_SERIAL;
	ck_assert_int_eq(vm_build_argv(&c, VM_ACCEL_TCG, NULL, &a, &err), 0);
	ck_assert(strlist_has(&a, "socket,id=agent,fd=3"));
	ck_assert(strlist_has(&a, "chardev:agent"));
	ck_assert(!strlist_has(&a, "virtio-serial-pci,id=agentbus"));
	for (i = 0; i < a.n && strcmp(a.v[i], "-append"); i++)
		;
	ck_assert_uint_lt(i + 1, a.n);
	ck_assert_str_eq(a.v[i + 1], "console=ttyS0 initrd_test.agent=ttyS1");
	strlist_clear(&a);

	/* none: no trace of it. */
	c.agent = VM_AGENT_NONE;
	ck_assert_int_eq(vm_build_argv(&c, VM_ACCEL_TCG, NULL, &a, &err), 0);
	for (i = 0; i < a.n; i++)
		ck_assert_msg(!strstr(a.v[i], "agent"), "'%s' with the agent off", a.v[i]);
	strlist_clear(&a);

	/* crosvm has none to offer: a usage error that says what to do. */
	c.agent = VM_AGENT_VIRTIO;
	c.backend = VM_BACKEND_CROSVM;
	check_argv_error(&c, VM_ACCEL_KVM, "the crosvm backend has no agent channel",
			 "write 'agent off' in the scenario, or use --backend qemu");
	vm_config_release(&c);
}
END_TEST

/* A VM to restore waits for its state ('-incoming defer'), before the caller's own arguments. */
START_TEST(test_argv_incoming)
{
	struct vm_config c;
	struct strlist a = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	size_t i;

	config_files(&c, "K", "I");
	ck_assert_int_eq(vm_build_argv(&c, VM_ACCEL_TCG, NULL, &a, &err), 0);
	ck_assert(!strlist_has(&a, "-incoming"));
	strlist_clear(&a);
	c.incoming = true;
	strlist_add(&c.extra_args, "-name");
	strlist_add(&c.extra_args, "x");
	ck_assert_int_eq(vm_build_argv(&c, VM_ACCEL_TCG, NULL, &a, &err), 0);
	for (i = 0; i < a.n && strcmp(a.v[i], "-incoming"); i++)
		;
	ck_assert_uint_lt(i + 1, a.n);
	ck_assert_str_eq(a.v[i + 1], "defer");
	ck_assert_str_eq(a.v[i + 2], "-name");
	strlist_clear(&a);
	c.backend = VM_BACKEND_CROSVM;
	c.agent = VM_AGENT_NONE;
	check_argv_error(&c, VM_ACCEL_KVM, "the crosvm backend has no checkpoints", NULL);
	vm_config_release(&c);
}
END_TEST

START_TEST(test_argv_errors)
{
	struct vm_config c;

	vm_config_init(&c);
	c.initrd = strdup("I");
	check_argv_error(&c, VM_ACCEL_TCG, "no kernel given for the VM", NULL);

	c.kernel = strdup("K");
	c.machine = strdup("isapc");
	check_argv_error(&c, VM_ACCEL_TCG, "unknown machine type 'isapc'",
			 "use pc, q35 or microvm");

	free(c.machine);
	c.machine = NULL;
	check_argv_error(&c, VM_ACCEL_AUTO, "accelerator 'auto' is not resolved", NULL);

	/* A model with a comma would smuggle options into -nic. */
	c.nic_model = strdup("e1000,hostfwd=tcp::2222-:22");
	check_argv_error(&c, VM_ACCEL_TCG, "invalid NIC model 'e1000,hostfwd=tcp::2222-:22'", NULL);

	free(c.nic_model);
	c.nic_model = NULL;
	c.memory_mib = -5;
	check_argv_error(&c, VM_ACCEL_TCG, "invalid VM memory size '-5 MiB'", NULL);
	vm_config_release(&c);
}
END_TEST

/* ---- architecture presets ---- */

START_TEST(test_argv_aarch64_preset)
{
	static const char *const want[] = {"qemu-system-aarch64",
					   "-machine",
					   "virt",
					   "-accel",
					   "tcg",
					   "-cpu",
					   "cortex-a57",
					   "-m",
					   "512",
					   "-smp",
					   "1",
					   "-kernel",
					   "/k/Image",
					   "-initrd",
					   "/k/initrd",
					   "-append",
					   "console=ttyAMA0 quiet",
					   "-nic",
					   "user,model=e1000,restrict=on",
					   QEMU_CONSOLE_ARGS,
					   NULL};
	/* A scenario's console, machine and NIC override the preset's; kvm: the host's CPU. */
	static const char *const kvm[] = {"qemu-system-aarch64",
					  "-machine",
					  "virt",
					  "-accel",
					  "kvm",
					  "-cpu",
					  "host",
					  "-m",
					  "512",
					  "-smp",
					  "1",
					  "-kernel",
					  "/k/Image",
					  "-initrd",
					  "/k/initrd",
					  "-append",
					  "console=hvc0 quiet",
					  "-nic",
					  "user,model=virtio-net-pci,restrict=on",
					  QEMU_CONSOLE_ARGS,
					  NULL};
	struct vm_config c;

	config_files(&c, "/k/Image", "/k/initrd");
	c.arch = VM_ARCH_AARCH64;
	c.agent = VM_AGENT_NONE;
	c.append = strdup("quiet");
	check_argv(&c, VM_ACCEL_TCG, NULL, want);
	c.console = strdup("hvc0");
	c.machine = strdup("virt");
	c.nic_model = strdup("virtio-net-pci");
	check_argv(&c, VM_ACCEL_KVM, NULL, kvm);

	free(c.machine);
	c.machine = strdup("q35");
	check_argv_error(&c, VM_ACCEL_TCG, "unknown machine type 'q35'", "aarch64 guests use virt");
	free(c.machine);
	c.machine = NULL;
	c.agent = VM_AGENT_SERIAL;
	check_argv_error(&c, VM_ACCEL_TCG,
			 "the serial agent channel needs a second serial port, which the aarch64 "
			 "machine 'virt' has not",
			 "write 'agent virtio' or 'agent off' in the scenario");
	c.agent = VM_AGENT_NONE;
	free(c.console);
	c.console = strdup("ttyAMA0,x");
	check_argv_error(&c, VM_ACCEL_TCG, "invalid console device 'ttyAMA0,x'", NULL);
	vm_config_release(&c);

	/* x86_64's preset is the default: virt is no x86_64 machine. */
	config_files(&c, "/k/bzImage", "/k/initrd");
	c.machine = strdup("virt");
	check_argv_error(&c, VM_ACCEL_TCG, "unknown machine type 'virt'", "use pc, q35 or microvm");
	vm_config_release(&c);
}
END_TEST

START_TEST(test_presets_and_factors)
{
	struct it_error err = IT_ERROR_INIT;
	enum vm_arch a = VM_ARCH_X86_64;
	double f = 0;

	ck_assert_str_eq(vm_preset(VM_ARCH_X86_64)->binary, "qemu-system-x86_64");
	ck_assert_str_eq(vm_preset(VM_ARCH_X86_64)->console, "ttyS0");
	ck_assert_str_eq(vm_preset(VM_ARCH_AARCH64)->binary, "qemu-system-aarch64");
	ck_assert_str_eq(vm_preset(VM_ARCH_AARCH64)->console, "ttyAMA0");
	ck_assert_int_eq(vm_arch_parse("aarch64", &a, NULL), 0);
	ck_assert_int_eq(a, VM_ARCH_AARCH64);
	ck_assert_int_eq(vm_arch_parse("riscv64", &a, &err), -IT_EUSAGE);
	ck_assert_str_eq(err.msg, "unknown architecture 'riscv64'");
	it_error_clear(&err);
	/* KVM is the reference; TCG is slower, aarch64 under TCG no faster than x86_64. */
	ck_assert(vm_timeout_factor(VM_ACCEL_KVM, VM_ARCH_X86_64) == 1.0);
	ck_assert(vm_timeout_factor(VM_ACCEL_TCG, VM_ARCH_X86_64) == VM_TCG_FACTOR);
	ck_assert(vm_timeout_factor(VM_ACCEL_TCG, VM_ARCH_X86_64) > 1.0);
	ck_assert(vm_timeout_factor(VM_ACCEL_TCG, VM_ARCH_AARCH64) >=
		  vm_timeout_factor(VM_ACCEL_TCG, VM_ARCH_X86_64));
	unsetenv(VM_TIMEOUT_FACTOR_ENV);
	ck_assert_int_eq(vm_timeout_factor_env(&f, NULL), 0);
	setenv(VM_TIMEOUT_FACTOR_ENV, "2.5", 1);
	ck_assert_int_eq(vm_timeout_factor_env(&f, NULL), 1);
	ck_assert(f == 2.5);
	setenv(VM_TIMEOUT_FACTOR_ENV, "0", 1);
	ck_assert_int_eq(vm_timeout_factor_env(&f, &err), -IT_EUSAGE);
	ck_assert_str_eq(err.msg, "invalid INITRD_TEST_TIMEOUT_FACTOR '0'");
	unsetenv(VM_TIMEOUT_FACTOR_ENV);
}
END_TEST

/* ---- accelerator ---- */

START_TEST(test_accel_resolve)
{
	/* env: INITRD_TEST_ACCEL, NULL for unset; want_desc NULL: resolve without a description. */
	static const struct {
		const char *env;
		enum vm_accel conf;
		const char *kvm_dev;
		enum vm_accel want;
		const char *want_desc;
	} cases[] = {
	    /* /dev/null stands in for a usable /dev/kvm: it opens read-write. */
	    {NULL, VM_ACCEL_AUTO, "/dev/null", VM_ACCEL_KVM, "kvm (auto: /dev/null usable)"},
	    {NULL, VM_ACCEL_AUTO, "/nonexistent/kvm", VM_ACCEL_TCG,
	     "tcg (auto: cannot open '/nonexistent/kvm': No such file or directory)"},
	    {NULL, VM_ACCEL_TCG, "/dev/null", VM_ACCEL_TCG, "tcg (configured)"},
	    /* An explicit KVM is taken as it is (vm_start checks /dev/kvm). */
	    {NULL, VM_ACCEL_KVM, "/nonexistent/kvm", VM_ACCEL_KVM, NULL},
	    /* The environment wins over the config, both ways. */
	    {"tcg", VM_ACCEL_KVM, "/dev/null", VM_ACCEL_TCG, "tcg (INITRD_TEST_ACCEL)"},
	    {"kvm", VM_ACCEL_TCG, "/nonexistent", VM_ACCEL_KVM, "kvm (INITRD_TEST_ACCEL)"},
	    {"auto", VM_ACCEL_TCG, "/dev/null", VM_ACCEL_KVM, "kvm (auto: /dev/null usable)"},
	    /* Empty counts as unset. */
	    {"", VM_ACCEL_TCG, "/dev/null", VM_ACCEL_TCG, "tcg (configured)"},
	};
	struct it_error err = IT_ERROR_INIT;
	enum vm_accel a = VM_ACCEL_AUTO;
	char desc[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *env = cases[i].env;
		bool with_desc = cases[i].want_desc != NULL;
		int r;

		if (env)
			setenv(VM_ACCEL_ENV, env, 1);
		else
			unsetenv(VM_ACCEL_ENV);
		r = vm_accel_resolve(cases[i].conf, cases[i].kvm_dev, &a, with_desc ? desc : NULL,
				     with_desc ? sizeof(desc) : 0, &err);
		ck_assert_msg(r == 0, "case %zu: vm_accel_resolve: %d (%s)", i, r, err.msg);
		ck_assert_msg(a == cases[i].want, "case %zu: accelerator %s, expected %s", i,
			      vm_accel_name(a), vm_accel_name(cases[i].want));
		if (with_desc)
			ck_assert_msg(!strcmp(desc, cases[i].want_desc),
				      "case %zu: description '%s', expected '%s'", i, desc,
				      cases[i].want_desc);
	}
	ck_assert_int_eq(err.code, 0);

	setenv(VM_ACCEL_ENV, "fast", 1);
	ck_assert_int_eq(vm_accel_resolve(VM_ACCEL_TCG, NULL, &a, desc, sizeof(desc), &err),
			 -IT_EUSAGE);
	ck_assert_str_eq(err.msg, "invalid INITRD_TEST_ACCEL 'fast'");
	ck_assert_str_eq(err.hint, "set INITRD_TEST_ACCEL to tcg, kvm or auto");
	setenv(VM_ACCEL_ENV, "tcg", 1);
}
END_TEST

START_TEST(test_names)
{
	struct it_error err = IT_ERROR_INIT;
	enum vm_accel a;
	enum vm_backend b;

	ck_assert_int_eq(vm_accel_parse("kvm", &a, &err), 0);
	ck_assert_int_eq(a, VM_ACCEL_KVM);
	ck_assert_str_eq(vm_accel_name(VM_ACCEL_TCG), "tcg");
	ck_assert_int_eq(vm_backend_parse("crosvm", &b, &err), 0);
	ck_assert_int_eq(b, VM_BACKEND_CROSVM);
	ck_assert_str_eq(vm_backend_name(VM_BACKEND_QEMU), "qemu");
	ck_assert_int_eq(vm_accel_parse("KVM", &a, &err), -IT_EUSAGE);
	ck_assert_str_eq(err.msg, "unknown accelerator 'KVM'");
	it_error_clear(&err);
	ck_assert_int_eq(vm_backend_parse("firecracker", &b, &err), -IT_EUSAGE);
	ck_assert_str_eq(err.msg, "unknown backend 'firecracker'");
}
END_TEST

/* ---- failures before and right after the start ---- */

/* No child of ours may be left, running or zombie. */
static void assert_no_children(void)
{
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}

/* vm_start must fail with code, this message and (unless NULL) this hint, and give no VM. */
static void check_start_fails(const struct vm_config *c, int code, const char *msg,
			      const char *hint)
{
	struct it_error err = IT_ERROR_INIT;
	struct vm *vm = (struct vm *)(void *)&err;
	int r = vm_start(c, &vm, &err);

	ck_assert_msg(r == code, "vm_start: %d (%s), expected %d for '%s'", r, err.msg, code, msg);
	ck_assert_ptr_null(vm);
	ck_assert_str_eq(err.msg, msg);
	if (hint)
		ck_assert_str_eq(err.hint, hint);
	it_error_clear(&err);
}

START_TEST(test_start_missing_binary)
{
	char dir[] = "/tmp/check-runner.XXXXXX";
	struct vm_config c;
	char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("PATH", dir, 1);
	config_for(&c, NULL, NULL);
	check_start_fails(&c, -IT_ENOTFOUND, "'qemu-system-x86_64' not found in PATH",
			  "apt-get install qemu-system-x86");
	c.arch = VM_ARCH_AARCH64;
	check_start_fails(&c, -IT_ENOTFOUND, "'qemu-system-aarch64' not found in PATH",
			  "apt-get install qemu-system-arm");
	c.arch = VM_ARCH_X86_64;

	/* crosvm: checked before /dev/kvm, so this holds with or without KVM. */
	c.backend = VM_BACKEND_CROSVM;
	c.accel = VM_ACCEL_KVM;
	unsetenv(VM_ACCEL_ENV);
	check_start_fails(&c, -IT_ENOTFOUND, "'crosvm' not found in PATH",
			  "install crosvm or use --backend qemu");
	setenv(VM_ACCEL_ENV, "tcg", 1);

	/* An explicit path that is not there. */
	c.backend = VM_BACKEND_QEMU;
	c.binary = strdup("/nonexistent/qemu");
	check_start_fails(&c, -IT_ENOTFOUND, "'/nonexistent/qemu' not found or not executable",
			  NULL);

	if (old)
		setenv("PATH", old, 1);
	free(old);
	rmdir(dir);
	vm_config_release(&c);
	assert_no_children();
}
END_TEST

START_TEST(test_start_unreadable_files)
{
	struct vm_config c;

	config_for(&c, NULL, NULL);
	free(c.kernel);
	c.kernel = strdup("tests/data/no-such-kernel");
	check_start_fails(
	    &c, -ENOENT,
	    "cannot read kernel 'tests/data/no-such-kernel': No such file or directory", NULL);

	free(c.kernel);
	c.kernel = strdup(KERNEL);
	free(c.initrd);
	c.initrd = strdup("tests/data");
	check_start_fails(&c, -EINVAL, "cannot read initrd 'tests/data': not a regular file", NULL);
	vm_config_release(&c);
	assert_no_children();
}
END_TEST

START_TEST(test_start_exec_fails)
{
	char dir[] = "/tmp/check-runner.XXXXXX";
	char path[256];
	char want[512];
	struct vm_config c;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/qemu-system-x86_64", dir);
	/* Executable bits, but no program inside: execv fails with ENOEXEC in the child. */
	ck_assert_int_eq(write_file_atomic(path, "not a program\n", 14, 0755), 0);
	config_for(&c, NULL, NULL);
	c.binary = strdup(path);
	snprintf(want, sizeof(want), "cannot execute '%s': Exec format error", path);
	check_start_fails(&c, -IT_EVM, want, NULL);
	vm_config_release(&c);
	assert_no_children();
	rm_rf(dir);
}
END_TEST

/* Real qemu, failing on its command line: its own stderr text must reach the error. */
START_TEST(test_qemu_exits_at_once)
{
	struct vm_config c;
	struct it_error err = IT_ERROR_INIT;
	struct vm *vm = NULL;
	const struct vm_info *info;
	char dir[512];
	struct stat st;

	config_for(&c, NULL, NULL);
	strlist_add(&c.extra_args, "-no-such-option");
	ck_assert_int_eq(vm_start(&c, &vm, &err), 0);
	info = vm_info(vm);
	ck_assert_int_gt(info->pid, 0);
	ck_assert_str_eq(info->accel_desc, "tcg (INITRD_TEST_ACCEL)");
	snprintf(dir, sizeof(dir), "%s", info->runtime_dir);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);

	ck_assert_int_eq(vm_run(vm, NULL, NULL, &err), -IT_EVM);
	ck_assert_str_eq(err.msg, "'qemu-system-x86_64' exited with status 1: "
				  "qemu-system-x86_64: -no-such-option: invalid option");
	ck_assert(info->exited);
	ck_assert(strstr(vm_stderr(vm), "invalid option\n") != NULL);
	ck_assert_int_eq(info->stopped_by, VM_STOP_NONE);
	vm_free(vm);
	ck_assert_int_eq(stat(dir, &st), -1);
	vm_config_release(&c);
	assert_no_children();
}
END_TEST

/* ---- real boots ---- */

struct console {
	struct vm *vm;
	struct buf log;
	int64_t start;
	int64_t deadline;   /* absolute; -1 none */
	int64_t banner_ms;  /* when "Linux version" was seen, -1 before */
	int64_t cmdline_ms; /* when the whole "Command line:" line was seen */
	bool typed;
	int input_w; /* write end of the VM's input fd; -1: none */
	bool typed_input;
	int timer_calls;
	int outputs;
	int pid_fd; /* write the qemu pid here on the first output; -1: don't */
};

static void console_init(struct console *con, struct vm *vm, int64_t limit_ms)
{
	memset(con, 0, sizeof(*con));
	con->vm = vm;
	buf_init(&con->log, LOG_MAX);
	con->start = now_ms();
	con->deadline = limit_ms >= 0 ? con->start + limit_ms : -1;
	con->banner_ms = -1;
	con->cmdline_ms = -1;
	con->pid_fd = -1;
	con->input_w = -1;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* The end of the console log, short enough for a Check message. */
static const char *tail(const struct console *con)
{
	return con->log.len > 1500 ? con->log.data + con->log.len - 1500 : con->log.data;
}

static int64_t console_deadline(void *ctx)
{
	struct console *con = ctx;

	return con->deadline;
}

static int console_timer(void *ctx, int64_t now)
{
	struct console *con = ctx;

	(void)now;
	con->timer_calls++;
	return -IT_ETIMEOUT;
}

static void note_banner(struct console *con, int64_t now)
{
	const char *cl;

	if (con->banner_ms < 0 && strstr(con->log.data, "Linux version 6.1"))
		con->banner_ms = now;
	cl = strstr(con->log.data, "Command line: ");
	if (con->cmdline_ms < 0 && cl && strchr(cl, '\n'))
		con->cmdline_ms = now;
}

/* Wait for the shell, type a command, stop when its output shows. */
static int shell_output(void *ctx, const char *buf, size_t len, int64_t now)
{
	struct console *con = ctx;
	const char *jc, *hi;

	con->outputs++;
	ck_assert_int_eq(buf_add(&con->log, buf, len), 0);
	note_banner(con, now);
	jc = strstr(con->log.data, "job control turned off");
	if (!con->typed && jc && strstr(jc, "# ")) {
		ck_assert_int_eq(vm_write(con->vm, "echo hi-$((6*7))\n", 17), 0);
		con->typed = true;
	}
	hi = con->typed ? strstr(con->log.data, "\nhi-42\r\n") : NULL;
	if (!hi)
		return 0;
	if (con->input_w < 0)
		return 1;
	/*
	 * Then the same through the input fd, as an interactive user would type;
	 * only at the next prompt, since text typed ahead is echoed by the guest's
	 * tty and again by the shell's line editor.
	 */
	if (!con->typed_input && strstr(hi, "# ")) {
		ck_assert_int_eq(write(con->input_w, "echo in-$((5*9))\n", 17), 17);
		con->typed_input = true;
	}
	return strstr(con->log.data, "\nin-45\r\n") ? 1 : 0;
}

/*
 * Start a TCG VM of config_for(c, machine, SHELL_APPEND), paused (qemu -S)
 * when 'paused', and a console on it that gives up after limit_ms.
 */
static const struct vm_info *boot_start(struct vm_config *c, const char *machine, bool paused,
					struct vm **vm, struct console *con, int64_t limit_ms)
{
	struct it_error err = IT_ERROR_INIT;
	int r;

	config_for(c, machine, SHELL_APPEND);
	if (paused)
		strlist_add(&c->extra_args, "-S");
	r = vm_start(c, vm, &err);
	ck_assert_msg(r == 0, "vm_start: %d (%s)", r, err.msg);
	console_init(con, *vm, limit_ms);
	return vm_info(*vm);
}

/* The process is gone: neither running nor a zombie of ours. */
static void assert_gone(pid_t pid)
{
	ck_assert_msg(kill(pid, 0) == -1 && errno == ESRCH, "qemu %d is still there", (int)pid);
}

/* QMP quit: qemu exits by itself, with status 0, before any signal. */
static void stop_by_qmp(struct vm *vm, const struct vm_info *info)
{
	struct it_error err = IT_ERROR_INIT;
	int r = vm_stop(vm, 20000, &err);

	ck_assert_msg(r == 0, "vm_stop: %d (%s)", r, err.msg);
	ck_assert(info->exited);
	ck_assert_int_eq(info->stopped_by, VM_STOP_QMP);
	ck_assert(WIFEXITED(info->wait_status) && WEXITSTATUS(info->wait_status) == 0);
}

/* Free the VM (pid was its qemu) and the rest of a boot test: nothing may be left. */
static void boot_end(struct vm *vm, pid_t pid, struct console *con, struct vm_config *c)
{
	vm_free(vm);
	assert_gone(pid);
	buf_release(&con->log);
	vm_config_release(c);
	assert_no_children();
}

START_TEST(test_boot_shell)
{
	static const struct vm_ops ops = {
	    .on_output = shell_output, .deadline = console_deadline, .on_timer = console_timer};
	struct vm_config c;
	struct it_error err = IT_ERROR_INIT;
	struct vm *vm = NULL;
	struct console con;
	const struct vm_info *info;
	char dir[512];
	struct stat st;
	pid_t pid;
	int r, in[2];

	info = boot_start(&c, "pc", false, &vm, &con, BOOT_LIMIT_MS);
	pid = info->pid;
	snprintf(dir, sizeof(dir), "%s", info->runtime_dir);
	ck_assert_int_eq(pipe2(in, O_CLOEXEC | O_NONBLOCK), 0);
	vm_set_input(vm, in[0]);
	con.input_w = in[1];
	r = vm_run(vm, &ops, &con, &err);
	ck_assert_msg(r == VM_RUN_STOPPED, "vm_run: %d (%s); console:\n%s", r, err.msg, tail(&con));
	ck_assert(con.banner_ms >= 0);
	ck_assert(strstr(con.log.data, "Command line: console=ttyS0 rdinit=/bin/sh\r\n"));
	/* Our pty neither echoes (the command shows once, from the guest) nor translates. */
	ck_assert_int_eq(count(con.log.data, "echo hi-$((6*7))"), 1);
	ck_assert_int_eq(count(con.log.data, "echo in-$((5*9))"), 1);
	ck_assert(strstr(con.log.data, "\nin-45\r\n"));
	ck_assert_int_eq(count(con.log.data, "\r\r\n"), 0);
	ck_assert_int_eq(con.timer_calls, 0);
	ck_assert_int_ge(info->first_output_ms, 0);
	ck_assert_int_le(info->first_output_ms, con.banner_ms - info->start_ms);
	ck_assert_uint_eq(info->console_bytes, con.log.len);
	ck_assert(!info->exited);

	stop_by_qmp(vm, info);
	assert_gone(pid);
	/* Once it is gone, a new vm_run reports that at once. */
	ck_assert_int_eq(vm_run(vm, NULL, NULL, &err), VM_RUN_EXITED);
	ck_assert_int_eq(vm_write(vm, "x", 1), -EPIPE);
	close(in[0]);
	close(in[1]);
	boot_end(vm, pid, &con, &c);
	ck_assert_int_eq(stat(dir, &st), -1);
}
END_TEST

/* Collect the console; once the kernel's command line shows, end 300 ms later. */
static int deadline_output(void *ctx, const char *buf, size_t len, int64_t now)
{
	struct console *con = ctx;

	con->outputs++;
	ck_assert_int_eq(buf_add(&con->log, buf, len), 0);
	note_banner(con, now);
	if (con->cmdline_ms >= 0 && con->deadline > con->cmdline_ms + 300)
		con->deadline = con->cmdline_ms + 300;
	return 0;
}

/* A microvm boot that runs past its deadline: ended by the callback, then killed and reaped. */
START_TEST(test_boot_deadline_microvm)
{
	static const struct vm_ops ops = {
	    .on_output = deadline_output, .deadline = console_deadline, .on_timer = console_timer};
	struct vm_config c;
	struct it_error err = IT_ERROR_INIT;
	struct vm *vm = NULL;
	struct console con;
	const struct vm_info *info;
	pid_t pid;
	int r;

	info = boot_start(&c, "microvm", false, &vm, &con, BOOT_LIMIT_MS);
	pid = info->pid;
	r = vm_run(vm, &ops, &con, &err);
	ck_assert_msg(r == -IT_ETIMEOUT, "vm_run: %d (%s); console:\n%s", r, err.msg, tail(&con));
	ck_assert_int_eq(con.timer_calls, 1);
	ck_assert_msg(con.cmdline_ms >= 0, "no command line; console:\n%s", tail(&con));
	ck_assert(strstr(con.log.data, "Command line: console=ttyS0 reboot=t rdinit=/bin/sh\r\n"));
	ck_assert_int_ge(now_ms(), con.cmdline_ms + 300);
	/* Still booting when the deadline ended the run. */
	ck_assert(!info->exited);
	ck_assert_int_eq(kill(pid, 0), 0);
	boot_end(vm, pid, &con, &c);
}
END_TEST

/* What the VM process has open: only the pty slave and the stderr pipe come from us. */
static void assert_vm_fds(pid_t pid)
{
	char dir[64], link[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	ssize_t n;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		/* Our pty master is close-on-exec: it must not leak into the VM. */
		ck_assert_msg(strcmp(link, "/dev/ptmx") != 0, "fd %s of the VM is /dev/ptmx",
			      de->d_name);
		if (!strcmp(de->d_name, "0") || !strcmp(de->d_name, "1"))
			ck_assert_msg(!strncmp(link, "/dev/pts/", 9), "fd %s is %s", de->d_name,
				      link);
		if (!strcmp(de->d_name, "2"))
			ck_assert_msg(!strncmp(link, "pipe:", 5), "fd 2 is %s", link);
	}
	closedir(d);
}

/* qemu -S: the CPU never runs, the console stays silent. */
START_TEST(test_silent_vm)
{
	static const struct vm_ops ops = {
	    .on_output = shell_output, .deadline = console_deadline, .on_timer = NULL};
	struct vm_config c;
	struct it_error err = IT_ERROR_INIT;
	struct vm *vm = NULL;
	struct console con;
	const struct vm_info *info;
	static char big[VM_WRITE_QUEUE_MAX + 1];
	pid_t pid;

	info = boot_start(&c, NULL, true, &vm, &con, 1500);
	pid = info->pid;
	assert_vm_fds(pid);
	/* No on_timer: the deadline is -IT_ETIMEOUT. */
	ck_assert_int_eq(vm_run(vm, &ops, &con, &err), -IT_ETIMEOUT);
	ck_assert_int_ge(now_ms(), con.start + 1500);
	ck_assert_int_eq(con.outputs, 0);
	ck_assert_uint_eq(info->console_bytes, 0);
	ck_assert_int_eq(info->first_output_ms, -1);
	ck_assert(!info->exited);

	/* The typing queue has a cap and refuses, whole, what does not fit. */
	ck_assert_int_eq(vm_write(vm, big, sizeof(big)), -IT_ELIMIT);
	ck_assert_int_eq(vm_write(vm, big, sizeof(big) - 1), 0);
	ck_assert_int_eq(vm_write(vm, "x", 1), -IT_ELIMIT);

	/* A paused qemu still answers QMP. */
	stop_by_qmp(vm, info);
	boot_end(vm, pid, &con, &c);
}
END_TEST

/* A timer that goes on four times, 50 ms apart, then ends the run. */
static int tick_timer(void *ctx, int64_t now)
{
	struct console *con = ctx;

	con->timer_calls++;
	con->deadline = now + 50;
	return con->timer_calls < 5 ? 0 : 1;
}

/* on_wakeup: counted in outputs (the paused VM has none), with the timer calls at the time. */
static int tick_wakeup(void *ctx, int64_t now)
{
	struct console *con = ctx;

	(void)now;
	con->outputs++;
	/* Never a wakeup that would leave a past deadline unserved. */
	ck_assert_int_ge(con->deadline, now_ms() - 5);
	return 0;
}

/*
 * Each timer that goes on is followed by on_wakeup, as any wakeup is: a
 * caller that serves its own deadlines there (the agent link's liveness)
 * is never left with a past deadline and a loop that spins.
 */
START_TEST(test_timer_then_wakeup)
{
	static const struct vm_ops ops = {.on_output = NULL,
					  .deadline = console_deadline,
					  .on_timer = tick_timer,
					  .on_wakeup = tick_wakeup};
	struct vm_config c;
	struct it_error err = IT_ERROR_INIT;
	struct vm *vm = NULL;
	struct console con;
	const struct vm_info *info;
	pid_t pid;

	info = boot_start(&c, NULL, true, &vm, &con, 50);
	pid = info->pid;
	ck_assert_int_eq(vm_run(vm, &ops, &con, &err), VM_RUN_STOPPED);
	ck_assert_int_eq(con.timer_calls, 5);
	/* Four timers went on, each with its wakeup; poll's own wakeups may add more. */
	ck_assert_int_ge(con.outputs, 4);
	ck_assert_int_ge(now_ms(), con.start + 250);
	stop_by_qmp(vm, info);
	boot_end(vm, pid, &con, &c);
}
END_TEST

/* Kill qemu from outside once the deadline passes, and look again in a minute. */
static int kill_timer(void *ctx, int64_t now)
{
	struct console *con = ctx;

	con->timer_calls++;
	con->deadline = now + 60000;
	ck_assert_int_eq(kill(vm_info(con->vm)->pid, SIGKILL), 0);
	return 0;
}

/* A VM killed under us is an infrastructure error, not a pass. */
START_TEST(test_vm_killed)
{
	static const struct vm_ops ops = {
	    .on_output = shell_output, .deadline = console_deadline, .on_timer = kill_timer};
	struct vm_config c;
	struct it_error err = IT_ERROR_INIT;
	struct vm *vm = NULL;
	struct console con;
	const struct vm_info *info;

	info = boot_start(&c, NULL, true, &vm, &con, 300);
	ck_assert_int_eq(vm_run(vm, &ops, &con, &err), -IT_EVM);
	ck_assert_int_eq(con.timer_calls, 1);
	ck_assert_str_eq(err.msg, "'qemu-system-x86_64' was killed by signal 9 (Killed)");
	ck_assert_int_eq(info->stopped_by, VM_STOP_NONE);
	ck_assert_int_lt(now_ms(), con.start + 30000);
	boot_end(vm, info->pid, &con, &c);
}
END_TEST

/* Start the VM and wait for its QMP socket, which qemu makes a moment after it starts. */
static const struct vm_info *start_with_qmp(struct vm_config *c, struct vm **vm, char *sock,
					    size_t socksz)
{
	struct it_error err = IT_ERROR_INIT;
	const struct vm_info *info;
	int64_t t0;
	int r;

	r = vm_start(c, vm, &err);
	ck_assert_msg(r == 0, "vm_start: %d (%s)", r, err.msg);
	info = vm_info(*vm);
	snprintf(sock, socksz, "%s/qmp.sock", info->runtime_dir);
	for (t0 = now_ms(); access(sock, F_OK) < 0 && now_ms() < t0 + 10000;)
		usleep(20 * 1000);
	return info;
}

/* When QMP cannot help, vm_stop falls back to SIGTERM, then to SIGKILL. */
START_TEST(test_stop_fallbacks)
{
	struct vm_config c;
	struct it_error err = IT_ERROR_INIT;
	struct vm *vm = NULL;
	const struct vm_info *info;
	char sock[PATH_MAX];
	int64_t t0;

	config_for(&c, NULL, SHELL_APPEND);
	strlist_add(&c.extra_args, "-S");

	/* No QMP socket any more: SIGTERM, which qemu obeys. */
	info = start_with_qmp(&c, &vm, sock, sizeof(sock));
	ck_assert_int_eq(unlink(sock), 0);
	ck_assert_int_eq(vm_stop(vm, 2000, &err), 0);
	ck_assert(info->exited);
	ck_assert_int_eq(info->stopped_by, VM_STOP_TERM);
	vm_free(vm);

	/* A stopped qemu answers neither QMP nor SIGTERM: SIGKILL after grace plus 1 s. */
	info = start_with_qmp(&c, &vm, sock, sizeof(sock));
	usleep(200 * 1000);
	ck_assert_int_eq(kill(info->pid, SIGSTOP), 0);
	t0 = now_ms();
	ck_assert_int_eq(vm_stop(vm, 500, &err), 0);
	ck_assert_int_ge(now_ms() - t0, 1500);
	ck_assert_int_eq(info->stopped_by, VM_STOP_KILL);
	ck_assert(WIFSIGNALED(info->wait_status) && WTERMSIG(info->wait_status) == SIGKILL);
	vm_free(vm);
	vm_config_release(&c);
	assert_no_children();
}
END_TEST

/* What a child running a VM tells its parent. */
struct child_report {
	pid_t qemu;
	char runtime_dir[256];
};

static int report_output(void *ctx, const char *buf, size_t len, int64_t now)
{
	struct console *con = ctx;
	struct child_report rep = {0};

	(void)buf;
	(void)len;
	(void)now;
	if (con->pid_fd >= 0) {
		rep.qemu = vm_info(con->vm)->pid;
		snprintf(rep.runtime_dir, sizeof(rep.runtime_dir), "%s",
			 vm_info(con->vm)->runtime_dir);
		if (write(con->pid_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
			_exit(30);
		close(con->pid_fd);
		con->pid_fd = -1;
	}
	return 0;
}

/*
 * In a child: start the VM, run the loop (the qemu pid is reported from
 * inside it, or before it when 'report_early'), free the VM. Exit 10 when
 * vm_run ended with -IT_EINTERRUPTED by SIGTERM.
 */
static void child_run_vm(int fd, const char *extra, bool report_early)
{
	static const struct vm_ops ops = {
	    .on_output = report_output, .deadline = console_deadline, .on_timer = console_timer};
	struct vm_config c;
	struct it_error err = IT_ERROR_INIT;
	struct vm *vm = NULL;
	struct console con;
	int r;

	config_for(&c, NULL, SHELL_APPEND);
	if (extra)
		strlist_add(&c.extra_args, extra);
	if (vm_start(&c, &vm, &err) < 0)
		_exit(20);
	console_init(&con, vm, BOOT_LIMIT_MS);
	con.pid_fd = fd;
	if (report_early)
		report_output(&con, NULL, 0, 0);
	r = vm_run(vm, &ops, &con, &err);
	vm_free(vm);
	_exit(r == -IT_EINTERRUPTED && err.code == -IT_EINTERRUPTED ? 10 : 21);
}

static void read_report(int fd, struct child_report *rep)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	ck_assert_int_eq(poll(&p, 1, BOOT_LIMIT_MS), 1);
	ck_assert_int_eq(read(fd, rep, sizeof(*rep)), sizeof(*rep));
	ck_assert_int_gt(rep->qemu, 0);
}

/* As subreaper, orphans come to us: a qemu left behind would still answer kill(pid, 0). */
static void become_subreaper(void)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

/*
 * As subreaper, fork a child running child_run_vm(extra, report_early) and
 * read its report: the qemu it started.
 */
static pid_t fork_vm_child(const char *extra, bool report_early, struct child_report *rep)
{
	int fds[2];
	pid_t child;

	become_subreaper();
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		close(fds[0]);
		child_run_vm(fds[1], extra, report_early);
	}
	close(fds[1]);
	read_report(fds[0], rep);
	close(fds[0]);
	return child;
}

/* A qemu outlived what should have ended it: kill and reap it, then fail. */
static void fail_qemu_left(pid_t qemu, const char *why)
{
	kill(qemu, SIGKILL);
	waitpid(qemu, NULL, 0);
	ck_abort_msg("qemu %d %s", (int)qemu, why);
}

START_TEST(test_sigterm_leaves_no_qemu)
{
	struct child_report rep;
	int status;
	pid_t child;

	/* The report comes from on_output: vm_run is running, the console is live. */
	child = fork_vm_child(NULL, false, &rep);
	ck_assert_int_eq(kill(rep.qemu, 0), 0);
	ck_assert_int_eq(kill(child, SIGTERM), 0);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 10, "child status %#x",
		      (unsigned)status);
	if (kill(rep.qemu, 0) == 0)
		fail_qemu_left(rep.qemu, "was left running");
	ck_assert_int_eq(errno, ESRCH);
	ck_assert_int_eq(access(rep.runtime_dir, F_OK), -1);
	assert_no_children();
}
END_TEST

/* initrd-test itself killed (SIGKILL: no cleanup at all): the parent-death signal takes qemu along.
 */
START_TEST(test_parent_death_kills_qemu)
{
	struct child_report rep;
	int status = 0;
	pid_t child, p = 0;
	int64_t until;

	child = fork_vm_child("-S", true, &rep);
	ck_assert_int_eq(kill(child, SIGKILL), 0);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	/* qemu is reparented to us, the subreaper: it must die by SIGKILL on its own. */
	until = now_ms() + 10000;
	while (now_ms() < until) {
		p = waitpid(rep.qemu, &status, WNOHANG);
		if (p != 0)
			break;
		usleep(20 * 1000);
	}
	if (p == 0)
		fail_qemu_left(rep.qemu, "outlived its parent");
	ck_assert_int_eq(p, rep.qemu);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	rm_rf(rep.runtime_dir);
	assert_no_children();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("runner");
	TCase *argv = tcase_create("argv");
	TCase *fail = tcase_create("failures");
	TCase *boot = tcase_create("boot");

	/* Never KVM here, whatever the machine offers. */
	setenv(VM_ACCEL_ENV, "tcg", 1);

	tcase_add_test(argv, test_argv_qemu_pc_tcg);
	tcase_add_test(argv, test_argv_qemu_q35_kvm_extra);
	tcase_add_test(argv, test_argv_qemu_microvm);
	tcase_add_test(argv, test_argv_nic_none_pc);
	tcase_add_test(argv, test_argv_crosvm);
	tcase_add_test(argv, test_argv_agent);
	tcase_add_test(argv, test_argv_incoming);
	tcase_add_test(argv, test_argv_errors);
	tcase_add_test(argv, test_argv_aarch64_preset);
	tcase_add_test(argv, test_presets_and_factors);
	tcase_add_test(argv, test_accel_resolve);
	tcase_add_test(argv, test_names);
	suite_add_tcase(s, argv);

	tcase_set_timeout(fail, 60);
	tcase_add_test(fail, test_start_missing_binary);
	tcase_add_test(fail, test_start_unreadable_files);
	tcase_add_test(fail, test_start_exec_fails);
	tcase_add_test(fail, test_qemu_exits_at_once);
	suite_add_tcase(s, fail);

	/* Real qemu under TCG: three boots, two paused VMs. */
	tcase_set_timeout(boot, 150);
	tcase_add_test(boot, test_boot_shell);
	tcase_add_test(boot, test_boot_deadline_microvm);
	tcase_add_test(boot, test_silent_vm);
	tcase_add_test(boot, test_timer_then_wakeup);
	tcase_add_test(boot, test_stop_fallbacks);
	tcase_add_test(boot, test_vm_killed);
	tcase_add_test(boot, test_sigterm_leaves_no_qemu);
	tcase_add_test(boot, test_parent_death_kills_qemu);
	suite_add_tcase(s, boot);

	return tu_run_suite(s);
}
