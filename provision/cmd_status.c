/* kickfleet status: the hosts' install states from the state store, as a
 * table, as JSON, or redrawn with a progress bar while a fleet installs. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inventory.h"
#include "json.h"
#include "profile.h"
#include "provision/cmd.h"
#include "provision/render.h"
#include "provision/state.h"
#include "types.h"
#include "util.h"

/* A host whose agent has not reported for this many intervals is stale. */
#define STALE_INTERVALS 3
#define DEFAULT_INTERVAL_S (30 * 60) /* agent.interval's default */

/* The agent's interval of each role, read from the role's profile once. */
struct intervals {
	const struct kf_inventory *inv;
	const char **role;
	long long *secs;
	size_t n;
};

static long long profile_interval(const struct kf_inventory *inv, const char *role)
{
	const struct kf_i_role *r = role && *role ? kf_inventory_role(inv, role) : NULL;
	long long secs = DEFAULT_INTERVAL_S;
	if (!r || !r->profile)
		return secs;
	char *path = kf_inventory_path(inv, r->profile);
	struct kf_profile *p = NULL;
	struct kf_err e = KF_ERR_INIT;
	unsigned long long usec;
	/* a profile that does not load is check's business: the default here */
	if (kf_profile_load(&p, path, &e) == 0 && p->agent && p->agent->interval &&
	    kf_timespan_parse(p->agent->interval, &usec) == 0)
		secs = usec >= 1000000 ? (long long)(usec / 1000000) : 1;
	kf_profile_free(p);
	kf_err_release(&e);
	free(path);
	return secs;
}

static long long interval_of(struct intervals *iv, const char *role)
{
	if (!iv || !iv->inv)
		return DEFAULT_INTERVAL_S;
	for (size_t i = 0; i < iv->n; i++)
		if (!strcmp(iv->role[i], role ? role : ""))
			return iv->secs[i];
	iv->role = kf_xrealloc(iv->role, (iv->n + 1) * sizeof(*iv->role));
	iv->secs = kf_xrealloc(iv->secs, (iv->n + 1) * sizeof(*iv->secs));
	iv->role[iv->n] = kf_xstrdup(role ? role : "");
	iv->secs[iv->n] = profile_interval(iv->inv, role);
	return iv->secs[iv->n++];
}

static void intervals_release(struct intervals *iv)
{
	for (size_t i = 0; i < iv->n; i++)
		free((char *)iv->role[i]);
	free(iv->role);
	free(iv->secs);
}

/* An installed host whose agent has been silent for STALE_INTERVALS of
 * its role's agent.interval (since its last report, or since it was
 * installed when it never reported). */
static bool is_stale(const struct kf_host_rec *h, long long interval, int64_t now)
{
	if (h->state < KF_ST_INSTALLED)
		return false;
	int64_t since = h->report_time > 0 ? h->report_time : h->state_since;
	return since > 0 && now - since > STALE_INTERVALS * interval;
}

static void usage(FILE *f)
{
	fputs("usage: kickfleet status [-f FLEET] [-o DIR] [--json] [--watch[=SEC]]\n"
	      "\n"
	      "Prints every host and guest: install state, power as the last kickfleet power\n"
	      "or reinstall saw it (on, off, - unknown; ! when that action failed), since\n"
	      "when, the agent's last run (its last report), that run's exit code, the\n"
	      "agent's version, drift count, facts; \"stale\" marks an installed host whose\n"
	      "agent has not reported for 3 intervals of its profile's agent.interval.\n"
	      "--watch redraws every SEC seconds (default 2) with a progress bar (installed\n"
	      "/ total, elapsed, estimated time left) until every host is installed or Ctrl-C.\n"
	      "\n"
	      "  -f, --fleet FILE   inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --dir DIR      the tree of `kickfleet render -o DIR`\n"
	      "  -j, --json         one JSON array on stdout\n"
	      "  -w, --watch[=SEC]  redraw until done\n"
	      "  -h, --help         this help\n"
	      "\n"
	      "Exit status: 0, 1 on errors.\n",
	      f);
}

static const char *age(int64_t t, int64_t now, char *buf, size_t len)
{
	if (t <= 0)
		return "-";
	long long d = (long long)(now - t);
	if (d < 0)
		d = 0;
	if (d < 120)
		snprintf(buf, len, "%llds ago", d);
	else if (d < 7200)
		snprintf(buf, len, "%lldm ago", d / 60);
	else if (d < 172800)
		snprintf(buf, len, "%lldh ago", d / 3600);
	else
		snprintf(buf, len, "%lldd ago", d / 86400);
	return buf;
}

