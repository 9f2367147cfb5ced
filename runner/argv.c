// SPDX-License-Identifier: MIT
/* The backend's command line, built from a vm_config as a pure function. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "runner/runner.h"

/* What differs between the machine types we offer. */
struct machine_desc {
	const char *name;
	const char *append; /* added to the kernel command line, or NULL */
	bool nodefaults;    /* -nodefaults -no-user-config */
	bool mmio_nic;	    /* no PCI: the NIC is a virtio-mmio device */
	enum vm_arch arch;  /* the guest architecture it emulates */
};

/*
 * microvm (qemu docs/system/i386/microvm.rst): no PCI, so the NIC is a
 * virtio-net-device; its ISA serial port stays on (default) and is our
 * console; "reboot=t" makes the guest's reboot or poweroff a triple fault,
 * which -no-reboot turns into qemu exiting instead of a slow fallback.
 */
static const struct machine_desc machines[] = {
    {"pc", NULL, false, false, VM_ARCH_X86_64},
    {"q35", NULL, false, false, VM_ARCH_X86_64},
    {"microvm", "reboot=t", true, true, VM_ARCH_X86_64},
    /* arm's virt board: a PCIe host bridge (pci-host-generic, built into Debian's arm64 kernel) and
       a PL011 UART. */
    {"virt", NULL, false, false, VM_ARCH_AARCH64},
};

static const struct machine_desc *find_machine(const char *name, enum vm_arch arch)
{
	for (size_t i = 0; i < ARRAY_SIZE(machines); i++)
		if (!strcmp(machines[i].name, name) && machines[i].arch == arch)
			return &machines[i];
	return NULL;
}

/* A qemu device model name goes into a key=value list: allow only plain names. */
static bool safe_model(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
			    *s))
			return false;
	}
	return true;
}

/* qemu option values escape a comma by doubling it. */
static int add_qemu_escaped(struct buf *b, const char *s)
{
	int r = 0;

	for (; *s && r == 0; s++) {
		r = buf_addch(b, *s);
		if (r == 0 && *s == ',')
			r = buf_addch(b, ',');
	}
	return r;
}

static int kernel_cmdline(const struct vm_config *c, const char *machine_append, char **out)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	r = buf_addf(&b, "console=%s", c->console ? c->console : vm_preset(c->arch)->console);
	if (r == 0 && machine_append)
		r = buf_addf(&b, " %s", machine_append);
	if (r == 0 && c->agent == VM_AGENT_SERIAL)
		r = buf_addstr(&b, " initrd_test.agent=ttyS1");
	if (r == 0 && c->append && *c->append)
		r = buf_addf(&b, " %s", c->append);
	if (r < 0) {
		buf_release(&b);
		return r;
	}
	*out = buf_detach(&b, NULL);
	return 0;
}

static int check_common(const struct vm_config *c, enum vm_accel accel, struct it_error *err)
{
	if (accel != VM_ACCEL_TCG && accel != VM_ACCEL_KVM)
		return it_error_set(err, -IT_EUSAGE, "accelerator '%s' is not resolved",
				    vm_accel_name(accel));
	if (!c->kernel || !*c->kernel)
		return it_error_set(err, -IT_EUSAGE, "no kernel given for the VM");
	if (!c->initrd || !*c->initrd)
		return it_error_set(err, -IT_EUSAGE, "no initrd given for the VM");
	if (c->memory_mib < 0 || c->memory_mib > 1024L * 1024)
		return it_error_set(err, -IT_EUSAGE, "invalid VM memory size '%ld MiB'",
				    c->memory_mib);
	if (c->cpus < 0 || c->cpus > 1024)
		return it_error_set(err, -IT_EUSAGE, "invalid VM CPU count '%ld'", c->cpus);
	return 0;
}

static int qemu_nic(const struct vm_config *c, const struct machine_desc *m, struct strlist *a)
{
	const char *model = c->nic_model ? c->nic_model : vm_preset(c->arch)->nic;
	const char *restrict_opt = c->nic_restrict ? ",restrict=on" : "";
	int r;

	if (!strcmp(model, "none")) {
		r = strlist_add(a, "-nic");
		return r < 0 ? r : strlist_add(a, "none");
	}
	if (m->mmio_nic) {
		r = strlist_add(a, "-netdev");
		if (r == 0)
			r = strlist_addf(a, "user,id=net0%s", restrict_opt);
		if (r == 0)
			r = strlist_add(a, "-device");
		return r < 0 ? r : strlist_add(a, "virtio-net-device,netdev=net0");
	}
	r = strlist_add(a, "-nic");
	return r < 0 ? r : strlist_addf(a, "user,model=%s%s", model, restrict_opt);
}

