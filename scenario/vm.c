// SPDX-License-Identifier: MIT
/* The keywords of the VM and its clock: vm SETTING VALUE, timeout, step-timeout. */
#include "scenario/internal.h"

static const char *const machines[] = {"pc", "q35", "microvm", "virt", NULL};
static const char *const backends[] = {"qemu", "crosvm", NULL};
static const char *const accels[] = {"auto", "tcg", "kvm", NULL};
static const char *const vm_keys[] = {"memory",	 "cpus",  "machine", "append", "nic",
				      "backend", "accel", "console", NULL};

int kw_vm(struct line *l)
{
	struct vm_config *vm = &l->ld->s->vm;
	char *key = NULL, *w = NULL;
	int k, r = scn_need_word(l, "setting", &key);

	if (r < 0)
		return r;
	k = scn_lookup(vm_keys, key);
	if (k < 0)
		return scn_unknown_word(l, "vm setting", key, vm_keys);
	if (k == 3) {
		w = scn_rest_of_line(l);
		if (!w)
			return scn_line_error(
			    l, "missing kernel arguments (usage: vm append ARGS...)");
		return scn_set_str(l, &vm->append, w);
	}
	r = scn_need_last_word(l, key, &w);
	if (r < 0)
		return r;
	switch (k) {
	case 0:
		if (!parse_size_mib(w, &vm->memory_mib) || vm->memory_mib > 1024 * 1024)
			return scn_line_error(l, "bad size '%s' for memory (write e.g. 512M or 1G)",
					      w);
		return 0;
	case 1:
		if (!parse_long(w, 1, 255, &vm->cpus))
			return scn_line_error(l, "bad number '%s' for cpus (1 to 255)", w);
		return 0;
	case 2:
		if (scn_lookup(machines, w) < 0)
			return scn_unknown_word(l, "machine", w, machines);
		return scn_set_str(l, &vm->machine, w);
	case 4:
		if (!scn_name_ok(w, "_-", 32))
			return scn_line_error(
			    l, "bad nic model '%s' (e.g. e1000, virtio-net-pci or none)", w);
		return scn_set_str(l, &vm->nic_model, w);
	case 5:
		if (scn_lookup(backends, w) < 0)
			return scn_unknown_word(l, "backend", w, backends);
		vm->backend = scn_lookup(backends, w) ? VM_BACKEND_CROSVM : VM_BACKEND_QEMU;
		return 0;
	case 7:
		if (!scn_name_ok(w, "_-.", 32))
			return scn_line_error(l, "bad console device '%s' (e.g. ttyS0 or ttyAMA0)",
					      w);
		return scn_set_str(l, &vm->console, w);
	default:
		switch (scn_lookup(accels, w)) {
		case 0:
			vm->accel = VM_ACCEL_AUTO;
			return 0;
		case 1:
			vm->accel = VM_ACCEL_TCG;
			return 0;
		case 2:
			vm->accel = VM_ACCEL_KVM;
			return 0;
		default:
			return scn_unknown_word(l, "accel", w, accels);
		}
	}
}

int kw_timeout(struct line *l)
{
	int r = scn_need_duration(l, "timeout", &l->ld->s->timeout_ms);

	return r < 0 ? r : scn_need_end(l);
}

int kw_step_timeout(struct line *l)
{
	int r = scn_need_duration(l, "step-timeout", &l->ld->s->step_timeout_ms);

	return r < 0 ? r : scn_need_end(l);
}
