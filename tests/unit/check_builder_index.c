// SPDX-License-Identifier: MIT
/*
 * Unit tests for builder/index.c: the real Alpine 3.19.1 APKINDEX (parsed
 * and written back byte for byte), installed-db records as apk 2.14 wrote
 * them, every kind of malformed input, several repositories.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/err.h"
#include "tests/unit/testutil.h"
#include "tests/unit/builder_util.h"

#define ALPINE_INDEX "tests/data/alpine-3.19.1/x86_64/APKINDEX.tar.gz"

static struct apk_db db;
static struct buf alpine;

static void setup_alpine(void)
{
	struct it_error err = IT_ERROR_INIT;

	tu_read_apkindex(ALPINE_INDEX, &alpine);
	apk_db_init(&db);
	ck_assert_int_eq(
	    apk_db_add_index(&db, buf_blob(&alpine), "file:///repo/main", ALPINE_INDEX, &err), 0);
}

static void teardown_alpine(void)
{
	apk_db_release(&db);
	buf_release(&alpine);
}

static const struct apk_pkg *pkg(const char *name)
{
	const struct apk_pkg *p = apk_db_find_pkg(&db, blob_str(name), BLOB_NULL);

	ck_assert_msg(p != NULL, "no package '%s'", name);
	return p;
}

static void assert_blob(struct blob b, const char *want)
{
	ck_assert_msg(blob_eq_str(b, want), "got '%.*s', want '%s'", (int)b.len,
		      b.ptr ? b.ptr : "(null)", want);
}

static void assert_dep(const struct apk_dep *d, const char *want)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(apk_dep_format(d, &b), 0);
	ck_assert_str_eq(b.data, want);
	buf_release(&b);
}

START_TEST(test_real_index_fields)
{
	const struct apk_pkg *p = pkg("busybox-binsh");
	const struct apk_name *n;
	struct buf b;

	ck_assert_uint_eq(db.npkgs, 100);
	ck_assert_uint_eq(db.nrepos, 1);
	ck_assert_uint_eq(db.repos[0].npkgs, 100);
	ck_assert_str_eq(db.repos[0].label, "file:///repo/main");
	assert_blob(p->version, "1.36.1-r15");
	assert_blob(p->arch, "x86_64");
	assert_blob(p->description, "busybox ash /bin/sh");
	assert_blob(p->url, "https://busybox.net/");
	assert_blob(p->license, "GPL-2.0-only");
	assert_blob(p->origin, "busybox");
	assert_blob(p->maintainer, "Sören Tempel <soeren+alpine@soeren-tempel.net>");
	assert_blob(p->commit, "d1b6f274f29076967826e0ecf6ebcaa5d360272f");
	ck_assert_uint_eq(p->size, 1543);
	ck_assert_uint_eq(p->installed_size, 8192);
	ck_assert_uint_eq(p->build_time, 1699383189);
	ck_assert_uint_eq(p->provider_priority, 100);
	ck_assert_uint_eq(p->csum_kind, APK_CHECKSUM_SHA1);
	ck_assert_uint_eq(p->repos, 1);
	ck_assert_uint_eq(p->depends.n, 1);
	assert_dep(&p->depends.v[0], "busybox=1.36.1-r15");
	ck_assert_uint_eq(p->provides.n, 2);
	assert_dep(&p->provides.v[0], "/bin/sh");
	ck_assert_ptr_null(p->provides.v[0].version.ptr);
	assert_dep(&p->provides.v[1], "cmd:sh=1.36.1-r15");

	buf_init(&b, 0);
	ck_assert_int_eq(apk_pkg_format_csum(p, &b), 0);
	ck_assert_str_eq(b.data, "Q1oLisfZGMCPUKyVfkRHKxsHWJ/Fg=");
	buf_release(&b);

	p = pkg("ssl_client");
	ck_assert_uint_eq(p->install_if.n, 2);
	assert_dep(&p->install_if.v[0], "busybox=1.36.1-r15");
	assert_dep(&p->install_if.v[1], "libssl3");

	/* Provided names point at their providers. */
	n = apk_db_find_name(&db, blob_str("so:libc.musl-x86_64.so.1"));
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(n->nproviders, 1);
	assert_blob(n->providers[0].pkg->name->name, "musl");
	assert_blob(n->providers[0].version, "1");
	n = apk_db_find_name(&db, blob_str("/bin/sh"));
	ck_assert_uint_eq(n->nproviders, 1);
	ck_assert_ptr_eq(n->providers[0].pkg, pkg("busybox-binsh"));
	ck_assert_ptr_null(n->providers[0].version.ptr);
	/* ssl_client is triggered by busybox and libssl3. */
	n = apk_db_find_name(&db, blob_str("libssl3"));
	ck_assert_uint_ge(n->nrinstall_if, 1);
	ck_assert_uint_eq(db.niif_pkgs, 12);
	/* Names only depended upon exist without providers; unknown ones do not. */
	ck_assert_ptr_null(apk_db_find_name(&db, blob_str("no-such-package")));
	ck_assert_ptr_null(apk_db_find_pkg(&db, blob_str("busybox"), blob_str("1.0")));
	ck_assert_ptr_eq(apk_db_find_pkg(&db, blob_str("busybox"), blob_str("1.36.1-r15")),
			 pkg("busybox"));
}
END_TEST

