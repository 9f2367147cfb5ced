// SPDX-License-Identifier: MIT
/* libFuzzer target: console bytes through the crash-report parser and its frames' parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "expect/crash.h"
#include "fuzz/fuzz.h"
#include "src/symbolize.h"

/* Every field is a NUL-terminated string inside its array; offsets stay in the input. */
static void crash_check_str(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

/* A frame parsed from a line has a name and NUL-terminated fields. */
static void crash_check_frame(const char *line)
{
	struct symbolize_frame f;

	if (!symbolize_parse_frame(line, &f))
		return;
	crash_check_str(f.func, sizeof(f.func));
	crash_check_str(f.module, sizeof(f.module));
	if (!f.func[0])
		abort();
}

/* Each line of the trace, the RIP line and the input's first line, as frames. */
static void crash_check_frames(const struct crash *c, const uint8_t *data, size_t size)
{
	char line[CRASH_LINE_MAX];
	size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;

	crash_check_frame(c->rip);
	for (const char *p = c->trace; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			crash_check_frame(line);
		}
		p += nl ? len + 1 : len;
	}
	memcpy(line, data, n);
	line[n] = '\0';
	crash_check_frame(line);
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
	crash_check_frames(&c, data, size);
	return 0;
}
