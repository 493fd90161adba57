/* The run's result as one JSON document (agent/engine.h); the agent's
 * json-c adapter. */
#include <json-c/json.h>
#include <stdlib.h>

#include "agent/engine.h"
#include "util.h"

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *flags_json(unsigned flags)
{
	json_object *a = json_object_new_array();
	if (flags & KF_CH_REBOOT)
		json_object_array_add(a, json_object_new_string("reboot"));
	if (flags & KF_CH_PENDING)
		json_object_array_add(a, json_object_new_string("pending"));
	if (flags & KF_CH_RESTART)
		json_object_array_add(a, json_object_new_string("guest-restart"));
	return a;
}

static const char *status_word(const struct kf_change *ch)
{
	switch (ch->status) {
	case KF_ST_PLANNED: return (ch->flags & KF_CH_PENDING) ? "pending" : "planned";
	case KF_ST_APPLIED: return "applied";
	case KF_ST_FAILED: return "failed";
	case KF_ST_SKIPPED: return "skipped";
	case KF_ST_PENDING: return "pending";
	}
	return "unknown";
}

char *kf_run_json(const struct kf_run *r)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "command", json_object_new_string(kf_run_mode_name(r->mode)));
	json_object_object_add(o, "role", str_or_null(r->role));
	json_object_object_add(o, "root", str_or_null(r->root));

	json_object *prof = json_object_new_object();
	json_object_object_add(prof, "source", str_or_null(r->profile_source));
	json_object_object_add(prof, "fallback", json_object_new_boolean(r->profile_fallback));
	json_object_object_add(prof, "note", str_or_null(r->profile_note));
	json_object_object_add(o, "profile", prof);

	json_object *changes = json_object_new_array();
	for (size_t i = 0; i < r->plan.n; i++) {
		const struct kf_change *ch = &r->plan.v[i];
		json_object *c = json_object_new_object();
		json_object_object_add(c, "resource", json_object_new_string(ch->resource));
		json_object_object_add(c, "what", json_object_new_string(ch->what));
		json_object_object_add(c, "from", str_or_null(ch->from));
		json_object_object_add(c, "to", json_object_new_string(ch->to));
		json_object_object_add(c, "status", json_object_new_string(status_word(ch)));
		json_object_object_add(c, "flags", flags_json(ch->flags));
		json_object_object_add(c, "reason", str_or_null(ch->reason));
		json_object_array_add(changes, c);
	}
	json_object_object_add(o, "changes", changes);

	json_object *notes = json_object_new_array();
	for (size_t i = 0; i < r->plan.nnotes; i++) {
		json_object *n = json_object_new_object();
		json_object_object_add(n, "resource", json_object_new_string(r->plan.notes[i].resource));
		json_object_object_add(n, "text", json_object_new_string(r->plan.notes[i].text));
		json_object_array_add(notes, n);
	}
	json_object_object_add(o, "notes", notes);

	json_object *errors = json_object_new_array();
	for (size_t i = 0; i < r->nfails; i++) {
		json_object *n = json_object_new_object();
		json_object_object_add(n, "resource", str_or_null(r->fails[i].resource));
		json_object_object_add(n, "text", json_object_new_string(r->fails[i].text));
		json_object_array_add(errors, n);
	}
	json_object_object_add(o, "errors", errors);

	json_object *sum = json_object_new_object();
	json_object_object_add(sum, "to_change", json_object_new_int((int)r->nchanges));
	json_object_object_add(sum, "applied", json_object_new_int((int)r->napplied));
	json_object_object_add(sum, "failed", json_object_new_int((int)r->nfailed));
	json_object_object_add(sum, "skipped", json_object_new_int((int)r->nskipped));
	json_object_object_add(sum, "pending", json_object_new_int((int)r->npending));
	json_object_object_add(sum, "errors", json_object_new_int((int)r->nfails));
	json_object_object_add(o, "summary", sum);
	json_object_object_add(o, "exit_code", json_object_new_int(r->exit_code));

	char *s = kf_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}