/* Every record written back in installed-db form is the index record, byte for byte. */
START_TEST(test_real_index_roundtrip)
{
	struct it_error err = IT_ERROR_INIT;
	struct buf out;

	buf_init(&out, 0);
	for (uint32_t i = 0; i < db.npkgs; i++) {
		ck_assert_int_eq(apk_pkg_format_installed(db.pkgs[i], NULL, &out, &err), 0);
		ck_assert_int_eq(buf_addch(&out, '\n'), 0);
	}
	ck_assert_uint_eq(out.len, alpine.len);
	ck_assert(memcmp(out.data, alpine.data, alpine.len) == 0);
	buf_release(&out);
}
END_TEST

/* /lib/apk/db/installed as apk 2.14.0 wrote it for these packages (file lines left out). */
START_TEST(test_installed_record)
{
	static const char libcap2[] = "C:Q1RENAZvtW1ukGFlhCLx0ec5SiHSM=\n"
				      "P:libcap2\n"
				      "V:2.69-r1\n"
				      "A:x86_64\n"
				      "S:22021\n"
				      "I:69632\n"
				      "T:POSIX 1003.1e capabilities (libraries)\n"
				      "U:https://sites.google.com/site/fullycapable/\n"
				      "L:BSD-3-Clause OR GPL-2.0-only\n"
				      "o:libcap\n"
				      "m:Natanael Copa <ncopa@alpinelinux.org>\n"
				      "t:1685788729\n"
				      "c:8961e22bd056e80e1370a288cec15125aedf8a3a\n"
				      "D:so:libc.musl-x86_64.so.1\n"
				      "p:so:libcap.so.2=2.69 so:libpsx.so.2=2.69\n"
				      "r:libcap<2.64-r1\n";
	static const char binsh[] = "C:Q1oLisfZGMCPUKyVfkRHKxsHWJ/Fg=\n"
				    "P:busybox-binsh\n"
				    "V:1.36.1-r15\n"
				    "A:x86_64\n"
				    "S:1543\n"
				    "I:8192\n"
				    "T:busybox ash /bin/sh\n"
				    "U:https://busybox.net/\n"
				    "L:GPL-2.0-only\n"
				    "o:busybox\n"
				    "m:Sören Tempel <soeren+alpine@soeren-tempel.net>\n"
				    "t:1699383189\n"
				    "c:d1b6f274f29076967826e0ecf6ebcaa5d360272f\n"
				    "k:100\n"
				    "D:busybox=1.36.1-r15\n"
				    "p:/bin/sh cmd:sh=1.36.1-r15\n"
				    "r:busybox-initscripts\n";
	struct apk_pkg_extra cap = {"libcap<2.64-r1", 0};
	struct apk_pkg_extra sh = {"busybox-initscripts", 0};
	struct apk_pkg_extra bad = {"foo>=", 0};
	struct apk_pkg_extra prio = {"a b>1", 7};
	struct it_error err = IT_ERROR_INIT;
	struct buf out;

	buf_init(&out, 0);
	ck_assert_int_eq(apk_pkg_format_installed(pkg("libcap2"), &cap, &out, &err), 0);
	ck_assert_str_eq(out.data, libcap2);
	buf_reset(&out);
	ck_assert_int_eq(apk_pkg_format_installed(pkg("busybox-binsh"), &sh, &out, &err), 0);
	ck_assert_str_eq(out.data, binsh);
	buf_reset(&out);
	ck_assert_int_eq(apk_pkg_format_installed(pkg("zlib"), &prio, &out, &err), 0);
	ck_assert_ptr_nonnull(strstr(out.data, "\nr:a b>1\nq:7\n"));

	/* A bad replaces list: an error naming it, and nothing appended. */
	buf_reset(&out);
	buf_addstr(&out, "keep\n");
	ck_assert_int_eq(apk_pkg_format_installed(pkg("zlib"), &bad, &out, &err), -IT_EFORMAT);
	ck_assert_str_eq(err.msg, "bad replaces 'foo>=' for 'zlib'");
	ck_assert_str_eq(out.data, "keep\n");

	/* A full buffer: -IT_ELIMIT, nothing half-written. */
	it_error_clear(&err);
	buf_release(&out);
	buf_init(&out, 64);
	buf_addstr(&out, "x");
	ck_assert_int_eq(apk_pkg_format_installed(pkg("libcap2"), &cap, &out, &err), -IT_ELIMIT);
	ck_assert_str_eq(out.data, "x");
	ck_assert_str_eq(err.msg, "installed-db record of 'libcap2' does not fit the buffer");
	buf_release(&out);
}
END_TEST