/* The facts summary of host name ("2n 16G hp 16M"), "-" when none. */
static const char *facts_of(const struct kf_facts_row *fr, size_t nf, const char *name)
{
	for (size_t i = 0; i < nf; i++)
		if (!strcmp(fr[i].name, name))
			return fr[i].summary;
	return "-";
}

/* What status shows beside the host rows. */
struct extra {
	struct kf_facts_row *facts;
	size_t nfacts;
	struct kf_power_row *power;
	size_t npower;
	struct intervals *iv;
};

/* "on", "off", "-"; with "!" when the last power action failed. */
static const char *power_of(const struct extra *x, const char *name, char *buf, size_t len)
{
	const struct kf_power_row *p = kf_power_row_of(x->power, x->npower, name);
	const char *w = !p || p->power < 0 ? "-" : p->power ? "on" : "off";
	snprintf(buf, len, "%s%s", w, p && strcmp(p->result, "ok") ? "!" : "");
	return buf;
}

static struct kf_json *power_json(const struct extra *x, const char *name)
{
	const struct kf_power_row *p = kf_power_row_of(x->power, x->npower, name);
	if (!p)
		return NULL;
	struct kf_json *o = kf_json_object();
	kf_json_set(o, "state", p->power < 0 ? NULL : kf_json_str(p->power ? "on" : "off"));
	kf_json_set(o, "last_action", kf_json_str(p->action));
	kf_json_set(o, "time", kf_json_int(p->time));
	kf_json_set(o, "result", kf_json_str(p->result));
	kf_json_set(o, "errors", kf_json_int(p->errors));
	return o;
}

static void print_json(const struct kf_host_rec *v, size_t n, const struct extra *x, FILE *f)
{
	const struct kf_facts_row *fr = x->facts;
	size_t nf = x->nfacts;
	int64_t now = (int64_t)time(NULL);
	struct kf_json *a = kf_json_array();
	for (size_t i = 0; i < n; i++) {
		struct kf_json *o = kf_json_object();
		bool rep = v[i].report_time > 0;
		long long every = interval_of(x->iv, v[i].role);
		kf_json_set(o, "name", kf_json_str(v[i].name ? v[i].name : ""));
		kf_json_set(o, "kind", kf_json_str(kf_host_kind_name(v[i].kind)));
		kf_json_set(o, "role", kf_json_str(v[i].role ? v[i].role : ""));
		kf_json_set(o, "state", kf_json_str(kf_install_state_name(v[i].state)));
		kf_json_set(o, "since", kf_json_int(v[i].state_since));
		kf_json_set(o, "netboot", kf_json_bool(v[i].netboot));
		kf_json_set(o, "last_report", rep ? kf_json_int(v[i].report_time) : NULL);
		kf_json_set(o, "last_run", rep ? kf_json_int(v[i].report_time) : NULL);
		kf_json_set(o, "last_exit_code", rep && v[i].last_exit >= 0 ? kf_json_int(v[i].last_exit) : NULL);
		kf_json_set(o, "agent_version",
			    rep && v[i].agent_version && *v[i].agent_version ? kf_json_str(v[i].agent_version) : NULL);
		kf_json_set(o, "agent_interval", kf_json_int(every));
		kf_json_set(o, "stale", kf_json_bool(is_stale(&v[i], every, now)));
		kf_json_set(o, "drift_count", kf_json_int(v[i].drift_count));
		const char *fs = facts_of(fr, nf, v[i].name);
		kf_json_set(o, "facts", strcmp(fs, "-") ? kf_json_str(fs) : NULL);
		kf_json_set(o, "power", power_json(x, v[i].name));
		kf_json_push(a, o);
	}
	char *text = kf_json_dump(a, KF_JSON_ROWS);
	fprintf(f, "%s\n", text);
	free(text);
	kf_json_free(a);
}

