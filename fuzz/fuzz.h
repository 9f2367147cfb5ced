/* SPDX-License-Identifier: MIT */
/* How a fuzz target declares its entry points: libFuzzer's, or named ones for the replay test. */
#ifndef IT_FUZZ_H
#define IT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/*
 * Built by fuzz/run.sh, FUZZ_ONE(index) is libFuzzer's LLVMFuzzerTestOneInput.
 * tests/unit/check_app_fuzzregress.c defines FUZZ_REPLAY and includes every
 * target, so each gets its own name (fuzz_index_one, fuzz_index_init) and
 * replays inputs through exactly the code and checks the fuzzer ran. So that
 * the targets can share one translation unit there, each keeps its static
 * names under its own prefix.
 */
#ifdef FUZZ_REPLAY
#define FUZZ_ONE(name)                                                                             \
	int fuzz_##name##_one(const uint8_t *data, size_t size);                                   \
	int fuzz_##name##_one(const uint8_t *data, size_t size)
#define FUZZ_INIT(name)                                                                            \
	int fuzz_##name##_init(int *argc, char ***argv);                                           \
	int fuzz_##name##_init(int *argc, char ***argv)
#else
#define FUZZ_ONE(name)                                                                             \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                              \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#define FUZZ_INIT(name)                                                                            \
	int LLVMFuzzerInitialize(int *argc, char ***argv);                                         \
	int LLVMFuzzerInitialize(int *argc, char ***argv)
#endif

/*
 * Temp files of a target, removed when a check fails: abort() runs no
 * atexit() handler, and a fuzzer that stops at each crash would leave one
 * directory per crash behind.
 */
#define FUZZ_MAX_HOOKS 4
static void (*fuzz_hooks[FUZZ_MAX_HOOKS])(void);

static inline void fuzz_on_fail(void (*fn)(void))
{
	for (int i = 0; i < FUZZ_MAX_HOOKS; i++) {
		if (!fuzz_hooks[i]) {
			fuzz_hooks[i] = fn;
			return;
		}
	}
}

/* A broken invariant: clean up, then abort() for libFuzzer to report the input. */
static inline void fuzz_fail(void)
{
	for (int i = 0; i < FUZZ_MAX_HOOKS; i++)
		if (fuzz_hooks[i])
			fuzz_hooks[i]();
	abort();
}

/*
 * A failed call must say why in one line: a code, a message, no control
 * byte (a newline or an escape from hostile input would forge lines).
 */
static inline void fuzz_check_error(const struct it_error *err, int r)
{
	if (r >= 0)
		return;
	if (err->code == 0 || err->msg[0] == '\0')
		fuzz_fail();
	for (const char *p = err->msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			fuzz_fail();
}

#endif
