/* The engine (agent/engine.h): parse → probe → diff → plan → apply →
 * verify over the resource table. */
#include "agent/engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/facts_probe.h"
#include "agent/host.h"
#include "agent/hostio.h"
#include "agent/http.h" /* the profile by URL */
#include "profile.h"
#include "util.h"

static const char *const sections[] = { "kvm", "memory", "cpu", "network", "passthrough", "guests", "agent", NULL };

const char *kf_run_mode_name(enum kf_run_mode m)
{
	return m == KF_RUN_APPLY ? "apply" : m == KF_RUN_CHECK ? "check" : m == KF_RUN_AUTO ? "auto" : "plan";
}

static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && !strncmp(p, name, n))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

int kf_sections_check(const char *list, const char *opt, struct kf_err *e)
{
	int r = 0;
	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ",");
		bool ok = false;
		for (size_t i = 0; sections[i]; i++)
			ok |= strlen(sections[i]) == len && !strncmp(p, sections[i], len);
		if (!ok)
			r = kf_errf(e, NULL, "%s: unknown section \"%.*s\" (sections: %s)", opt, (int)len, p,
				    KF_SECTION_NAMES);
		p += len;
		if (*p == ',')
			p++;
	}
	return r;
}

bool kf_section_selected(const char *section, const char *only, const char *skip)
{
	if (only && !in_list(only, section))
		return false;
	if (skip && in_list(skip, section))
		return false;
	return true;
}

void kf_run_add_failure(struct kf_run *r, const char *resource, const char *fmt, ...)
{
	if (r->nfails == r->capfails) {
		r->capfails = r->capfails ? 2 * r->capfails : 4;
		r->fails = kf_xrealloc(r->fails, r->capfails * sizeof(*r->fails));
	}
	struct kf_failure *f = &r->fails[r->nfails++];
	f->resource = resource;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&f->text, fmt, ap) < 0)
		kf_die_oom();
	va_end(ap);
}

void kf_run_finish(struct kf_run *r)
{
	r->nchanges = r->napplied = r->nfailed = r->npending = r->nskipped = 0;
	for (size_t i = 0; i < r->plan.n; i++) {
		const struct kf_change *ch = &r->plan.v[i];
		switch (ch->status) {
		case KF_ST_PLANNED:
			if (kf_change_actionable(ch))
				r->nchanges++;
			else
				r->npending++;
			break;
		case KF_ST_APPLIED: r->napplied++; break;
		case KF_ST_FAILED: r->nfailed++; break;
		case KF_ST_SKIPPED: r->nskipped++; break;
		case KF_ST_PENDING: r->npending++; break;
		}
	}
	bool changes = r->mode == KF_RUN_APPLY ? r->napplied > 0 : r->nchanges > 0;
	bool failures = r->nfails > 0 || r->nfailed > 0;
	r->exit_code = (changes ? 2 : 0) | (failures ? 4 : 0);
}

void kf_run_release(struct kf_run *r)
{
	if (!r)
		return;
	kf_plan_release(&r->plan);
	kf_err_release(&r->warnings);
	for (size_t i = 0; i < r->nfails; i++)
		free(r->fails[i].text);
	free(r->fails);
	free(r->role);
	free(r->root);
	free(r->profile_source);
	free(r->profile_note);
	free(r->report_url);
	memset(r, 0, sizeof(*r));
}

/* --- one run --- */

/* Where a run's time goes, at debug level (-v): the wall time of one step
 * ("probe" and a resource, say) since *t0, which then moves on to now. */
static void took(struct timespec *t0, const char *step, const char *name, const char *what)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (kf_log_level >= KF_LOG_DEBUG) {
		double ms = (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
		kf_log(KF_LOG_DEBUG, "time: %s%s%s%s%s %.2f ms", step, name ? " " : "", name ? name : "",
		       what ? ": " : "", what ? what : "", ms);
		clock_gettime(CLOCK_MONOTONIC, &t1); /* the line's own write is no step's */
	}
	*t0 = t1;
}

struct rstate {
	const struct kf_resource *res;
	void *desired;
	void *actual;
	bool probed;
};

/* Moves messages [from, end) of ctx->fail into the run as failures of res. */
static void take_failures(struct kf_run *run, struct kf_err *fail, size_t from, const char *res)
{
	char buf[1024];
	for (size_t i = from; i < fail->n; i++) {
		const char *text = kf_err_format(fail, i, buf, sizeof(buf));
		bool dup = false; /* the verify pass finds the same again */
		for (size_t j = 0; j < run->nfails && !dup; j++)
			dup = run->fails[j].resource == res && !strcmp(run->fails[j].text, text);
		if (!dup)
			kf_run_add_failure(run, res, "%s", text);
	}
}

