/* A run's result as text, as JSON, and posted (agent/report.h). */
#include "agent/report.h"

#include <stdlib.h>
#include <string.h>

#include "agent/facts_probe.h"
#include "agent/http.h"
#include "subcmd.h"
#include "json.h"
#include "util.h"

/* ---- text ---- */

static char *fromto(const struct kf_change *ch)
{
	return kf_xasprintf("%s → %s", ch->from ? ch->from : "(absent)", ch->to);
}

void kf_run_print_text(const struct kf_run *r, FILE *f)
{
	int wres = 0, wwhat = 0, wft = 0;
	if (r->profile_note)
		fprintf(f, "note: profile: %s\n", r->profile_note);
	for (size_t i = 0; i < r->plan.n; i++) {
		const struct kf_change *ch = &r->plan.v[i];
		int a = (int)strlen(ch->resource), b = (int)strlen(ch->what);
		char *ft = fromto(ch);
		int c = (int)strlen(ft);
		free(ft);
		wres = a > wres ? a : wres;
		wwhat = b > wwhat ? b : wwhat;
		wft = c > wft ? c : wft;
	}
	if (wwhat > 44)
		wwhat = 44;
	if (wft > 40)
		wft = 40;
	for (size_t i = 0; i < r->plan.n; i++) {
		const struct kf_change *ch = &r->plan.v[i];
		char *ft = fromto(ch);
		fprintf(f, "%-*s  %-*s  %-*s  %s\n", wres, ch->resource, wwhat, ch->what, wft, ft,
			kf_change_status_name(ch));
		if (ch->reason)
			fprintf(f, "%*s  %s\n", wres, "", ch->reason);
		free(ft);
	}
	for (size_t i = 0; i < r->plan.nnotes; i++)
		fprintf(f, "note: %s: %s\n", r->plan.notes[i].resource, r->plan.notes[i].text);
	for (size_t i = 0; i < r->nfails; i++) {
		if (r->fails[i].resource)
			fprintf(f, "error: %s: %s\n", r->fails[i].resource, r->fails[i].text);
		else
			fprintf(f, "error: %s\n", r->fails[i].text);
	}
	const char *m = kf_run_mode_name(r->mode);
	if (r->mode == KF_RUN_APPLY)
		fprintf(f, "%s: %u applied, %u failed, %u skipped, %u pending, %zu errors\n", m, r->napplied,
			r->nfailed, r->nskipped, r->npending, r->nfails);
	else if (!r->nchanges && !r->npending && !r->nfails)
		fprintf(f, "%s: no changes\n", m);
	else
		fprintf(f, "%s: %u to change, %u pending, %zu errors\n", m, r->nchanges, r->npending,
			r->nfails);
}

/* ---- JSON ---- */

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
	kf_json_set(o, "agent_version", kf_json_str(KF_VERSION));

	char *s = kf_json_dump(o, KF_JSON_PLAIN);
	kf_json_free(o);
	return s;
}

void kf_run_print(const struct kf_run *r, bool json, FILE *f)
{
	if (json) {
		char *text = kf_run_json(r);
		fprintf(f, "%s\n", text);
		free(text);
	} else {
		kf_run_print_text(r, f);
	}
	fflush(f);
}

void kf_run_post(const struct kf_run *r, const char *cacert)
{
	if (!r->report_url || !*r->report_url)
		return;
	struct kf_err e = KF_ERR_INIT;
	char *json = kf_run_json(r);
	if (kf_http_post_json(r->report_url, json, cacert, &e) < 0 || kf_facts_post(r->report_url, cacert, &e) < 0)
		kf_log(KF_LOG_WARN, "%s", e.n ? e.v[0].text : "report failed");
	free(json);
	kf_err_release(&e);
}
