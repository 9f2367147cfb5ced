// SPDX-License-Identifier: MIT
/* The SPDX 2.3 JSON bill of materials of a build: packages, kernel, modules, relationships. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "common/util.h"
#include "src/json.h"
#include "src/sbom.h"
#include "src/spdx_ids.h"

/* ---- license expressions ---- */

/* The SPDX spelling of id, matched without case (SPDX ids are case-insensitive), or NULL. */
static const char *known_id(const char *const *ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(id, ids[i]))
			return ids[i];
	return NULL;
}

/* c where SPDX ids allow it ([A-Za-z0-9.-]), else '-'. */
static char id_char(char c)
{
	bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		  c == '.' || c == '-';

	if (ok)
		return c;
	return '-';
}

/* Does refs ("LicenseRef-X=text" each) hold the id of the first len bytes of ref? */
static bool has_ref_id(const struct strlist *refs, const char *ref, size_t len)
{
	for (size_t i = 0; i < refs->n; i++)
		if (!strncmp(refs->v[i], ref, len) && refs->v[i][len] == '=')
			return true;
	return false;
}

/* A license name outside the SPDX list as LicenseRef-NAME: [A-Za-z0-9.-] kept, the rest '-'. */
static int license_ref(const char *name, struct buf *out, struct strlist *refs)
{
	struct buf ref;
	int r;

	buf_init(&ref, 0);
	r = buf_addstr(&ref, "LicenseRef-");
	for (const char *c = name; r == 0 && *c; c++)
		r = buf_addch(&ref, id_char(*c));
	if (r == 0)
		r = buf_addstr(out, ref.data);
	if (r == 0 && refs && !has_ref_id(refs, ref.data, ref.len))
		r = strlist_addf(refs, "%s=%s", ref.data, name);
	buf_release(&ref);
	return r;
}

/* One license operand: a known identifier (with '+'), else a LicenseRef. */
static int license_term(const char *tok, struct buf *out, struct strlist *refs)
{
	char base[256];
	size_t len = strlen(tok);
	const char *id;
	bool plus = len > 1 && tok[len - 1] == '+';

	snprintf(base, sizeof(base), "%.*s", (int)(plus ? len - 1 : len), tok);
	id = known_id(spdx_license_ids, ARRAY_SIZE(spdx_license_ids), base);
	if (id)
		return buf_addf(out, "%s%s", id, plus ? "+" : "");
	return license_ref(tok, out, refs);
}

/* The next token of an expression: "(", ")" or a word; false at the end. */
static bool next_token(const char **s, char *tok, size_t toksz)
{
	const char *p = *s;
	size_t n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return false;
	if (*p == '(' || *p == ')') {
		tok[0] = *p;
		tok[1] = '\0';
		*s = p + 1;
		return true;
	}
	while (*p && *p != ' ' && *p != '\t' && *p != '(' && *p != ')') {
		if (n + 1 < toksz)
			tok[n++] = *p;
		p++;
	}
	tok[n] = '\0';
	*s = p;
	return true;
}

/*
 * "L WITH E" where E is no SPDX exception: one LicenseRef for the pair, in place of
 * the operand L that starts at expr[at] (an exception cannot follow a LicenseRef).
 */
static int license_with_ref(struct buf *expr, size_t at, const char *l, const char *e,
			    struct strlist *refs)
{
	char name[600];

	snprintf(name, sizeof(name), "%s WITH %s", l, e);
	expr->len = at;
	expr->data[at] = '\0';
	return license_ref(name, expr, refs);
}

