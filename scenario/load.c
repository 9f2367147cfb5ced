// SPDX-License-Identifier: MIT
/* Loading a scenario: the keyword table, files and includes, defaults, the public entry points. */
#include "scenario/internal.h"

int kw_include(struct line *l)
{
	char *w = NULL, *path = NULL, *file = NULL;
	struct stat st;
	int r = scn_need_word(l, "path", &w);

	if (r < 0)
		return r;
	r = scn_need_end(l);
	if (r < 0)
		return r;
	path = scn_relative_to(l->dir, w);
	if (!path)
		return scn_line_oom(l);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		file = scn_relative_to(path, SCENARIO_FILE);
		if (!file) {
			r = scn_line_oom(l);
			goto out;
		}
	}
	r = scn_load_file(l->ld, file ? file : path, l);
out:
	free(file);
	free(path);
	return r;
}

static const struct keyword keywords[] = {
    {"include", "include PATH", kw_include},
    {"repo", "repo [@TAG] URL|DIR", kw_repo},
    {"arch", "arch NAME", kw_arch},
    {"packages", "packages NAME...", kw_packages},
    {"service", "service RUNLEVEL NAME...", kw_service},
    {"console", "console TTY...", kw_console},
    {"iface", "iface NAME loopback|dhcp|manual|static ADDRESS/PREFIX [gateway IP] [noauto]",
     kw_iface},
    {"hostname", "hostname NAME", kw_hostname},
    {"root-password", "root-password none|locked|keep|HASH", kw_root_password},
    {"user",
     "user NAME [uid N] [groups G,...] [shell PATH] [home PATH] "
     "[password none|locked|HASH] [keys FILE]",
     kw_user},
    {"overlay", "overlay DIR", kw_overlay},
    {"kernel",
     "kernel host | kernel image PATH [modules DIR] | kernel package NAME | kernel tree DIR",
     kw_kernel},
    {"modules", "modules NAME...", kw_modules},
    {"vm", "vm memory|cpus|machine|append|nic|backend|accel|console VALUE", kw_vm},
    {"timeout", "timeout DURATION", kw_timeout},
    {"step-timeout", "step-timeout DURATION", kw_step_timeout},
    {"fail", "fail /REGEX/ | fail \"TEXT\"", kw_fail},
    {"on-warning", "on-warning fail|ignore", kw_on_warning},
    {"oops", "oops continue|panic", kw_oops},
    {"expect", "expect [NAME] /REGEX/|\"TEXT\" [within DURATION] [budget DURATION]", kw_expect},
    {"send", "send TEXT | send \"TEXT\"", kw_send},
    {"checkpoint", "checkpoint NAME", kw_checkpoint},
    {"agent", "agent off|virtio|serial", kw_agent},
    {"agent-ready", "agent-ready [within DURATION] [budget DURATION] [name NAME]", kw_agent_ready},
    {"run",
     "run COMMAND... | run \"COMMAND\" [status N] [within DURATION] [budget DURATION] "
     "[name NAME]",
     kw_run},
    {"run-fail",
     "run-fail COMMAND... | run-fail \"COMMAND\" [status N] [within DURATION] "
     "[budget DURATION] [name NAME]",
     kw_run_fail},
    {"output", "output [NAME] /REGEX/|\"TEXT\" [stderr]", kw_output},
    {"wait-until",
     "wait-until COMMAND... | wait-until \"COMMAND\" [within DURATION] [every DURATION] "
     "[budget DURATION] [name NAME]",
     kw_wait_until},
    {"wait-service", "wait-service NAME [within DURATION] [every DURATION] [budget DURATION]",
     kw_wait_service},
    {"wait-port", "wait-port PORT [within DURATION] [every DURATION] [budget DURATION]",
     kw_wait_port},
    {"wait-file", "wait-file PATH [within DURATION] [every DURATION] [budget DURATION]",
     kw_wait_file},
    {"copy-in", "copy-in HOSTPATH GUESTPATH [mode OCTAL] [within DURATION] [budget DURATION]",
     kw_copy_in},
    {"copy-out", "copy-out GUESTPATH [NAME] [within DURATION] [budget DURATION]", kw_copy_out},
    {"reset", "reset LIST", kw_reset},
};

/* ---- files ------------------------------------------------------------- */

static int parse_line(struct loader *ld, const char *file, const char *dir, unsigned no, char *text)
{
	struct line l = {ld, file, dir, no, text, NULL, text};
	const char *best = NULL;
	unsigned bestd = UINT_MAX;
	char dym[128];
	char *kw;

	kw = scn_word(&l);
	if (!kw)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
		if (strcmp(keywords[i].name, kw))
			continue;
		l.kw = &keywords[i];
		return keywords[i].fn(&l);
	}
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
		scn_suggest(kw, keywords[i].name, &best, &bestd);
	return scn_line_error(&l, "unknown keyword '%s'%s", kw,
			      scn_did_you_mean(dym, sizeof(dym), best));
}