static void probe_all(struct kf_ctx *ctx, struct rstate *rs, size_t n, struct kf_run *run,
		      struct kf_plan *plan, const char *step)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kf_proc_snapshot(true); /* one look at /proc for the whole pass */
	for (size_t i = 0; i < n; i++) {
		const struct kf_resource *res = rs[i].res;
		if (!rs[i].desired)
			continue;
		if (rs[i].actual && res->free_actual)
			res->free_actual(rs[i].actual);
		rs[i].actual = NULL;
		/* messages a resource adds are failures even when it goes on
		 * (one bad IRQ must not hide the others) */
		size_t before = ctx->fail->n;
		int r = res->probe(ctx, rs[i].desired, &rs[i].actual);
		rs[i].probed = r >= 0;
		if (r < 0 && ctx->fail->n == before)
			kf_errf(ctx->fail, NULL, "cannot read the host's state: %s", strerror(-r));
		if (r >= 0) {
			r = res->diff(ctx, rs[i].desired, rs[i].actual, plan);
			if (r < 0 && ctx->fail->n == before)
				kf_errf(ctx->fail, NULL, "diff failed: %s", strerror(-r));
		}
		if (run)
			take_failures(run, ctx->fail, before, res->name);
		took(&t0, step, res->name, NULL);
	}
	kf_proc_snapshot(false);
	for (size_t i = 0; i < plan->n; i++)
		if (plan->v[i].flags & KF_CH_PENDING)
			plan->v[i].status = KF_ST_PENDING;
}

static const struct kf_resource *find_res(struct rstate *rs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rs[i].res->name, name))
			return rs[i].res;
	return NULL;
}

static void apply_all(struct kf_ctx *ctx, struct rstate *rs, size_t n, struct kf_run *run)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < run->plan.n; i++) {
		struct kf_change *ch = &run->plan.v[i];
		if (!kf_change_actionable(ch))
			continue;
		const struct kf_resource *res = find_res(rs, n, ch->resource);
		size_t before = ctx->fail->n;
		int r = res ? res->apply(ctx, ch) : -ENOENT;
		if (r < 0) {
			ch->status = KF_ST_FAILED;
			if (!ch->reason)
				ch->reason = ctx->fail->n > before ? kf_xstrdup(ctx->fail->v[ctx->fail->n - 1].text)
								   : kf_xstrdup(strerror(-r));
		} else if (ch->status == KF_ST_PLANNED) {
			ch->status = KF_ST_APPLIED;
		}
		took(&t0, "apply", ch->resource, ch->what);
	}
}

/* After apply: whatever the second diff still wants, and apply did not
 * already report as failed or skipped, is a failure. */
static void verify(struct kf_ctx *ctx, struct rstate *rs, size_t n, struct kf_run *run)
{
	struct kf_plan again = { 0 };
	probe_all(ctx, rs, n, run, &again, "verify");
	for (size_t i = 0; i < again.n; i++) {
		const struct kf_change *a = &again.v[i];
		if (!kf_change_actionable(a))
			continue;
		bool known = false;
		for (size_t j = 0; j < run->plan.n; j++) {
			const struct kf_change *c = &run->plan.v[j];
			if (!strcmp(c->resource, a->resource) && !strcmp(c->what, a->what) &&
			    (c->status == KF_ST_FAILED || c->status == KF_ST_SKIPPED))
				known = true;
		}
		if (!known)
			kf_run_add_failure(run, a->resource, "after apply, %s is still %s (wanted %s)", a->what,
					   a->from ? a->from : "(absent)", a->to);
	}
	kf_plan_release(&again);
}

static int load_profile(const struct kf_engine_opts *o, struct kf_run *run, struct kf_profile **p,
			struct kf_err *e)
{
	const char *state = o->state_dir ? o->state_dir : KF_STATE_DIR_DEFAULT;
	run->profile_source = kf_xstrdup(o->profile);
	if (!kf_is_url(o->profile))
		return kf_profile_load(p, o->profile, e);
	struct kf_http_profile hp = { 0 };
	int r = kf_http_fetch_profile(o->profile, state, o->cacert, &hp, e);
	if (r < 0)
		return r;
	r = kf_profile_load_buf(p, o->profile, hp.body, hp.len, e);
	if (r == 0 && kf_http_keep_profile(o->profile, state, &hp) < 0)
		kf_log(KF_LOG_WARN, "cannot keep the profile as last good copy in %s", state);
	if (hp.note) {
		run->profile_fallback = true;
		run->profile_note = hp.note;
		hp.note = NULL;
		kf_log(KF_LOG_WARN, "%s", run->profile_note);
	}
	kf_http_profile_release(&hp);
	return r;
}

