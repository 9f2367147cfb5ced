// SPDX-License-Identifier: MIT
/* The keywords that shape the image: repositories, packages, services, users, kernel. */
#include "scenario/internal.h"

/* 'repo [@TAG] URL-or-directory': '@testing URL' is apk's tagged repository line. */
int kw_repo(struct line *l)
{
	char *w = NULL, *repo = NULL, *tag = NULL, *spec = NULL;
	int r = scn_need_word(l, "repository", &w);

	if (r < 0)
		return r;
	if (w[0] == '@') {
		tag = w;
		if (!scn_name_ok(tag + 1, "-_.", 64))
			return scn_line_error(l,
					      "bad repository tag '%s': write '@' and a name, "
					      "e.g. 'repo @testing URL'",
					      tag);
		r = scn_need_last_word(l, "repository after its tag", &w);
		if (r < 0)
			return r;
	} else {
		r = scn_need_end(l);
		if (r < 0)
			return r;
	}
	if (strstr(w, "://")) {
		if (strncmp(w, "https://", 8) && strncmp(w, "http://", 7) &&
		    strncmp(w, "file://", 7))
			return scn_line_error(l,
					      "unsupported repository URL '%s': use https://, "
					      "http://, file:// or a directory",
					      w);
		repo = strdup(w);
	} else {
		repo = scn_relative_to(l->dir, w);
	}
	if (repo && tag && asprintf(&spec, "%s %s", tag, repo) < 0)
		spec = NULL;
	if (!repo || (tag && !spec)) {
		free(repo);
		return scn_line_oom(l);
	}
	r = scn_add_unique(l, &l->ld->s->build.repos, spec ? spec : repo);
	free(spec);
	free(repo);
	return r;
}

static const char *const arches[] = {"x86_64",	"x86",	 "aarch64", "armhf",	   "armv7",
				     "ppc64le", "s390x", "riscv64", "loongarch64", NULL};

int kw_arch(struct line *l)
{
	char *w = NULL;
	int r = scn_need_last_word(l, "architecture", &w);

	if (r < 0)
		return r;
	if (scn_lookup(arches, w) < 0)
		return scn_unknown_word(l, "architecture", w, arches);
	return scn_set_str(l, &l->ld->s->build.arch, w);
}

int kw_packages(struct line *l)
{
	char *w = NULL;
	int r = scn_need_word(l, "package", &w);

	for (; r == 0 && w; w = scn_word(l)) {
		if (!scn_package_ok(w, true))
			return scn_line_error(
			    l, "bad package '%s' (write name, !name, name>=version or name@tag)",
			    w);
		r = scn_add_unique(l, &l->ld->s->build.packages, w);
	}
	return r;
}

static const char *const runlevels[] = {"sysinit",   "boot",	 "default",
					"nonetwork", "shutdown", NULL};

int kw_service(struct line *l)
{
	struct build_config *b = &l->ld->s->build;
	char *lvl = NULL, *w = NULL;
	int r = scn_need_word(l, "runlevel", &lvl);

	if (r < 0)
		return r;
	if (scn_lookup(runlevels, lvl) < 0)
		return scn_unknown_word(l, "runlevel", lvl, runlevels);
	r = scn_need_word(l, "service", &w);
	for (; r == 0 && w; w = scn_word(l)) {
		struct service_spec *v;
		bool dup = false;

		if (!scn_name_ok(w, "_.-", 64))
			return scn_line_error(l, "bad service name '%s'", w);
		for (size_t i = 0; i < b->nservices; i++)
			dup |= !strcmp(b->services[i].runlevel, lvl) &&
			       !strcmp(b->services[i].name, w);
		if (dup)
			continue;
		v = realloc(b->services, (b->nservices + 1) * sizeof(*v));
		if (!v)
			return scn_line_oom(l);
		b->services = v;
		v[b->nservices].runlevel = strdup(lvl);
		v[b->nservices].name = strdup(w);
		b->nservices++;
		if (!v[b->nservices - 1].runlevel || !v[b->nservices - 1].name)
			return scn_line_oom(l);
	}
	return r;
}

