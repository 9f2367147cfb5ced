// SPDX-License-Identifier: MIT
/* Alpine version tokenizer and comparison: the rules of apk-tools 2.x src/version.c. */
#include <stdint.h>
#include <string.h>

#include "builder/internal.h"
#include "common/util.h"

/* Gentoo-style version: {digit}{.digit}...{letter}{_suf{#}}...{-r#} */
enum token {
	TOKEN_INVALID = -1,
	TOKEN_DIGIT_OR_ZERO,
	TOKEN_DIGIT,
	TOKEN_LETTER,
	TOKEN_SUFFIX,
	TOKEN_SUFFIX_NO,
	TOKEN_REVISION_NO,
	TOKEN_END,
};

/* Negative values sort before "no suffix", the others after it. */
static const char *const pre_suffixes[] = {"alpha", "beta", "pre", "rc"};
static const char *const post_suffixes[] = {"cvs", "svn", "git", "hg", "p"};

/* Locale-independent character classes (apk uses islower/isdigit in the C locale). */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static void advance(struct blob *b, size_t n)
{
	b->ptr += n;
	b->len -= n;
}

/* Decide what the next token is and step over its separator. */
static void next_token(int *type, struct blob *b)
{
	int n = TOKEN_INVALID;

	if (b->len == 0 || b->ptr[0] == '\0') {
		n = TOKEN_END;
	} else if ((*type == TOKEN_DIGIT || *type == TOKEN_DIGIT_OR_ZERO) && is_lower(b->ptr[0])) {
		n = TOKEN_LETTER;
	} else if (*type == TOKEN_LETTER && is_digit(b->ptr[0])) {
		n = TOKEN_DIGIT;
	} else if (*type == TOKEN_SUFFIX && is_digit(b->ptr[0])) {
		n = TOKEN_SUFFIX_NO;
	} else {
		switch (b->ptr[0]) {
		case '.':
			n = TOKEN_DIGIT_OR_ZERO;
			break;
		case '_':
			n = TOKEN_SUFFIX;
			break;
		case '-':
			if (b->len > 1 && b->ptr[1] == 'r') {
				n = TOKEN_REVISION_NO;
				advance(b, 1);
			}
			break;
		default:
			break;
		}
		advance(b, 1);
	}

	/* Tokens come in a fixed order; only these steps back are allowed. */
	if (n < *type) {
		if (!((n == TOKEN_DIGIT_OR_ZERO && *type == TOKEN_DIGIT) ||
		      (n == TOKEN_SUFFIX && *type == TOKEN_SUFFIX_NO) ||
		      (n == TOKEN_DIGIT && *type == TOKEN_LETTER)))
			n = TOKEN_INVALID;
	}
	*type = n;
}

