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
 * A failed call must say why in one line: a code, a message, no newline.
 * A violated invariant aborts, which libFuzzer reports as a crash with the
 * input that caused it.
 */
static inline void fuzz_check_error(const struct it_error *err, int r)
{
	if (r >= 0)
		return;
	if (err->code == 0 || err->msg[0] == '\0' || strchr(err->msg, '\n') != NULL)
		abort();
}

#endif
