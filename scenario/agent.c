// SPDX-License-Identifier: MIT
/* The keywords of the guest agent: its channel, and the steps it carries out in the guest. */
#include "scenario/internal.h"

#define DEFAULT_EVERY_MS 500
#define MAX_COMMAND_BYTES (32 * 1024) /* it goes in one frame of the agent's protocol */

static const char *const kind_names[] = {
    [SCENARIO_STEP_EXPECT] = "expect",
    [SCENARIO_STEP_SEND] = "send",
    [SCENARIO_STEP_CHECKPOINT] = "checkpoint",
    [SCENARIO_STEP_AGENT_READY] = "agent-ready",
    [SCENARIO_STEP_RUN] = "run",
    [SCENARIO_STEP_RUN_FAIL] = "run-fail",
    [SCENARIO_STEP_OUTPUT] = "output",
    [SCENARIO_STEP_WAIT_UNTIL] = "wait-until",
    [SCENARIO_STEP_WAIT_SERVICE] = "wait-service",
    [SCENARIO_STEP_WAIT_PORT] = "wait-port",
    [SCENARIO_STEP_WAIT_FILE] = "wait-file",
    [SCENARIO_STEP_COPY_IN] = "copy-in",
    [SCENARIO_STEP_COPY_OUT] = "copy-out",
};

const char *scenario_step_kind_name(enum scenario_step_kind k)
{
	return (unsigned)k < ARRAY_SIZE(kind_names) && kind_names[k] ? kind_names[k] : "step";
}

bool scenario_step_is_agent(enum scenario_step_kind k)
{
	return k >= SCENARIO_STEP_AGENT_READY && k < SCENARIO_STEP_KIND_MAX;
}

/* ---- agent off|virtio|serial -------------------------------------------------------------- */

static const char *const agent_modes[] = {"off", "virtio", "serial", NULL};

int kw_agent(struct line *l)
{
	int k = scn_need_choice(l, "channel", "agent channel", agent_modes);

	if (k < 0)
		return k;
	l->ld->s->vm.agent = k == 0 ? VM_AGENT_NONE : k == 1 ? VM_AGENT_VIRTIO : VM_AGENT_SERIAL;
	return 0;
}

/* ---- the options after a step ------------------------------------------------------------- */

enum {
	OPT_WITHIN = 1 << 0,
	OPT_BUDGET = 1 << 1,
	OPT_STATUS = 1 << 2,
	OPT_EVERY = 1 << 3,
	OPT_MODE = 1 << 4,
	OPT_NAME = 1 << 5,
	OPT_STDERR = 1 << 6,
};

static const char *const option_words[] = {"within", "budget", "status", "every",
					   "mode",   "name",   "stderr", NULL};

static int take_status(struct line *l, struct scenario_step *st)
{
	char *w = NULL;
	long v;
	int r = scn_need_word(l, "status", &w);

	if (r < 0)
		return r;
	if (!parse_long(w, 0, 255, &v))
		return scn_line_error(l, "bad status '%s': give an exit status from 0 to 255", w);
	if (st->kind == SCENARIO_STEP_RUN_FAIL && v == 0)
		return scn_line_error(l, "'run-fail' wants a failure: 'status 0' is 'run'");
	st->status = (int)v;
	return 0;
}

static int take_mode(struct line *l, struct scenario_step *st)
{
	char *w = NULL, *end = NULL;
	unsigned long v;
	int r = scn_need_word(l, "mode", &w);

	if (r < 0)
		return r;
	v = strtoul(w, &end, 8);
	if (!*w || *end || v == 0 || v > 07777)
		return scn_line_error(l, "bad mode '%s': give octal permission bits like 0644", w);
	st->mode = (unsigned)v;
	return 0;
}

static int take_name(struct line *l, struct scenario_step *st)
{
	char *w = NULL;
	int r = scn_need_word(l, "name", &w);

	if (r < 0)
		return r;
	if (!scn_name_ok(w, "_.-", MAX_NAME_LEN))
		return scn_line_error(l, "bad step name '%s' (letters, digits, '-', '_' and '.')",
				      w);
	free(st->name);
	st->name = strdup(w);
	return st->name ? 0 : scn_line_oom(l);
}