/* ---- hand-written indexes ---- */

static const char good_idx[] =
    "C:Q1rhJtCaqn26sHA1/2ydTHaU6ocf8=\n"
    "P:a\n"
    "V:1.0-r0\n"
    "S:10\n"
    "I:20\n"
    "D:b>=2 !c so:libfoo.so.1 /bin/sh cmd:x pc:y>1.2 d=~1 e~2.1 f<3 g<=3 h>1\n"
    "p:cmd:a=1.0-r0 virt\n"
    "k:5\n"
    "x:lower-case unknown field is ignored\n"
    "\n"
    "C:Q2PiPoFgA5WUoziU9lZOGxNIu9egCI1CxKy3PurtWcAJ0=\n"
    "P:b\n"
    "V:2\n"
    "i:a c\n"
    "r:old-b\n"
    "q:3\n"
    "F:usr\n"
    "R:file\n"
    "Z:Q1rhJtCaqn26sHA1/2ydTHaU6ocf8=\n"
    "\n"
    "P:c\n"
    "V:1\n"
    "Y:an upper-case field apk does not know\n";

static int load(struct apk_db *d, const char *text, const char *source, struct it_error *err)
{
	return apk_db_add_index(d, blob_str(text), source, source, err);
}

START_TEST(test_handwritten)
{
	struct apk_db d;
	struct it_error err = IT_ERROR_INIT;
	const struct apk_pkg *a, *b, *c;
	struct buf out;

	apk_db_init(&d);
	ck_assert_int_eq(load(&d, good_idx, "good", &err), 0);
	ck_assert_uint_eq(d.npkgs, 3);
	a = d.pkgs[0];
	b = d.pkgs[1];
	c = d.pkgs[2];
	ck_assert_uint_eq(a->depends.n, 11);
	assert_dep(&a->depends.v[0], "b>=2");
	ck_assert(a->depends.v[1].conflict);
	assert_dep(&a->depends.v[1], "!c");
	assert_dep(&a->depends.v[5], "pc:y>1.2");
	assert_dep(&a->depends.v[6], "d~1");
	ck_assert_int_eq(a->depends.v[6].op, APK_VERSION_EQUAL | APK_VERSION_FUZZY);
	assert_dep(&a->depends.v[7], "e~2.1");
	assert_dep(&a->depends.v[8], "f<3");
	assert_dep(&a->depends.v[9], "g<=3");
	assert_dep(&a->depends.v[10], "h>1");
	ck_assert_uint_eq(a->provider_priority, 5);
	ck_assert(!a->uninstallable);
	ck_assert_uint_eq(b->csum_kind, APK_CHECKSUM_SHA256);
	ck_assert_uint_eq(b->install_if.n, 2);
	ck_assert_uint_eq(b->replaces.n, 1);
	ck_assert_uint_eq(b->replaces_priority, 3);
	ck_assert_uint_eq(c->csum_kind, APK_CHECKSUM_NONE);
	ck_assert(c->uninstallable);
	ck_assert_ptr_null(c->arch.ptr);

	/* Providers in load order: the package itself, then its provides. */
	ck_assert_uint_eq(apk_db_find_name(&d, blob_str("virt"))->nproviders, 1);
	ck_assert_uint_eq(apk_db_find_name(&d, blob_str("a"))->nrinstall_if, 1);
	ck_assert_uint_eq(d.niif_pkgs, 1);

	/* SHA-256 goes back out as Q2; r: and q: from the record; no C: without a checksum. */
	buf_init(&out, 0);
	ck_assert_int_eq(apk_pkg_format_installed(b, NULL, &out, &err), 0);
	ck_assert_str_eq(out.data, "C:Q2PiPoFgA5WUoziU9lZOGxNIu9egCI1CxKy3PurtWcAJ0=\nP:b\nV:2\n"
				   "S:0\nI:0\nT:\nU:\nL:\ni:a c\nr:old-b\nq:3\n");
	buf_reset(&out);
	ck_assert_int_eq(apk_pkg_format_installed(c, NULL, &out, &err), 0);
	ck_assert_str_eq(out.data, "P:c\nV:1\nS:0\nI:0\nT:\nU:\nL:\n");
	buf_release(&out);
	apk_db_release(&d);
}
END_TEST

