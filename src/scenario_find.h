/* SPDX-License-Identifier: MIT */
/*
 * Scenarios by name: 'initrd-test run networking' finds the example scenarios
 * installed in IT_DATADIR/scenarios when there is no 'networking' here.
 *
 * A command-line operand that exists as given (a file or a directory), or that
 * holds a '/', is a path and is taken as it is. Otherwise, when
 * DATADIR/scenarios/NAME holds a file 'scenario' (DATADIR under the install
 * root this binary runs from, see install_path()), that directory is meant.
 * Nothing is printed; a name found nowhere is left for the caller to refuse
 * with its usual error.
 */
#ifndef IT_SCENARIO_FIND_H
#define IT_SCENARIO_FIND_H

#include <stddef.h>

/* ARG, or the installed scenario it names written into BUF (size BUFSZ). */
const char *scenario_find(const char *arg, char *buf, size_t bufsz);
/* The directory of the installed scenarios, into BUF (size BUFSZ). */
const char *scenario_installed_dir(char *buf, size_t bufsz);

#endif