/* Checks the options and loads the profile into the run's header. */
static int start(const struct kf_engine_opts *o, struct kf_run *run, struct kf_profile **p, struct kf_err *e)
{
	int r;
	if ((r = kf_sections_check(o->only, "--only", e)) < 0 || (r = kf_sections_check(o->skip, "--skip", e)) < 0)
		return r;
	kf_sysroot_set(o->root);
	run->mode = o->mode;
	run->root = kf_xstrdup(kf_sysroot());
	if ((r = load_profile(o, run, p, e)) < 0)
		return r;
	const struct kf_profile *pr = *p;
	run->role = pr->role ? kf_xstrdup(pr->role) : NULL;
	const char *url = o->report ? o->report : pr->agent ? pr->agent->report : NULL;
	run->report_url = url ? kf_xstrdup(url) : NULL;
	if (run->mode == KF_RUN_AUTO)
		run->mode = pr->agent && pr->agent->mode == KF_AGENT_CHECK ? KF_RUN_CHECK : KF_RUN_APPLY;
	return 0;
}

static size_t nmsgs(const struct kf_err *e)
{
	return e->n + e->dropped;
}

/* Parses every selected resource into rs[*nrs...].  0, or a negative errno
 * when one failed or added a profile error (all of them in ctx->err). */
static int parse_all(struct kf_ctx *ctx, const struct kf_engine_opts *o, const struct kf_resource *const *table,
		     size_t n, struct rstate *rs, size_t *nrs)
{
	size_t first = nmsgs(ctx->err);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (!kf_section_selected(table[i]->section, o->only, o->skip))
			continue;
		struct rstate *st = &rs[(*nrs)++];
		st->res = table[i];
		size_t before = nmsgs(ctx->err);
		int r = st->res->parse(ctx, &st->desired);
		if (r < 0 && nmsgs(ctx->err) == before)
			kf_errc(ctx->err, r, NULL, "%s: cannot read the profile: %s", st->res->name, strerror(-r));
		if (r < 0 && !rc)
			rc = r;
	}
	return rc ? rc : nmsgs(ctx->err) > first ? -EINVAL : 0;
}

static void release_states(struct rstate *rs, size_t n, struct kf_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) { /* resource data, for apply only */
		struct kf_change *ch = &plan->v[i];
		if (ch->free_data)
			ch->free_data(ch->data);
		ch->data = NULL;
		ch->free_data = NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (rs[i].desired && rs[i].res->free_desired)
			rs[i].res->free_desired(rs[i].desired);
		if (rs[i].actual && rs[i].res->free_actual)
			rs[i].res->free_actual(rs[i].actual);
	}
	free(rs);
}

/* The profile against the host's own facts (lib/facts.h): what parse let
 * through but the host cannot give (passthrough without an IOMMU, say). */
static void warn_facts(const struct kf_profile *p, const struct kf_hostinfo *host, struct kf_run *run)
{
	struct kf_facts f;
	kf_facts_probe_check(&f, host);
	kf_facts_check(p, &f, NULL, &run->warnings);
	kf_facts_release(&f);
}

int kf_engine_run(const struct kf_engine_opts *o, const struct kf_resource *const *table, size_t n,
		  struct kf_run *run, struct kf_err *e)
{
	struct kf_err fail = KF_ERR_INIT;
	struct kf_hostinfo host;
	struct kf_profile *p = NULL;
	struct rstate *rs = kf_xcalloc(n ? n : 1, sizeof(*rs));
	size_t nrs = 0;
	bool have_host = false;
	int r;

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(run, 0, sizeof(*run));
	if ((r = start(o, run, &p, e)) < 0)
		goto out;
	took(&t0, "profile", o->profile, NULL);
	if (kf_host_probe(&host, &fail) < 0) {
		take_failures(run, &fail, 0, NULL);
		goto done;
	}
	have_host = true;

	struct kf_ctx ctx = { .profile = p, .err = e, .host = &host, .verbose = o->verbose, .fail = &fail,
			      .report_url = run->report_url };
	ctx.state_dir = o->state_dir                       ? o->state_dir
			: p->agent && p->agent->state_dir ? p->agent->state_dir
							  : KF_STATE_DIR_DEFAULT;
	ctx.profile_url = kf_is_url(o->profile) ? o->profile : NULL;
	took(&t0, "host", NULL, NULL);
	if ((r = parse_all(&ctx, o, table, n, rs, &nrs)) < 0)
		goto out; /* profile errors against this host: nothing touched */
	took(&t0, "parse", NULL, NULL);
	warn_facts(p, &host, run);
	took(&t0, "facts", NULL, NULL);

	probe_all(&ctx, rs, nrs, run, &run->plan, "probe");
	if (run->mode == KF_RUN_APPLY) {
		apply_all(&ctx, rs, nrs, run);
		verify(&ctx, rs, nrs, run);
	}
done:
	kf_run_finish(run);
out:
	release_states(rs, nrs, &run->plan);
	if (have_host)
		kf_host_release(&host);
	kf_profile_free(p);
	kf_err_release(&fail);
	return r;
}
