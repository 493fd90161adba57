/* kickfleet guest install NAME: defines and starts an inventory guest on
 * its KVM host through libvirt, network boot first, so that it installs
 * from this provisioner.  The guest entry is the one the host's agent
 * would get (serve_profile.c: inventory + host profile + the guest role's
 * host_tuning), and the definition is the agent's own code path
 * (kf_virt_guest_install in lib/virt.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "provision/cmd.h"
#include "provision/serve.h"
#include "util.h"
#include "virt.h"

static void usage(FILE *f)
{
	fputs("usage: kickfleet guest install [-f FLEET] [--uri URI | --local] [--dry-run] NAME\n"
	      "\n"
	      "Defines the inventory guest NAME on its KVM host (network boot first, a disk\n"
	      "volume in the host profile's pool) and starts it, so it PXE boots and installs\n"
	      "from this provisioner.  A guest that exists already is only started.\n"
	      "\n"
	      "  -f, --fleet FILE   inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -c, --uri URI      libvirt URI (default qemu+ssh://root@HOST/system, HOST the\n"
	      "                     guest's host: its ip, else its name)\n"
	      "      --local        the host profile's libvirt.uri (default qemu:///system)\n"
	      "  -n, --dry-run      print the domain XML, define nothing\n"
	      "  -h, --help         this help\n",
	      f);
}

static const struct kf_i_guest *find_guest(const struct kf_inventory *inv, const char *name)
{
	for (size_t i = 0; i < inv->guests.n; i++) {
		const struct kf_i_guest *g = KF_LIST_AT(inv->guests, struct kf_i_guest, i);
		if (!strcmp(g->name, name))
			return g;
	}
	return NULL;
}

/* The composed profile of the guest's host, and the guest's entry in it. */
static int guest_entry(const struct kf_inventory *inv, const struct kf_i_guest *ig,
		       struct kf_profile **hp, const struct kf_p_guest **entry, struct kf_err *e)
{
	char *yaml = NULL;
	int r = kf_serve_compose_profile(inv, ig->host, NULL, &yaml, e);
	if (r == -ENOENT)
		return kf_errc(e, r, NULL, "guest %s: its host %s has no profile", ig->name, ig->host);
	if (r < 0)
		return r;
	char *name = kf_xasprintf("profile of %s", ig->host);
	r = kf_profile_load_buf(hp, name, yaml, strlen(yaml), e);
	free(name);
	free(yaml);
	if (r < 0)
		return r;
	for (size_t i = 0; i < (*hp)->guests.n; i++) {
		const struct kf_p_guest *g = KF_LIST_AT((*hp)->guests, struct kf_p_guest, i);
		if (!strcmp(g->name, ig->name)) {
			*entry = g;
			return 0;
		}
	}
	return kf_errc(e, -ENOENT, NULL, "guest %s: not in the composed profile of %s", ig->name,
		       ig->host);
}

static int install(const char *fleet, const char *name, const char *uri_arg, bool local,
		   bool dry_run)
{
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	struct kf_profile *hp = NULL;
	struct kf_virt *v = NULL;
	struct kf_vdom *d = NULL;
	char *uri = NULL, *xml = NULL;
	int rc = 1, r;
	if (kf_inventory_load(&inv, fleet, &e) < 0)
		goto out;
	const struct kf_i_guest *ig = find_guest(inv, name);
	if (!ig) {
		kf_errf(&e, NULL, "guest install: \"%s\" is not a guest of %s", name, fleet);
		goto out;
	}
	const struct kf_p_guest *g = NULL;
	if (guest_entry(inv, ig, &hp, &g, &e) < 0)
		goto out;
	const struct kf_p_libvirt *lv = hp->libvirt;
	if (uri_arg) {
		uri = kf_xstrdup(uri_arg);
	} else if (local) {
		uri = kf_xstrdup(lv && lv->uri ? lv->uri : "qemu:///system");
	} else {
		const struct kf_i_host *h = kf_inventory_host(inv, ig->host);
		uri = kf_xasprintf("qemu+ssh://root@%s/system", h && h->ip ? h->ip : ig->host);
	}
	if (dry_run) {
		char *disk = kf_xasprintf("%s/%s.qcow2", lv && lv->pool_path ? lv->pool_path
								: "/var/lib/libvirt/images",
					  g->name);
		const char *type = lv && lv->domain_type == KF_DOMTYPE_QEMU ? "qemu" : "kvm";
		r = kf_virt_guest_xml(type, g, NULL, disk, &xml, &e);
		free(disk);
		if (r < 0)
			goto out;
		printf("<!-- kickfleet guest install %s: would define on %s -->\n%s", name, uri, xml);
		rc = 0;
		goto out;
	}
	if (kf_virt_open(&v, uri, &e) < 0)
		goto out;
	r = kf_virt_lookup(v, g->name, &d, &e);
	if (r == 0) {
		bool running = false;
		if (kf_vdom_is_running(d, &running, &e) < 0)
			goto out;
		if (running) {
			printf("%s: already defined and running on %s (%s)\n", name, ig->host, uri);
		} else {
			if (kf_vdom_start(d, &e) < 0)
				goto out;
			printf("%s: already defined on %s (%s); started\n", name, ig->host, uri);
		}
		rc = 0;
		goto out;
	}
	if (r != -ENOENT)
		goto out;
	if (kf_virt_guest_install(v, lv, g, NULL, &e) < 0)
		goto out;
	printf("%s: defined on %s (%s), network boot first%s\n", name, ig->host, uri,
	       g->start != 0 ? ", started" : "");
	rc = 0;
out:
	if (rc)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	free(xml);
	free(uri);
	kf_vdom_free(d);
	kf_virt_close(v);
	kf_profile_free(hp);
	kf_inventory_free(inv);
	return rc;
}

int cmd_guest(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' },
		{ "uri", required_argument, NULL, 'c' },
		{ "local", no_argument, NULL, 'L' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *fleet = KF_DEFAULT_FLEET, *uri = NULL;
	bool local = false, dry = false;
	int c;
	if (argc < 2 || strcmp(argv[1], "install")) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 1;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "f:c:nh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': fleet = optarg; break;
		case 'c': uri = optarg; break;
		case 'L': local = true; break;
		case 'n': dry = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (argc - optind != 1 || (uri && local)) {
		usage(stderr);
		return 1;
	}
	return install(fleet, argv[optind], uri, local, dry);
}
