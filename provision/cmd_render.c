/* kickfleet render: write what changed since the last render. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "inventory.h"
#include "provision/cmd.h"
#include "provision/render.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: kickfleet render [-f FLEET] [-o DIR] [--segment NAME [--standby]] [--dry-run] [--force] [-v]\n"
	      "\n"
	      "Renders dnsmasq's files, the TFTP tree (loaders, per-MAC pxelinux and GRUB\n"
	      "configs) and the HTTP tree (iPXE scripts, kickstarts, preseeds) for every\n"
	      "host whose inputs changed since the last render, removes the files of\n"
	      "hosts no longer in the inventory, and tells a running dnsmasq to re-read\n"
	      "(SIGHUP) when a host's dnsmasq files were replaced or removed (new ones\n"
	      "it reads by itself).  Lists hosts added (+), changed (~) and removed (-).  Puts the\n"
	      "agent's RPM and .deb repositories (built by `make packages`) under the\n"
	      "HTTP root as repo/rpm/ and repo/deb/, and fails when they were not built.\n"
	      "\n"
	      "  -f, --fleet FILE   inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --output DIR   render into DIR (DIR/state.db, DIR/dnsmasq, DIR/tftp,\n"
	      "                     DIR/http) instead of the inventory's directories\n"
	      "      --segment NAME the hosts of that segment only, with its network's settings\n"
	      "                     (docs/scale.md; default: the provisioner's own network)\n"
	      "      --standby      as the segment's standby (its address and half of the pool)\n"
	      "  -n, --dry-run      list what would change, write nothing\n"
	      "      --force        re-render every host\n"
	      "      --no-stage     do not stage loaders and kernels into the TFTP root, nor\n"
	      "                     the agent's packages (make packages) into HTTP/repo/\n"
	      "  -v, --verbose      list every file written or removed\n"
	      "  -h, --help         this help\n"
	      "\n"
	      "Exit status: 0 rendered (or nothing to do), 1 errors (on stderr).\n",
	      f);
}

int cmd_render(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'F' },
		{ "no-stage", no_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "segment", required_argument, NULL, 'G' },
		{ "standby", no_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *fleet = KF_DEFAULT_FLEET, *segment = NULL;
	bool standby = false;
	struct kf_render_opts o = { .stage = true, .log = stdout };
	int c;
	while ((c = getopt_long(argc, argv, "f:o:nvh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': fleet = optarg; break;
		case 'o': o.outdir = optarg; break;
		case 'n': o.dry_run = true; break;
		case 'F': o.force = true; break;
		case 'S': o.stage = false; break;
		case 'v': o.verbose = true; break;
		case 'G': segment = optarg; break;
		case 'W': standby = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	struct kf_err e = KF_ERR_INIT, warn = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	struct kf_render_stats st;
	int rc = 1;
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (kf_inventory_load_segment(&inv, fleet, segment, standby, &e) < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (kf_render_all(inv, &o, &st, &warn, &e) < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	if (getenv("KF_RENDER_TIMING")) /* for bench/render.sh */
		fprintf(stderr, "timing: load %.1f ms (parse cache: %s), render %.1f ms\n",
			(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
			kf_cache_use_name(inv->cache_use),
			(double)(t2.tv_sec - t1.tv_sec) * 1e3 + (double)(t2.tv_nsec - t1.tv_nsec) / 1e6);
	for (size_t i = 0; i < warn.n; i++) {
		char buf[2048];
		kf_log(KF_LOG_WARN, "%s", kf_err_format(&warn, i, buf, sizeof(buf)));
	}
	printf("%s%zu host%s: %zu new, %zu changed, %zu unchanged, %zu removed; "
	       "%zu files %s, %zu %s",
	       o.dry_run ? "dry run: " : "", st.hosts, st.hosts == 1 ? "" : "s", st.added, st.changed, st.unchanged, st.removed,
	       st.written, o.dry_run ? "would be written" : "written", st.deleted,
	       o.dry_run ? "would be removed" : "removed");
	if (st.staged)
		printf(", %zu staged", st.staged);
	if (st.repo_files)
		printf(", %zu package repository files", st.repo_files);
	if (st.dnsmasq_changed && !o.dry_run)
		printf("; dnsmasq %s", st.sighup_sent ? "signalled (SIGHUP)" : "not running");
	putchar('\n');
	rc = 0;
out:
	if (rc)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	kf_err_release(&warn);
	kf_inventory_free(inv);
	return rc;
}
