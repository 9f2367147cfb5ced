// SPDX-License-Identifier: MIT
/* The one table of verdicts: their names, their words and the exit codes they give. */
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "src/exit.h"

static const struct {
	const char *name;  /* JSON and JUnit */
	const char *title; /* the verdict line */
	int exit;
} verdicts[] = {
    [RUN_PASSED] = {"passed", "PASSED", EXIT_PASS},
    [RUN_FAILED] = {"failed", "FAILED", EXIT_FAILED},
    [RUN_CRASHED] = {"crashed", "CRASHED", EXIT_FAILED},
    [RUN_TIMED_OUT] = {"timed_out", "TIMED OUT", EXIT_TIMEOUT},
    [RUN_INFRA_ERROR] = {"infra_error", "ERROR", EXIT_INFRA},
    [RUN_USAGE_ERROR] = {"usage_error", "ERROR", EXIT_USAGE},
    [RUN_INTERRUPTED] = {"interrupted", "INTERRUPTED", EXIT_INTERRUPTED},
};

static bool known(enum run_verdict v)
{
	return (unsigned)v < ARRAY_SIZE(verdicts);
}

int verdict_exit(enum run_verdict v)
{
	return known(v) ? verdicts[v].exit : EXIT_INFRA;
}

const char *verdict_name(enum run_verdict v)
{
	return known(v) ? verdicts[v].name : "unknown";
}

const char *verdict_title(enum run_verdict v)
{
	return known(v) ? verdicts[v].title : "ERROR";
}

bool verdict_parse(const char *name, enum run_verdict *out)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(verdicts); i++) {
		if (!strcmp(name, verdicts[i].name)) {
			*out = (enum run_verdict)i;
			return true;
		}
	}
	return false;
}

bool verdict_is_error(enum run_verdict v)
{
	return v == RUN_INFRA_ERROR || v == RUN_USAGE_ERROR || v == RUN_INTERRUPTED;
}

enum run_verdict verdict_of_code(int code)
{
	switch (-code) {
	case 0:
		return RUN_PASSED;
	case IT_EUSAGE:
	case IT_ESCENARIO:
	case IT_EUNSAT: /* the packages asked for: the scenario's mistake, no retry mends it */
		return RUN_USAGE_ERROR;
	case IT_EFAIL:
		return RUN_FAILED;
	case IT_ETIMEOUT:
		return RUN_TIMED_OUT;
	case IT_EINTERRUPTED:
		return RUN_INTERRUPTED;
	default:
		return RUN_INFRA_ERROR;
	}
}

int exit_code_for(int code)
{
	return verdict_exit(verdict_of_code(code));
}

int exit_code_of_counts(const unsigned long counts[RUN_VERDICT_MAX])
{
	static const enum run_verdict order[] = {RUN_INTERRUPTED, RUN_FAILED,	   RUN_CRASHED,
						 RUN_TIMED_OUT,	  RUN_USAGE_ERROR, RUN_INFRA_ERROR};

	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		if (counts[order[i]])
			return verdict_exit(order[i]);
	}
	return EXIT_PASS;
}
