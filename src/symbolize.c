// SPDX-License-Identifier: MIT
/* Kernel crash frames to source file:line: objdump -t for the symbol, addr2line for the line. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "src/symbolize.h"

#define MAX_FRAMES 64
#define MAX_ADDRS 64
#define SEARCH_DEPTH 8

struct frame {
	struct symbolize_frame f;
	char text[256];	  /* "func+0x5/0x10 [mod]" */
	const char *obj;  /* vmlinux or the module's .ko (owned by objs), NULL: none */
	char section[64]; /* the symbol's section, "" until found */
	unsigned long long value;
	bool size_match;  /* the symbol found has the frame's size */
	bool is_rip;	  /* the RIP line's: the faulting address itself */
	bool rel;	  /* obj is relocatable (a .ko): addresses are section-relative */
	char source[512]; /* "FILE:LINE", "" until found */
};

void symbolize_src_init(struct symbolize_src *s)
{
	s->vmlinux = NULL;
	s->module_dirs = (struct strlist)STRLIST_INIT;
}

void symbolize_src_release(struct symbolize_src *s)
{
	strlist_clear(&s->module_dirs);
	s->vmlinux = NULL;
}

bool symbolize_src_any(const struct symbolize_src *s)
{
	return s->vmlinux || s->module_dirs.n;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '$';
}

/* "0x1f" at *p: its value, *p moved past it; false when there is none. */
static bool take_hex(const char **p, unsigned long long *v)
{
	const char *s = *p;
	char *end;

	if (s[0] != '0' || s[1] != 'x' || hex_digit_value(s[2]) < 0)
		return false;
	errno = 0;
	*v = strtoull(s + 2, &end, 16);
	if (errno)
		return false;
	*p = end;
	return true;
}

int symbolize_parse_frame(const char *line, struct symbolize_frame *f)
{
	const char *p = line, *name, *close;
	size_t n;

	memset(f, 0, sizeof(*f));
	while (*p == ' ' || *p == '\t')
		p++;
	if (!strncmp(p, "RIP: ", 5)) {
		p += 5;
		while (*p && *p != ':' && *p != ' ')
			p++;
		if (*p != ':')
			return 0;
		p++;
	}
	if (p[0] == '?' && p[1] == ' ') {
		f->unreliable = true;
		p += 2;
	}
	name = p;
	while (name_char(*p))
		p++;
	n = (size_t)(p - name);
	if (!n || n >= sizeof(f->func) || *p != '+')
		return 0;
	memcpy(f->func, name, n);
	p++;
	if (!take_hex(&p, &f->off) || *p != '/')
		return 0;
	p++;
	if (!take_hex(&p, &f->size))
		return 0;
	if (p[0] == ' ' && p[1] == '[') {
		p += 2;
		close = strchr(p, ']');
		n = close ? (size_t)(close - p) : 0;
		if (!n || n >= sizeof(f->module))
			return 0;
		memcpy(f->module, p, n);
	}
	return 1;
}

/*
 * Run argv with stdout on a pipe, stderr on /dev/null; each output line to fn.
 * 0, or -1 when it could not run or did not exit 0 (what it printed was still seen).
 */
static int run_lines(char *const argv[], void (*fn)(void *ctx, char *line), void *ctx)
{
	int fds[2], status = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(fds[1], 1);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (!f) {
		close(fds[0]);
	} else {
		while ((len = getline(&line, &cap, f)) >= 0) {
			if (len > 0 && line[len - 1] == '\n')
				line[len - 1] = '\0';
			fn(ctx, line);
		}
		fclose(f);
	}
	free(line);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Whether path is a relocatable ELF object (a .ko) rather than an executable (vmlinux). */
static bool elf_is_rel(const char *path)
{
	unsigned char h[EI_NIDENT + 2];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool rel = false;

	if (fd < 0)
		return false;
	if (read(fd, h, sizeof(h)) == (ssize_t)sizeof(h) && !memcmp(h, ELFMAG, SELFMAG))
		rel =
		    (h[EI_DATA] == ELFDATA2MSB ? (h[EI_NIDENT] << 8 | h[EI_NIDENT + 1])
					       : (h[EI_NIDENT + 1] << 8 | h[EI_NIDENT])) == ET_REL;
	close(fd);
	return rel;
}

/* ---- finding a module's .ko ------------------------------------------------------------ */

static struct {
	char want[80]; /* "crashtest.ko", '-' as '_' */
	char found[4096];
} g_search; /* nftw has no context pointer; searches run one at a time */

static void underscores(char *s)
{
	for (; *s; s++)
		if (*s == '-')
			*s = '_';
}

static int search_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char base[80];

	(void)st;
	if (type == FTW_D && ftw->level >= SEARCH_DEPTH)
		return FTW_SKIP_SUBTREE;
	if (type != FTW_F || strlen(path + ftw->base) >= sizeof(base))
		return FTW_CONTINUE;
	snprintf(base, sizeof(base), "%s", path + ftw->base);
	underscores(base);
	if (strcmp(base, g_search.want))
		return FTW_CONTINUE;
	snprintf(g_search.found, sizeof(g_search.found), "%s", path);
	return FTW_STOP;
}

