// SPDX-License-Identifier: MIT
/* Writing JSON with jansson: the helpers of results.json and the SBOM. */
#include <errno.h>
#include <stdlib.h>

#include "src/json.h"
#include "src/out.h"

json_t *jstr(const char *s)
{
	struct buf b;
	struct out o;
	json_t *v;

	if (!s)
		return json_null();
	buf_init(&b, 0);
	o = (struct out){&b, 0};
	out_esc(&o, ESC_UTF8, s);
	v = o.err ? NULL : json_stringn(b.data ? b.data : "", b.len);
	buf_release(&b);
	return v;
}

void jset(struct jobj *j, const char *key, json_t *v)
{
	if (!j->err && (!v || json_object_set_new(j->o, key, v) < 0))
		j->err = -ENOMEM;
	else if (j->err)
		json_decref(v);
}

void jset_str(struct jobj *j, const char *key, const char *s)
{
	jset(j, key, jstr(s));
}

void jappend(json_t *a, json_t *v, int *err)
{
	if (*err || !a || !v) {
		if (!*err)
			*err = -ENOMEM;
		json_decref(v);
		return;
	}
	if (json_array_append_new(a, v) < 0)
		*err = -ENOMEM;
}

json_t *jobject_done(struct jobj *j)
{
	if (j->err) {
		json_decref(j->o);
		return NULL;
	}
	return j->o;
}

int jobj_dump(struct jobj *j, struct buf *out)
{
	char *text = NULL;
	int r;

	if (!j->err)
		text = json_dumps(j->o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j->o);
	j->o = NULL;
	if (!text)
		return -ENOMEM;
	r = buf_addstr(out, text);
	if (r == 0)
		r = buf_addch(out, '\n');
	free(text);
	return r;
}
