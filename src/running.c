// SPDX-License-Identifier: MIT
/* Finding a running VM for attach, stop and the commands that talk to its guest. */
#include "src/running.h"

int running_find(struct vm_hub_list *list, const char *what, const struct vm_hub_entry **out,
		 struct it_error *err)
{
	int r = vm_hub_list(list, err);

	if (r < 0)
		return r;
	if (what)
		return vm_hub_find(list, what, out, err);
	if (list->n == 1) {
		*out = &list->v[0];
		return 0;
	}
	if (list->n == 0) {
		it_error_set(err, -IT_ENOTFOUND, "no VM is running");
		it_error_hint(err, "'initrd-test run' starts one");
		return -IT_ENOTFOUND;
	}
	it_error_set(err, -IT_EUSAGE, "%zu VMs are running: name one", list->n);
	it_error_hint(err, "'initrd-test ps' lists them");
	return -IT_EUSAGE;
}