static int qemu_qmp(const char *qmp_path, struct strlist *a)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	r = buf_addstr(&b, "unix:");
	if (r == 0)
		r = add_qemu_escaped(&b, qmp_path);
	if (r == 0)
		r = buf_addstr(&b, ",server=on,wait=off");
	if (r == 0)
		r = strlist_add(a, "-qmp");
	if (r == 0)
		r = strlist_add_owned(a, buf_detach(&b, NULL));
	buf_release(&b);
	return r;
}

/* An option whose value is a number: "-m 512". */
static int add_number_opt(struct strlist *a, const char *opt, long value)
{
	int r = strlist_add(a, opt);

	return r < 0 ? r : strlist_addf(a, "%ld", value);
}

/* What qemu emulates and how: the machine, the accelerator, memory and CPUs. */
static int qemu_machine(const struct vm_config *c, const struct machine_desc *m,
			enum vm_accel accel, struct strlist *a)
{
	const struct vm_preset *p = vm_preset(c->arch);
	int r = strlist_add(a, c->binary ? c->binary : p->binary);

	if (r == 0 && m->nodefaults)
		r = strlist_addl(a, "-nodefaults", "-no-user-config");
	if (r == 0)
		r = strlist_addl(a, "-machine", m->name, "-accel",
				 accel == VM_ACCEL_KVM ? "kvm" : "tcg");
	if (r == 0 && accel == VM_ACCEL_KVM)
		r = strlist_addl(a, "-cpu", "host");
	else if (r == 0 && p->tcg_cpu)
		r = strlist_addl(a, "-cpu", p->tcg_cpu);
	if (r == 0)
		r = add_number_opt(a, "-m", c->memory_mib ? c->memory_mib : VM_DEFAULT_MEMORY_MIB);
	if (r == 0)
		r = add_number_opt(a, "-smp", c->cpus ? c->cpus : VM_DEFAULT_CPUS);
	return r;
}

/*
 * qemu's stdin and stdout are the pty slave: qemu keeps writing into the pty
 * and we keep draining the master; when qemu exits the slave closes and the
 * master reads EIO, our end of file. signal=off: a ^C typed on the console
 * goes to the guest, not to qemu. No display, no monitor; a reboot ends qemu.
 */
static int qemu_console(struct strlist *a)
{
	int r = strlist_addl(a, "-display", "none", "-no-reboot");

	if (r == 0)
		r = strlist_addl(a, "-chardev", "stdio,id=con0,signal=off", "-serial",
				 "chardev:con0");
	if (r == 0)
		r = strlist_addl(a, "-monitor", "none");
	return r;
}

/*
 * The agent's channel: a socketpair end inherited as fd VM_AGENT_FD, as a
 * virtio console port (a bus of its own: virtio-serial-device where there is
 * no PCI) or as the second serial port, ttyS1.
 */
static int qemu_agent(const struct vm_config *c, const struct machine_desc *m, struct strlist *a)
{
	int r;

	if (c->agent == VM_AGENT_NONE)
		return 0;
	r = strlist_add(a, "-chardev");
	if (r == 0)
		r = strlist_addf(a, "socket,id=agent,fd=%d", VM_AGENT_FD);
	if (r == 0 && c->agent == VM_AGENT_SERIAL)
		return strlist_addl(a, "-serial", "chardev:agent");
	if (r == 0)
		r = strlist_addl(a, "-device",
				 m->mmio_nic ? "virtio-serial-device,id=agentbus"
					     : "virtio-serial-pci,id=agentbus",
				 "-device");
	if (r == 0)
		r = strlist_addf(a, "virtserialport,bus=agentbus.0,chardev=agent,name=%s",
				 VM_AGENT_PORT);
	return r;
}

static int qemu_argv(const struct vm_config *c, enum vm_accel accel, const char *qmp_path,
		     struct strlist *a, struct it_error *err)
{
	const char *machine = c->machine ? c->machine : vm_preset(c->arch)->machine;
	const struct machine_desc *m = find_machine(machine, c->arch);
	char *cmdline = NULL;
	int r;

