// SPDX-License-Identifier: MIT
/*
 * Index parse rate: open a signed APKINDEX.tar.gz as a build does (inflate,
 * check the signature against a keys directory) and parse it into a package
 * database, N times; print the medians.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/internal.h"
#include "common/err.h"
#include "common/util.h"

#define MAX_RUNS 1000
#define MB (1000.0 * 1000.0)

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double median_ms(int64_t *ns, int n)
{
	size_t mid = (size_t)n / 2;

	qsort(ns, (size_t)n, sizeof(*ns), cmp_i64);
	if (n % 2)
		return (double)ns[mid] / 1e6;
	return (double)(ns[mid - 1] + ns[mid]) / 2e6;
}

static void usage(void)
{
	fputs("usage: index-parse [-n RUNS] KEYS_DIR APKINDEX.tar.gz\n", stderr);
}

/* One run: verified open, then parse. Times in ns; *npkgs and *text_len from the result. */
static int one_run(const struct apk_trust *trust, const char *path, int64_t *t_open,
		   int64_t *t_parse, uint32_t *npkgs, size_t *text_len, struct it_error *err)
{
	struct apk_signed_index ix;
	struct apk_db db;
	int64_t t0, t1;
	int r;

	apk_signed_index_init(&ix);
	apk_db_init(&db);
	t0 = now_ns();
	r = apk_signed_index_open(path, trust, NULL, &ix, err);
	t1 = now_ns();
	if (r < 0)
		goto out;
	*text_len = ix.apkindex_len;
	r = apk_db_add_index(&db, blob_mem(ix.apkindex, ix.apkindex_len), "bench", path, err);
	*t_parse = now_ns() - t1;
	*t_open = t1 - t0;
	*npkgs = db.npkgs;
out:
	apk_db_release(&db);
	apk_signed_index_release(&ix);
	return r;
}

int main(int argc, char **argv)
{
	struct it_error err = IT_ERROR_INIT;
	struct apk_trust trust;
	int64_t t_open[MAX_RUNS], t_parse[MAX_RUNS], t_total[MAX_RUNS];
	uint32_t npkgs = 0;
	size_t text_len = 0;
	struct stat st;
	long runs = 10;
	double m_open, m_parse, m_total;
	int c, r = 0;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c != 'n' || !parse_long(optarg, 1, MAX_RUNS, &runs)) {
			usage();
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage();
		return 2;
	}
	if (stat(argv[optind + 1], &st) < 0) {
		fprintf(stderr, "index-parse: cannot read '%s': %s\n", argv[optind + 1],
			strerror(errno));
		return 3;
	}
	apk_trust_init(&trust);
	r = apk_trust_load(&trust, argv[optind], &err);
	for (long i = 0; r == 0 && i < runs; i++) {
		r = one_run(&trust, argv[optind + 1], &t_open[i], &t_parse[i], &npkgs, &text_len,
			    &err);
		t_total[i] = t_open[i] + t_parse[i];
	}
	apk_trust_release(&trust);
	if (r < 0) {
		fprintf(stderr, "index-parse: %s\n", err.msg[0] ? err.msg : it_strerror(r));
		return 3;
	}
	m_open = median_ms(t_open, (int)runs);
	m_parse = median_ms(t_parse, (int)runs);
	m_total = median_ms(t_total, (int)runs);
	printf("index: %s\n", argv[optind + 1]);
	printf("  %u packages, %.2f MB APKINDEX text, %.2f MB compressed; medians of %ld runs\n",
	       npkgs, (double)text_len / MB, (double)st.st_size / MB, runs);
	printf("  inflate + verify signature   %8.2f ms\n", m_open);
	printf("  parse into the db            %8.2f ms   %9.0f packages/s  %7.1f MB/s\n", m_parse,
	       npkgs / (m_parse / 1000), (double)text_len / MB / (m_parse / 1000));
	printf("  total                        %8.2f ms   %9.0f packages/s  %7.1f MB/s\n", m_total,
	       npkgs / (m_total / 1000), (double)text_len / MB / (m_total / 1000));
	return 0;
}
