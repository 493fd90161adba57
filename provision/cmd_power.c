/* kickfleet power ACTION TARGET...: status, on, off, cycle or reset of
 * hosts (their BMCs, over IPMI) and guests (libvirt), many at once. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inventory.h"
#include "json.h"
#include "provision/cmd.h"
#include "provision/power.h"
#include "provision/power_cli.h"
#include "provision/render.h"
#include "provision/state.h"
#include "types.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: kickfleet power [-f FLEET] [OPTIONS] status|on|off|cycle|reset\n"
	      "                       (HOST... | --role ROLE | --all)\n"
	      "\n"
	      "Drives the power of hosts through their BMCs (IPMI, the inventory's power:\n"
	      "section) and of guests through libvirt on their KVM host, many at once.\n"
	      "One line per machine; cycle powers an off machine on.  The password is read\n"
	      "from the password_file when a BMC is contacted and never printed.\n"
	      "\n"
	      "  -f, --fleet FILE     inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --dir DIR        the tree of `kickfleet render -o DIR` (its state records\n"
	      "                       each machine's power and last action)\n"
	      "  -c, --uri URI        libvirt URI for the guests (default: their power: uri,\n"
	      "                       else qemu+ssh://root@KVMHOST/system)\n"
	      "  -r, --role ROLE      every host and guest of ROLE\n"
	      "  -a, --all            every host with a power: section and every guest\n"
	      "      --pxe            set a one-time network boot (PXE) before the action\n"
	      "      --json           one JSON array on stdout instead of the lines\n"
	      "  -j, --jobs N         machines at once (default 32)\n"
	      "  -t, --timeout SEC    per machine (default 5)\n"
	      "      --retries N      retransmissions within the timeout (default 2)\n"
	      "  -h, --help           this help\n"
	      "\n"
	      "Exit status: 0 when every machine did it, 1 when any failed (each failure\n"
	      "names the machine and why: authentication failed, unreachable, timed out,\n"
	      "refused by the BMC) or on bad input.\n",
	      f);
}

void kf_power_print_line(const struct kf_power_job *j, void *arg)
{
	(void)arg;
	if (j->rc < 0)
		printf("%s: %s\n", j->cfg.name, j->error);
	else
		printf("%s: %s%s\n", j->cfg.name, j->pxe ? "next boot from the network, " : "",
		       j->done);
}

void kf_power_print_json(const struct kf_power_job *v, size_t n, FILE *f)
{
	struct kf_json *a = kf_json_array();
	for (size_t i = 0; i < n; i++) {
		const struct kf_power_job *j = &v[i];
		struct kf_json *o = kf_json_object();
		kf_json_set(o, "name", kf_json_str(j->cfg.name));
		kf_json_set(o, "type", kf_json_str(j->cfg.type == KF_POWER_LIBVIRT ? "libvirt" : "ipmi"));
		kf_json_set(o, "action", kf_json_str(kf_power_action_name(j->action)));
		kf_json_set(o, "pxe", kf_json_bool(j->pxe));
		kf_json_set(o, "ok", kf_json_bool(j->rc == 0));
		kf_json_set(o, "power", kf_json_str(j->power < 0 ? NULL : j->power ? "on" : "off"));
		kf_json_set(o, "done", kf_json_str(j->rc == 0 ? j->done : NULL));
		kf_json_set(o, "error", kf_json_str(j->error));
		kf_json_set(o, "reason", kf_json_str(kf_power_reason(j->rc)));
		kf_json_set(o, "ms", kf_json_int((int64_t)(j->ms + 0.5)));
		kf_json_push(a, o);
	}
	char *s = kf_json_dump(a, KF_JSON_ROWS);
	fprintf(f, "%s\n", s);
	free(s);
	kf_json_free(a);
}

int kf_power_cli_opt(struct kf_power_cli *p, int c, const char *arg)
{
	long long x;
	switch (c) {
	case 'o': p->outdir = arg; return 0;
	case 'c': p->uri = arg; return 0;
	case 'r': p->role = arg; return 0;
	case 'a': p->all = true; return 0;
	case 'J': p->json = true; return 0;
	case 'j':
		if (kf_int_parse(arg, &x) < 0 || x < 1 || x > 1024)
			break;
		p->jobs = (int)x;
		return 0;
	case 't':
		if (kf_int_parse(arg, &x) < 0 || x < 1 || x > 600)
			break;
		p->o.timeout_ms = (int)x * 1000;
		return 0;
	case 'R':
		if (kf_int_parse(arg, &x) < 0 || x < 0 || x > 10)
			break;
		p->o.retries = (int)x;
		return 0;
	default:
		return 1;
	}
	fprintf(stderr, "kickfleet: bad value \"%s\" for -%c\n", arg, c);
	return -1;
}

/* The results into the state store, when the fleet's state directory
 * exists (or it is a shared store). */