/* The first MOD.ko under the module directories, as a heap string, or NULL. */
static char *find_module(const struct symbolize_src *s, const char *mod)
{
	if (strlen(mod) + 4 > sizeof(g_search.want))
		return NULL;
	snprintf(g_search.want, sizeof(g_search.want), "%s.ko", mod);
	underscores(g_search.want);
	for (size_t i = 0; i < s->module_dirs.n; i++) {
		g_search.found[0] = '\0';
		if (nftw(s->module_dirs.v[i], search_one, 16, FTW_PHYS | FTW_ACTIONRETVAL) ==
			FTW_STOP &&
		    g_search.found[0])
			return strdup(g_search.found);
	}
	return NULL;
}

/* ---- the symbol table ------------------------------------------------------------------- */

struct symtab_ctx {
	struct frame *fr;
	size_t n;
	const char *obj;
};

/*
 * One line of objdump -t: "VALUE FLAGS SECTION\tSIZE NAME", FLAGS 7 characters wide.
 * The symbol goes to each frame of this object with its name that has none of
 * the frame's size yet.
 */
static void symtab_line(void *ctx, char *line)
{
	struct symtab_ctx *c = ctx;
	unsigned long long value, size;
	char *p = line, *end, *sec, *name;

	value = strtoull(p, &end, 16);
	if (end == p || end - p < 8 || *end != ' ' || strlen(end) < 9)
		return;
	sec = end + 9;
	p = strchr(sec, '\t');
	if (!p || sec[0] == '*')
		return;
	*p++ = '\0';
	size = strtoull(p, &end, 16);
	if (end == p || *end != ' ')
		return;
	name = end + 1;
	for (size_t i = 0; i < c->n; i++) {
		struct frame *f = &c->fr[i];

		if (f->obj != c->obj || f->size_match || strcmp(f->f.func, name) ||
		    strlen(sec) >= sizeof(f->section))
			continue;
		snprintf(f->section, sizeof(f->section), "%s", sec);
		f->value = value;
		f->size_match = size == f->f.size;
	}
}

/* ---- the lines -------------------------------------------------------------------------- */

struct lines_ctx {
	struct frame *batch[MAX_ADDRS];
	size_t n, at;
};

/* One answer of addr2line, in the order asked: "FILE:LINE", maybe " (discriminator N)". */
static void addr_line(void *ctx, char *line)
{
	struct lines_ctx *c = ctx;
	char *colon, *paren;
	struct frame *f;

	if (c->at >= c->n)
		return;
	f = c->batch[c->at++];
	paren = strstr(line, " (");
	if (paren)
		*paren = '\0';
	colon = strrchr(line, ':');
	if (!colon || !strncmp(line, "??", 2) || colon[1] < '1' || colon[1] > '9')
		return;
	snprintf(f->source, sizeof(f->source), "%s", line);
}

