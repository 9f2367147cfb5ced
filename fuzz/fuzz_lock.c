// SPDX-License-Identifier: MIT
/* libFuzzer target: the lock parser on any bytes; a lock it takes formats back the same. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "fuzz/fuzz.h"

/* A lock that parsed: its text parses again to the same text and the same packages. */
static void lock_check_round_trip(const struct lock *l)
{
	struct it_error err = IT_ERROR_INIT;
	struct buf a, b, diff;
	struct lock again;

	buf_init(&a, 0);
	buf_init(&b, 0);
	buf_init(&diff, 0);
	lock_init(&again);
	if (lock_format(l, &a) < 0)
		fuzz_fail();
	if (lock_parse(&again, buf_blob(&a), "again.lock", &err) < 0)
		fuzz_fail();
	if (lock_format(&again, &b) < 0 || a.len != b.len || memcmp(a.data, b.data, a.len))
		fuzz_fail();
	if (lock_diff(l, &again, &diff) || again.n != l->n)
		fuzz_fail();
	for (size_t i = 0; i < l->n; i++)
		if (lock_find(l, l->pkgs[i].name) != &l->pkgs[i])
			fuzz_fail();
	lock_release(&again);
	buf_release(&diff);
	buf_release(&b);
	buf_release(&a);
}

FUZZ_ONE(lock)
{
	struct it_error err = IT_ERROR_INIT;
	struct lock l;
	int r;

	lock_init(&l);
	r = lock_parse(&l, blob_mem(data, size), "initrd-test.lock", &err);
	if (r == 0) {
		lock_check_round_trip(&l);
	} else if (r == -IT_ESCENARIO) {
		/* Every refusal names the file and a line, and keeps nothing. */
		if (strncmp(err.msg, "initrd-test.lock:", 17) || l.n || l.arch)
			fuzz_fail();
	} else if (r != -ENOMEM) {
		fuzz_fail();
	}
	lock_release(&l);
	return 0;
}
