// SPDX-License-Identifier: MIT
/* Kernel crash reports in console text: class, syzkaller-style title, RIP, trace, modules. */
#include "expect/crash.h"

#include <stdio.h>
#include <stdbool.h>
#include <string.h>

/* A line of the text without its '\r' and printk time stamp. */
struct cline {
	const char *s;
	size_t n;
};

struct start_pat {
	const char *
	    prefix; /* the line (after the time stamp) starts with it, or contains it if anywhere */
	int anywhere;
	enum crash_class cls;
	const char *title; /* the title, then " in FUNC" (or the rest of the line when use_msg) */
	int use_msg;	   /* the title's %s is the rest of the line after prefix */
};

/* Order matters: the first pattern a line matches wins (KASAN before the plain "BUG: "). */
static const struct start_pat starts[] = {
    {"BUG: KASAN: ", 0, CRASH_KASAN, "KASAN: ", 1},
    {"BUG: KFENCE: ", 0, CRASH_KFENCE, "KFENCE: ", 1},
    {"UBSAN: ", 0, CRASH_UBSAN, "UBSAN: ", 1},
    {"BUG: kernel NULL pointer dereference", 0, CRASH_OOPS, "BUG: kernel NULL pointer dereference",
     0},
    {"BUG: unable to handle page fault", 0, CRASH_OOPS,
     "BUG: unable to handle kernel paging request", 0},
    {"BUG: unable to handle kernel", 0, CRASH_OOPS, "BUG: unable to handle kernel paging request",
     0},
    {"general protection fault", 0, CRASH_GPF, "general protection fault", 0},
    {"kernel BUG at ", 0, CRASH_BUG, "kernel BUG", 0},
    {"BUG: soft lockup", 1, CRASH_SOFT_LOCKUP, "BUG: soft lockup", 0},
    {"Watchdog detected hard LOCKUP", 1, CRASH_HARD_LOCKUP, "BUG: hard lockup", 0},
    {"WARNING: possible circular locking dependency", 0, CRASH_LOCKDEP, "possible deadlock", 0},
    {"WARNING: possible recursive locking", 0, CRASH_LOCKDEP, "possible deadlock", 0},
    {"WARNING: inconsistent lock state", 0, CRASH_LOCKDEP, "inconsistent lock state", 0},
    {"WARNING: bad unlock balance", 0, CRASH_LOCKDEP, "bad unlock balance", 0},
    {"WARNING: suspicious RCU usage", 0, CRASH_LOCKDEP, "suspicious RCU usage", 0},
    {"WARNING: ", 0, CRASH_WARNING, "WARNING", 0},
    {"INFO: task ", 0, CRASH_HUNG_TASK, "INFO: task hung", 0},
    {"rcu: INFO: ", 0, CRASH_RCU_STALL, "INFO: rcu detected stall", 0},
    {"INFO: rcu_", 0, CRASH_RCU_STALL, "INFO: rcu detected stall", 0},
    {"Oops: ", 0, CRASH_OOPS, "Oops", 0},
    /* "Kernel panic" alone: a run stopped by the panic fail pattern may log no more of it. */
    {"Kernel panic", 0, CRASH_PANIC, "kernel panic: ", 1},
};

const char *const crash_end_marks[] = {"---[ end ", "Kernel Offset:", NULL};

static const char *const class_names[] = {
    [CRASH_NONE] = "none",
    [CRASH_PANIC] = "panic",
    [CRASH_OOPS] = "oops",
    [CRASH_GPF] = "general-protection-fault",
    [CRASH_BUG] = "bug",
    [CRASH_WARNING] = "warning",
    [CRASH_KASAN] = "kasan",
    [CRASH_UBSAN] = "ubsan",
    [CRASH_KFENCE] = "kfence",
    [CRASH_LOCKDEP] = "lockdep",
    [CRASH_HUNG_TASK] = "hung-task",
    [CRASH_RCU_STALL] = "rcu-stall",
    [CRASH_SOFT_LOCKUP] = "soft-lockup",
    [CRASH_HARD_LOCKUP] = "hard-lockup",
};

const char *crash_class_name(enum crash_class cls)
{
	if ((size_t)cls >= sizeof(class_names) / sizeof(class_names[0]))
		return "unknown";
	return class_names[cls];
}

static int has_prefix(struct cline l, const char *p)
{
	size_t k = strlen(p);

	return l.n >= k && memcmp(l.s, p, k) == 0;
}

static const char *find_in(struct cline l, const char *p)
{
	size_t k = strlen(p);

	return k ? memmem(l.s, l.n, p, k) : NULL;
}

