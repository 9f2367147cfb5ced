/* SPDX-License-Identifier: MIT */
/*
 * Reading APK v2 files (packages, APKINDEX.tar.gz): gzip members, tar, .PKGINFO, checksums.
 * Private to the builder (builder/internal.h); everyone else includes builder/builder.h.
 */
#ifndef IT_BUILDER_APK_H
#define IT_BUILDER_APK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"

/*
 * An APK v2 file is concatenated gzip members, each one a tar segment:
 *   [signature: .SIGN.RSA.<key>, .SIGN.RSA256.<key>, ...]   optional
 *   [control: .PKGINFO and install scripts]                 (an index: DESCRIPTION, APKINDEX)
 *   [data: the files, possibly more than one member]        packages only
 * Segments before the last have no end-of-archive blocks. The signature is
 * over the compressed bytes of the control member (plus the data members
 * when .PKGINFO has no datahash), as apk-tools 2.x does.
 */

#define APK_DEFAULT_MAX_TOTAL (512ULL << 20) /* decompressed bytes per file */
#define APK_DEFAULT_MAX_ENTRY (256ULL << 20) /* one tar entry */

/* Limits against decompression bombs; a zero field means its default. */
struct apk_limits {
	unsigned long long max_total;
	unsigned long long max_entry;
};

/* A gzip member: its exact compressed byte range in the file, and what it inflates to. */
struct apk_gz_member {
	size_t off;
	size_t len;
	unsigned long long size; /* decompressed bytes */
};

/*
 * Split a file held in memory into its gzip members (every member is
 * inflated to check it; nothing is kept). *members is a heap array the
 * caller frees. Truncated or corrupt input gives -IT_EFORMAT naming 'name'.
 */
int apk_gz_split(const char *name, struct blob file, const struct apk_limits *lim,
		 struct apk_gz_member **members, size_t *n, struct it_error *err);

enum apk_sig_type { APK_SIG_RSA_SHA1 = 0, APK_SIG_RSA_SHA256, APK_SIG_RSA_SHA512 };

/* One .SIGN.<type>.<key> file of the signature member; owned by the apk_file. */
struct apk_signature {
	enum apk_sig_type type;
	char *key;	 /* key file name, "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub" */
	struct blob sig; /* the raw signature bytes */
};

enum apk_script_type {
	APK_SCRIPT_PRE_INSTALL = 0,
	APK_SCRIPT_POST_INSTALL,
	APK_SCRIPT_PRE_DEINSTALL,
	APK_SCRIPT_POST_DEINSTALL,
	APK_SCRIPT_PRE_UPGRADE,
	APK_SCRIPT_POST_UPGRADE,
	APK_SCRIPT_TRIGGER,
	APK_SCRIPT_MAX,
};

/* "pre-install", ..., "trigger"; NULL when out of range. */
const char *apk_script_name(enum apk_script_type t);

/* A regular file of the control member (".PKGINFO", ".post-install", "APKINDEX", ...). */
struct apk_ctrl_file {
	char *name;	     /* owned by the apk_file */
	unsigned mode;	     /* permission bits */
	struct blob content; /* points into the apk_file */
};

/* An install script of a package, with its contents. */
struct apk_script {
	enum apk_script_type type;
	const char *name; /* ".post-install" (the control file's name) */
	struct blob content;
};

/* An extended attribute of a data entry (pax SCHILY.xattr.NAME). */
struct apk_xattr {
	const char *name; /* "security.capability" */
	struct blob value;
};

/*
 * One entry of the data member, as stored: 'path' is the raw name (pax
 * 'path' or GNU long name or ustar prefix/name), not cleaned, so a '..' or
 * an absolute path reaches the caller unchanged for it to refuse. All
 * pointers stay valid until the callback returns; 'content' stays valid
 * until apk_file_release() (it points into the file's decompressed data).
 * Every entry is delivered: apk 2.14 itself skips names starting with '.'
 * (alpine-base's ".dummy"), basenames starting with ".keep_", and unsafe
 * names (with a warning); that policy belongs to the caller.
 */
struct apk_entry {
	const char *path;
	unsigned mode; /* S_IFREG/S_IFDIR/S_IFLNK/S_IFCHR/S_IFBLK/S_IFIFO | 07777 */
	unsigned uid, gid;
	const char *uname, *gname; /* "" when absent */
	int64_t mtime;
	unsigned long long size; /* bytes of content (0 for all but regular files) */
	const char *content;	 /* regular files: 'size' bytes; never NULL */
	const char *link_target; /* symlinks: the target; NULL otherwise */
	const char *hardlink; /* hard links (S_IFREG): path of the earlier entry; NULL otherwise */
	unsigned devmajor, devminor;
	/* apk's pax APK-TOOLS.checksum.SHA1 (20 bytes, already checked); NULL if absent */
	const unsigned char *sha1;
	const struct apk_xattr *xattrs;
	size_t nxattrs;
};

