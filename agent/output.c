/* The run's result as text for people (agent/engine.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/engine.h"
#include "util.h"

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