char *scn_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* Refuse a file that is being read (a cycle) or was read before. */
static int check_include(struct loader *ld, const char *real, const char *path, struct line *from)
{
	struct buf chain;
	int r;

	if (ld->stack_real.n >= SCENARIO_MAX_INCLUDE_DEPTH)
		return scn_line_error(from, "includes nested deeper than %d",
				      SCENARIO_MAX_INCLUDE_DEPTH);
	if (!strlist_has(&ld->stack_real, real)) {
		if (strlist_has(&ld->seen_real, real))
			return scn_line_error(from, "'%s' is included twice (a file is read once)",
					      path);
		return 0;
	}
	buf_init(&chain, 4096);
	for (size_t i = 0; i < ld->stack_real.n; i++) {
		if (chain.len || !strcmp(ld->stack_real.v[i], real))
			buf_addf(&chain, "%s -> ", ld->stack_shown.v[i]);
	}
	buf_addstr(&chain, path);
	r = scn_line_error(from, "include cycle: %s", chain.data);
	buf_release(&chain);
	return r;
}

/* Split the text into lines and parse each one. */
static int parse_text(struct loader *ld, const char *path, const char *dir, struct buf *text)
{
	char *p = text->data, *end = text->data + text->len;
	unsigned no = 0;
	int r = 0;

	while (r == 0 && p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *eol = nl ? nl : end;

		no++;
		if (memchr(p, '\0', (size_t)(eol - p)))
			return it_error_set(ld->err, -IT_ESCENARIO, "%s:%u: NUL byte in the line",
					    path, no);
		*eol = '\0';
		if (eol > p && eol[-1] == '\r')
			eol[-1] = '\0';
		r = parse_line(ld, path, dir, no, p);
		p = eol + 1;
	}
	return r;
}

/* Say that 'path' cannot be read: at the include line, or about the scenario itself. */
static int file_error(struct loader *ld, struct line *from, const char *path, const char *why,
		      int code)
{
	if (from)
		return scn_line_error(from, "cannot include '%s': %s", path, why);
	return it_error_set(ld->err, code, "cannot read scenario '%s': %s", path, why);
}

/* Read and parse one file; 'from' is the include line, NULL for the top file. */
int scn_load_file(struct loader *ld, const char *path, struct line *from)
{
	struct buf text;
	char *real = NULL, *dir = NULL;
	char why[64];
	int r;

	buf_init(&text, SCENARIO_MAX_FILE_BYTES);
	real = realpath(path, NULL);
	if (!real) {
		r = file_error(ld, from, path, strerror(errno), -errno);
		goto out;
	}
	r = from ? check_include(ld, real, path, from) : 0;
	if (r < 0)
		goto out;
	r = buf_read_file(&text, path);
	if (r == -IT_ELIMIT) {
		snprintf(why, sizeof(why), "larger than %d bytes", SCENARIO_MAX_FILE_BYTES);
		r = file_error(ld, from, path, why, -IT_ESCENARIO);
		goto out;
	}
	if (r < 0) {
		r = file_error(ld, from, path, strerror(-r), r);
		goto out;
	}
	dir = scn_dir_of(path);
	if (!dir || strlist_add(&ld->stack_real, real) < 0 ||
	    strlist_add(&ld->stack_shown, path) < 0 || strlist_add(&ld->seen_real, real) < 0 ||
	    strlist_add(&ld->s->files, path) < 0) {
		r = it_error_set(ld->err, -ENOMEM, "out of memory");
		goto out;
	}
	r = parse_text(ld, path, dir, &text);
	free(ld->stack_real.v[--ld->stack_real.n]);
	ld->stack_real.v[ld->stack_real.n] = NULL;
	free(ld->stack_shown.v[--ld->stack_shown.n]);
	ld->stack_shown.v[ld->stack_shown.n] = NULL;
out:
	free(dir);
	free(real);
	buf_release(&text);
	return r;
}

/* Whole-scenario rules, once every file is read. */
static int finish(struct loader *ld)
{
	struct scenario *s = ld->s;
	struct line top = {ld, s->path, s->dir, 0, "", NULL, NULL};
	struct stat st;
	char *rootfs = NULL;
	int r = 0;

	/* No packages is fine to replay or to boot a ready initrd; a build says so. */
	scenario_set_step_timeout(s, s->step_timeout_ms);
	for (size_t i = 0; s->vm.agent == VM_AGENT_NONE && i < s->nsteps; i++) {
		const struct scenario_step *step = &s->steps[i];

		if (!scenario_step_is_agent(step->kind))
			continue;
		it_error_set(ld->err, -IT_ESCENARIO,
			     "%s: '%s' needs the guest agent, but the scenario says 'agent off'",
			     step->where, scenario_step_kind_name(step->kind));
		it_error_hint(ld->err, "drop 'agent off', or check the console with expect/send");
		return -IT_ESCENARIO;
	}
	rootfs = scn_relative_to(s->dir, SCENARIO_ROOTFS);
	if (!rootfs)
		return it_error_set(ld->err, -ENOMEM, "out of memory");
	if (stat(rootfs, &st) == 0 && S_ISDIR(st.st_mode))
		r = scn_add_overlay(&top, &s->build, rootfs);
	free(rootfs);
	return r;
}

