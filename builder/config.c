// SPDX-License-Identifier: MIT
/* Life cycle of struct build_config (with its user_spec entries) and struct build_result. */
#include <stdlib.h>
#include <string.h>

#include "builder/internal.h"

void build_config_init(struct build_config *c)
{
	memset(c, 0, sizeof(*c));
	c->compression = COMPRESS_GZIP;
	c->source_date_epoch = -1;
}

void user_spec_release(struct user_spec *u)
{
	free(u->name);
	free(u->password_hash);
	free(u->shell);
	free(u->home);
	strlist_clear(&u->groups);
	free(u->authorized_keys);
	memset(u, 0, sizeof(*u));
}

void build_config_release(struct build_config *c)
{
	strlist_clear(&c->repos);
	free(c->arch);
	free(c->cache_dir);
	free(c->keys_dir);
	strlist_clear(&c->packages);
	for (size_t i = 0; i < c->nservices; i++) {
		free(c->services[i].runlevel);
		free(c->services[i].name);
	}
	free(c->services);
	for (size_t i = 0; i < c->nifaces; i++) {
		free(c->ifaces[i].name);
		free(c->ifaces[i].method);
		free(c->ifaces[i].address);
		free(c->ifaces[i].gateway);
	}
	free(c->ifaces);
	for (size_t i = 0; i < c->nusers; i++)
		user_spec_release(&c->users[i]);
	free(c->users);
	free(c->hostname);
	strlist_clear(&c->consoles);
	free(c->init);
	free(c->root_password_hash);
	strlist_clear(&c->overlays);
	free(c->agent_binary);
	strlist_clear(&c->optional_modules);
	free(c->kernel_package);
	free(c->kernel_image);
	free(c->kernel_tree);
	free(c->modules_dir);
	strlist_clear(&c->modules);
	free(c->output);
	free(c->kernel_out);
	free(c->lock_file);
	free(c->sbom_file);
	free(c->rootfs_dir);
	build_config_init(c);
}

void build_result_release(struct build_result *r)
{
	strlist_clear(&r->plan);
	free(r->plan_text);
	strlist_clear(&r->scripts_skipped);
	free(r->kernel_version);
	free(r->kernel_path);
	for (size_t i = 0; i < r->npkgs; i++) {
		struct build_pkg *p = &r->pkgs[i];
		char *strs[] = {p->name,     p->version,     p->arch,	p->license, p->maintainer,
				p->homepage, p->description, p->origin, p->csum,    p->url};

		for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
			free(strs[k]);
		free(p->deps);
	}
	free(r->pkgs);
	for (size_t i = 0; i < r->nmodules; i++)
		free(r->modules[i].path);
	free(r->modules);
	memset(r, 0, sizeof(*r));
}
