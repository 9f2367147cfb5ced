// SPDX-License-Identifier: MIT
/* libFuzzer target: console bytes through the crash-report parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "expect/crash.h"
#include "fuzz/fuzz.h"

/* Every field is a NUL-terminated string inside its array; offsets stay in the input. */
static void crash_check_str(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

FUZZ_ONE(crash)
{
	static struct crash c;
	int found = crash_find((const char *)data, size, &c);

	crash_check_str(c.title, sizeof(c.title));
	crash_check_str(c.first, sizeof(c.first));
	crash_check_str(c.rip, sizeof(c.rip));
	crash_check_str(c.modules, sizeof(c.modules));
	crash_check_str(c.trace, sizeof(c.trace));
	crash_check_str(c.before, sizeof(c.before));
	if (found != (c.cls != CRASH_NONE))
		abort();
	if (found && (c.at >= size || c.end > size || c.end <= c.at || !c.title[0]))
		abort();
	if (found != (crash_start((const char *)data, size) < size))
		abort();
	(void)crash_class_name(c.cls);
	return 0;
}
