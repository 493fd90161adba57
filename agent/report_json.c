/* The run's result as one JSON document (agent/engine.h), through
 * lib/json.h. */
#include "agent/engine.h"
#include "json.h"

static struct kf_json *flags_json(unsigned flags)
{
	struct kf_json *a = kf_json_array();
	if (flags & KF_CH_REBOOT)
		kf_json_push(a, kf_json_str("reboot"));
	if (flags & KF_CH_PENDING)
		kf_json_push(a, kf_json_str("pending"));
	if (flags & KF_CH_RESTART)
		kf_json_push(a, kf_json_str("guest-restart"));
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
	struct kf_json *o = kf_json_object();
	kf_json_set(o, "command", kf_json_str(kf_run_mode_name(r->mode)));
	kf_json_set(o, "role", kf_json_str(r->role));
	kf_json_set(o, "root", kf_json_str(r->root));

	struct kf_json *prof = kf_json_object();
	kf_json_set(prof, "source", kf_json_str(r->profile_source));
	kf_json_set(prof, "fallback", kf_json_bool(r->profile_fallback));
	kf_json_set(prof, "note", kf_json_str(r->profile_note));
	kf_json_set(o, "profile", prof);

	struct kf_json *changes = kf_json_array();
	for (size_t i = 0; i < r->plan.n; i++) {
		const struct kf_change *ch = &r->plan.v[i];
		struct kf_json *c = kf_json_object();
		kf_json_set(c, "resource", kf_json_str(ch->resource));
		kf_json_set(c, "what", kf_json_str(ch->what));
		kf_json_set(c, "from", kf_json_str(ch->from));
		kf_json_set(c, "to", kf_json_str(ch->to));
		kf_json_set(c, "status", kf_json_str(status_word(ch)));
		kf_json_set(c, "flags", flags_json(ch->flags));
		kf_json_set(c, "reason", kf_json_str(ch->reason));
		kf_json_push(changes, c);
	}
	kf_json_set(o, "changes", changes);

	struct kf_json *notes = kf_json_array();
	for (size_t i = 0; i < r->plan.nnotes; i++) {
		struct kf_json *n = kf_json_object();
		kf_json_set(n, "resource", kf_json_str(r->plan.notes[i].resource));
		kf_json_set(n, "text", kf_json_str(r->plan.notes[i].text));
		kf_json_push(notes, n);
	}
	kf_json_set(o, "notes", notes);

	struct kf_json *errors = kf_json_array();
	for (size_t i = 0; i < r->nfails; i++) {
		struct kf_json *n = kf_json_object();
		kf_json_set(n, "resource", kf_json_str(r->fails[i].resource));
		kf_json_set(n, "text", kf_json_str(r->fails[i].text));
		kf_json_push(errors, n);
	}
	kf_json_set(o, "errors", errors);

	struct kf_json *sum = kf_json_object();
	kf_json_set(sum, "to_change", kf_json_int(r->nchanges));
	kf_json_set(sum, "applied", kf_json_int(r->napplied));
	kf_json_set(sum, "failed", kf_json_int(r->nfailed));
	kf_json_set(sum, "skipped", kf_json_int(r->nskipped));
	kf_json_set(sum, "pending", kf_json_int(r->npending));
	kf_json_set(sum, "errors", kf_json_int(r->nfails));
	kf_json_set(o, "summary", sum);
	kf_json_set(o, "exit_code", kf_json_int(r->exit_code));

	char *s = kf_json_dump(o, KF_JSON_PLAIN);
	kf_json_free(o);
	return s;
}
