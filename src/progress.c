// SPDX-License-Identifier: MIT
/* A run's status line on a terminal, plain lines on a pipe (src/progress.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/util.h"
#include "src/out.h"
#include "src/progress.h"

#define BOLD "\033[1m"
#define RED "\033[31m"
#define RESET "\033[0m"
#define ERASE "\r\033[K"

void progress_init(struct progress *p, int fd, bool on, int64_t zero_ms)
{
	const char *nc = getenv("NO_COLOR");
	struct winsize ws;

	memset(p, 0, sizeof(*p));
	p->fd = on ? fd : -1;
	p->tty = on && isatty(fd);
	p->color = p->tty && !(nc && nc[0]);
	p->width = p->tty && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
	p->zero = zero_ms;
	p->next = -1;
}

/* A time written by put (out_secs1: "3.2s", out_duration: "20s") into a small buffer. */
static void put_ms(char *out, size_t outsz, int64_t ms, void (*put)(struct out *, int64_t))
{
	struct buf b;
	struct out o = {&b, 0};

	buf_init(&b, 64);
	put(&o, ms < 0 ? 0 : ms);
	snprintf(out, outsz, "%s", o.err || !b.data ? "?" : b.data);
	buf_release(&b);
}

/* The printable columns of s, escape sequences left out. */
static size_t columns(const char *s, size_t *cut, size_t width)
{
	size_t cols = 0;

	*cut = strlen(s);
	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '\033') {
			while (s[i] && s[i] != 'm')
				i++;
			if (!s[i])
				break;
			continue;
		}
		if (cols == width) {
			*cut = i;
			return cols;
		}
		cols++;
	}
	return cols;
}

void progress_format(const struct progress *p, int64_t now_ms, char *out, size_t outsz)
{
	char waited[32], budget[32], timeout[32], elapsed[32], limits[160] = "";
	bool over = p->budget > 0 && now_ms - p->since > p->budget;
	size_t cut = 0;
	int n;

	put_ms(waited, sizeof(waited), now_ms - p->since, out_secs1);
	put_ms(elapsed, sizeof(elapsed), now_ms - p->zero, out_secs1);
	put_ms(budget, sizeof(budget), p->budget, out_duration);
	put_ms(timeout, sizeof(timeout), p->timeout, out_duration);
	if (p->budget > 0 && p->timeout > 0)
		snprintf(limits, sizeof(limits), " of its %s budget (timeout %s)", budget, timeout);
	else if (p->budget > 0)
		snprintf(limits, sizeof(limits), " of its %s budget", budget);
	else if (p->timeout > 0)
		snprintf(limits, sizeof(limits), " (timeout %s)", timeout);
	n = snprintf(out, outsz, "step %zu/%zu %s%s%s: %s%s%s%s, %s elapsed", p->step + 1, p->n,
		     p->color ? BOLD : "", p->name, p->color ? RESET : "",
		     p->color && over ? RED : "", waited, limits, p->color && over ? RESET : "",
		     elapsed);
	if (n < 0) {
		out[0] = '\0';
		return;
	}
	/* One terminal line: a longer one would wrap, and ERASE clears only the last row. */
	if (p->tty && columns(out, &cut, p->width > 1 ? p->width - 1 : 1) && out[cut]) {
		out[cut] = '\0';
		if (p->color && cut + sizeof(RESET) <= outsz)
			strcat(out, RESET);
	}
}

void progress_step(struct progress *p, size_t i, size_t n, const char *name, int64_t budget_ms,
		   int64_t timeout_ms, int64_t now_ms)
{
	char budget[32], timeout[32], limits[96] = "";

	if (p->fd < 0)
		return;
	p->step = i;
	p->n = n;
	snprintf(p->name, sizeof(p->name), "%s", name && name[0] ? name : "(unnamed)");
	p->budget = budget_ms;
	p->timeout = timeout_ms;
	p->since = now_ms;
	if (p->tty) {
		p->next = now_ms;
		return;
	}
	/* A plain line: what is awaited and for how long it may be. */
	put_ms(budget, sizeof(budget), budget_ms, out_duration);
	put_ms(timeout, sizeof(timeout), timeout_ms, out_duration);
	if (budget_ms > 0 && timeout_ms > 0)
		snprintf(limits, sizeof(limits), " (budget %s, timeout %s)", budget, timeout);
	else if (budget_ms > 0)
		snprintf(limits, sizeof(limits), " (budget %s)", budget);
	else if (timeout_ms > 0)
		snprintf(limits, sizeof(limits), " (timeout %s)", timeout);
	dprintf(p->fd, "step %zu/%zu %s%s\n", i + 1, n, p->name, limits);
}

void progress_draw(struct progress *p, int64_t now_ms)
{
	char line[512];

	if (p->fd < 0 || !p->tty || p->n == 0)
		return;
	progress_format(p, now_ms, line, sizeof(line));
	dprintf(p->fd, ERASE "%s", line);
	p->drawn = true;
	p->next = now_ms + PROGRESS_TICK_MS;
}

void progress_hide(struct progress *p)
{
	if (!p->drawn)
		return;
	if (write(p->fd, ERASE, sizeof(ERASE) - 1) < 0)
		return;
	p->drawn = false;
}

void progress_tick(struct progress *p, int64_t now_ms, bool may_draw)
{
	if (progress_deadline(p) < 0 || now_ms < p->next)
		return;
	if (may_draw)
		progress_draw(p, now_ms);
	else
		p->next = now_ms + PROGRESS_TICK_MS;
}

int64_t progress_deadline(const struct progress *p)
{
	return p->fd >= 0 && p->tty && p->n > 0 ? p->next : -1;
}