static void print_table(const struct kf_host_rec *v, size_t n, const struct extra *x, FILE *f)
{
	const struct kf_facts_row *fr = x->facts;
	size_t nf = x->nfacts;
	int64_t now = (int64_t)time(NULL);
	size_t w = 4;
	for (size_t i = 0; i < n; i++)
		if (strlen(v[i].name) > w)
			w = strlen(v[i].name);
	fprintf(f, "%-*s  %-5s  %-10s  %-5s  %-9s  %-12s  %-4s  %-7s  %-5s  %s\n", (int)w, "HOST", "KIND",
		"STATE", "POWER", "SINCE", "LAST RUN", "EXIT", "AGENT", "DRIFT", "FACTS");
	for (size_t i = 0; i < n; i++) {
		char a[32], b[32], pw[8], ex[16];
		bool rep = v[i].report_time > 0;
		snprintf(ex, sizeof(ex), "%d", v[i].last_exit);
		const char *ver = rep && v[i].agent_version && *v[i].agent_version ? v[i].agent_version : "-";
		bool stale = is_stale(&v[i], interval_of(x->iv, v[i].role), now);
		fprintf(f, "%-*s  %-5s  %-10s  %-5s  %-9s  %-12s  %-4s  %-7s  %-5lld  %s%s%s\n", (int)w, v[i].name,
			kf_host_kind_name(v[i].kind), kf_install_state_name(v[i].state),
			power_of(x, v[i].name, pw, sizeof(pw)), age(v[i].state_since, now, a, sizeof(a)),
			age(v[i].report_time, now, b, sizeof(b)), rep && v[i].last_exit >= 0 ? ex : "-", ver,
			(long long)v[i].drift_count, facts_of(fr, nf, v[i].name),
			stale ? "  (stale: no report for 3 intervals)" : "",
			v[i].netboot && v[i].state >= KF_ST_INSTALLED ? "  (reinstall pending)" : "");
	}
}

static size_t count_installed(const struct kf_host_rec *v, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += v[i].state >= KF_ST_INSTALLED && v[i].state != KF_ST_FAILED;
	return k;
}

static const char *hms(long long s, char *buf, size_t len)
{
	if (s < 0)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
	return buf;
}

/* "[#########.......] 12/40 installed  elapsed 0:03:10  left ~0:07:50" */
static void print_progress(FILE *f, size_t done, size_t total, size_t done0, long long elapsed)
{
	const int width = 40;
	int fill = total ? (int)((done * (size_t)width) / total) : width;
	fputc('[', f);
	for (int i = 0; i < width; i++)
		fputc(i < fill ? '#' : '.', f);
	char e[32], l[32];
	long long left = -1;
	if (done >= total)
		left = 0;
	else if (done > done0 && elapsed > 0)
		left = (long long)((double)elapsed * (double)(total - done) / (double)(done - done0));
	fprintf(f, "] %zu/%zu installed  elapsed %s  left %s%s\n", done, total, hms(elapsed, e, sizeof(e)),
		left > 0 ? "~" : "", hms(left, l, sizeof(l)));
}

static volatile sig_atomic_t stop;
static void on_int(int sig)
{
	(void)sig;
	stop = 1;
}

struct status_opts {
	const char *fleet, *outdir;
	bool json, watch;
	double interval; /* seconds between redraws */
	char *const *only; /* reinstall --wait: these machines only, */
	size_t nonly;
	int timeout_s;     /* until they are installed or failed, at most this long */
	struct intervals *iv; /* the roles' agent.interval (NULL: its default) */
};

static bool wanted(const struct status_opts *o, const char *name)
{
	if (!o->only)
		return true;
	for (size_t i = 0; i < o->nonly; i++)
		if (!strcmp(o->only[i], name))
			return true;
	return false;
}

/* Keeps the rows o wants, in place. */
static void filter(struct kf_host_rec *v, size_t *n, const struct status_opts *o)
{
	size_t k = 0;
	for (size_t i = 0; i < *n; i++) {
		if (wanted(o, v[i].name))
			v[k++] = v[i];
		else
			kf_host_rec_release(&v[i]);
	}
	*n = k;
}

/* For reinstall --wait: installed means the install's last callback came
 * (it clears netboot); an agent report during %post moves the state on
 * before that. */
static size_t count_finished(const struct kf_host_rec *v, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += v[i].state >= KF_ST_INSTALLED && v[i].state != KF_ST_FAILED && !v[i].netboot;
	return k;
}

static size_t count_failed(const struct kf_host_rec *v, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += v[i].state == KF_ST_FAILED;
	return k;
}

