/* kickfleet distro import: the command line around provision/distro.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "provision/cmd.h"
#include "json.h"
#include "provision/distro.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: kickfleet distro import NAME SOURCE [-f FLEET] [--json] [--copy] [--force]\n"
	      "\n"
	      "Imports install media as distro NAME.  SOURCE is an ISO image, a directory holding\n"
	      "a disc tree (.treeinfo or .discinfo, RHEL family) or a Debian/Ubuntu netboot tree\n"
	      "(debian-installer/ARCH/linux and initrd.gz).  Kernel and initrd are staged with\n"
	      "their SHA-256 under HTTP_ROOT/distros/NAME/, the install tree is made servable by\n"
	      "`kickfleet serve` at BASE/distros/NAME/tree/ (an ISO is served in place), and the\n"
	      "entry is written to DISTROS_DIR/NAME.yaml (distros.d beside the fleet file).\n"
	      "Importing the same media again changes nothing.\n"
	      "\n"
	      "  -f, --fleet FILE   inventory (default " KF_DEFAULT_FLEET ")\n"
	      "      --json         print the result as JSON on stdout\n"
	      "      --copy         copy files even where a hard link would do\n"
	      "      --force        restage even when nothing changed\n"
	      "  -h, --help         this help\n"
	      "\n"
	      "Exit status: 0 imported or unchanged, 1 errors (on stderr; nothing changed).\n",
	      f);
}

struct progress {
	bool tty;
	bool shown;
	double start, last;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *human(uint64_t n, char *buf, size_t len)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
	return buf;
}

/* A line redrawn in place on a terminal, at most 5 times a second. */
static void show_progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	double t = mono();
	if (!p->tty)
		return;
	if (!what) { /* finished */
		if (p->shown)
			fputs("\r\033[K", stderr);
		p->shown = false;
		return;
	}
	if (t - p->last < 0.2 && done < total)
		return;
	p->last = t;
	char a[32], b[32], c[32];
	double rate = t > p->start ? (double)done / (t - p->start) : 0;
	fprintf(stderr, "\r\033[Kstaging %s: %s of %s (%d%%), %s/s", strrchr(what, '/') ? strrchr(what, '/') + 1 : what,
		human(done, a, sizeof(a)), human(total, b, sizeof(b)),
		total ? (int)(done * 100 / total) : 100, human((uint64_t)rate, c, sizeof(c)));
	p->shown = true;
}

static struct kf_json *file_json(const char *path, const char *sum, uint64_t size)
{
	struct kf_json *o = kf_json_object();
	kf_json_set(o, "path", kf_json_str(path));
	kf_json_set(o, "sha256", kf_json_str(sum));
	kf_json_set(o, "size", kf_json_int((int64_t)size));
	return o;
}

static void print_json(const char *name, const struct kf_distro_result *r)
{
	struct kf_json *o = kf_json_object();
	kf_json_set(o, "name", kf_json_str(name));
	kf_json_set(o, "changed", kf_json_bool(r->changed));
	kf_json_set(o, "created", kf_json_bool(r->created && r->changed));
	kf_json_set(o, "family", kf_json_str(r->info.family));
	kf_json_set(o, "label", kf_json_str(r->info.label));
	kf_json_set(o, "version", kf_json_str(r->info.version));
	kf_json_set(o, "arch", kf_json_str(r->info.arch));
	kf_json_set(o, "detected_by", kf_json_str(r->info.how));
	kf_json_set(o, "entry", kf_json_str(r->entry_path));
	kf_json_set(o, "kernel", file_json(r->kernel, r->kernel_sha256, r->kernel_size));
	kf_json_set(o, "initrd", file_json(r->initrd, r->initrd_sha256, r->initrd_size));
	kf_json_set(o, "tree", kf_json_str(r->tree_url));
	kf_json_set(o, "media", kf_json_str(r->media));
	struct kf_json *b = kf_json_object();
	kf_json_set(b, "linked", kf_json_int((int64_t)r->stats.linked));
	kf_json_set(b, "copied", kf_json_int((int64_t)r->stats.copied));
	kf_json_set(b, "kept", kf_json_int((int64_t)r->stats.kept));
	kf_json_set(o, "bytes", b);
	kf_json_set(o, "seconds", kf_json_double(r->seconds));
	char *text = kf_json_dump(o, KF_JSON_PRETTY);
	puts(text);
	free(text);
	kf_json_free(o);
}

static void print_summary(FILE *f, const char *name, const struct kf_distro_result *r)
{
	char a[32], b[32], c[32], d[32];
	if (!r->changed) {
		fprintf(f, "distro %s: unchanged (%s %s, kernel sha256 %.12s), %s\n", name, r->info.label,
			r->info.arch, r->kernel_sha256, r->entry_path);
		return;
	}
	fprintf(f, "distro %s: %s %s %s from %s: kernel %s, initrd %s", name,
		r->created ? "imported" : "updated", r->info.label, r->info.arch, r->info.how,
		human(r->kernel_size, a, sizeof(a)), human(r->initrd_size, b, sizeof(b)));
	if (r->tree_url)
		fprintf(f, ", tree %s linked, %s copied", human(r->stats.linked + r->stats.kept, c, sizeof(c)),
			human(r->stats.copied, d, sizeof(d)));
	fprintf(f, " in %.2fs; entry %s\n", r->seconds, r->entry_path);
}

static int distro_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "copy", no_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct kf_distro_opts o = { .fleet = KF_DEFAULT_FLEET };
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o.fleet = optarg; break;
		case 'j': json = true; break;
		case 'c': o.copy = true; break;
		case 'F': o.force = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 1;
	}
	o.name = argv[optind];
	o.source = argv[optind + 1];
	struct progress p = { .tty = isatty(2), .start = mono() };
	o.progress = show_progress;
	o.pctx = &p;
	struct kf_err e = KF_ERR_INIT;
	struct kf_distro_result res;
	int r = kf_distro_import(&o, &res, &e);
	show_progress(&p, NULL, 0, 0);
	if (r < 0) {
		kf_err_print(&e, stderr);
		kf_err_release(&e);
		kf_distro_result_release(&res);
		return 1;
	}
	if (json)
		print_json(o.name, &res);
	print_summary(json ? stderr : stdout, o.name, &res);
	kf_distro_result_release(&res);
	kf_err_release(&e);
	return 0;
}

int cmd_distro(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "import"))
		return distro_import(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2)
		fprintf(stderr, "kickfleet distro: unknown subcommand \"%s\"\n", argv[1]);
	usage(stderr);
	return 1;
}
