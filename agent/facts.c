/* kickfleet-agent facts: what this host is, as text or JSON (lib/facts.h).
 * Reads only; every path goes through the sysroot. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cmd.h"
#include "agent/facts_probe.h"
#include "agent/facts_int.h"
#include "agent/hostio.h"
#include "agent/http.h"
#include "types.h"
#include "util.h"

static char *vfmt(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		kf_die_oom();
	return s;
}

char *fx_str(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *rel = vfmt(fmt, ap), *s = NULL;
	va_end(ap);
	if (kf_host_read(rel, &s) < 0 || !*s) {
		free(s);
		s = NULL;
	}
	free(rel);
	return s;
}

long long fx_ll(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *rel = vfmt(fmt, ap);
	va_end(ap);
	long long v;
	int r = kf_host_read_ll(rel, &v);
	free(rel);
	return r < 0 ? -1 : v;
}

char *fx_link_base(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *rel = vfmt(fmt, ap);
	va_end(ap);
	char *full = kf_path("%s", rel), buf[PATH_MAX];
	ssize_t n = readlink(full, buf, sizeof(buf) - 1);
	free(full);
	free(rel);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	const char *b = strrchr(buf, '/');
	return kf_xstrdup(b ? b + 1 : buf);
}

/* Names in order; runs of digits compare as numbers. */
static int cmp_name(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	return strverscmp(x, y);
}

size_t fx_list(char ***names, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *rel = vfmt(fmt, ap);
	va_end(ap);
	char *full = kf_path("%s", rel);
	free(rel);
	DIR *d = opendir(full);
	free(full);
	*names = NULL;
	size_t n = 0, cap = 0;
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			*names = kf_xrealloc(*names, cap * sizeof(**names));
		}
		(*names)[n++] = kf_xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(*names, n, sizeof(**names), cmp_name);
	return n;
}

void fx_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void usage(FILE *f)
{
	fputs("usage: kickfleet-agent facts [--json] [--root DIR] [--connect URI] [--no-guests]\n"
	      "\n"
	      "Prints what this host is: CPU, NUMA nodes, memory, hugepages, THP, KSM,\n"
	      "NICs with their IRQs, disks, IOMMU, DMI, and where running guests' vCPUs\n"
	      "and memory are.  Reads only.  The JSON schema is in docs/facts.md.\n"
	      "\n"
	      "  -j, --json         one JSON document on stdout\n"
	      "  -r, --root DIR     read the host tree under DIR (default /)\n"
	      "  -c, --connect URI  guests and vCPUs from libvirt at URI (default: from /proc)\n"
	      "      --no-guests    do not look for running guests\n"
	      "  -h, --help         this help\n"
	      "\n"
	      "Exit status: 0, or 1 on a usage error.\n",
	      f);
}

int agent_cmd_facts(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "root", required_argument, NULL, 'r' },
		{ "connect", required_argument, NULL, 'c' },
		{ "no-guests", no_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int json = 0, guests = 1, c;
	const char *uri = NULL;
	while ((c = getopt_long(argc, argv, "jr:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'r': kf_sysroot_set(optarg); break;
		case 'c': uri = optarg; break;
		case 'G': guests = 0; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	struct kf_facts f;
	kf_facts_probe(&f, guests, uri);
	if (json) {
		char *s = kf_facts_json(&f, true);
		puts(s);
		free(s);
	} else {
		kf_facts_print(&f, stdout);
	}
	kf_facts_release(&f);
	return 0;
}

void kf_facts_probe(struct kf_facts *f, int guests, const char *uri)
{
	kf_facts_init(f);
	kf_facts_probe_cpu(f);
	kf_facts_probe_memory(f);
	kf_facts_probe_devices(f);
	if (guests)
		kf_facts_probe_guests(f, uri);
}

void kf_facts_probe_check(struct kf_facts *f, const struct kf_hostinfo *h)
{
	kf_facts_init(f);
	kf_facts_probe_check_host(f, h);
	kf_facts_probe_check_devices(f);
}

char *kf_facts_url(const char *report_url)
{
	const char *cb = report_url ? strstr(report_url, "/cb/") : NULL;
	if (!cb)
		return NULL;
	const char *name = cb + 4, *slash = strchr(name, '/');
	if (!slash || slash == name || strncmp(slash, "/report", 7) || (slash[7] && slash[7] != '?'))
		return NULL;
	return kf_xasprintf("%.*s/facts/%.*s%s", (int)(cb - report_url), report_url, (int)(slash - name), name,
			    slash + 7);
}

static void discover_usage(FILE *f)
{
	fputs("usage: kickfleet-agent discover URL --mac MAC [--root DIR] [--cacert FILE]\n"
	      "\n"
	      "POSTs this machine's facts (those of `facts --json`, without guests) to a\n"
	      "provisioner's discovery endpoint as URL?mac=MAC, the MAC of the NIC the\n"
	      "machine booted from.  The discovery image runs it (docs/discovery.md);\n"
	      "it needs no token: the endpoint takes facts of machines it does not know.\n"
	      "\n"
	      "  -m, --mac MAC      the boot NIC's MAC (required)\n"
	      "  -r, --root DIR     read the host tree under DIR (default /)\n"
	      "      --cacert FILE  CA bundle for an https URL\n"
	      "  -h, --help         this help\n"
	      "\n"
	      "Exit status: 0 when the provisioner took the facts, 3 when it refused them\n"
	      "or could not be reached, 1 on a usage error.\n",
	      f);
}

int agent_cmd_discover(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mac", required_argument, NULL, 'm' },
		{ "root", required_argument, NULL, 'r' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *mac = NULL, *cacert = NULL;
	char norm[18];
	int c;
	while ((c = getopt_long(argc, argv, "m:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': mac = optarg; break;
		case 'r': kf_sysroot_set(optarg); break;
		case 'C': cacert = optarg; break;
		case 'h': discover_usage(stdout); return 0;
		default: discover_usage(stderr); return 1;
		}
	}
	if (optind != argc - 1 || !mac) {
		discover_usage(stderr);
		return 1;
	}
	const char *base = argv[optind];
	if (!kf_is_url(base) || strchr(base, '?')) {
		fprintf(stderr, "kickfleet-agent: discover: \"%s\" is not an http(s) URL without a query\n", base);
		return 1;
	}
	if (kf_mac_norm(mac, norm) < 0) {
		fprintf(stderr, "kickfleet-agent: discover: \"%s\" is not a MAC address\n", mac);
		return 1;
	}
	struct kf_facts f;
	struct kf_err e = KF_ERR_INIT;
	kf_facts_probe(&f, 0, NULL);
	char *json = kf_facts_json(&f, false);
	char *url = kf_xasprintf("%s?mac=%s", base, norm);
	int r = kf_http_post_json(url, json, cacert, &e);
	if (r < 0)
		kf_err_print(&e, stderr);
	else
		printf("discover: facts of %s posted to %s\n", norm, base);
	free(url);
	free(json);
	kf_facts_release(&f);
	kf_err_release(&e);
	return r < 0 ? 3 : 0;
}

int kf_facts_post(const char *report_url, const char *cacert, struct kf_err *e)
{
	char *url = kf_facts_url(report_url);
	if (!url)
		return 0;
	struct kf_facts f;
	kf_facts_probe(&f, 1, NULL);
	char *json = kf_facts_json(&f, false);
	int r = kf_http_post_json(url, json, cacert, e);
	free(json);
	free(url);
	kf_facts_release(&f);
	return r;
}