/* Fill s->path, s->dir and s->name from what the user named. */
static int locate(struct scenario *s, const char *arg, struct it_error *err)
{
	struct stat st;
	size_t n = strlen(arg);
	const char *base;
	char *real = NULL;

	while (n > 1 && arg[n - 1] == '/')
		n--;
	if (stat(arg, &st) < 0) {
		int e = errno;

		it_error_set(err, -e, "cannot read scenario '%s': %s", arg, strerror(e));
		it_error_hint(err, "a scenario is a directory holding a file named '%s'",
			      SCENARIO_FILE);
		return -e;
	}
	if (S_ISDIR(st.st_mode)) {
		s->dir = strndup(arg, n);
		s->path = s->dir ? scn_relative_to(s->dir, SCENARIO_FILE) : NULL;
	} else {
		s->path = strdup(arg);
		s->dir = scn_dir_of(arg);
	}
	if (!s->dir || !s->path)
		return it_error_set(err, -ENOMEM, "out of memory");
	base = strrchr(s->path, '/');
	base = base ? base + 1 : s->path;
	if (strcmp(base, SCENARIO_FILE)) {
		n = strlen(base);
		if (n > 9 && !strcmp(base + n - 9, ".scenario"))
			n -= 9;
		s->name = strndup(base, n);
	} else {
		real = realpath(s->dir, NULL);
		base = real ? strrchr(real, '/') : NULL;
		s->name = strdup(base && base[1] ? base + 1 : real ? real : s->dir);
		free(real);
	}
	if (!s->name)
		return it_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* ---- public ------------------------------------------------------------ */

void scenario_init(struct scenario *s)
{
	memset(s, 0, sizeof(*s));
	build_config_init(&s->build);
	vm_config_init(&s->vm);
	s->vm.agent = VM_AGENT_VIRTIO; /* an agent in every image, unless 'agent off' */
	s->timeout_ms = SCENARIO_DEFAULT_TIMEOUT_MS;
	s->step_timeout_ms = SCENARIO_DEFAULT_STEP_TIMEOUT_MS;
}

void scenario_release(struct scenario *s)
{
	free(s->name);
	free(s->dir);
	free(s->path);
	free(s->vmlinux);
	build_config_release(&s->build);
	vm_config_release(&s->vm);
	for (size_t i = 0; i < s->nsteps; i++)
		scn_step_release(&s->steps[i]);
	free(s->steps);
	for (size_t i = 0; i < s->nfails; i++) {
		free(s->fails[i].pattern);
		free(s->fails[i].file);
		free(s->fails[i].where);
	}
	free(s->fails);
	strlist_clear(&s->files);
	scenario_init(s);
}

int scenario_load(struct scenario *s, const char *dir_or_file, struct it_error *err)
{
	struct loader ld = {s, err, STRLIST_INIT, STRLIST_INIT, STRLIST_INIT};
	int r = locate(s, dir_or_file, err);

	if (r == 0)
		r = scn_load_file(&ld, s->path, NULL);
	if (r == 0)
		r = finish(&ld);
	strlist_clear(&ld.stack_real);
	strlist_clear(&ld.stack_shown);
	strlist_clear(&ld.seen_real);
	if (r < 0)
		scenario_release(s);
	return r;
}

void scenario_set_step_timeout(struct scenario *s, int64_t ms)
{
	s->step_timeout_ms = ms;
	for (size_t i = 0; i < s->nsteps; i++) {
		struct scenario_step *st = &s->steps[i];

		if (st->kind != SCENARIO_STEP_SEND && st->kind != SCENARIO_STEP_OUTPUT &&
		    !st->timeout_explicit)
			st->timeout_ms = ms;
	}
}

int scenario_resolve_kernel(struct scenario *s, struct it_error *err)
{
	char *image = NULL, *mods = NULL;
	int r;

	if (s->build.kernel_tree && !s->build.kernel_image) {
		r = builder_kernel_tree(s->build.kernel_tree, s->build.arch, &image, &mods, err);
		if (r < 0)
			return r;
		s->build.kernel_image = image;
		if (!s->vmlinux)
			s->vmlinux = mods;
		else
			free(mods);
		return 0;
	}
	if (!s->kernel_host)
		return 0;
	r = builder_host_kernel(NULL, NULL, &image, &mods, err);
	if (r < 0)
		return r;
	free(s->build.kernel_image);
	free(s->build.modules_dir);
	s->build.kernel_image = image;
	s->build.modules_dir = mods;
	return 0;
}