/* Return 0 to go on, anything else stops the walk and is returned. */
typedef int (*apk_entry_fn)(void *ctx, const struct apk_entry *e);

/* What .PKGINFO says. Strings are heap copies owned by the struct (NULL when absent). */
struct apk_pkginfo {
	char *pkgname, *pkgver, *pkgdesc, *url, *arch, *license, *origin, *maintainer;
	char *commit, *packager;
	unsigned long long size; /* installed size */
	unsigned long long builddate;
	long long provider_priority, replaces_priority;
	bool has_provider_priority, has_replaces_priority;
	bool has_datahash;
	unsigned char datahash[32]; /* SHA-256 of the compressed data members */
	struct strlist depends;	    /* "so:libc.musl-x86_64.so.1", "/bin/sh", "foo>=1" */
	struct strlist provides;    /* "cmd:busybox=1.36.1-r15" */
	struct strlist install_if;
	struct strlist replaces;
	struct strlist triggers; /* "/bin", "/usr/bin", ... (may hold globs) */
};

void apk_pkginfo_init(struct apk_pkginfo *pi);
void apk_pkginfo_release(struct apk_pkginfo *pi);
/* Parse .PKGINFO text ("key = value" lines); 'name' is for messages. Replaces pi's content. */
int apk_pkginfo_parse(struct apk_pkginfo *pi, const char *name, struct blob text,
		      struct it_error *err);

/*
 * An opened APK v2 file. apk_file_open*() inflate the signature and control
 * members and parse them; the data members are inflated on the first
 * apk_file_foreach(). Everything points into memory owned by the struct.
 */
struct apk_file {
	char *name;	 /* for messages: the path, or the label given */
	struct blob raw; /* the whole file: mapped (owned) or borrowed */
	void *map;
	size_t map_len;
	struct apk_limits lim;
	unsigned long long inflated;

	struct apk_gz_member sig_gz; /* len 0 when unsigned */
	struct apk_gz_member ctrl_gz;
	struct blob data_gz; /* compressed data members: from the control's end to EOF */
	struct buf sig_tar, ctrl_tar, data_tar;
	bool data_loaded;
	size_t ndata_members;

	struct apk_signature *sigs;
	size_t nsigs;
	struct apk_ctrl_file *ctrl;
	size_t nctrl;
	struct apk_script *scripts;
	size_t nscripts;
	bool has_pkginfo;
	struct apk_pkginfo info; /* parsed when the control member holds .PKGINFO */
};

void apk_file_init(struct apk_file *f);
void apk_file_release(struct apk_file *f);
/* Open (mmap) a file. 'lim' may be NULL for the defaults. */
int apk_file_open(struct apk_file *f, const char *path, const struct apk_limits *lim,
		  struct it_error *err);
/* Open bytes the caller keeps alive until apk_file_release(); 'name' labels messages. */
int apk_file_open_mem(struct apk_file *f, const char *name, struct blob data,
		      const struct apk_limits *lim, struct it_error *err);

/* A control member file by name, or NULL. */
const struct apk_ctrl_file *apk_file_ctrl(const struct apk_file *f, const char *name);

/*
 * Walk the data member's entries in archive order. Inflates the data members
 * on first use (within the limits); tar errors give -IT_EFORMAT, an entry
 * over the limit -IT_ELIMIT, a pax SHA-1 that does not match -IT_ECHECKSUM.
 */
int apk_file_foreach(struct apk_file *f, apk_entry_fn fn, void *ctx, struct it_error *err);

/*
 * The bytes the signature covers: the control member, plus the data
 * members when .PKGINFO has no datahash (the same rule decides what the
 * index's C: checksum covers).
 */
struct blob apk_file_signed_bytes(const struct apk_file *f);

/* Index checksums: "Q1" + base64(SHA-1), or "Q2" + base64(SHA-256). */
#define APK_CSUM_SHA1 20
#define APK_CSUM_SHA256 32
#define APK_CSUM_STR_MAX 48

/* The package identity: SHA-1 (len 20) or SHA-256 (len 32) of apk_file_signed_bytes(). */
int apk_file_identity(const struct apk_file *f, size_t len, unsigned char *out);
/* "Q1..." text of a 20-byte or "Q2..." of a 32-byte digest; out must hold APK_CSUM_STR_MAX. */
int apk_csum_format(const unsigned char *csum, size_t len, char *out, size_t outsz);
/* Parse "Q1<base64>", "Q2<base64>" or "X1<hex>" into out (32 bytes room); *len gets 20 or 32. */
int apk_csum_parse(struct blob s, unsigned char *out, size_t *len);

/* Check the data members against .PKGINFO's datahash (-IT_ECHECKSUM); 0 when there is none. */
int apk_file_check_datahash(const struct apk_file *f, struct it_error *err);

/* True if a raw archive path is absolute or has a '..' component. */
bool apk_path_unsafe(const char *path);

#endif