int sbom_license(const char *apk_license, struct buf *out, struct strlist *refs)
{
	struct strlist new_refs = STRLIST_INIT;
	const char *s = apk_license ? apk_license : "";
	struct buf expr;
	char tok[256], last[256] = "";
	size_t last_at = 0; /* where the last operand starts in expr */
	int depth = 0, r = 0;
	bool operand = true; /* an operand (or '(') comes next */
	bool ok = true, with = false;

	buf_init(&expr, 0);
	while (r == 0 && ok && next_token(&s, tok, sizeof(tok))) {
		bool is_and = !strcasecmp(tok, "AND"), is_or = !strcasecmp(tok, "OR");
		bool is_with = !strcasecmp(tok, "WITH");

		if (expr.len && strcmp(tok, ")") && expr.data[expr.len - 1] != '(')
			r = buf_addch(&expr, ' ');
		if (r) {
			break;
		} else if (!strcmp(tok, "(")) {
			ok = operand && !with; /* WITH takes an exception id, never a group */
			depth++;
			r = buf_addch(&expr, '(');
		} else if (!strcmp(tok, ")")) {
			ok = !operand && !with && depth-- > 0;
			last[0] = '\0'; /* no WITH after a parenthesis */
			r = buf_addch(&expr, ')');
		} else if (is_and || is_or || is_with) {
			ok = !operand && !(is_with && (last[0] == '\0' || with));
			operand = true;
			with = is_with;
			r = buf_addstr(&expr, is_and ? "AND" : is_or ? "OR" : "WITH");
			if (!is_with)
				last[0] = '\0';
		} else if (with) {
			const char *e =
			    known_id(spdx_exception_ids, ARRAY_SIZE(spdx_exception_ids), tok);

			ok = operand;
			operand = false;
			with = false;
			if (ok && e)
				r = buf_addstr(&expr, e);
			else if (ok)
				r = license_with_ref(&expr, last_at, last, tok, &new_refs);
			last[0] = '\0';
		} else {
			ok = operand;
			operand = false;
			last_at = expr.len;
			snprintf(last, sizeof(last), "%s", tok);
			r = license_term(tok, &expr, &new_refs);
		}
	}
	ok = ok && !operand && !depth && expr.len;
	if (r == 0)
		r = buf_addstr(out, ok ? expr.data : "NOASSERTION");
	/*
	 * The references count only when the expression is kept; an id once in
	 * the document is not declared again, even for another name that maps to
	 * it ('foo_bar' and 'foo/bar' are both LicenseRef-foo-bar).
	 */
	for (size_t i = 0; r == 0 && ok && refs && i < new_refs.n; i++)
		if (!has_ref_id(refs, new_refs.v[i], strcspn(new_refs.v[i], "=")))
			r = strlist_add(refs, new_refs.v[i]);
	strlist_clear(&new_refs);
	buf_release(&expr);
	return r;
}

/* ---- the document ---- */

static json_t *checksum(const char *alg, const unsigned char *d, size_t n)
{
	struct jobj j = {json_object(), 0};
	char h[65];

	hex_encode(d, n, h);
	j.err = j.o ? 0 : -ENOMEM;
	jset_str(&j, "algorithm", alg);
	jset_str(&j, "checksumValue", h);
	return jobject_done(&j);
}

/* SHA-1 and SHA-256 of a file: 0, or -errno. */
static int file_digests(const char *path, unsigned char sha1[20], unsigned char sha256[32])
{
	struct buf data;
	int r;

	buf_init(&data, 0);
	r = buf_read_file(&data, path);
	if (r == 0 && (EVP_Digest(data.data, data.len, sha1, NULL, EVP_sha1(), NULL) != 1 ||
		       EVP_Digest(data.data, data.len, sha256, NULL, EVP_sha256(), NULL) != 1))
		r = -ENOMEM;
	buf_release(&data);
	return r;
}

/* "Person: NAME (EMAIL)" from an APK maintainer "NAME <EMAIL>"; NOASSERTION without one. */
static json_t *person(const char *m)
{
	const char *lt = m ? strchr(m, '<') : NULL;
	const char *gt = lt ? strchr(lt, '>') : NULL;
	size_t nl;
	char text[512];

	if (!m || !m[0])
		return json_string("NOASSERTION");
	if (!lt || !gt) {
		snprintf(text, sizeof(text), "Person: %s", m);
		return jstr(text);
	}
	nl = (size_t)(lt - m);
	while (nl && m[nl - 1] == ' ')
		nl--;
	snprintf(text, sizeof(text), "Person: %.*s (%.*s)", (int)nl, m, (int)(gt - lt - 1), lt + 1);
	return jstr(text);
}

