// SPDX-License-Identifier: MIT
/* Life cycle of struct vm_config, and the names of its enums. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "runner/runner.h"

void vm_config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->backend = VM_BACKEND_QEMU;
	c->accel = VM_ACCEL_AUTO;
	c->nic_restrict = true;
}

void vm_config_release(struct vm_config *c)
{
	free(c->binary);
	free(c->kernel);
	free(c->initrd);
	free(c->append);
	free(c->console);
	free(c->machine);
	free(c->nic_model);
	strlist_clear(&c->extra_args);
	vm_config_init(c);
}

static const char *const accel_names[] = {
    [VM_ACCEL_AUTO] = "auto",
    [VM_ACCEL_TCG] = "tcg",
    [VM_ACCEL_KVM] = "kvm",
};

static const char *const backend_names[] = {
    [VM_BACKEND_QEMU] = "qemu",
    [VM_BACKEND_CROSVM] = "crosvm",
};

const char *vm_accel_name(enum vm_accel a)
{
	if ((size_t)a >= ARRAY_SIZE(accel_names))
		return "?";
	return accel_names[a];
}

const char *vm_backend_name(enum vm_backend b)
{
	if ((size_t)b >= ARRAY_SIZE(backend_names))
		return "?";
	return backend_names[b];
}

int vm_accel_parse(const char *s, enum vm_accel *out, struct it_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(accel_names); i++) {
		if (s && !strcmp(s, accel_names[i])) {
			*out = (enum vm_accel)i;
			return 0;
		}
	}
	it_error_set(err, -IT_EUSAGE, "unknown accelerator '%s'", s ? s : "");
	it_error_hint(err, "use tcg, kvm or auto");
	return -IT_EUSAGE;
}

int vm_backend_parse(const char *s, enum vm_backend *out, struct it_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(backend_names); i++) {
		if (s && !strcmp(s, backend_names[i])) {
			*out = (enum vm_backend)i;
			return 0;
		}
	}
	it_error_set(err, -IT_EUSAGE, "unknown backend '%s'", s ? s : "");
	it_error_hint(err, "use qemu or crosvm");
	return -IT_EUSAGE;
}