static const struct {
	const char *text;
	const char *msg;
} bad_cases[] = {
    {"P:a\nV:1\n\nV:2\nS:1\n", "'bad': line 4: package record without 'P:'"},
    {"P:a\nS:1\n", "'bad': line 1: package record without 'V:' for 'a'"},
    {"P:a\nV:1.0-foo\n", "'bad': line 2: bad version '1.0-foo'"},
    {"P:a\nV:\n", "'bad': line 2: bad version ''"},
    {"C:Q1abc\nP:a\nV:1\n", "'bad': line 1: bad checksum 'Q1abc'"},
    {"C:Q1rhJtCaqn26sHA1/2ydTHaU6oc*8=\nP:a\nV:1\n", "'bad': line 1: bad checksum "
						     "'Q1rhJtCaqn26sHA1/2ydTHaU6oc*8='"},
    {"C:Q1rhJtCaqn26sHA1/2ydTHaU6ocf8A\nP:a\nV:1\n", "'bad': line 1: bad checksum "
						     "'Q1rhJtCaqn26sHA1/2ydTHaU6ocf8A'"},
    {"C:d41d8cd98f00b204e9800998ecf8427e\nP:a\nV:1\n", "'bad': line 1: bad checksum "
						       "'d41d8cd98f00b204e9800998ecf8427e'"},
    {"P:a\nV:1\nhello\n", "'bad': line 3: expected 'X:value', got 'hello'"},
    {"P:a\nV:1\nP\n", "'bad': line 3: expected 'X:value', got 'P'"},
    {"P:a\nV:1\nD:b c>=\n", "'bad': line 3: bad dependency 'c>='"},
    {"P:a\nV:1\nD:>=1\n", "'bad': line 3: bad dependency '>=1'"},
    {"P:a\nV:1\nD:b>=1-x\n", "'bad': line 3: bad dependency 'b>=1-x'"},
    {"P:a\nV:1\ni:!\n", "'bad': line 3: bad dependency '!'"},
    {"P:a\nV:1\np:b>1\n", "'bad': line 3: provides must be 'name' or 'name=version', not 'b>1'"},
    {"P:a\nV:1\nS:12a\n", "'bad': line 3: bad number in 'S:' '12a'"},
    {"P:a\nV:1\nk:70000\n", "'bad': line 3: bad number in 'k:' '70000'"},
    {"P:a\nV:1\nt:-1\n", "'bad': line 3: bad number in 't:' '-1'"},
    {"P:a\nP:b\nV:1\n", "'bad': line 2: second 'P:' in one record"},
    {"P:a\nV:1\nV:2\n", "'bad': line 3: second 'V:' in one record"},
    {"P:a b\nV:1\n", "'bad': line 1: bad package name 'a b'"},
};

