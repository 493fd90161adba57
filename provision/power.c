/* Power runs: many machines at once, each through its backend
 * (provision/power.h), at most jobs_max sessions in flight. */
#include "provision/power.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static const char *const action_names[KF_PA_COUNT] = { "status", "on", "off", "cycle", "reset" };

const char *kf_power_action_name(int action)
{
	return action >= 0 && action < KF_PA_COUNT ? action_names[action] : NULL;
}

int kf_power_action_parse(const char *s)
{
	for (int i = 0; i < KF_PA_COUNT; i++)
		if (!strcmp(s, action_names[i]))
			return i;
	return -1;
}

const char *kf_power_reason(int rc)
{
	switch (rc) {
	case 0: return NULL;
	case -EACCES: return "auth";
	case -EHOSTUNREACH: return "unreachable";
	case -ETIMEDOUT: return "timeout";
	case -EREMOTEIO: return "refused";
	default: return "error";
	}
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* The action in an open session; cycle powers an off machine on instead
 * (a BMC ignores or refuses a cycle of a machine that is off). */
static int act(const struct kf_power_backend *b, void *conn, struct kf_power_job *j,
	       struct kf_err *e)
{
	bool on = false;
	int r;
	switch (j->action) {
	case KF_PA_STATUS:
		if ((r = b->status(conn, &on, e)) == 0)
			j->power = on;
		j->done = on ? "on" : "off";
		return r;
	case KF_PA_ON:
		j->done = "powered on";
		return (r = b->on(conn, e)) < 0 ? r : (j->power = 1, 0);
	case KF_PA_OFF:
		j->done = "powered off";
		return (r = b->off(conn, e)) < 0 ? r : (j->power = 0, 0);
	case KF_PA_RESET:
		j->done = "reset";
		return (r = b->reset(conn, e)) < 0 ? r : (j->power = 1, 0);
	case KF_PA_CYCLE:
		if ((r = b->status(conn, &on, e)) < 0)
			return r;
		j->done = on ? "power cycled" : "powered on (was off)";
		return (r = on ? b->cycle(conn, e) : b->on(conn, e)) < 0 ? r : (j->power = 1, 0);
	}
	return kf_errc(e, -EINVAL, NULL, "unknown power action %d", j->action);
}

static void run_one(struct kf_power_job *j, const struct kf_power_opts *o)
{
	const struct kf_power_backend *b = j->cfg.type == KF_POWER_LIBVIRT ? &kf_power_libvirt
									    : &kf_power_ipmi;
	struct kf_err e = KF_ERR_INIT;
	void *conn = NULL;
	double t0 = now_ms();
	j->power = -1;
	int r = b->open(&j->cfg, o, &conn, &e);
	if (r == 0 && j->pxe)
		r = b->set_pxe(conn, &e);
	if (r == 0)
		r = act(b, conn, j, &e);
	b->close(conn);
	j->rc = r;
	j->ms = now_ms() - t0;
	j->time = (int64_t)time(NULL);
	if (r < 0) {
		char buf[1024];
		j->error = kf_xstrdup(e.n ? kf_err_format(&e, e.n - 1, buf, sizeof(buf)) : strerror(-r));
		j->power = -1;
	}
	kf_err_release(&e);
}

struct run {
	struct kf_power_job *jobs;
	size_t n;
	const struct kf_power_opts *o;
	atomic_size_t next;
	pthread_mutex_t lock;
	size_t done, failed;
	FILE *progress;
	void (*line)(const struct kf_power_job *j, void *arg);
	void *arg;
};

static void draw(struct run *rn)
{
	if (!rn->progress)
		return;
	fprintf(rn->progress, "\r\033[Kpower %s: %zu/%zu done, %zu failed",
		kf_power_action_name(rn->jobs[0].action), rn->done, rn->n, rn->failed);
	fflush(rn->progress);
}

static void finished(struct run *rn, const struct kf_power_job *j)
{
	pthread_mutex_lock(&rn->lock);
	rn->done++;
	rn->failed += j->rc < 0;
	if (rn->progress)
		fputs("\r\033[K", rn->progress);
	if (rn->line)
		rn->line(j, rn->arg);
	fflush(stdout);
	draw(rn);
	pthread_mutex_unlock(&rn->lock);
}

static void *worker(void *arg)
{
	struct run *rn = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&rn->next, 1);
		if (i >= rn->n)
			break;
		run_one(&rn->jobs[i], rn->o);
		finished(rn, &rn->jobs[i]);
	}
	return NULL;
}