static int take_option(struct line *l, struct scenario_step *st, int opt)
{
	switch (opt) {
	case OPT_WITHIN:
		st->timeout_explicit = true;
		return scn_need_duration(l, "within", &st->timeout_ms);
	case OPT_BUDGET:
		return scn_need_duration(l, "budget", &st->budget_ms);
	case OPT_STATUS:
		return take_status(l, st);
	case OPT_EVERY:
		return scn_need_duration(l, "every", &st->every_ms);
	case OPT_MODE:
		return take_mode(l, st);
	case OPT_NAME:
		return take_name(l, st);
	default:
		st->from_stderr = true;
		return 0;
	}
}

/* What may follow: the options in 'allowed', each once, in any order. */
static int step_options(struct line *l, struct scenario_step *st, int allowed)
{
	int seen = 0;
	char *w;

	while ((w = scn_word(l)) != NULL) {
		int k = scn_lookup(option_words, w), opt = k < 0 ? 0 : 1 << k, r;

		if (!(opt & allowed))
			return scn_line_error(l, "unexpected '%s' (usage: %s)", w, l->kw->usage);
		if (opt & seen)
			return scn_line_error(l, "'%s' given twice", w);
		seen |= opt;
		r = take_option(l, st, opt);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the steps ---------------------------------------------------------------------------- */

/* A command: "quoted" (options may follow) or the rest of the line (none may). */
static int take_command(struct line *l, struct scenario_step *st, int allowed)
{
	char *w;
	int r;

	scn_skip_blanks(l);
	if (*l->p == '"') {
		r = scn_take_quoted(l, &st->text);
		if (r == 0)
			r = step_options(l, st, allowed);
	} else {
		w = scn_rest_of_line(l);
		if (!w)
			return scn_line_error(l, "missing command (usage: %s)", l->kw->usage);
		st->text = strdup(w);
		r = st->text ? 0 : scn_line_oom(l);
	}
	if (r == 0 && strlen(st->text) > MAX_COMMAND_BYTES)
		r = scn_line_error(l, "command longer than %d bytes", MAX_COMMAND_BYTES);
	return r;
}

static int finish_step(struct line *l, struct scenario_step *st, int r)
{
	if (r < 0) {
		scn_step_release(st);
		return r;
	}
	return scn_add_step(l, st);
}

static int command_step(struct line *l, enum scenario_step_kind kind)
{
	struct scenario_step st = {.kind = kind, .literal = true, .every_ms = DEFAULT_EVERY_MS};
	int allowed = OPT_WITHIN | OPT_BUDGET | OPT_NAME;

	st.status = kind == SCENARIO_STEP_RUN_FAIL ? -1 : 0;
	if (kind != SCENARIO_STEP_WAIT_UNTIL)
		allowed |= OPT_STATUS;
	else
		allowed |= OPT_EVERY;
	return finish_step(l, &st, take_command(l, &st, allowed));
}

int kw_run(struct line *l)
{
	return command_step(l, SCENARIO_STEP_RUN);
}

int kw_run_fail(struct line *l)
{
	return command_step(l, SCENARIO_STEP_RUN_FAIL);
}

int kw_wait_until(struct line *l)
{
	return command_step(l, SCENARIO_STEP_WAIT_UNTIL);
}

int kw_agent_ready(struct line *l)
{
	struct scenario_step st = {.kind = SCENARIO_STEP_AGENT_READY, .literal = true};
	int r;

	st.text = strdup("the guest agent's HELLO");
	r = st.text ? step_options(l, &st, OPT_WITHIN | OPT_BUDGET | OPT_NAME) : scn_line_oom(l);
	return finish_step(l, &st, r);
}

int kw_output(struct line *l)
{
	struct scenario_step st = {.kind = SCENARIO_STEP_OUTPUT};
	int r = scn_take_step_name(l, &st.name);

	if (r == 0)
		r = scn_take_match(l, &st.text, &st.literal);
	if (r == 0)
		r = step_options(l, &st, OPT_STDERR);
	return finish_step(l, &st, r);
}

/* wait-service NAME, wait-port PORT, wait-file PATH: a word, then options. */
static int wait_step(struct line *l, enum scenario_step_kind kind, const char *what)
{
	struct scenario_step st = {.kind = kind, .literal = true, .every_ms = DEFAULT_EVERY_MS};
	char *w = NULL;
	long port;
	int r = scn_need_word(l, what, &w);

	if (r < 0)
		return r;
	if (kind == SCENARIO_STEP_WAIT_SERVICE && !scn_name_ok(w, "_.-", 64))
		return scn_line_error(l, "bad service name '%s'", w);
	if (kind == SCENARIO_STEP_WAIT_PORT && !parse_long(w, 1, 65535, &port))
		return scn_line_error(l, "bad port '%s': give a TCP port from 1 to 65535", w);
	if (kind == SCENARIO_STEP_WAIT_FILE && w[0] != '/')
		return scn_line_error(l, "'%s' is not an absolute path in the guest", w);
	st.text = strdup(w);
	r = st.text ? step_options(l, &st, OPT_WITHIN | OPT_BUDGET | OPT_EVERY | OPT_NAME)
		    : scn_line_oom(l);
	return finish_step(l, &st, r);
}

int kw_wait_service(struct line *l)
{
	return wait_step(l, SCENARIO_STEP_WAIT_SERVICE, "service");
}

int kw_wait_port(struct line *l)
{
	return wait_step(l, SCENARIO_STEP_WAIT_PORT, "port");
}

int kw_wait_file(struct line *l)
{
	return wait_step(l, SCENARIO_STEP_WAIT_FILE, "path");
}

int kw_copy_in(struct line *l)
{
	struct scenario_step st = {.kind = SCENARIO_STEP_COPY_IN, .literal = true};
	char *host = NULL, *guest = NULL;
	int r = scn_need_word(l, "host path", &host);

	if (r == 0)
		r = scn_need_word(l, "guest path", &guest);
	if (r < 0)
		return r;
	if (guest[0] != '/')
		return scn_line_error(l, "'%s' is not an absolute path in the guest", guest);
	/* Host paths are relative to the scenario file, as overlays are. */
	st.text = scn_relative_to(l->dir, host);
	st.dest = strdup(guest);
	if (!st.text || !st.dest)
		r = scn_line_oom(l);
	if (r == 0)
		r = step_options(l, &st, OPT_WITHIN | OPT_BUDGET | OPT_MODE | OPT_NAME);
	return finish_step(l, &st, r);
}

/* The next word (not taken) is an option, or there is none. */
static bool next_is_option(struct line *l)
{
	size_t n;

	if (scn_at_end(l))
		return true;
	n = strcspn(l->p, " \t");
	for (size_t i = 0; option_words[i]; i++) {
		if (strlen(option_words[i]) == n && !strncmp(l->p, option_words[i], n))
			return true;
	}
	return false;
}

int kw_copy_out(struct line *l)
{
	struct scenario_step st = {.kind = SCENARIO_STEP_COPY_OUT, .literal = true};
	char *guest = NULL, *name;
	int r = scn_need_word(l, "guest path", &guest);

	if (r < 0)
		return r;
	if (guest[0] != '/')
		return scn_line_error(l, "'%s' is not an absolute path in the guest", guest);
	st.text = strdup(guest);
	if (!st.text)
		return scn_line_oom(l);
	name = next_is_option(l) ? NULL : scn_word(l);
	if (name && (!scn_name_ok(name, "_.-", 255) || !strcmp(name, ".") || !strcmp(name, "..")))
		r = scn_line_error(l, "bad file name '%s': a name in the output folder, no '/'",
				   name);
	if (r == 0 && name)
		st.dest = strdup(name);
	if (r == 0 && name && !st.dest)
		r = scn_line_oom(l);
	if (r == 0)
		r = step_options(l, &st, OPT_WITHIN | OPT_BUDGET | OPT_NAME);
	return finish_step(l, &st, r);
}
