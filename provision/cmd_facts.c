/* kickfleet facts HOST: the latest facts a host's agent posted;
 * kickfleet discovered: the machines discovery found (docs/facts.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "facts.h"
#include "inventory.h"
#include "json.h"
#include "provision/cmd.h"
#include "provision/render.h"
#include "provision/state.h"
#include "util.h"

struct common {
	const char *fleet, *outdir;
	int json;
};

/* Parses -f/-o/--json; returns optind, or -1 (usage printed), -2 (--help). */
static int parse_common(int argc, char **argv, struct common *c, void (*usage)(FILE *))
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int ch;
	c->fleet = KF_DEFAULT_FLEET;
	while ((ch = getopt_long(argc, argv, "f:o:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': c->fleet = optarg; break;
		case 'o': c->outdir = optarg; break;
		case 'j': c->json = 1; break;
		case 'h': usage(stdout); return -2;
		default: usage(stderr); return -1;
		}
	}
	return optind;
}

/* Opens the state store of the fleet's render tree (read side). */
static int open_state(const struct common *c, struct kf_state **st, struct kf_err *e)
{
	struct kf_inventory *inv = NULL;
	int r = kf_inventory_load_shallow(&inv, c->fleet, e);
	if (r < 0)
		return r;
	char *db = kf_render_state_path(inv, c->outdir);
	if (!kf_state_exists(db))
		r = kf_errc(e, -ENOENT, NULL, "no state at %s (run kickfleet render or serve first)", db);
	else
		r = kf_state_open(st, db, e);
	free(db);
	kf_inventory_free(inv);
	return r;
}

static void facts_usage(FILE *f)
{
	fputs("usage: kickfleet facts [-f FLEET] [-o DIR] [--json] HOST\n"
	      "\n"
	      "Prints the latest facts HOST's agent posted (kickfleet-agent facts: CPU,\n"
	      "NUMA nodes, memory, hugepages, NICs, disks, guests), as text or as the\n"
	      "JSON document of docs/facts.md.\n"
	      "\n"
	      "  -f, --fleet FILE   inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --output DIR   the directory given to kickfleet render -o\n"
	      "  -j, --json         the JSON document\n"
	      "  -h, --help         this help\n"
	      "\n"
	      "Exit status: 0, 1 on errors (no facts for HOST yet).\n",
	      f);
}

int cmd_facts(int argc, char **argv)
{
	struct common c = { 0 };
	int i = parse_common(argc, argv, &c, facts_usage);
	if (i < 0)
		return i == -2 ? 0 : 1;
	if (argc - i != 1) {
		facts_usage(stderr);
		return 1;
	}
	const char *host = argv[i];
	struct kf_err e = KF_ERR_INIT;
	struct kf_state *st = NULL;
	struct kf_facts f;
	char *json = NULL;
	int64_t t;
	int rc = 1, r;
	kf_facts_init(&f);
	if (open_state(&c, &st, &e) < 0)
		goto out;
	if ((r = kf_state_get_facts(st, host, &json, &t, &e)) < 0) {
		if (r == -ENOENT)
			kf_errf(&e, NULL, "facts: no facts for \"%s\" yet (its agent posts them with its report)", host);
		goto out;
	}
	if (kf_facts_from_json(&f, json, strlen(json), &e) < 0)
		goto out;
	if (c.json) {
		char *s = kf_facts_json(&f, true);
		puts(s);
		free(s);
	} else {
		char when[32];
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&(time_t){ (time_t)t }));
		printf("facts of %s, posted %s\n", host, when);
		kf_facts_print(&f, stdout);
	}
	rc = 0;
out:
	if (rc)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	free(json);
	kf_facts_release(&f);
	kf_state_close(st);
	return rc;
}

static void disc_usage(FILE *f)
{
	fputs("usage: kickfleet discovered [-f FLEET] [-o DIR] [--json]\n"
	      "\n"
	      "Lists the machines that posted their facts to the discovery endpoint\n"
	      "(unknown_hosts: discovery): MAC, first and last seen, CPU, memory, disks\n"
	      "and NICs.  Enlist one with kickfleet enlist MAC --name N --role R.\n"
	      "\n"
	      "  -f, --fleet FILE   inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --output DIR   the directory given to kickfleet render -o\n"
	      "  -j, --json         one JSON array\n"
	      "  -h, --help         this help\n",
	      f);
}

static const char *stamp(int64_t t, char *buf, size_t len)
{
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", localtime(&(time_t){ (time_t)t }));
	return buf;
}

