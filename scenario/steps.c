// SPDX-License-Identifier: MIT
/* The keywords of the checks: fail patterns, expect and send steps, reset. */
#include "scenario/internal.h"

static int set_where(struct line *l, char **file, unsigned *line, char **where)
{
	*file = strdup(l->file);
	*line = l->no;
	if (!*file || asprintf(where, "%s:%u", l->file, l->no) < 0) {
		*where = NULL;
		return scn_line_oom(l);
	}
	return 0;
}

static const char *const warning_modes[] = {"fail", "ignore", NULL};
static const char *const oops_modes[] = {"continue", "panic", NULL};

int kw_on_warning(struct line *l)
{
	int k = scn_need_choice(l, "on-warning", "on-warning mode", warning_modes);

	if (k < 0)
		return k;
	l->ld->s->on_warning_ignore = k == 1;
	return 0;
}

int kw_oops(struct line *l)
{
	int k = scn_need_choice(l, "oops", "oops mode", oops_modes);

	if (k < 0)
		return k;
	l->ld->s->oops_panic = k == 1;
	return 0;
}

int kw_fail(struct line *l)
{
	struct scenario *s = l->ld->s;
	struct scenario_fail f = {0};
	struct scenario_fail *v;
	char *w = NULL;
	int r = scn_take_match(l, &f.pattern, &f.literal);

	if (r < 0)
		return r;
	w = scn_word(l);
	if (w)
		r = scn_line_error(l, "unexpected '%s' after the pattern (usage: %s)", w,
				   l->kw->usage);
	if (r == 0)
		r = set_where(l, &f.file, &f.line, &f.where);
	if (r == 0) {
		v = realloc(s->fails, (s->nfails + 1) * sizeof(*v));
		if (v) {
			s->fails = v;
			v[s->nfails++] = f;
			return 0;
		}
		r = scn_line_oom(l);
	}
	free(f.pattern);
	free(f.file);
	free(f.where);
	return r;
}

void scn_step_release(struct scenario_step *st)
{
	free(st->name);
	free(st->text);
	free(st->file);
	free(st->where);
	free(st->dest);
}

static bool name_taken(const struct scenario *s, const char *name)
{
	for (size_t i = 0; i < s->nsteps; i++) {
		if (!strcmp(s->steps[i].name, name))
			return true;
	}
	return false;
}

/*
 * A step without a name: an agent's is called for its keyword ("run", then
 * "run-2", ...), a console step "step N" (N counts every step from 1).
 */
static int default_name(const struct scenario *s, struct scenario_step *st)
{
	const char *kw = scenario_step_kind_name(st->kind);

	if (!scenario_step_is_agent(st->kind))
		return asprintf(&st->name, "step %zu", s->nsteps + 1) < 0 ? -ENOMEM : 0;
	for (unsigned n = 1;; n++) {
		int r =
		    n == 1 ? asprintf(&st->name, "%s", kw) : asprintf(&st->name, "%s-%u", kw, n);

		if (r < 0) {
			st->name = NULL;
			return -ENOMEM;
		}
		if (!name_taken(s, st->name))
			return 0;
		free(st->name);
		st->name = NULL;
	}
}

int scn_add_step(struct line *l, struct scenario_step *st)
{
	struct scenario *s = l->ld->s;
	struct scenario_step *v;
	int r = 0;

	for (size_t i = 0; st->name && i < s->nsteps; i++) {
		if (strcmp(s->steps[i].name, st->name))
			continue;
		r = scn_line_error(l, "duplicate step name '%s' (first at %s)", st->name,
				   s->steps[i].where);
		goto out;
	}
	if (!st->name && default_name(s, st) < 0) {
		r = scn_line_oom(l);
		goto out;
	}
	r = set_where(l, &st->file, &st->line, &st->where);
	if (r < 0)
		goto out;
	v = realloc(s->steps, (s->nsteps + 1) * sizeof(*v));
	if (!v) {
		r = scn_line_oom(l);
		goto out;
	}
	s->steps = v;
	v[s->nsteps++] = *st;
	return 0;
out:
	scn_step_release(st);
	return r;
}

/* Flags written after the closing '/' as in Perl (/x/i) are not a thing here. */
static bool looks_like_flags(const char *w)
{
	return strspn(w, "imsxnu") == strlen(w) && strlen(w) <= 4;
}

/* What may follow an expect pattern: 'within DURATION' and 'budget DURATION', each once. */
static int step_options(struct line *l, struct scenario_step *st)
{
	bool seen_budget = false;
	char *w;
	int r = 0;

	for (w = scn_word(l); w && r == 0; w = r == 0 ? scn_word(l) : NULL) {
		bool within = !strcmp(w, "within"), budget = !strcmp(w, "budget");

		if ((within && st->timeout_explicit) || (budget && seen_budget))
			return scn_line_error(l, "'%s' given twice", w);
		if (within) {
			r = scn_need_duration(l, "within", &st->timeout_ms);
			st->timeout_explicit = true;
		} else if (budget) {
			r = scn_need_duration(l, "budget", &st->budget_ms);
			seen_budget = true;
		} else if (st->timeout_explicit || seen_budget) {
			return scn_line_error(l, "unexpected '%s' (usage: %s)", w, l->kw->usage);
		} else {
			r = scn_line_error(
			    l,
			    "unexpected '%s' after the pattern (only 'within DURATION' "
			    "and 'budget DURATION' may follow)",
			    w);
			if (!st->literal && looks_like_flags(w))
				it_error_hint(l->ld->err, "flags go inside the pattern: /(?%s).../",
					      w);
		}
	}
	return r;
}