/* Each malformed index: -IT_EFORMAT, the file and line in the message, the db untouched. */
START_TEST(test_malformed)
{
	struct apk_db d;
	struct it_error err = IT_ERROR_INIT;
	uint32_t npkgs, nnames;

	apk_db_init(&d);
	ck_assert_int_eq(load(&d, good_idx, "good", &err), 0);
	npkgs = d.npkgs;
	nnames = d.nnames;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		/* A record of the good index again (merged) and a new name, then the error. */
		struct buf text;

		buf_init(&text, 0);
		buf_addf(&text,
			 "C:Q1rhJtCaqn26sHA1/2ydTHaU6ocf8=\nP:a\nV:1.0-r0\n"
			 "D:brand-new-name\n\n%s",
			 bad_cases[i].text);
		it_error_clear(&err);
		ck_assert_int_eq(load(&d, text.data, "bad", &err), -IT_EFORMAT);
		/* Line numbers count the 5 lines put in front. */
		{
			char want[512];
			const char *l = strstr(bad_cases[i].msg, "line ");
			unsigned long n = strtoul(l + 5, NULL, 10);

			snprintf(want, sizeof(want), "%.*sline %lu%s", (int)(l - bad_cases[i].msg),
				 bad_cases[i].msg, n + 5, strchr(l, ':'));
			ck_assert_str_eq(err.msg, want);
		}
		ck_assert_str_ne(err.hint, "");
		ck_assert_uint_eq(d.npkgs, npkgs);
		ck_assert_uint_eq(d.nnames, nnames);
		ck_assert_uint_eq(d.nrepos, 1);
		ck_assert_uint_eq(d.pkgs[0]->repos, 1);
		ck_assert_ptr_null(apk_db_find_name(&d, blob_str("brand-new-name")));
		ck_assert_ptr_nonnull(apk_db_find_name(&d, blob_str("so:libfoo.so.1")));
		buf_release(&text);
	}
	/* The hint says what a checksum looks like, or what to do about a damaged index. */
	it_error_clear(&err);
	ck_assert_int_eq(load(&d, "C:X1abc\nP:a\nV:1\n", "bad", &err), -IT_EFORMAT);
	ck_assert_str_eq(err.hint, "a checksum is Q1 + base64 SHA-1, or Q2 + base64 SHA-256");
	it_error_clear(&err);
	ck_assert_int_eq(load(&d, "P:a\n", "bad", &err), -IT_EFORMAT);
	ck_assert_str_eq(err.hint, "the index may be damaged or cut short: fetch it again");
	/* Still usable: a good second repository loads. */
	ck_assert_int_eq(load(&d, "P:z\nV:1\nD:a\n", "more", &err), 0);
	ck_assert_uint_eq(d.nrepos, 2);
	ck_assert_uint_eq(apk_db_find_name(&d, blob_str("a"))->nproviders, 1);
	apk_db_release(&d);
}
END_TEST

