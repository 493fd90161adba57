/* The fleet as the API and the page show it: one snapshot of every host's
 * row, its inventory address and its facts' summary, sorted by name, so
 * that a list of 10k hosts is built from memory, not from the store.  The
 * hub (api_hub.c) keeps it current: one host again after each of its
 * events, everything again now and then for what changes without an event
 * (a report that keeps the state, new facts). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "provision/api.h"
#include "provision/serve.h"
#include "types.h"

struct kf_fleet {
	pthread_rwlock_t lock;
	struct kf_api_host *v;
	size_t n;
};

struct kf_fleet *kf_fleet_new(void)
{
	struct kf_fleet *f = kf_xcalloc(1, sizeof(*f));
	pthread_rwlock_init(&f->lock, NULL);
	return f;
}

void kf_api_host_release(struct kf_api_host *h)
{
	if (!h)
		return;
	free(h->name);
	free(h->role);
	free(h->parent);
	free(h->facts);
	free(h->command);
	memset(h, 0, sizeof(*h));
}

static void hosts_free(struct kf_api_host *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kf_api_host_release(&v[i]);
	free(v);
}

void kf_fleet_free(struct kf_fleet *f)
{
	if (!f)
		return;
	hosts_free(f->v, f->n);
	pthread_rwlock_destroy(&f->lock);
	free(f);
}

static char *dup0(const char *s)
{
	return s ? kf_xstrdup(s) : NULL;
}

/* The last run of the agent, from the stored report: command, exit code
 * and how many changes it planned or applied. */
static void last_run(struct kf_api_host *h, const char *report)
{
	h->exit_code = -1;
	h->changes = 0;
	if (!report)
		return;
	struct kf_json *o = NULL;
	if (kf_json_parse_object(report, strlen(report), &o, NULL) < 0 || !o)
		return;
	h->exit_code = (int)kf_json_get_int(o, "exit_code", -1);
	const char *cmd = kf_json_get_str(o, "command");
	h->command = dup0(cmd);
	struct kf_report_info ri;
	if (kf_report_parse(report, strlen(report), &ri, NULL) == 0)
		h->changes = ri.changes;
	kf_json_free(o);
}

/* Where a machine of the inventory is: its address, its KVM host. */
struct inv_addr {
	const char *name, *ip, *parent;
};

static int addr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct inv_addr *)a)->name, ((const struct inv_addr *)b)->name);
}

/* Every host and guest of inv, sorted by name (free the array). */
static struct inv_addr *inv_index(const struct kf_inventory *inv, size_t *n)
{
	*n = inv->hosts.n + inv->guests.n;
	struct inv_addr *v = kf_xcalloc(*n ? *n : 1, sizeof(*v));
	for (size_t i = 0; i < inv->hosts.n; i++) {
		const struct kf_i_host *h = KF_LIST_AT(inv->hosts, struct kf_i_host, i);
		v[i] = (struct inv_addr){ h->name, h->ip, NULL };
	}
	for (size_t i = 0; i < inv->guests.n; i++) {
		const struct kf_i_guest *g = KF_LIST_AT(inv->guests, struct kf_i_guest, i);
		v[inv->hosts.n + i] = (struct inv_addr){ g->name, g->ip, g->host };
	}
	qsort(v, *n, sizeof(*v), addr_cmp);
	return v;
}

static const struct inv_addr *inv_find(const struct inv_addr *v, size_t n, const char *name)
{
	struct inv_addr key = { name, NULL, NULL };
	return bsearch(&key, v, n, sizeof(*v), addr_cmp);
}

/* A view of row r at a (may be NULL).  prev (may be NULL): the host's
 * view before, whose last run is kept when the report is the same (not
 * parsed again). */