int scn_take_step_name(struct line *l, char **name)
{
	char *w;

	scn_skip_blanks(l);
	if (*l->p == '/' || *l->p == '"' || scn_at_end(l))
		return 0;
	w = scn_word(l);
	if (!scn_name_ok(w, "_.-", MAX_NAME_LEN))
		return scn_line_error(l, "bad step name '%s' (letters, digits, '-', '_' and '.')",
				      w);
	*name = strdup(w);
	return *name ? 0 : scn_line_oom(l);
}

int kw_expect(struct line *l)
{
	struct scenario_step st = {.kind = SCENARIO_STEP_EXPECT};
	int r = scn_take_step_name(l, &st.name);

	if (r == 0)
		r = scn_take_match(l, &st.text, &st.literal);
	if (r == 0 && st.literal && strchr(st.text, '\n'))
		r = scn_line_error(l, "an expected text cannot hold a newline: lines are matched "
				      "one at a time");
	if (r == 0)
		r = step_options(l, &st);
	if (r < 0) {
		scn_step_release(&st);
		return r;
	}
	return scn_add_step(l, &st);
}

/*
 * checkpoint NAME: a place in the steps where a suite's runs save the VM
 * once and restore it after (src/checkpoint.h). One per scenario.
 */
int kw_checkpoint(struct line *l)
{
	struct scenario_step st = {.kind = SCENARIO_STEP_CHECKPOINT, .literal = true};
	size_t first = scenario_checkpoint(l->ld->s);
	char *w = NULL;
	int r;

	if (first != SIZE_MAX)
		return scn_line_error(
		    l, "a second checkpoint: a scenario has one (the first is at %s)",
		    l->ld->s->steps[first].where);
	r = scn_need_word(l, "checkpoint name", &w);
	if (r == 0 && !scn_name_ok(w, "_.-", MAX_NAME_LEN))
		r = scn_line_error(
		    l, "bad checkpoint name '%s' (letters, digits, '-', '_' and '.')", w);
	if (r == 0)
		r = scn_need_end(l);
	if (r == 0 && (!(st.name = strdup(w)) || !(st.text = strdup(w))))
		r = scn_line_oom(l);
	if (r < 0) {
		scn_step_release(&st);
		return r;
	}
	return scn_add_step(l, &st);
}

int kw_send(struct line *l)
{
	struct scenario_step st = {.kind = SCENARIO_STEP_SEND, .literal = true};
	char *w = NULL;
	int r;

	scn_skip_blanks(l);
	if (*l->p == '"') {
		r = scn_take_quoted(l, &st.text);
		if (r == 0)
			r = scn_need_end(l);
		if (r < 0) {
			free(st.text);
			return r;
		}
		return scn_add_step(l, &st);
	}
	w = scn_rest_of_line(l);
	if (!w)
		return scn_line_error(l, "missing text (usage: %s)", l->kw->usage);
	if (asprintf(&st.text, "%s\n", w) < 0)
		return scn_line_oom(l);
	return scn_add_step(l, &st);
}

static const char *const reset_lists[] = {"repo",  "packages", "service", "console",
					  "iface", "user",     "overlay", "modules",
					  "fail",  "steps",    NULL};

int kw_reset(struct line *l)
{
	struct scenario *s = l->ld->s;
	struct build_config *b = &s->build;
	char *w = NULL;
	int r = scn_need_last_word(l, "list", &w);

	if (r < 0)
		return r;
	switch (scn_lookup(reset_lists, w)) {
	case 0:
		strlist_clear(&b->repos);
		return 0;
	case 1:
		strlist_clear(&b->packages);
		return 0;
	case 2:
		for (size_t i = 0; i < b->nservices; i++) {
			free(b->services[i].runlevel);
			free(b->services[i].name);
		}
		free(b->services);
		b->services = NULL;
		b->nservices = 0;
		return 0;
	case 3:
		strlist_clear(&b->consoles);
		return 0;
	case 4:
		for (size_t i = 0; i < b->nifaces; i++)
			scn_iface_release(&b->ifaces[i]);
		free(b->ifaces);
		b->ifaces = NULL;
		b->nifaces = 0;
		return 0;
	case 5:
		for (size_t i = 0; i < b->nusers; i++)
			user_spec_release(&b->users[i]);
		free(b->users);
		b->users = NULL;
		b->nusers = 0;
		return 0;
	case 6:
		strlist_clear(&b->overlays);
		return 0;
	case 7:
		strlist_clear(&b->modules);
		return 0;
	case 8:
		for (size_t i = 0; i < s->nfails; i++) {
			free(s->fails[i].pattern);
			free(s->fails[i].file);
			free(s->fails[i].where);
		}
		free(s->fails);
		s->fails = NULL;
		s->nfails = 0;
		return 0;
	case 9:
		for (size_t i = 0; i < s->nsteps; i++)
			scn_step_release(&s->steps[i]);
		free(s->steps);
		s->steps = NULL;
		s->nsteps = 0;
		return 0;
	default:
		return scn_unknown_word(l, "list", w, reset_lists);
	}
}
