/* SPDX-License-Identifier: MIT */
/* What a failed run leaves for the person who looks into it: its artifacts folder. */
#ifndef IT_ARTIFACTS_H
#define IT_ARTIFACTS_H

#include "common/err.h"
#include "common/strlist.h"

/*
 * Gather what explains a failed run into dest (created; emptied first):
 * from run_dir its console.raw, console.log, command.txt, plan.txt,
 * result.json and run.log when present; the scenario files (files[0] the
 * top one) as scenario/1-NAME, 2-NAME, ... with scenario/index.txt saying
 * which path each was; and initrd.list, the long listing of the initrd
 * (skipped when initrd is NULL or missing). Each file is whole or absent.
 * Errors name the file.
 */
int artifacts_collect(const char *run_dir, const char *dest, const struct strlist *files,
		      const char *initrd, struct it_error *err);

#endif