/* "vda 64M, sda 1T" or "eth0 52:54:...," into b. */
static void disc_lists(const struct kf_facts *f, struct kf_buf *disks, struct kf_buf *nics)
{
	char sz[32];
	for (size_t k = 0; k < f->ndisks; k++)
		kf_buf_printf(disks, "%s%s %s", k ? ", " : "", f->disks[k].name ? f->disks[k].name : "-",
			      kf_facts_size(f->disks[k].size, sz, sizeof(sz)));
	for (size_t k = 0; k < f->nnics; k++)
		kf_buf_printf(nics, "%s%s %s", k ? ", " : "", f->nics[k].name, f->nics[k].mac ? f->nics[k].mac : "-");
}

static struct kf_json *disc_json(const struct kf_discovered *d, const struct kf_facts *f)
{
	struct kf_json *o = kf_json_object(), *a = kf_json_array(), *n = kf_json_array();
	kf_json_set(o, "mac", kf_json_str(d->mac));
	kf_json_set(o, "first_seen", kf_json_int(d->first_seen));
	kf_json_set(o, "last_seen", kf_json_int(d->last_seen));
	kf_json_set(o, "posts", kf_json_int(d->count));
	kf_json_set(o, "peer", kf_json_str(d->peer));
	kf_json_set(o, "cpu", kf_json_str(f->cpu.model));
	kf_json_set(o, "threads", f->cpu.threads >= 0 ? kf_json_int(f->cpu.threads) : NULL);
	kf_json_set(o, "memory", f->mem_total >= 0 ? kf_json_int(f->mem_total) : NULL);
	for (size_t k = 0; k < f->ndisks; k++) {
		struct kf_json *x = kf_json_object();
		kf_json_set(x, "name", kf_json_str(f->disks[k].name));
		kf_json_set(x, "size", f->disks[k].size >= 0 ? kf_json_int(f->disks[k].size) : NULL);
		kf_json_push(a, x);
	}
	kf_json_set(o, "disks", a);
	for (size_t k = 0; k < f->nnics; k++) {
		struct kf_json *x = kf_json_object();
		kf_json_set(x, "name", kf_json_str(f->nics[k].name));
		kf_json_set(x, "mac", kf_json_str(f->nics[k].mac));
		kf_json_push(n, x);
	}
	kf_json_set(o, "nics", n);
	return o;
}

static void disc_print(const struct kf_discovered *v, size_t n, int json)
{
	struct kf_json *all = kf_json_array();
	if (!json)
		printf("%-17s  %-19s  %-19s  %-7s  %-7s  %-24s  %s\n", "MAC", "FIRST SEEN", "LAST SEEN", "THREADS",
		       "MEMORY", "DISKS", "NICS");
	for (size_t i = 0; i < n; i++) {
		struct kf_facts f;
		struct kf_err e = KF_ERR_INIT;
		if (kf_facts_from_json(&f, v[i].json, strlen(v[i].json), &e) < 0)
			kf_facts_init(&f); /* stored documents were validated: not expected */
		kf_err_release(&e);
		if (json) {
			kf_json_push(all, disc_json(&v[i], &f));
		} else {
			char a[32], b[32], m[32];
			struct kf_buf d = KF_BUF_INIT, nc = KF_BUF_INIT;
			disc_lists(&f, &d, &nc);
			printf("%-17s  %-19s  %-19s  %-7d  %-7s  %-24s  %s\n", v[i].mac, stamp(v[i].first_seen, a, sizeof(a)),
			       stamp(v[i].last_seen, b, sizeof(b)), f.cpu.threads,
			       kf_facts_size(f.mem_total, m, sizeof(m)),
			       d.s ? d.s : "-", nc.s ? nc.s : "-");
			kf_buf_release(&d);
			kf_buf_release(&nc);
		}
		kf_facts_release(&f);
	}
	if (json) {
		char *s = kf_json_dump(all, KF_JSON_ROWS);
		puts(s);
		free(s);
	}
	kf_json_free(all);
}

int cmd_discovered(int argc, char **argv)
{
	struct common c = { 0 };
	int i = parse_common(argc, argv, &c, disc_usage);
	if (i < 0)
		return i == -2 ? 0 : 1;
	if (argc != i) {
		disc_usage(stderr);
		return 1;
	}
	struct kf_err e = KF_ERR_INIT;
	struct kf_state *st = NULL;
	struct kf_discovered *v = NULL;
	size_t n = 0;
	int rc = 1;
	if (open_state(&c, &st, &e) < 0 || kf_state_list_discovered(st, &v, &n, &e) < 0)
		goto out;
	disc_print(v, n, c.json);
	rc = 0;
out:
	if (rc)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	kf_discovered_free(v, n);
	kf_state_close(st);
	return rc;
}