int kw_console(struct line *l)
{
	char *w = NULL;
	int r = scn_need_word(l, "tty", &w);

	for (; r == 0 && w; w = scn_word(l)) {
		if (!scn_name_ok(w, "", 31))
			return scn_line_error(
			    l, "bad console '%s' (write a tty name such as ttyS0)", w);
		r = scn_add_unique(l, &l->ld->s->build.consoles, w);
	}
	return r;
}

void scn_iface_release(struct iface_spec *f)
{
	free(f->name);
	free(f->method);
	free(f->address);
	free(f->gateway);
	memset(f, 0, sizeof(*f));
}

static const char *const methods[] = {"loopback", "dhcp", "static", "manual", NULL};

/* Fill f from "NAME METHOD [ADDRESS] [gateway IP] [noauto]". */
static int parse_iface(struct line *l, struct iface_spec *f)
{
	char *name = NULL, *method = NULL, *w = NULL;
	bool is_static;
	int r = scn_need_word(l, "interface", &name);

	if (r == 0)
		r = scn_need_word(l, "method", &method);
	if (r < 0)
		return r;
	if (!scn_name_ok(name, "_.:-", 15))
		return scn_line_error(l, "bad interface name '%s'", name);
	if (scn_lookup(methods, method) < 0)
		return scn_unknown_word(l, "method", method, methods);
	is_static = !strcmp(method, "static");
	f->autostart = true;
	f->name = strdup(name);
	f->method = strdup(method);
	if (!f->name || !f->method)
		return scn_line_oom(l);
	if (is_static) {
		if (scn_at_end(l))
			return scn_line_error(l, "'static' needs an address such as 10.0.3.15/24");
		w = scn_word(l);
		if (!scn_cidr_ok(w))
			return scn_line_error(l,
					      "bad address '%s' (write ADDRESS/PREFIX such as "
					      "10.0.3.15/24)",
					      w);
		f->address = strdup(w);
		if (!f->address)
			return scn_line_oom(l);
	}
	for (w = scn_word(l); w; w = scn_word(l)) {
		if (!strcmp(w, "noauto")) {
			f->autostart = false;
			continue;
		}
		if (strcmp(w, "gateway"))
			return scn_line_error(l, "unexpected '%s' (usage: %s)", w, l->kw->usage);
		if (!is_static)
			return scn_line_error(l, "'gateway' goes with 'static' only");
		r = scn_need_word(l, "gateway address", &w);
		if (r < 0)
			return r;
		if (!scn_ip_ok(w))
			return scn_line_error(l, "bad gateway '%s'", w);
		if (scn_set_str(l, &f->gateway, w) < 0)
			return -ENOMEM;
	}
	return 0;
}

int kw_iface(struct line *l)
{
	struct build_config *b = &l->ld->s->build;
	struct iface_spec f = {0};
	struct iface_spec *v;
	int r = parse_iface(l, &f);

	if (r < 0)
		goto out;
	for (size_t i = 0; i < b->nifaces; i++) {
		if (strcmp(b->ifaces[i].name, f.name))
			continue;
		scn_iface_release(&b->ifaces[i]);
		b->ifaces[i] = f;
		return 0;
	}
	v = realloc(b->ifaces, (b->nifaces + 1) * sizeof(*v));
	if (!v) {
		r = scn_line_oom(l);
		goto out;
	}
	b->ifaces = v;
	v[b->nifaces++] = f;
	return 0;
out:
	scn_iface_release(&f);
	return r;
}

int kw_hostname(struct line *l)
{
	char *w = NULL;
	int r = scn_need_last_word(l, "hostname", &w);

	if (r < 0)
		return r;
	if (!scn_hostname_ok(w))
		return scn_line_error(l, "bad hostname '%s' (letters, digits, '-' and '.')", w);
	return scn_set_str(l, &l->ld->s->build.hostname, w);
}