/* The length of a printk time stamp "[   12.345678] " at s[0..n), or 0 when there is none. */
static size_t stamp_len(const char *s, size_t n)
{
	size_t j = 1;
	int dot = 0;

	if (n < 4 || s[0] != '[')
		return 0;
	while (j < n && s[j] == ' ')
		j++;
	size_t digits = j;

	while (j < n && ((s[j] >= '0' && s[j] <= '9') || (s[j] == '.' && !dot))) {
		dot |= s[j] == '.';
		j++;
	}
	if (j == digits || !dot || j >= n || s[j] != ']')
		return 0;
	j++;
	return j < n && s[j] == ' ' ? j + 1 : j;
}

/* Drop everything up to and including the first time stamp in l; l as it was when none. */
static struct cline past_stamp(struct cline l, bool *found)
{
	*found = false;
	for (size_t i = 0; i < l.n; i++) {
		if (l.s[i] != '[')
			continue;
		size_t k = stamp_len(l.s + i, l.n - i);

		if (k) {
			l.s += i + k;
			l.n -= i + k;
			/* The console log's own "[  11.217] " comes before the kernel's. */
			while ((k = stamp_len(l.s, l.n)) != 0) {
				l.s += k;
				l.n -= k;
			}
			*found = true;
			return l;
		}
	}
	return l;
}

/*
 * Drop everything up to and including the kernel's printk time stamp: its
 * line may follow a shell prompt on the same console line ("~# [   43.1]
 * INFO: ..."), and in a console log the log's own stamp comes first
 * ("[  12.5] ~# [   20.1] INFO: ...").
 */
static const struct start_pat *start_of(struct cline l);

static struct cline strip_stamp(struct cline l)
{
	bool found;
	struct cline rest = past_stamp(l, &found), again;

	if (!found || l.s[0] != '[' || start_of(rest))
		return rest;
	again = past_stamp(rest, &found);
	return found ? again : rest;
}

/* The line at off and the offset of the next one. */
static struct cline line_at(const char *text, size_t n, size_t off, size_t *next)
{
	const char *nl = memchr(text + off, '\n', n - off);
	size_t e = nl ? (size_t)(nl - text) : n;
	struct cline l = {text + off, e - off};

	*next = nl ? e + 1 : n;
	if (l.n > 0 && l.s[l.n - 1] == '\r')
		l.n--;
	return l;
}

static const struct start_pat *start_of(struct cline l)
{
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		if (starts[i].anywhere ? find_in(l, starts[i].prefix) != NULL
				       : has_prefix(l, starts[i].prefix))
			return &starts[i];
	}
	return NULL;
}

size_t crash_start(const char *text, size_t n)
{
	size_t off = 0, next = 0;

	while (off < n) {
		struct cline l = strip_stamp(line_at(text, n, off, &next));

		if (start_of(l))
			return off;
		off = next;
	}
	return n;
}

static int end_mark(struct cline l)
{
	for (const char *const *m = crash_end_marks; *m; m++)
		if (has_prefix(l, *m))
			return 1;
	return 0;
}

static void copy_line(char *dst, size_t cap, const char *s, size_t n)
{
	size_t k = n < cap - 1 ? n : cap - 1;

	memcpy(dst, s, k);
	dst[k] = '\0';
	for (size_t i = 0; i < k; i++)
		if (dst[i] == '\0' || dst[i] == '\n')
			dst[i] = ' ';
}

static void append_line(char *dst, size_t cap, const char *s, size_t n)
{
	size_t have = strlen(dst);

	if (have + 2 >= cap)
		return;
	copy_line(dst + have, cap - have - 1, s, n);
	have = strlen(dst);
	dst[have] = '\n';
	dst[have + 1] = '\0';
}

/* "func+0x12/0x30 [mod]" -> "func" (into out); 0 when s does not look like a frame. */
static int frame_func(const char *s, size_t n, char *out, size_t cap)
{
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '?'))
		i++;
	size_t b = i;

	while (i < n && s[i] != '+' && s[i] != ' ')
		i++;
	if (i >= n || s[i] != '+' || i == b || i + 2 >= n || s[i + 1] != '0' || s[i + 2] != 'x')
		return 0;
	copy_line(out, cap, s + b, i - b);
	return 1;
}

/* Scheduler and waiting frames a hung task's trace starts with; the title names the caller. */
static int sched_frame(const char *f)
{
	static const char *const skip[] = {"__schedule",
					   "schedule",
					   "schedule_timeout",
					   "schedule_preempt_disabled",
					   "io_schedule",
					   "__switch_to",
					   "__switch_to_asm",
					   "ret_from_fork",
					   "msleep",
					   "msleep_interruptible",
					   "schedule_hrtimeout_range_clock",
					   "__wait_for_common",
					   "wait_for_completion",
					   "__mutex_lock",
					   "mutex_lock",
					   "rwsem_down_read_slowpath",
					   "rwsem_down_write_slowpath"};

	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (strcmp(f, skip[i]) == 0)
			return 1;
	return 0;
}