/* -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct status_opts *o)
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' },
		{ "dir", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "watch", optional_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "f:o:jwh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o->fleet = optarg; break;
		case 'o': o->outdir = optarg; break;
		case 'j': o->json = true; break;
		case 'w':
			o->watch = true;
			if (optarg && (o->interval = atof(optarg)) <= 0) {
				fprintf(stderr, "kickfleet: bad --watch interval \"%s\"\n", optarg);
				return 1;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc || (o->json && o->watch)) {
		usage(stderr);
		return 1;
	}
	return -1;
}

/* Opens the state store of the fleet's render tree; *inv is the fleet
 * (for the roles' agent.interval), the caller frees it. */
static int open_state(const struct status_opts *o, struct kf_state **st, struct kf_inventory **inv,
		      struct kf_err *e)
{
	char *db = NULL;
	int r = kf_inventory_load_shallow(inv, o->fleet, e);
	if (r < 0)
		goto out;
	db = kf_render_state_path(*inv, o->outdir);
	if (!kf_state_exists(db))
		r = kf_errf(e, NULL, "status: no state at %s (run kickfleet render or serve first)", db);
	else
		r = kf_state_open(st, db, e);
out:
	free(db);
	return r;
}

/* Prints every host once (table or JSON); *done of *n are installed,
 * *failed failed. */
static int show(struct kf_state *st, const struct status_opts *o, bool clear, size_t *done,
		size_t *failed, size_t *n, struct kf_err *e)
{
	struct kf_host_rec *v = NULL;
	struct extra x = { .iv = o->iv };
	*n = 0;
	int r = kf_state_list_hosts(st, &v, n, e);
	if (r == 0)
		filter(v, n, o);
	if (r == 0)
		r = kf_state_list_facts(st, &x.facts, &x.nfacts, e);
	if (r == 0)
		r = kf_state_list_power(st, &x.power, &x.npower, e);
	if (r < 0)
		goto out;
	if (o->json) {
		print_json(v, *n, &x, stdout);
	} else {
		if (clear)
			fputs("\033[H\033[2J", stdout);
		print_table(v, *n, &x, stdout);
	}
	*done = o->only ? count_finished(v, *n) : count_installed(v, *n);
	*failed = count_failed(v, *n);
out:
	kf_host_recs_free(v, *n);
	kf_facts_rows_free(x.facts, x.nfacts);
	kf_power_rows_free(x.power, x.npower);
	return r;
}

/* Redraws with a progress bar until every host is installed (or, with
 * o->only, installed or failed), the timeout or a signal. */
static int watch(struct kf_state *st, const struct status_opts *o, struct kf_err *e)
{
	signal(SIGINT, on_int);
	signal(SIGTERM, on_int);
	time_t start = time(NULL);
	size_t done0 = (size_t)-1, done = 0, failed = 0, n = 0;
	bool tty = isatty(1);
	for (;;) {
		int r = show(st, o, tty, &done, &failed, &n, e);
		if (r < 0)
			return r;
		if (done0 == (size_t)-1)
			done0 = done;
		putchar('\n');
		print_progress(stdout, done, n, done0, (long long)(time(NULL) - start));
		fflush(stdout);
		if (done + (o->only ? failed : 0) >= n || stop ||
		    (o->timeout_s > 0 && time(NULL) - start >= o->timeout_s))
			return 0;
		for (double t = 0; t < o->interval && !stop; t += 0.1)
			usleep(100000);
		if (stop)
			return 0;
		if (!tty)
			putchar('\n');
	}
}

int cmd_status(int argc, char **argv)
{
	struct status_opts o = { .fleet = KF_DEFAULT_FLEET, .interval = 2 };
	int rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	struct kf_err e = KF_ERR_INIT;
	struct kf_state *st = NULL;
	struct kf_inventory *inv = NULL;
	size_t done, failed, n;
	int r = open_state(&o, &st, &inv, &e);
	struct intervals iv = { .inv = inv };
	o.iv = &iv;
	if (r == 0)
		r = o.watch ? watch(st, &o, &e) : show(st, &o, false, &done, &failed, &n, &e);
	if (r < 0)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	kf_state_close(st);
	intervals_release(&iv);
	kf_inventory_free(inv);
	return r < 0 ? 1 : 0;
}

int kf_status_follow(struct kf_state *st, char *const *names, size_t n, double interval,
		     int timeout_s, struct kf_err *e)
{
	struct status_opts o = { .watch = true, .interval = interval, .only = names, .nonly = n,
				 .timeout_s = timeout_s };
	return watch(st, &o, e);
}