/* addr2line over every frame of fr[first]'s object and section that has no line yet. */
static void lines_for(struct frame *fr, size_t n, size_t first)
{
	struct lines_ctx c = {{NULL}, 0, 0};
	char addrs[MAX_ADDRS][24];
	char *argv[6 + MAX_ADDRS + 1];
	size_t a = 0;

	argv[a++] = (char *)"addr2line";
	argv[a++] = (char *)"-e";
	argv[a++] = (char *)fr[first].obj;
	if (fr[first].rel) {
		argv[a++] = (char *)"-j";
		argv[a++] = fr[first].section;
	}
	for (size_t i = first; i < n && c.n < MAX_ADDRS; i++) {
		struct frame *f = &fr[i];
		unsigned long long off = f->f.off;

		if (f->obj != fr[first].obj || strcmp(f->section, fr[first].section) ||
		    f->source[0])
			continue;
		if (!f->is_rip && off > 0)
			off--; /* a return address: the call is the byte before */
		snprintf(addrs[c.n], sizeof(addrs[c.n]), "0x%llx", f->value + off);
		argv[a++] = addrs[c.n];
		c.batch[c.n++] = f;
	}
	argv[a] = NULL;
	(void)run_lines(argv, addr_line, &c);
	for (size_t i = 0; i < c.n; i++)
		if (!c.batch[i]->source[0])
			c.batch[i]->source[0] = '-'; /* asked: do not ask again */
}

/* ---- the frames ------------------------------------------------------------------------- */

static size_t parse_frames(const char *rip, const char *trace, struct frame *fr)
{
	const char *p = trace;
	size_t n = 0;

	if (rip && rip[0] && symbolize_parse_frame(rip, &fr[n].f))
		fr[n++].is_rip = true;
	while (p && *p && n < MAX_FRAMES) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[256];

		if (len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			if (symbolize_parse_frame(line, &fr[n].f) && !fr[n].f.unreliable)
				n++;
		}
		p = nl ? nl + 1 : p + len;
	}
	for (size_t i = 0; i < n; i++) {
		struct symbolize_frame *f = &fr[i].f;

		snprintf(fr[i].text, sizeof(fr[i].text), "%s+0x%llx/0x%llx%s%s%s", f->func, f->off,
			 f->size, f->module[0] ? " [" : "", f->module, f->module[0] ? "]" : "");
	}
	return n;
}

/* Give each frame its object: vmlinux, or its module's .ko (found once per module). */
static int find_objects(const struct symbolize_src *s, struct frame *fr, size_t n,
			struct strlist *objs)
{
	for (size_t i = 0; i < n; i++) {
		char *ko;

		if (!fr[i].f.module[0]) {
			fr[i].obj = s->vmlinux;
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(fr[j].f.module, fr[i].f.module)) {
				fr[i].obj = fr[j].obj;
				break;
			}
		if (fr[i].obj)
			continue;
		ko = find_module(s, fr[i].f.module);
		if (!ko)
			continue;
		if (strlist_add_owned(objs, ko) < 0)
			return -ENOMEM;
		fr[i].obj = objs->v[objs->n - 1];
	}
	return 0;
}

int symbolize_frames(const struct symbolize_src *s, const char *rip, const char *trace,
		     struct buf *out)
{
	static struct frame fr[MAX_FRAMES];
	struct strlist objs;
	size_t n;
	int r, added = 0;

	memset(fr, 0, sizeof(fr));
	objs = (struct strlist)STRLIST_INIT;
	n = parse_frames(rip, trace, fr);
	r = find_objects(s, fr, n, &objs);
	for (size_t i = 0; r == 0 && i < n; i++) {
		bool seen = false;

		if (!fr[i].obj)
			continue;
		for (size_t j = 0; j < i; j++)
			seen = seen || fr[j].obj == fr[i].obj;
		if (!seen) {
			struct symtab_ctx c = {fr, n, fr[i].obj};
			char *argv[] = {(char *)"objdump", (char *)"-t", (char *)"-w",
					(char *)fr[i].obj, NULL};
			bool rel = elf_is_rel(fr[i].obj);

			(void)run_lines(argv, symtab_line, &c);
			for (size_t j = i; j < n; j++)
				if (fr[j].obj == fr[i].obj)
					fr[j].rel = rel;
		}
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		if (fr[i].obj && fr[i].section[0] && !fr[i].source[0])
			lines_for(fr, n, i);
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (!fr[i].source[0] || fr[i].source[0] == '-')
			continue;
		if (buf_addf(out, "%s\t%s\n", fr[i].text, fr[i].source) < 0)
			r = -ENOMEM;
		added++;
	}
	strlist_clear(&objs);
	return r < 0 ? r : added;
}
