// SPDX-License-Identifier: MIT
/* 'initrd-test ls': list the entries of an initrd, as plain paths or like 'ls -ln'. */
#include <errno.h>
#include <stdio.h>

#include "builder/builder.h"
#include "common/log.h"
#include "common/util.h"
#include "src/cmds.h"
#include "src/options.h"

static const char intro[] =
    "usage: initrd-test ls [options] INITRD\n"
    "\n"
    "List what an initrd holds, one entry per line: a newc cpio, plain or\n"
    "compressed (gzip, zstd, xz, lzma, bzip2, lz4), or several archives one after\n"
    "the other (an uncompressed early cpio first, as for CPU microcode).\n"
    "\n"
    "\n";

static const char outro[] = "exit codes: 0 listed, 2 usage error, 3 the file cannot be read\n";

static const struct opt ls_opts[] = {
    {BUILDER_LIST_LONG, 'l', "long", NULL,
     "mode, links, uid, gid, size (or major, minor), path, -> target"},
    {BUILDER_LIST_LONG | BUILDER_LIST_TIME, 't', "time", NULL,
     "also the mtime, in UTC (implies --long)"},
};

static int take(void *ctx, int id, const char *arg, struct it_error *err)
{
	unsigned *flags = ctx;

	(void)arg;
	(void)err;
	*flags |= (unsigned)id;
	return 0;
}

static const struct opt_group ls_group = OPT_GROUP(NULL, ls_opts, take);
static const struct opt_group *const groups[] = {&ls_group};
static const struct opt_cmd ls_cmd = {"ls", intro, outro, groups, ARRAY_SIZE(groups), false};

int cmd_ls(int argc, char **argv)
{
	struct it_error err = IT_ERROR_INIT;
	unsigned flags = 0;
	void *ctxs[] = {&flags};
	int first = opt_parse(&ls_cmd, ctxs, argc, argv), r;

	if (first < 0)
		return first == OPT_HELP_SHOWN ? EXIT_PASS : EXIT_USAGE;
	if (argc - first != 1) {
		opt_usage_error(&ls_cmd, argc - first ? "one initrd at a time" : "no initrd given");
		return EXIT_USAGE;
	}
	r = builder_list_initrd(argv[first], stdout, flags, NULL, &err);
	if (fflush(stdout) != 0 && r == 0)
		r = it_error_set(&err, -EIO, "cannot write the listing");
	if (r < 0) {
		log_it_error(&err, r);
		return EXIT_INFRA;
	}
	return EXIT_PASS;
}