/* An SPDX id: "SPDXRef-" then [A-Za-z0-9.-], the rest as '-'. */
static void spdx_id(char *out, size_t n, const char *kind, size_t i, const char *name)
{
	int k = snprintf(out, n, "SPDXRef-%s-%zu-", kind, i);

	for (const char *c = name; k > 0 && (size_t)k + 1 < n && *c; c++, k++)
		out[k] = id_char(*c);
	if (k > 0 && (size_t)k < n)
		out[k] = '\0';
}

static json_t *relationship(const char *a, const char *type, const char *b)
{
	struct jobj j = {json_object(), 0};

	j.err = j.o ? 0 : -ENOMEM;
	jset_str(&j, "spdxElementId", a);
	jset_str(&j, "relationshipType", type);
	jset_str(&j, "relatedSpdxElement", b);
	return jobject_done(&j);
}

/* What the document is being built from, and its growing arrays. */
struct sbom {
	const struct build_config *cfg;
	const struct build_result *res;
	json_t *packages, *files, *rels;
	struct strlist refs; /* LicenseRef-X=text */
	char (*ids)[300];    /* SPDX id per package */
	int err;
};

/* A URL as it is; a local repository's file as file://ABSOLUTE-PATH; NOASSERTION if unknown. */
static json_t *download_location(const char *url)
{
	char abs[PATH_MAX], text[PATH_MAX + 8];

	if (!url)
		return json_string("NOASSERTION");
	if (strstr(url, "://"))
		return jstr(url);
	if (!realpath(url, abs))
		return json_string("NOASSERTION");
	snprintf(text, sizeof(text), "file://%s", abs);
	return jstr(text);
}

static json_t *apk_package(struct sbom *s, size_t i)
{
	const struct build_pkg *p = &s->res->pkgs[i];
	struct jobj j = {json_object(), 0};
	json_t *sums = json_array(), *refs = json_array();
	struct jobj purl = {json_object(), 0};
	struct buf lic, loc;

	buf_init(&lic, 0);
	buf_init(&loc, 0);
	j.err = j.o && sums && refs && purl.o ? 0 : -ENOMEM;
	if (!j.err)
		j.err = sbom_license(p->license, &lic, &s->refs);
	if (!j.err)
		j.err = buf_addf(&loc, "pkg:apk/alpine/%s@%s?arch=%s", p->name, p->version,
				 p->arch ? p->arch : "noarch");
	jset_str(&j, "SPDXID", s->ids[i]);
	jset_str(&j, "name", p->name);
	jset_str(&j, "versionInfo", p->version);
	jset(&j, "supplier", person(p->maintainer));
	jset(&j, "originator", person(p->maintainer));
	jset(&j, "downloadLocation", download_location(p->url));
	jset(&j, "filesAnalyzed", json_false());
	if (p->has_sha1)
		jappend(sums, checksum("SHA1", p->sha1, 20), &j.err);
	jappend(sums, checksum("SHA256", p->sha256, 32), &j.err);
	jset(&j, "checksums", sums);
	if (p->homepage)
		jset_str(&j, "homepage", p->homepage);
	if (p->origin)
		jset_str(&j, "sourceInfo", p->origin);
	jset_str(&j, "licenseConcluded", lic.data);
	jset_str(&j, "licenseDeclared", lic.data);
	jset_str(&j, "copyrightText", "NOASSERTION");
	if (p->description)
		jset_str(&j, "description", p->description);
	jset_str(&purl, "referenceCategory", "PACKAGE-MANAGER");
	jset_str(&purl, "referenceType", "purl");
	jset_str(&purl, "referenceLocator", loc.data);
	jappend(refs, jobject_done(&purl), &j.err);
	jset(&j, "externalRefs", refs);
	buf_release(&loc);
	buf_release(&lic);
	return jobject_done(&j);
}

