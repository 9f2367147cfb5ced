// SPDX-License-Identifier: MIT
/* Life cycle of struct vm_config. */
#include <stdlib.h>
#include <string.h>

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
	free(c->machine);
	free(c->nic_model);
	strlist_clear(&c->extra_args);
	vm_config_init(c);
}
