// SPDX-License-Identifier: MIT
/* Find a scenario named on the command line among the installed examples. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "src/scenario_find.h"

const char *scenario_installed_dir(char *buf, size_t bufsz)
{
	char root[PATH_MAX];
	int n = snprintf(buf, bufsz, "%s/scenarios", install_path(root, sizeof(root), IT_DATADIR));

	return n < 0 || (size_t)n >= bufsz ? IT_DATADIR "/scenarios" : buf;
}

const char *scenario_find(const char *arg, char *buf, size_t bufsz)
{
	char dir[PATH_MAX], file[PATH_MAX + 16];
	struct stat st;
	int n;

	if (!arg[0] || strchr(arg, '/') || strcmp(arg, ".") == 0 || strcmp(arg, "..") == 0 ||
	    lstat(arg, &st) == 0)
		return arg;
	n = snprintf(file, sizeof(file), "%s/%s/scenario", scenario_installed_dir(dir, sizeof(dir)),
		     arg);
	if (n < 0 || (size_t)n >= sizeof(file) || stat(file, &st) != 0 || !S_ISREG(st.st_mode))
		return arg;
	n = snprintf(buf, bufsz, "%s/%s", dir, arg);
	return n < 0 || (size_t)n >= bufsz ? arg : buf;
}