static void set_title(struct crash *c, const struct start_pat *p, struct cline first,
		      const char *func)
{
	if (p->use_msg) {
		static const char syncing[] = " - not syncing";
		char msg[CRASH_TITLE_MAX];
		size_t k = strlen(p->prefix), j = 0;

		/* The panic's " - not syncing", whole or cut short by the end of the log. */
		while (k + j < first.n && j < sizeof(syncing) - 1 && first.s[k + j] == syncing[j])
			j++;
		if (j == sizeof(syncing) - 1 || (j && k + j == first.n))
			k += j;
		while (k < first.n && (first.s[k] == ':' || first.s[k] == ' '))
			k++;
		copy_line(msg, sizeof(msg), first.s + k, first.n - k);
		if (msg[0])
			(void)snprintf(c->title, sizeof(c->title), "%s%s", p->title, msg);
		else /* the console stopped at the prefix: "kernel panic" */
			(void)snprintf(c->title, sizeof(c->title), "%.*s",
				       (int)strcspn(p->title, ":"), p->title);
	} else {
		(void)snprintf(c->title, sizeof(c->title), "%s in %s", p->title,
			       func[0] ? func : "unknown");
	}
}

/* "WARNING: CPU: 0 PID: 1 at FILE:LINE FUNC+0x../0x.. [mod]" and "kernel BUG at" keep FUNC after "
 * at X ". */
static void func_from_first(struct cline l, char *func, size_t cap)
{
	const char *at = find_in(l, " at ");

	if (!at || has_prefix(l, "kernel BUG at "))
		return;
	const char *sp = memchr(at + 4, ' ', (size_t)(l.s + l.n - (at + 4)));

	if (sp)
		(void)frame_func(sp + 1, (size_t)(l.s + l.n - (sp + 1)), func, cap);
}

static void collect_before(const char *text, size_t at, struct crash *c)
{
	size_t b = at, lines = 0;

	while (b > 0 && lines < CRASH_BEFORE_LINES) {
		b--;
		while (b > 0 && text[b - 1] != '\n')
			b--;
		lines++;
	}
	for (size_t off = b, next = 0; off < at; off = next) {
		struct cline l = line_at(text, at, off, &next);

		append_line(c->before, sizeof(c->before), l.s, l.n);
	}
}

int crash_find(const char *text, size_t n, struct crash *c)
{
	char func[CRASH_LINE_MAX] = "";
	char trace_func[CRASH_LINE_MAX] = "";
	size_t at = crash_start(text, n), off = 0, next = 0;

	memset(c, 0, sizeof(*c));
	if (at >= n)
		return 0;
	struct cline first = strip_stamp(line_at(text, n, at, &next));
	const struct start_pat *p = start_of(first);

	c->cls = p->cls;
	c->at = at;
	copy_line(c->first, sizeof(c->first), first.s, first.n);
	func_from_first(first, func, sizeof(func));
	collect_before(text, at, c);
	c->end = next;

	int in_trace = 0;

	off = next;
	for (int k = 0; off < n && k < CRASH_REPORT_LINES; k++, off = next) {
		struct cline l = strip_stamp(line_at(text, n, off, &next));

		const struct start_pat *again = start_of(l);

		/* Another report starts (an Oops line continues the one it belongs to). */
		if (again && again->cls != CRASH_OOPS) {
			c->complete = 1;
			break;
		}
		c->end = next;
		if (end_mark(l) || (c->cls == CRASH_HUNG_TASK && has_prefix(l, " </TASK>"))) {
			c->complete = 1;
			break;
		}
		if (has_prefix(l, "RIP: ") && !c->rip[0]) {
			copy_line(c->rip, sizeof(c->rip), l.s, l.n);
			const char *colon = memchr(l.s + 5, ':', l.n - 5);

			if (colon && !func[0])
				(void)frame_func(colon + 1, (size_t)(l.s + l.n - (colon + 1)), func,
						 sizeof(func));
		} else if (has_prefix(l, "Modules linked in: ") && !c->modules[0]) {
			copy_line(c->modules, sizeof(c->modules), l.s + 19, l.n - 19);
		} else if (has_prefix(l, "Call Trace:")) {
			in_trace = 1;
		} else if (in_trace && l.n > 0 && l.s[0] == ' ') {
			char f[CRASH_LINE_MAX];
			size_t t = 0;

			while (t < l.n && l.s[t] == ' ')
				t++;
			if (frame_func(l.s + t, l.n - t, f, sizeof(f))) {
				append_line(c->trace, sizeof(c->trace), l.s + t, l.n - t);
				if (!trace_func[0] && !sched_frame(f) && !(l.s[t] == '?'))
					memcpy(trace_func, f, sizeof(f));
			}
		} else if (in_trace) {
			in_trace = 0;
		}
	}
	if (off < n && !c->complete)
		c->complete = 1; /* the line limit: the report is as long as it gets */
	if (c->cls == CRASH_HUNG_TASK || !func[0])
		memcpy(func, trace_func, sizeof(func));
	set_title(c, p, first, func);
	return 1;
}