size_t kf_power_run(struct kf_power_job *jobs, size_t n, int jobs_max,
		    const struct kf_power_opts *o, FILE *progress,
		    void (*line)(const struct kf_power_job *j, void *arg), void *arg)
{
	struct run rn = { .jobs = jobs, .n = n, .o = o, .progress = progress, .line = line,
			  .arg = arg };
	size_t nt = jobs_max < 1 ? 1 : (size_t)jobs_max;
	if (nt > n)
		nt = n;
	if (!n)
		return 0;
	pthread_mutex_init(&rn.lock, NULL);
	atomic_init(&rn.next, 0);
	pthread_mutex_lock(&rn.lock);
	draw(&rn);
	pthread_mutex_unlock(&rn.lock);
	pthread_t *t = kf_xcalloc(nt, sizeof(*t));
	size_t started = 0;
	for (; started + 1 < nt; started++)
		if (pthread_create(&t[started], NULL, worker, &rn))
			break;
	worker(&rn); /* this thread is one of them */
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	if (progress) {
		fputs("\r\033[K", progress);
		fflush(progress);
	}
	pthread_mutex_destroy(&rn.lock);
	return rn.failed;
}

void kf_power_jobs_free(struct kf_power_job *jobs, size_t n)
{
	if (!jobs)
		return;
	for (size_t i = 0; i < n; i++) {
		kf_power_cfg_release(&jobs[i].cfg);
		free(jobs[i].error);
	}
	free(jobs);
}

static void add_job(struct kf_power_job **v, size_t *n, const struct kf_power_cfg *c)
{
	*v = kf_xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = (struct kf_power_job){ .cfg = *c, .power = -1 };
}

static bool listed(const struct kf_power_job *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].cfg.name, name))
			return true;
	return false;
}

/* One job per machine named, of role, or (all) every host with a power
 * section and every guest; hosts without one are skipped by role and all,
 * an error when named. */
int kf_power_jobs_for(const struct kf_inventory *inv, char *const *names, size_t nnames,
		      const char *role, bool all, struct kf_power_job **out, size_t *nout,
		      struct kf_err *e)
{
	struct kf_power_job *v = NULL;
	size_t n = 0;
	struct kf_power_cfg c;
	int r = 0;
	for (size_t i = 0; i < nnames; i++) {
		if (listed(v, n, names[i]))
			continue;
		if ((r = kf_power_resolve(inv, names[i], &c, e)) < 0)
			goto out;
		add_job(&v, &n, &c);
	}
	for (size_t i = 0; (role || all) && i < inv->hosts.n; i++) {
		const struct kf_i_host *h = KF_LIST_AT(inv->hosts, struct kf_i_host, i);
		if (!h->power || (role && strcmp(h->role, role)) || listed(v, n, h->name))
			continue;
		if ((r = kf_power_resolve(inv, h->name, &c, e)) < 0)
			goto out;
		add_job(&v, &n, &c);
	}
	for (size_t i = 0; (role || all) && i < inv->guests.n; i++) {
		const struct kf_i_guest *g = KF_LIST_AT(inv->guests, struct kf_i_guest, i);
		if ((role && strcmp(g->role, role)) || listed(v, n, g->name))
			continue;
		if ((r = kf_power_resolve(inv, g->name, &c, e)) < 0)
			goto out;
		add_job(&v, &n, &c);
	}
	if (!n && role)
		r = kf_errc(e, -ENOENT, NULL, "no host or guest with power control has role \"%s\"", role);
out:
	if (r < 0) {
		kf_power_jobs_free(v, n);
		v = NULL;
		n = 0;
	}
	*out = v;
	*nout = n;
	return r;
}