	if (!m) {
		it_error_set(err, -IT_EUSAGE, "unknown machine type '%s'", machine);
		it_error_hint(err, c->arch == VM_ARCH_AARCH64 ? "aarch64 guests use virt"
							      : "use pc, q35 or microvm");
		return -IT_EUSAGE;
	}
	if (c->agent == VM_AGENT_SERIAL && c->arch != VM_ARCH_X86_64) {
		it_error_set(err, -IT_EUSAGE,
			     "the serial agent channel needs a second serial port, "
			     "which the %s machine '%s' has not",
			     vm_arch_name(c->arch), machine);
		it_error_hint(err, "write 'agent virtio' or 'agent off' in the scenario");
		return -IT_EUSAGE;
	}
	if (c->console && !safe_model(c->console))
		return it_error_set(err, -IT_EUSAGE, "invalid console device '%s'", c->console);
	if (c->nic_model && !safe_model(c->nic_model))
		return it_error_set(err, -IT_EUSAGE, "invalid NIC model '%s'", c->nic_model);
	r = kernel_cmdline(c, m->append, &cmdline);
	if (r < 0)
		return r;

	r = qemu_machine(c, m, accel, a);
	if (r == 0)
		r = strlist_addl(a, "-kernel", c->kernel, "-initrd", c->initrd, "-append", cmdline);
	if (r == 0)
		r = qemu_nic(c, m, a);
	if (r == 0)
		r = qemu_console(a);
	if (r == 0 && qmp_path)
		r = qemu_qmp(qmp_path, a);
	if (r == 0)
		r = qemu_agent(c, m, a);
	if (r == 0 && c->incoming)
		r = strlist_addl(a, "-incoming", "defer");
	for (size_t i = 0; r == 0 && i < c->extra_args.n; i++)
		r = strlist_add(a, c->extra_args.v[i]);
	free(cmdline);
	return r;
}

/*
 * UNVERIFIED: crosvm cannot run here (no crosvm, no KVM), so this command
 * line follows crosvm's documentation and serial_device.rs only. crosvm's
 * stdin and stdout are the pty slave, named through /proc/self/fd so that
 * crosvm reads and writes the very pty we drain.
 */
static const char crosvm_serial[] = "type=file,hardware=serial,num=1,console=true,"
				    "path=/proc/self/fd/1,input=/proc/self/fd/0";

static int crosvm_argv(const struct vm_config *c, enum vm_accel accel, struct strlist *a,
		       struct it_error *err)
{
	char *cmdline = NULL;
	int r;

	if (accel != VM_ACCEL_KVM) {
		it_error_set(err, -IT_EUSAGE, "crosvm needs kvm, but the accelerator is '%s'",
			     vm_accel_name(accel));
		it_error_hint(err, "use --backend qemu to run without kvm");
		return -IT_EUSAGE;
	}
	if (c->agent != VM_AGENT_NONE) {
		it_error_set(err, -IT_EUSAGE, "the crosvm backend has no agent channel");
		it_error_hint(err, "write 'agent off' in the scenario, or use --backend qemu");
		return -IT_EUSAGE;
	}
	if (c->incoming)
		return it_error_set(err, -IT_EUSAGE, "the crosvm backend has no checkpoints");
	r = kernel_cmdline(c, NULL, &cmdline);
	if (r < 0)
		return r;
	r = strlist_addl(a, c->binary ? c->binary : VM_CROSVM_BINARY, "run");
	if (r == 0)
		r = add_number_opt(a, "--mem",
				   c->memory_mib ? c->memory_mib : VM_DEFAULT_MEMORY_MIB);
	if (r == 0)
		r = add_number_opt(a, "--cpus", c->cpus ? c->cpus : VM_DEFAULT_CPUS);
	if (r == 0)
		r = strlist_addl(a, "--serial", crosvm_serial, "-i", c->initrd, "-p", cmdline);
	for (size_t i = 0; r == 0 && i < c->extra_args.n; i++)
		r = strlist_add(a, c->extra_args.v[i]);
	if (r == 0)
		r = strlist_add(a, c->kernel);
	free(cmdline);
	return r;
}

int vm_build_argv(const struct vm_config *c, enum vm_accel accel, const char *qmp_path,
		  struct strlist *argv, struct it_error *err)
{
	int r;

	if (argv->n)
		return it_error_set(err, -EINVAL, "argument list for the VM is not empty");
	r = check_common(c, accel, err);
	if (r < 0)
		return r;
	switch (c->backend) {
	case VM_BACKEND_QEMU:
		r = qemu_argv(c, accel, qmp_path, argv, err);
		break;
	case VM_BACKEND_CROSVM:
		r = crosvm_argv(c, accel, argv, err);
		break;
	default:
		r = it_error_set(err, -IT_EUSAGE, "unknown backend %d", (int)c->backend);
		break;
	}
	if (r < 0) {
		strlist_clear(argv);
		if (r == -ENOMEM)
			it_error_set(err, r, "cannot build the VM command line: %s",
				     it_strerror(r));
	}
	return r;
}