int kw_root_password(struct line *l)
{
	char *w = NULL, *v = NULL;
	int r = scn_need_last_word(l, "password", &w);

	if (r < 0)
		return r;
	r = scn_password_value(l, w, true, &v);
	if (r < 0)
		return r;
	free(l->ld->s->build.root_password_hash);
	l->ld->s->build.root_password_hash = v;
	return 0;
}

static const char *const user_opts[] = {"uid", "groups", "shell", "home", "password", "keys", NULL};

/* One "OPTION VALUE" pair of a user line. */
static int user_option(struct line *l, struct user_spec *u, int opt, const char *v)
{
	struct stat st;
	char *path = NULL;
	int r = 0;

	switch (opt) {
	case 0:
		if (!parse_long(v, 0, 2147483646, &u->uid))
			return scn_line_error(l, "bad uid '%s' (a number from 0)", v);
		return 0;
	case 1:
		for (const char *g = v; *g;) {
			size_t n = strcspn(g, ",");
			char *name = strndup(g, n);

			if (!name)
				return scn_line_oom(l);
			if (!scn_name_ok(name, "_-", 32)) {
				r = scn_line_error(l, "bad group '%s' in '%s'", name, v);
				free(name);
				return r;
			}
			if (strlist_add_owned(&u->groups, name) < 0)
				return scn_line_oom(l);
			g += n + (g[n] == ',');
		}
		return 0;
	case 2:
	case 3:
		if (v[0] != '/')
			return scn_line_error(l, "%s '%s' must be an absolute path", user_opts[opt],
					      v);
		return scn_set_str(l, opt == 2 ? &u->shell : &u->home, v);
	case 4:
		free(u->password_hash);
		return scn_password_value(l, v, false, &u->password_hash);
	default:
		path = scn_relative_to(l->dir, v);
		if (!path)
			return scn_line_oom(l);
		if (stat(path, &st) < 0 || access(path, R_OK) < 0)
			r = scn_line_error(l, "cannot read key file '%s': %s", path,
					   strerror(errno));
		else if (!S_ISREG(st.st_mode))
			r = scn_line_error(l, "key file '%s' is not a regular file", path);
		if (r == 0) {
			free(u->authorized_keys);
			u->authorized_keys = path;
			path = NULL;
		}
		free(path);
		return r;
	}
}

static int parse_user(struct line *l, struct user_spec *u)
{
	char *w = NULL, *v = NULL;
	unsigned given = 0;
	int opt, r = scn_need_word(l, "user name", &w);

	if (r < 0)
		return r;
	if (!scn_name_ok(w, "_-", 32) || w[0] == '-' || (w[0] >= '0' && w[0] <= '9'))
		return scn_line_error(l, "bad user name '%s'", w);
	u->uid = -1;
	u->name = strdup(w);
	if (!u->name)
		return scn_line_oom(l);
	for (w = scn_word(l); w; w = scn_word(l)) {
		opt = scn_lookup(user_opts, w);
		if (opt < 0)
			return scn_unknown_word(l, "user option", w, user_opts);
		if (given & (1u << opt))
			return scn_line_error(l, "'%s' given twice", w);
		given |= 1u << opt;
		r = scn_need_word(l, user_opts[opt], &v);
		if (r == 0)
			r = user_option(l, u, opt, v);
		if (r < 0)
			return r;
	}
	return 0;
}

int kw_user(struct line *l)
{
	struct build_config *b = &l->ld->s->build;
	struct user_spec u = {0};
	struct user_spec *v;
	int r = parse_user(l, &u);

	if (r < 0)
		goto out;
	for (size_t i = 0; i < b->nusers; i++) {
		if (strcmp(b->users[i].name, u.name))
			continue;
		user_spec_release(&b->users[i]);
		b->users[i] = u;
		return 0;
	}
	v = realloc(b->users, (b->nusers + 1) * sizeof(*v));
	if (!v) {
		r = scn_line_oom(l);
		goto out;
	}
	b->users = v;
	v[b->nusers++] = u;
	return 0;
out:
	user_spec_release(&u);
	return r;
}

