/* SPDX-License-Identifier: MIT */
/* The VMs that initrd-test runs now, as commands name them: by name, prefix or pid. */
#ifndef IT_RUNNING_H
#define IT_RUNNING_H

#include "common/err.h"
#include "runner/runner.h"

/*
 * Read the running VMs into list (empty; the caller releases it) and find
 * the one 'what' names (vm_hub_find(): a name, a unique prefix, a pid). With
 * what NULL, the only running VM. -IT_ENOTFOUND when none runs (or none
 * matches), -IT_EUSAGE when several could be meant; err says which, with a
 * hint. *out is borrowed from list.
 */
int running_find(struct vm_hub_list *list, const char *what, const struct vm_hub_entry **out,
		 struct it_error *err);

#endif