START_TEST(test_repositories)
{
	static const char one[] = "C:Q1rhJtCaqn26sHA1/2ydTHaU6ocf8=\nP:a\nV:1\n\n"
				  "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:b\nV:1\n";
	/* Same 'a' (same checksum, the last base64 bits spelled differently, as apk allows). */
	static const char two[] = "C:Q1rhJtCaqn26sHA1/2ydTHaU6ocf9=\nP:a\nV:1\n\n"
				  "C:Q1BAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:b\nV:2\n\nP:c\nV:1";
	struct apk_db d;
	struct it_error err = IT_ERROR_INIT;
	const struct apk_pkg *b;

	apk_db_init(&d);
	ck_assert_int_eq(load(&d, one, "one", &err), 0);
	ck_assert_int_eq(load(&d, two, "two", &err), 0);
	ck_assert_uint_eq(d.nrepos, 2);
	ck_assert_uint_eq(d.repos[1].npkgs, 3);
	/* Merged by checksum: one 'a' listed by both. No trailing newline: 'c' still counts. */
	ck_assert_uint_eq(d.npkgs, 4);
	ck_assert_uint_eq(d.pkgs[0]->repos, 3);
	ck_assert_uint_eq(apk_pkg_repo(d.pkgs[0]), 0);
	b = apk_db_find_pkg(&d, blob_str("b"), BLOB_NULL);
	assert_blob(b->version, "2");
	ck_assert_uint_eq(apk_pkg_repo(b), 1);
	ck_assert_uint_eq(apk_db_find_name(&d, blob_str("b"))->nproviders, 2);
	ck_assert_ptr_nonnull(apk_db_find_pkg(&d, blob_str("c"), blob_str("1")));
	/* An empty index is a repository without packages. */
	ck_assert_int_eq(load(&d, "", "empty", &err), 0);
	ck_assert_uint_eq(d.nrepos, 3);
	/* The owning variant keeps the caller's buffer, or frees it on failure. */
	{
		char *t = strdup("P:own\nV:1\n");

		ck_assert_int_eq(apk_db_add_index_owned(&d, t, strlen(t), "own", "own", &err), 0);
		ck_assert_ptr_eq(d.repos[3].text, t);
		assert_blob(apk_db_find_pkg(&d, blob_str("own"), BLOB_NULL)->version, "1");
		t = strdup("P:own2\n");
		ck_assert_int_eq(apk_db_add_index_owned(&d, t, strlen(t), "own2", "own2", &err),
				 -IT_EFORMAT);
		ck_assert_uint_eq(d.nrepos, 4);
		it_error_clear(&err);
	}
	apk_db_release(&d);

	/* The repository mask holds 32. */
	apk_db_init(&d);
	for (int i = 0; i < APK_DB_MAX_REPOS; i++)
		ck_assert_int_eq(load(&d, "P:a\nV:1\n", "r", &err), 0);
	ck_assert_int_eq(load(&d, "P:a\nV:1\n", "r33", &err), -IT_ELIMIT);
	ck_assert_str_eq(err.msg, "'r33': more than 32 repositories");
	apk_db_release(&d);
}
END_TEST