static int record(const struct kf_power_cli *p, const struct kf_inventory *inv,
		  const struct kf_power_job *v, size_t n, struct kf_err *e)
{
	char *db = kf_render_state_path(inv, p->outdir), *dir = kf_xstrdup(db);
	struct kf_state *st = NULL;
	int r = 0;
	if ((kf_state_shared(db) || access(dirname(dir), W_OK) == 0) &&
	    (r = kf_state_open(&st, db, e)) == 0)
		for (size_t i = 0; i < n && r == 0; i++)
			r = kf_state_set_power(st, v[i].cfg.name, v[i].power,
					       kf_power_action_name(v[i].action), v[i].error, e);
	kf_state_close(st);
	free(dir);
	free(db);
	return r;
}

long kf_power_cli_run(const struct kf_power_cli *p, const struct kf_inventory *inv,
		      struct kf_power_job *v, size_t n)
{
	FILE *progress = isatty(2) ? stderr : NULL;
	struct kf_err e = KF_ERR_INIT;
	for (size_t i = 0; p->uri && i < n; i++)
		if (v[i].cfg.type == KF_POWER_LIBVIRT)
			v[i].cfg.uri = p->uri;
	size_t failed = kf_power_run(v, n, p->jobs, &p->o, progress,
				     p->json ? NULL : kf_power_print_line, NULL);
	if (p->json)
		kf_power_print_json(v, n, stdout);
	long r = (long)failed;
	if (record(p, inv, v, n, &e) < 0) {
		kf_err_print(&e, stderr);
		r = -1;
	}
	kf_err_release(&e);
	return r;
}

int cmd_power(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' },
		KF_POWER_CLI_OPTIONS,
		{ "pxe", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *fleet = KF_DEFAULT_FLEET;
	struct kf_power_cli p = KF_POWER_CLI_INIT;
	bool pxe = false;
	int c, r;
	while ((c = getopt_long(argc, argv, "f:o:c:r:aj:t:h", opts, NULL)) != -1) {
		if (c == 'f')
			fleet = optarg;
		else if (c == 'P')
			pxe = true;
		else if (c == 'h')
			return usage(stdout), 0;
		else if ((r = kf_power_cli_opt(&p, c, optarg)) != 0)
			return r > 0 ? (usage(stderr), 1) : 1;
	}
	int action = optind < argc ? kf_power_action_parse(argv[optind]) : -1;
	size_t nnames = optind < argc ? (size_t)(argc - optind - 1) : 0;
	if (action < 0 || (!nnames && !p.role && !p.all)) {
		usage(stderr);
		return 1;
	}
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	struct kf_power_job *v = NULL;
	size_t n = 0;
	int rc = 1;
	if (kf_inventory_load(&inv, fleet, &e) < 0)
		goto out;
	if (kf_power_jobs_for(inv, argv + optind + 1, nnames, p.role, p.all, &v, &n, &e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		v[i].action = action;
		v[i].pxe = pxe;
	}
	rc = kf_power_cli_run(&p, inv, v, n) ? 1 : 0;
out:
	kf_err_print(&e, stderr);
	kf_err_release(&e);
	kf_power_jobs_free(v, n);
	kf_inventory_free(inv);
	return rc;
}