static int64_t suffix_value(const struct blob *b, size_t *used)
{
	for (size_t i = 0; i < ARRAY_SIZE(pre_suffixes); i++) {
		size_t n = strlen(pre_suffixes[i]);

		if (n <= b->len && memcmp(pre_suffixes[i], b->ptr, n) == 0) {
			*used = n;
			return (int64_t)i - (int64_t)ARRAY_SIZE(pre_suffixes);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(post_suffixes); i++) {
		size_t n = strlen(post_suffixes[i]);

		if (n <= b->len && memcmp(post_suffixes[i], b->ptr, n) == 0) {
			*used = n;
			return (int64_t)i;
		}
	}
	return INT64_MIN;
}

/* Read the value of the current token and find the type of the next one. */
static int64_t get_token(int *type, struct blob *b)
{
	int nt = TOKEN_INVALID;
	size_t i = 0;
	int64_t v = 0;

	if (b->len == 0) {
		*type = TOKEN_END;
		return 0;
	}

	switch (*type) {
	case TOKEN_DIGIT_OR_ZERO:
		/* Leading zeros after a dot: "1.01" < "1.1"; each extra zero lowers the value. */
		if (b->ptr[0] == '0') {
			while (i + 1 < b->len && b->ptr[i + 1] == '0')
				i++;
			nt = TOKEN_DIGIT;
			v = -(int64_t)i;
			break;
		}
		/* fallthrough */
	case TOKEN_DIGIT:
	case TOKEN_SUFFIX_NO:
	case TOKEN_REVISION_NO:
		while (i < b->len && is_digit(b->ptr[i])) {
			v *= 10;
			v += b->ptr[i++] - '0';
			if (i >= 18)
				goto invalid;
		}
		break;
	case TOKEN_LETTER:
		v = (unsigned char)b->ptr[i++];
		break;
	case TOKEN_SUFFIX:
		v = suffix_value(b, &i);
		if (v == INT64_MIN)
			goto invalid;
		break;
	default:
		goto invalid;
	}
	advance(b, i);
	if (b->len == 0)
		*type = TOKEN_END;
	else if (nt != TOKEN_INVALID)
		*type = nt;
	else
		next_token(type, b);
	return v;

invalid:
	*type = TOKEN_INVALID;
	return -1;
}

bool apk_version_validate(struct blob ver)
{
	int t = TOKEN_DIGIT;

	if (ver.ptr == NULL)
		return false;
	while (t != TOKEN_END && t != TOKEN_INVALID)
		get_token(&t, &ver);
	return t == TOKEN_END;
}

int apk_version_compare_fuzzy(struct blob a, struct blob b, bool fuzzy)
{
	int at = TOKEN_DIGIT, bt = TOKEN_DIGIT, tt;
	int64_t av = 0, bv = 0;

	if (a.ptr == NULL || b.ptr == NULL) {
		if (a.ptr == NULL && b.ptr == NULL)
			return APK_VERSION_EQUAL;
		return APK_VERSION_EQUAL | APK_VERSION_GREATER | APK_VERSION_LESS;
	}

	while (at == bt && at != TOKEN_END && at != TOKEN_INVALID && av == bv) {
		av = get_token(&at, &a);
		bv = get_token(&bt, &b);
	}

	if (av < bv)
		return APK_VERSION_LESS;
	if (av > bv)
		return APK_VERSION_GREATER;

	/* Both ended (or broke) at the same kind of token; fuzzy stops at the shorter one. */
	if (at == bt || fuzzy)
		return APK_VERSION_EQUAL;

	/*
	 * Equal so far: the longer version is greater, unless what follows is
	 * a pre-release suffix (1.0_rc1 < 1.0).
	 */
	tt = at;
	if (at == TOKEN_SUFFIX && get_token(&tt, &a) < 0)
		return APK_VERSION_LESS;
	tt = bt;
	if (bt == TOKEN_SUFFIX && get_token(&tt, &b) < 0)
		return APK_VERSION_GREATER;
	if (at > bt)
		return APK_VERSION_LESS;
	if (bt > at)
		return APK_VERSION_GREATER;
	return APK_VERSION_EQUAL;
}

int apk_version_compare(struct blob a, struct blob b)
{
	return apk_version_compare_fuzzy(a, b, false);
}

int apk_version_op_parse(struct blob op)
{
	int mask = 0;

	for (size_t i = 0; i < op.len; i++) {
		switch (op.ptr[i]) {
		case '<':
			mask |= APK_VERSION_LESS;
			break;
		case '>':
			mask |= APK_VERSION_GREATER;
			break;
		case '=':
			mask |= APK_VERSION_EQUAL;
			break;
		case '~':
			mask |= APK_VERSION_FUZZY | APK_VERSION_EQUAL;
			break;
		default:
			return 0;
		}
	}
	return mask;
}

const char *apk_version_op_string(int mask)
{
	switch (mask) {
	case APK_VERSION_LESS:
		return "<";
	case APK_VERSION_LESS | APK_VERSION_EQUAL:
		return "<=";
	case APK_VERSION_EQUAL | APK_VERSION_FUZZY:
	case APK_VERSION_FUZZY:
		return "~";
	case APK_VERSION_EQUAL:
		return "=";
	case APK_VERSION_GREATER | APK_VERSION_EQUAL:
		return ">=";
	case APK_VERSION_GREATER:
		return ">";
	case APK_DEPMASK_CHECKSUM:
		return "><";
	/* apk 2.14 prints these two as "?"; spell them so they read back. */
	case APK_VERSION_GREATER | APK_VERSION_EQUAL | APK_VERSION_FUZZY:
		return ">~";
	case APK_VERSION_LESS | APK_VERSION_EQUAL | APK_VERSION_FUZZY:
		return "<~";
	default:
		return "?";
	}
}

bool apk_version_match(struct blob ver, int op, struct blob want)
{
	if (op == APK_DEPMASK_ANY)
		return true;
	if (op == APK_DEPMASK_CHECKSUM || ver.ptr == NULL || want.ptr == NULL)
		return false;
	return (apk_version_compare_fuzzy(ver, want, (op & APK_VERSION_FUZZY) != 0) & op) != 0;
}