/* A package that is one file (the initrd, the kernel image) of digests sha1 and sha256. */
static json_t *file_package(const char *id, const char *name, const char *version,
			    const char *purpose, const unsigned char sha1[20],
			    const unsigned char sha256[32])
{
	struct jobj j = {json_object(), 0};
	json_t *sums = json_array();

	j.err = j.o && sums ? 0 : -ENOMEM;
	jset_str(&j, "SPDXID", id);
	jset_str(&j, "name", name);
	if (version)
		jset_str(&j, "versionInfo", version);
	jset_str(&j, "downloadLocation", "NOASSERTION");
	jset(&j, "filesAnalyzed", json_false());
	jappend(sums, checksum("SHA1", sha1, 20), &j.err);
	jappend(sums, checksum("SHA256", sha256, 32), &j.err);
	jset(&j, "checksums", sums);
	jset_str(&j, "licenseConcluded", "NOASSERTION");
	jset_str(&j, "licenseDeclared", "NOASSERTION");
	jset_str(&j, "copyrightText", "NOASSERTION");
	jset_str(&j, "primaryPackagePurpose", purpose);
	return jobject_done(&j);
}

static json_t *module_file(const struct build_file *f, const char *id)
{
	struct jobj j = {json_object(), 0};
	json_t *sums = json_array();
	char name[4200];

	snprintf(name, sizeof(name), "./%s", f->path);
	j.err = j.o && sums ? 0 : -ENOMEM;
	jset_str(&j, "SPDXID", id);
	jset_str(&j, "fileName", name);
	jset(&j, "fileTypes", json_pack("[s]", "BINARY"));
	jappend(sums, checksum("SHA1", f->sha1, 20), &j.err);
	jappend(sums, checksum("SHA256", f->sha256, 32), &j.err);
	jset(&j, "checksums", sums);
	jset_str(&j, "licenseConcluded", "NOASSERTION");
	jset_str(&j, "copyrightText", "NOASSERTION");
	return jobject_done(&j);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* The kernel image (a package beside the initrd) and its modules (files in the initrd). */
static int add_kernel(struct sbom *s, struct it_error *err)
{
	const struct build_result *res = s->res;
	const char *kpkg = s->cfg->kernel_package;
	unsigned char sha1[20], sha256[32];
	int r;

	if (!res->kernel_path)
		return 0;
	r = file_digests(res->kernel_path, sha1, sha256);
	if (r < 0)
		return it_error_set(err, r, "cannot read '%s': %s", res->kernel_path,
				    it_strerror(r));
	jappend(s->packages,
		file_package("SPDXRef-Kernel", kpkg ? kpkg : "linux", res->kernel_version,
			     "OPERATING_SYSTEM", sha1, sha256),
		&s->err);
	jappend(s->rels, relationship("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Kernel"), &s->err);
	for (size_t i = 0; kpkg && i < res->npkgs; i++)
		if (!strcmp(res->pkgs[i].name, kpkg))
			jappend(s->rels, relationship(s->ids[i], "CONTAINS", "SPDXRef-Kernel"),
				&s->err);
	for (size_t i = 0; i < res->nmodules; i++) {
		char id[300];

		spdx_id(id, sizeof(id), "File", i, base_name(res->modules[i].path));
		jappend(s->files, module_file(&res->modules[i], id), &s->err);
		jappend(s->rels, relationship("SPDXRef-initrd", "CONTAINS", id), &s->err);
		jappend(s->rels, relationship(id, "DEPENDS_ON", "SPDXRef-Kernel"), &s->err);
	}
	return 0;
}

static json_t *extracted_licenses(const struct strlist *refs, int *err)
{
	json_t *a = json_array();

	for (size_t i = 0; i < refs->n; i++) {
		struct jobj j = {json_object(), 0};
		const char *eq = strchr(refs->v[i], '=');
		char id[300], text[600];

		snprintf(id, sizeof(id), "%.*s", (int)(eq - refs->v[i]), refs->v[i]);
		snprintf(text, sizeof(text),
			 "The APK license field names '%s', which is not on "
			 "the SPDX License List.",
			 eq + 1);
		j.err = j.o ? 0 : -ENOMEM;
		jset_str(&j, "licenseId", id);
		jset_str(&j, "name", eq + 1);
		jset_str(&j, "extractedText", text);
		jappend(a, jobject_done(&j), err);
	}
	return a;
}

/* The document's header: versions, namespace (from the initrd's digest), creation info. */
static void add_header(struct jobj *doc, const struct build_config *cfg, int64_t epoch,
		       const char *initrd_sha256)
{
	struct jobj ci = {json_object(), 0};
	char created[32], ns[512];
	time_t t = (time_t)epoch;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(ns, sizeof(ns), "https://spdx.org/spdxdocs/initrd-test/%s-%s",
		 base_name(cfg->output), initrd_sha256);
	jset_str(doc, "spdxVersion", "SPDX-2.3");
	jset_str(doc, "dataLicense", "CC0-1.0");
	jset_str(doc, "SPDXID", "SPDXRef-DOCUMENT");
	jset_str(doc, "name", base_name(cfg->output));
	jset_str(doc, "documentNamespace", ns);
	ci.err = ci.o ? 0 : -ENOMEM;
	jset_str(&ci, "created", created);
	jset(&ci, "creators", json_pack("[s]", "Tool: initrd-test-" IT_VERSION));
	jset(doc, "creationInfo", jobject_done(&ci));
}

/* The initrd (of digests sha1 and sha256), each APK in it and what each depends on. */
static void add_packages(struct sbom *s, const unsigned char sha1[20],
			 const unsigned char sha256[32])
{
	const struct build_result *res = s->res;

	jappend(s->packages,
		file_package("SPDXRef-initrd", base_name(s->cfg->output), NULL, "OPERATING_SYSTEM",
			     sha1, sha256),
		&s->err);
	jappend(s->rels, relationship("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-initrd"), &s->err);
	for (size_t i = 0; i < res->npkgs; i++)
		spdx_id(s->ids[i], sizeof(s->ids[i]), "Package", i, res->pkgs[i].name);
	for (size_t i = 0; i < res->npkgs; i++) {
		jappend(s->packages, apk_package(s, i), &s->err);
		jappend(s->rels, relationship("SPDXRef-initrd", "CONTAINS", s->ids[i]), &s->err);
		for (size_t k = 0; k < res->pkgs[i].ndeps; k++)
			jappend(s->rels,
				relationship(s->ids[i], "DEPENDS_ON", s->ids[res->pkgs[i].deps[k]]),
				&s->err);
	}
}

int sbom_spdx(const struct build_config *cfg, const struct build_result *res, struct buf *out,
	      struct it_error *err)
{
	struct sbom s = {cfg, res, json_array(), json_array(), json_array(), STRLIST_INIT, NULL, 0};
	struct jobj doc = {json_object(), 0};
	unsigned char sha1[20], sha256[32];
	char initrd_hex[65];
	int r;

	s.ids = calloc(res->npkgs + 1, sizeof(*s.ids));
	if (!s.ids || !doc.o || !s.packages || !s.files || !s.rels)
		s.err = -ENOMEM;
	r = file_digests(cfg->output, sha1, sha256);
	if (r < 0) {
		it_error_set(err, r, "cannot read '%s': %s", cfg->output, it_strerror(r));
		goto out;
	}
	hex_encode(sha256, 32, initrd_hex);
	add_header(&doc, cfg, res->epoch, initrd_hex);
	add_packages(&s, sha1, sha256);
	r = add_kernel(&s, err);
	if (r < 0)
		goto out;
	jset(&doc, "packages", s.packages);
	jset(&doc, "files", s.files);
	jset(&doc, "hasExtractedLicensingInfos", extracted_licenses(&s.refs, &s.err));
	jset(&doc, "relationships", s.rels);
	s.packages = s.files = s.rels = NULL;
	if (s.err)
		doc.err = s.err;
	r = jobj_dump(&doc, out);
	doc.o = NULL;
	if (r < 0)
		it_error_set(err, r, "cannot make the SBOM: %s", it_strerror(r));
out:
	json_decref(doc.o);
	json_decref(s.packages);
	json_decref(s.files);
	json_decref(s.rels);
	strlist_clear(&s.refs);
	free(s.ids);
	return r;
}

int sbom_write(const struct build_config *cfg, const struct build_result *res, struct it_error *err)
{
	struct buf out;
	int r;

	if (!cfg->sbom_file)
		return 0;
	buf_init(&out, 0);
	r = sbom_spdx(cfg, res, &out, err);
	if (r == 0) {
		r = write_file_atomic(cfg->sbom_file, out.data, out.len, 0644);
		if (r < 0)
			it_error_set(err, r, "cannot write '%s': %s", cfg->sbom_file,
				     it_strerror(r));
	}
	buf_release(&out);
	return r;
}