START_TEST(test_deps)
{
	struct apk_db d;
	struct it_error err = IT_ERROR_INIT;
	struct blob name, ver;
	int op;
	bool conflict;
	const struct apk_pkg *a;
	struct apk_provider pa, none = {NULL, BLOB_NULL}, virt;
	struct buf csum;

	ck_assert(apk_dep_split(blob_str("!foo>=1.2"), &name, &op, &ver, &conflict));
	assert_blob(name, "foo");
	assert_blob(ver, "1.2");
	ck_assert(conflict);
	ck_assert_int_eq(op, APK_VERSION_GREATER | APK_VERSION_EQUAL);
	ck_assert(apk_dep_split(blob_str("so:libc.musl-x86_64.so.1"), &name, &op, &ver, &conflict));
	ck_assert_int_eq(op, APK_DEPMASK_ANY);
	ck_assert_ptr_null(ver.ptr);
	ck_assert(apk_dep_split(blob_str("a><Q1rhJtCaqn26sHA1/2ydTHaU6ocf8="), &name, &op, &ver,
				&conflict));
	ck_assert_int_eq(op, APK_DEPMASK_CHECKSUM);
	ck_assert(!apk_dep_split(blob_str(""), &name, &op, &ver, &conflict));
	ck_assert(!apk_dep_split(blob_str("foo="), &name, &op, &ver, &conflict));
	ck_assert(!apk_dep_split(blob_str("foo=1.0_bar"), &name, &op, &ver, &conflict));

	apk_db_init(&d);
	ck_assert_int_eq(load(&d, good_idx, "good", &err), 0);
	ck_assert_int_eq(
	    load(&d,
		 "P:t\nV:1\nD:a a=1.0-r0 a<1 !a !a<1 a~1.0 virt virt>1 !virt "
		 "a><Q1rhJtCaqn26sHA1/2ydTHaU6ocf8= a><Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		 "t", &err),
	    0);
	a = d.pkgs[0];
	pa = (struct apk_provider){a, a->version};
	virt = (struct apk_provider){a, BLOB_NULL};
	{
		const struct apk_deps *ds = &apk_db_find_pkg(&d, blob_str("t"), BLOB_NULL)->depends;
		static const bool by_a[] = {true, true, false, false, true, true};
		static const bool by_none[] = {false, false, false, true, true, false};

		for (int i = 0; i < 6; i++) {
			ck_assert_msg(apk_dep_satisfied_by(&ds->v[i], &pa) == by_a[i], "dep %d", i);
			ck_assert_msg(apk_dep_satisfied_by(&ds->v[i], &none) == by_none[i],
				      "dep %d", i);
		}
		ck_assert(apk_dep_satisfied_by(&ds->v[6], &virt));
		ck_assert(!apk_dep_satisfied_by(&ds->v[7], &virt));
		ck_assert(!apk_dep_satisfied_by(&ds->v[8], &virt));
		ck_assert(apk_dep_satisfied_by(&ds->v[9], &pa));
		ck_assert(!apk_dep_satisfied_by(&ds->v[10], &pa));
	}
	buf_init(&csum, 0);
	ck_assert_int_eq(apk_pkg_format_csum(a, &csum), 0);
	ck_assert_str_eq(csum.data, "Q1rhJtCaqn26sHA1/2ydTHaU6ocf8=");
	buf_release(&csum);
	apk_db_release(&d);
}
END_TEST

/* The community index shape at scale: many records through the same code path, quickly. */
START_TEST(test_many_records)
{
	struct apk_db d;
	struct it_error err = IT_ERROR_INIT;
	struct buf text;

	buf_init(&text, 0);
	for (int i = 0; i < 20000; i++)
		buf_addf(&text,
			 "P:pkg%d\nV:1.%d-r0\nA:x86_64\nS:%d\nI:4096\nT:package %d\n"
			 "D:so:libc.musl-x86_64.so.1 pkg%d\np:cmd:pkg%d=1.%d-r0\ni:pkg%d docs\n\n",
			 i, i, i, i, i / 2, i, i, i);
	apk_db_init(&d);
	ck_assert_int_eq(apk_db_add_index(&d, buf_blob(&text), "big", "big", &err), 0);
	ck_assert_uint_eq(d.npkgs, 20000);
	ck_assert_uint_eq(apk_db_find_name(&d, blob_str("so:libc.musl-x86_64.so.1"))->nproviders,
			  0);
	/* Each package, under its own name and its provided one, waits for "docs". */
	ck_assert_uint_eq(apk_db_find_name(&d, blob_str("docs"))->nrinstall_if, 40000);
	ck_assert_uint_eq(d.niif_pkgs, 20000);
	assert_blob(apk_db_find_pkg(&d, blob_str("pkg19999"), BLOB_NULL)->version, "1.19999-r0");
	apk_db_release(&d);
	buf_release(&text);
}
END_TEST

static Suite *index_suite(void)
{
	Suite *s = suite_create("builder_index");
	TCase *real = tcase_create("alpine");
	TCase *hand = tcase_create("handwritten");

	tcase_add_checked_fixture(real, setup_alpine, teardown_alpine);
	tcase_add_test(real, test_real_index_fields);
	tcase_add_test(real, test_real_index_roundtrip);
	tcase_add_test(real, test_installed_record);
	suite_add_tcase(s, real);
	tcase_add_test(hand, test_handwritten);
	tcase_add_test(hand, test_malformed);
	tcase_add_test(hand, test_repositories);
	tcase_add_test(hand, test_deps);
	tcase_add_test(hand, test_many_records);
	tcase_set_timeout(real, 30);
	tcase_set_timeout(hand, 30);
	suite_add_tcase(s, hand);
	return s;
}

int main(void)
{
	return tu_run_suite(index_suite());
}