static void view_of(struct kf_api_host *h, const struct kf_host_rec *r, const struct inv_addr *a,
		    const struct kf_api_host *prev)
{
	memset(h, 0, sizeof(*h));
	h->name = kf_xstrdup(r->name);
	h->role = dup0(r->role);
	h->kind = r->kind;
	h->state = r->state;
	h->since = r->state_since;
	h->netboot = r->netboot;
	h->report_time = r->report_time;
	h->drift_count = r->drift_count;
	h->power = prev ? prev->power : -1;
	if (prev && prev->report_time == r->report_time) {
		h->exit_code = prev->exit_code;
		h->changes = prev->changes;
		h->command = dup0(prev->command);
	} else {
		last_run(h, r->report);
	}
	h->parent = dup0(a ? a->parent : NULL);
	if (a && a->ip && kf_ipv4_parse(a->ip, &h->ip4) == 0)
		snprintf(h->ip, sizeof(h->ip), "%s", a->ip);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct kf_api_host *)a)->name, ((const struct kf_api_host *)b)->name);
}

static const char *summary_of(const struct kf_facts_row *fr, size_t nf, const char *name)
{
	size_t lo = 0, hi = nf;
	while (lo < hi) { /* the rows come sorted by name */
		size_t mid = (lo + hi) / 2;
		int c = strcmp(fr[mid].name, name);
		if (!c)
			return fr[mid].summary;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The index of name in the snapshot, or -1 (with the lock held). */
static long find(const struct kf_fleet *f, const char *name)
{
	size_t lo = 0, hi = f->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(f->v[mid].name, name);
		if (!c)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int kf_fleet_reload(struct kf_fleet *f, struct kf_serve *s, struct kf_err *e)
{
	struct kf_state *st = kf_serve_state(s, e);
	if (!st)
		return -EIO;
	struct kf_host_rec *rows = NULL;
	size_t n = 0, nf = 0;
	struct kf_facts_row *fr = NULL;
	struct kf_power_row *pr = NULL;
	size_t np = 0;
	int r = kf_state_list_hosts(st, &rows, &n, e);
	if (r == 0)
		r = kf_state_list_facts(st, &fr, &nf, e);
	if (r == 0)
		r = kf_state_list_power(st, &pr, &np, e);
	if (r < 0) {
		kf_host_recs_free(rows, n);
		kf_facts_rows_free(fr, nf);
		return r;
	}
	struct kf_api_host *v = kf_xcalloc(n ? n : 1, sizeof(*v));
	size_t na;
	struct inv_addr *idx = inv_index(kf_serve_inv_get(s), &na);
	pthread_rwlock_rdlock(&f->lock); /* only the hub writes: the old views stay */
	for (size_t i = 0; i < n; i++) {
		long j = find(f, rows[i].name);
		view_of(&v[i], &rows[i], inv_find(idx, na, rows[i].name), j >= 0 ? &f->v[j] : NULL);
		v[i].facts = dup0(summary_of(fr, nf, rows[i].name));
		const struct kf_power_row *p = kf_power_row_of(pr, np, rows[i].name);
		v[i].power = p ? p->power : -1;
	}
	pthread_rwlock_unlock(&f->lock);
	kf_serve_inv_put(s);
	free(idx);
	kf_host_recs_free(rows, n);
	kf_facts_rows_free(fr, nf);
	kf_power_rows_free(pr, np);
	qsort(v, n, sizeof(*v), by_name);
	pthread_rwlock_wrlock(&f->lock);
	struct kf_api_host *old = f->v;
	size_t oldn = f->n;
	f->v = v;
	f->n = n;
	pthread_rwlock_unlock(&f->lock);
	hosts_free(old, oldn);
	return 0;
}

int kf_fleet_refresh(struct kf_fleet *f, struct kf_serve *s, const char *name, bool power,
		     struct kf_err *e)
{
	struct kf_state *st = kf_serve_state(s, e);
	if (!st)
		return -EIO;
	struct kf_host_rec rec = { 0 };
	int r = kf_state_get_host(st, name, &rec, e);
	if (r < 0)
		return r;
	int pw = -2; /* -2: as before */
	struct kf_power_row *pr = NULL;
	size_t np = 0;
	if (power && kf_state_list_power(st, &pr, &np, NULL) == 0) {
		const struct kf_power_row *p = kf_power_row_of(pr, np, name);
		pw = p ? p->power : -1;
	}
	kf_power_rows_free(pr, np);
	/* only the hub writes: the view read under the read lock stays */
	pthread_rwlock_rdlock(&f->lock);
	long i = find(f, name);
	struct kf_api_host h;
	if (i >= 0) {
		const struct kf_api_host *old = &f->v[i];
		struct inv_addr a = { old->name, old->ip[0] ? old->ip : NULL, old->parent };
		view_of(&h, &rec, &a, old);
		h.facts = dup0(old->facts);
		if (pw != -2)
			h.power = pw;
	}
	pthread_rwlock_unlock(&f->lock);
	kf_host_rec_release(&rec);
	if (i < 0)
		return 1; /* new to the snapshot: the caller reloads */
	pthread_rwlock_wrlock(&f->lock);
	kf_api_host_release(&f->v[i]);
	f->v[i] = h;
	pthread_rwlock_unlock(&f->lock);
	return 0;
}

int kf_fleet_get(struct kf_fleet *f, const char *name, struct kf_api_host *out)
{
	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&f->lock);
	long i = find(f, name);
	if (i >= 0) {
		const struct kf_api_host *h = &f->v[i];
		*out = *h;
		out->name = kf_xstrdup(h->name);
		out->role = dup0(h->role);
		out->parent = dup0(h->parent);
		out->facts = dup0(h->facts);
		out->command = dup0(h->command);
	}
	pthread_rwlock_unlock(&f->lock);
	return i < 0 ? -ENOENT : 0;
}

bool kf_fleet_match(const struct kf_api_host *h, const struct kf_api_filter *flt)
{
	if (flt->state >= 0 && h->state != flt->state)
		return false;
	if (flt->kind >= 0 && h->kind != flt->kind)
		return false;
	if (flt->role && (!h->role || strcmp(h->role, flt->role)))
		return false;
	if (flt->prefix && strncmp(h->name, flt->prefix, strlen(flt->prefix)))
		return false;
	if (flt->search && !strstr(h->name, flt->search))
		return false;
	if (flt->prefix_len >= 0 && (!h->ip4 || !kf_ipv4_in(h->ip4, flt->net, flt->prefix_len)))
		return false;
	return true;
}

static const char *const sort_names[KF_SORT_COUNT] = {
	"name", "kind", "role", "ip", "state", "since", "netboot", "run", "drift", "facts",
};

const char *kf_api_sort_name(int sort)
{
	return sort >= 0 && sort < KF_SORT_COUNT ? sort_names[sort] : "name";
}

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int cmp_num(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

static int cmp_key(const struct kf_api_host *a, const struct kf_api_host *b, int key)
{
	switch (key) {
	case KF_SORT_KIND: return cmp_num(a->kind, b->kind);
	case KF_SORT_ROLE: return cmp_str(a->role, b->role);
	case KF_SORT_IP: return cmp_num(a->ip4, b->ip4);
	case KF_SORT_STATE: return cmp_num(a->state, b->state);
	case KF_SORT_SINCE: return cmp_num(a->since, b->since);
	case KF_SORT_NETBOOT: return cmp_num(a->netboot, b->netboot);
	case KF_SORT_RUN: return cmp_num(a->report_time, b->report_time);
	case KF_SORT_DRIFT: return cmp_num(a->drift_count, b->drift_count);
	case KF_SORT_FACTS: return cmp_str(a->facts, b->facts);
	default: return 0;
	}
}

static _Thread_local const struct kf_api_filter *sort_by; /* for qsort's comparison */

static int by_sort(const void *x, const void *y)
{
	const struct kf_api_host *a = *(const struct kf_api_host *const *)x;
	const struct kf_api_host *b = *(const struct kf_api_host *const *)y;
	int c = cmp_key(a, b, sort_by->sort);
	if (!c)
		c = strcmp(a->name, b->name);
	return sort_by->desc ? -c : c;
}

struct page_walk {
	size_t offset, limit, seen;
	void (*fn)(const struct kf_api_host *h, void *arg);
	void *arg;
	const struct kf_api_host **all; /* sorted otherwise than by name: the matches */
};

static bool page_visit(const struct kf_api_host *h, void *arg)
{
	struct page_walk *p = arg;
	if (p->all)
		p->all[p->seen] = h;
	else if (p->seen >= p->offset && p->seen - p->offset < p->limit)
		p->fn(h, p->arg);
	p->seen++;
	return true;
}

size_t kf_fleet_page(struct kf_fleet *f, const struct kf_api_filter *flt, size_t offset, size_t limit,
		     void (*fn)(const struct kf_api_host *h, void *arg), void *arg)
{
	struct page_walk p = { offset, limit, 0, fn, arg, NULL };
	bool by_name_asc = flt->sort == KF_SORT_NAME && !flt->desc;
	pthread_rwlock_rdlock(&f->lock);
	if (!by_name_asc)
		p.all = kf_xcalloc(f->n ? f->n : 1, sizeof(*p.all));
	size_t i = 0;
	if (flt->prefix) { /* names are sorted: start at the prefix */
		size_t lo = 0, hi = f->n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (strcmp(f->v[mid].name, flt->prefix) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		i = lo;
	}
	for (; i < f->n; i++) {
		if (flt->prefix && strncmp(f->v[i].name, flt->prefix, strlen(flt->prefix)))
			break;
		if (kf_fleet_match(&f->v[i], flt))
			page_visit(&f->v[i], &p);
	}
	if (p.all) {
		sort_by = flt;
		qsort(p.all, p.seen, sizeof(*p.all), by_sort);
		for (size_t k = offset; k < p.seen && k - offset < limit; k++)
			fn(p.all[k], arg);
		free(p.all);
	}
	pthread_rwlock_unlock(&f->lock);
	return p.seen;
}

void kf_fleet_counts(struct kf_fleet *f, size_t by_state[KF_ST_COUNT], size_t *total)
{
	memset(by_state, 0, KF_ST_COUNT * sizeof(*by_state));
	pthread_rwlock_rdlock(&f->lock);
	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].state >= 0 && f->v[i].state < KF_ST_COUNT)
			by_state[f->v[i].state]++;
	*total = f->n;
	pthread_rwlock_unlock(&f->lock);
}

static void str_or_null(struct kf_jw *w, const char *key, const char *s)
{
	kf_jw_key(w, key);
	kf_jw_str(w, s && *s ? s : NULL);
}

void kf_api_host_write(struct kf_jw *w, const struct kf_api_host *h)
{
	kf_jw_object(w);
	kf_jw_key(w, "name");
	kf_jw_str(w, h->name);
	kf_jw_key(w, "kind");
	kf_jw_str(w, kf_host_kind_name(h->kind));
	str_or_null(w, "role", h->role);
	str_or_null(w, "host", h->parent);
	str_or_null(w, "ip", h->ip);
	kf_jw_key(w, "state");
	kf_jw_str(w, kf_install_state_name(h->state));
	kf_jw_key(w, "since");
	kf_jw_int(w, h->since);
	kf_jw_key(w, "netboot");
	kf_jw_bool(w, h->netboot);
	kf_jw_key(w, "power");
	kf_jw_str(w, h->power < 0 ? NULL : h->power ? "on" : "off");
	kf_jw_key(w, "drift_count");
	kf_jw_int(w, h->drift_count);
	kf_jw_key(w, "last_run");
	if (h->report_time > 0) {
		kf_jw_object(w);
		kf_jw_key(w, "time");
		kf_jw_int(w, h->report_time);
		str_or_null(w, "command", h->command);
		kf_jw_key(w, "exit_code");
		if (h->exit_code >= 0)
			kf_jw_int(w, h->exit_code);
		else
			kf_jw_null(w);
		kf_jw_key(w, "changes");
		kf_jw_int(w, h->changes);
		kf_jw_end(w);
	} else {
		kf_jw_null(w);
	}
	str_or_null(w, "facts", h->facts);
	kf_jw_end(w);
}

struct kf_json *kf_api_host_json(const struct kf_api_host *h)
{
	struct kf_buf b = KF_BUF_INIT;
	struct kf_jw w;
	kf_jw_init(&w, &b);
	kf_api_host_write(&w, h);
	struct kf_json *o = NULL;
	if (kf_json_parse_object(b.s, b.len, &o, NULL) < 0 || !o)
		kf_die_oom(); /* the writer's own text: only memory can fail */
	kf_buf_release(&b);
	return o;
}

struct kf_json *kf_api_summary_json(struct kf_fleet *f)
{
	size_t by[KF_ST_COUNT], total;
	kf_fleet_counts(f, by, &total);
	struct kf_json *o = kf_json_object(), *st = kf_json_object();
	for (int i = 0; i < KF_ST_COUNT; i++)
		kf_json_set(st, kf_install_state_name(i), kf_json_int((int64_t)by[i]));
	kf_json_set(o, "total", kf_json_int((int64_t)total));
	kf_json_set(o, "states", st);
	kf_json_set(o, "in_progress", kf_json_int((int64_t)(by[KF_ST_BOOTING] + by[KF_ST_INSTALLING])));
	kf_json_set(o, "installed", kf_json_int((int64_t)(by[KF_ST_INSTALLED] + by[KF_ST_CONFIGURED] +
						       by[KF_ST_DRIFTED])));
	return o;
}

int kf_api_filter_parse(struct kf_httpd_req *rq, struct kf_api_filter *flt, struct kf_err *e)
{
	*flt = (struct kf_api_filter){ .state = -1, .kind = -1, .prefix_len = -1 };
	const char *v = kf_httpd_arg(rq, "state");
	if (v && *v && (flt->state = kf_install_state_parse(v)) < 0)
		return kf_errc(e, -EINVAL, NULL, "unknown state \"%s\"", v);
	v = kf_httpd_arg(rq, "kind");
	if (v && *v) {
		if (!strcmp(v, "host"))
			flt->kind = KF_KIND_HOST;
		else if (!strcmp(v, "guest"))
			flt->kind = KF_KIND_GUEST;
		else
			return kf_errc(e, -EINVAL, NULL, "unknown kind \"%s\" (host or guest)", v);
	}
	v = kf_httpd_arg(rq, "segment");
	if (v && *v && kf_cidr_parse(v, &flt->net, &flt->prefix_len) < 0)
		return kf_errc(e, -EINVAL, NULL, "bad segment \"%s\" (an IPv4 network: 10.0.1.0/24)", v);
	v = kf_httpd_arg(rq, "role");
	flt->role = v && *v ? v : NULL;
	v = kf_httpd_arg(rq, "prefix");
	flt->prefix = v && *v ? v : NULL;
	v = kf_httpd_arg(rq, "q");
	flt->search = v && *v ? v : NULL;
	v = kf_httpd_arg(rq, "sort");
	if (v && *v) {
		flt->desc = *v == '-';
		const char *key = v + flt->desc;
		flt->sort = -1;
		for (int i = 0; i < KF_SORT_COUNT; i++)
			if (!strcmp(key, sort_names[i]))
				flt->sort = i;
		if (flt->sort < 0)
			return kf_errc(e, -EINVAL, NULL, "unknown sort \"%s\" (name, kind, role, ip, state, "
						       "since, netboot, run, drift or facts; -KEY descending)", v);
	}
	return 0;
}