/* Append a directory overlay unless the same directory is listed already. */
int scn_add_overlay(struct line *l, struct build_config *b, const char *dir)
{
	for (size_t i = 0; i < b->overlays.n; i++)
		if (scn_same_file(b->overlays.v[i], dir))
			return 0;
	return strlist_add(&b->overlays, dir) < 0 ? scn_line_oom(l) : 0;
}

int kw_overlay(struct line *l)
{
	char *w = NULL, *dir = NULL;
	struct stat st;
	int r = scn_need_last_word(l, "directory", &w);

	if (r < 0)
		return r;
	dir = scn_relative_to(l->dir, w);
	if (!dir)
		return scn_line_oom(l);
	if (stat(dir, &st) < 0)
		r = scn_line_error(l, "cannot use overlay '%s': %s", dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		r = scn_line_error(l, "overlay '%s' is not a directory", dir);
	else
		r = scn_add_overlay(l, &l->ld->s->build, dir);
	free(dir);
	return r;
}

static const char *const kernel_kinds[] = {"host", "image", "package", "tree", NULL};

/* "PATH [modules DIR]" after 'kernel image'. */
static int parse_kernel_image(struct line *l, char **img, char **mods)
{
	char *w = NULL;
	int r = scn_need_word(l, "kernel image", &w);

	if (r < 0)
		return r;
	*img = scn_relative_to(l->dir, w);
	if (!*img)
		return scn_line_oom(l);
	w = scn_word(l);
	if (!w)
		return 0;
	if (strcmp(w, "modules"))
		return scn_line_error(l, "unexpected '%s' (usage: %s)", w, l->kw->usage);
	r = scn_need_last_word(l, "modules directory", &w);
	if (r < 0)
		return r;
	*mods = scn_relative_to(l->dir, w);
	return *mods ? 0 : scn_line_oom(l);
}

int kw_kernel(struct line *l)
{
	struct build_config *b = &l->ld->s->build;
	char *kind = NULL, *w = NULL, *img = NULL, *mods = NULL, *pkg = NULL, *tree = NULL;
	int k, r = scn_need_word(l, "kernel source", &kind);

	if (r < 0)
		return r;
	k = scn_lookup(kernel_kinds, kind);
	if (k < 0)
		return scn_unknown_word(l, "kernel source", kind, kernel_kinds);
	if (k == 0) {
		r = scn_need_end(l);
	} else if (k == 1) {
		r = parse_kernel_image(l, &img, &mods);
	} else if (k == 3) {
		r = scn_need_last_word(l, "kernel tree", &w);
		if (r == 0 && !(tree = scn_relative_to(l->dir, w)))
			r = scn_line_oom(l);
	} else {
		r = scn_need_last_word(l, "kernel package", &w);
		if (r == 0 && !scn_package_ok(w, false))
			r = scn_line_error(l, "bad package '%s'", w);
		if (r == 0)
			pkg = strdup(w);
		if (r == 0 && !pkg)
			r = scn_line_oom(l);
	}
	if (r < 0) {
		free(img);
		free(mods);
		free(tree);
		return r;
	}
	/* Each form replaces the others. */
	free(b->kernel_image);
	free(b->modules_dir);
	free(b->kernel_package);
	free(b->kernel_tree);
	b->kernel_image = img;
	b->modules_dir = mods;
	b->kernel_package = pkg;
	b->kernel_tree = tree;
	l->ld->s->kernel_host = k == 0;
	return 0;
}

int kw_modules(struct line *l)
{
	char *w = NULL;
	int r = scn_need_word(l, "module", &w);

	for (; r == 0 && w; w = scn_word(l)) {
		if (!scn_name_ok(w, "_-", 64))
			return scn_line_error(l, "bad module name '%s'", w);
		r = scn_add_unique(l, &l->ld->s->build.modules, w);
	}
	return r;
}
