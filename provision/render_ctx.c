/* What templates and boot configs see of a host: the values of
 * docs/templates.md, kernel arguments, URLs. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision/render_int.h"
#include "provision/state.h"
#include "types.h"

size_t kf_item_count(const struct kf_inventory *inv)
{
	return inv->hosts.n + inv->guests.n;
}

void kf_item_of(const struct kf_inventory *inv, size_t index, struct kf_item *it)
{
	memset(it, 0, sizeof(*it));
	if (index < inv->hosts.n) {
		const struct kf_i_host *h = KF_LIST_AT(inv->hosts, struct kf_i_host, index);
		it->host = h;
		it->name = h->name;
		it->kind = KF_KIND_HOST;
		it->nmacs = kf_host_macs(h, it->macs, KF_MAX_MACS);
		it->ip = h->ip;
		it->firmware = h->firmware < 0 ? KF_FW_AUTO : h->firmware;
		it->netboot = h->netboot != 0;
		it->mark = kf_mark_of(h, "name");
		it->role = kf_inventory_role(inv, h->role);
	} else {
		const struct kf_i_guest *g =
			KF_LIST_AT(inv->guests, struct kf_i_guest, index - inv->hosts.n);
		it->guest = g;
		it->name = g->name;
		it->kind = KF_KIND_GUEST;
		it->macs[0] = g->mac;
		it->nmacs = 1;
		it->ip = g->ip;
		it->firmware = g->firmware < 0 ? KF_FW_BIOS : g->firmware;
		it->netboot = true;
		it->mark = kf_mark_of(g, "name");
		it->role = kf_inventory_role(inv, g->role);
	}
	if (it->role) {
		it->distro = kf_inventory_distro(inv, it->role->distro);
		it->role_idx = (size_t)(it->role - (const struct kf_i_role *)inv->roles.v);
	}
}

int kf_item_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 63 || !isalnum((unsigned char)name[0]))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
			return -EINVAL;
	return strstr(name, "..") ? -EINVAL : 0;
}

char *kf_render_base_url(const struct kf_inventory *inv)
{
	const struct kf_i_provisioner *p = inv->provisioner;
	if (p->url) {
		size_t n = strlen(p->url);
		while (n && p->url[n - 1] == '/')
			n--;
		return kf_xasprintf("%.*s", (int)n, p->url);
	}
	long long port = p->http_port != KF_UNSET ? p->http_port : 8080;
	if (port == 80)
		return kf_xasprintf("http://%s", p->address);
	return kf_xasprintf("http://%s:%lld", p->address, port);
}

static void set_vars(struct kf_arena *a, struct kt_obj *o, const struct kf_list *vars)
{
	for (size_t i = 0; i < vars->n; i++) {
		const struct kf_i_var *v = KF_LIST_AT(*vars, struct kf_i_var, i);
		kt_set_str(a, o, v->key, v->value);
	}
}

static const char *num(struct kf_arena *a, long long v)
{
	return v == KF_UNSET ? "" : kf_arena_printf(a, "%lld", v);
}

static const char *size(struct kf_arena *a, long long v)
{
	char buf[32];
	return v == KF_UNSET ? "" : kf_arena_strdup(a, kf_size_fmt((uint64_t)v, buf, sizeof(buf)));
}

static void fill_fleet(struct kf_arena *a, struct kt_obj *root, const struct kf_inventory *inv,
		       const char *base)
{
	const struct kf_i_provisioner *p = inv->provisioner;
	struct kt_obj *f = kt_set_obj(a, root, "fleet");
	uint32_t net = 0;
	int prefix = 0;
	kf_cidr_parse(p->subnet, &net, &prefix);
	uint32_t mask = prefix ? 0xffffffffu << (32 - prefix) : 0;
	char buf[16];
	kt_set_str(a, f, "address", p->address);
	kt_set_str(a, f, "url", base);
	kt_set_str(a, f, "http_port", num(a, p->http_port));
	kt_set_str(a, f, "interface", p->interface);
	kt_set_str(a, f, "subnet", p->subnet);
	kt_set_str(a, f, "network", kf_ipv4_fmt(net & mask, buf));
	kt_set_str(a, f, "netmask", kf_ipv4_fmt(mask, buf));
	kt_set_str(a, f, "prefix", num(a, prefix));
	kt_set_str(a, f, "dns", p->dhcp ? p->dhcp->dns : NULL);
	kt_set_str(a, f, "router", p->dhcp ? p->dhcp->router : NULL);

	const struct kf_i_defaults *d = inv->defaults;
	struct kt_obj *o = kt_set_obj(a, root, "defaults");
	kt_set_str(a, o, "root_password_hash", d ? d->root_password_hash : NULL);
	kt_set_str(a, o, "console", d ? d->console : NULL);
	kt_set_str(a, o, "timezone", d && d->timezone ? d->timezone : "UTC");
	kt_set_str(a, o, "kernel_args", d ? d->kernel_args : NULL);
	struct kt_val *keys = kt_set_list(a, o, "ssh_keys");
	for (size_t i = 0; d && i < d->ssh_keys.n; i++)
		kt_set_str(a, kt_list_add(a, keys), "key", KF_LIST_STR(d->ssh_keys, i));

	/* console: "ttyS0,115200" -> device ttyS0, speed 115200 */
	struct kt_obj *c = kt_set_obj(a, root, "console");
	const char *con = d && d->console ? d->console : "";
	size_t k = strcspn(con, ",");
	kt_set_str(a, c, "device", kf_arena_strndup(a, con, k));
	kt_set_str(a, c, "speed", con[k] ? con + k + 1 : "");
	kt_set_str(a, c, "arg", *con ? kf_arena_printf(a, "console=%s", con) : "");
	kt_set_str(a, c, "kernel_args", *con ? kf_arena_printf(a, "console=tty0 console=%s", con) : "");
}

struct kt_obj *kf_render_ctx(struct kf_arena *a, const struct kf_inventory *inv,
			     const struct kf_item *it, const char *token, const char *base)
{
	struct kt_obj *root = kt_obj_new(a);
	fill_fleet(a, root, inv, base);

	struct kt_obj *h = kt_set_obj(a, root, "host");
	kt_set_str(a, h, "name", it->name);
	kt_set_str(a, h, "kind", kf_host_kind_name(it->kind));
	kt_set_str(a, h, "ip", it->ip);
	kt_set_str(a, h, "mac", it->nmacs ? it->macs[0] : NULL);
	static const char *const fw[] = { "bios", "uefi", "auto" };
	kt_set_str(a, h, "firmware", fw[it->firmware]);
	kt_set_str(a, h, "role", it->role ? it->role->name : NULL);
	kt_set_str(a, h, "token", token);
	kt_set_str(a, h, "agent_credential", KF_AGENT_CRED_MARK);
	struct kt_val *nics = kt_set_list(a, h, "nics");
	for (size_t i = 0; i < it->nmacs; i++) {
		struct kt_obj *n = kt_list_add(a, nics);
		kt_set_str(a, n, "mac", it->macs[i]);
		kt_set_str(a, n, "index", num(a, (long long)i));
	}
	const char *disk = "";
	if (it->host) {
		kt_set_str(a, h, "memory", size(a, it->host->memory));
		disk = it->host->disk ? it->host->disk : "";
		kt_set_str(a, h, "parent", "");
		kt_set_str(a, h, "vcpus", "");
	} else {
		kt_set_str(a, h, "memory", size(a, it->guest->memory));
		kt_set_str(a, h, "disk_size", size(a, it->guest->disk));
		kt_set_str(a, h, "vcpus", num(a, it->guest->vcpus));
		kt_set_str(a, h, "parent", it->guest->host);
		disk = "vda";
	}

	struct kt_obj *vars = kt_set_obj(a, root, "vars");
	if (inv->defaults)
		set_vars(a, vars, &inv->defaults->vars);
	if (it->role)
		set_vars(a, vars, &it->role->vars);
	set_vars(a, vars, it->host ? &it->host->vars : &it->guest->vars);
	if (!*disk) {
		const struct kt_val *v = kt_lookup(vars, "disk");
		disk = v && v->kind == KT_STR ? v->str : "";
	}
	kt_set_str(a, h, "disk", disk);
	struct kt_val *disks = kt_set_list(a, h, "disks");
	for (const char *p = disk; *p;) {
		size_t k = strcspn(p, ",");
		if (k) {
			struct kt_obj *d = kt_list_add(a, disks);
			kt_set_str(a, d, "name", kf_arena_strndup(a, p, k));
			kt_set_str(a, d, "index", num(a, (long long)(disks->n - 1)));
		}
		p += k + (p[k] == ',');
	}

	struct kt_obj *r = kt_set_obj(a, root, "role");
	kt_set_str(a, r, "name", it->role ? it->role->name : NULL);
	kt_set_str(a, r, "profile", it->role ? it->role->profile : NULL);
	kt_set_str(a, r, "kernel_args", it->role ? it->role->kernel_args : NULL);
	struct kt_obj *d = kt_set_obj(a, root, "distro");
	const struct kf_i_distro *ds = it->distro;
	kt_set_str(a, d, "name", ds ? ds->name : NULL);
	kt_set_str(a, d, "family", ds && ds->family == KF_FAMILY_PRESEED ? "preseed" : "kickstart");
	kt_set_str(a, d, "tree", ds ? ds->tree : NULL);
	kt_set_str(a, d, "kernel_args", ds ? ds->kernel_args : NULL);

	struct kt_obj *u = kt_set_obj(a, root, "url");
	kt_set_str(a, u, "base", base);
	kt_set_str(a, u, "ks", kf_arena_printf(a, "%s/ks/%s?token=%s", base, it->name, token));
	/* the agent's routes: its credential goes in a header, not the URL */
	kt_set_str(a, u, "profile", kf_arena_printf(a, "%s/profile/%s", base, it->name));
	kt_set_str(a, u, "agent", kf_arena_printf(a, "%s/agent/kickfleet-agent", base));
	kt_set_str(a, u, "repo", kf_arena_printf(a, "%s/repo", base));
	kt_set_str(a, u, "installing",
		   kf_arena_printf(a, "%s/cb/%s/installing?token=%s", base, it->name, token));
	kt_set_str(a, u, "installed",
		   kf_arena_printf(a, "%s/cb/%s/installed?token=%s", base, it->name, token));
	kt_set_str(a, u, "report", kf_arena_printf(a, "%s/cb/%s/report", base, it->name));
	return root;
}

static void add_arg(struct kf_buf *b, const char *s)
{
	if (!s || !*s)
		return;
	if (b->len)
		kf_buf_add(b, " ", 1);
	kf_buf_puts(b, s);
}

void kf_render_boot(struct kf_arena *a, const struct kf_inventory *inv, const struct kf_item *it,
		    const char *token, const char *base, int mode, struct kf_boot *b)
{
	memset(b, 0, sizeof(*b));
	b->host = it ? it->name : NULL;
	b->mode = mode;
	const struct kf_i_defaults *df = inv->defaults;
	const char *con = df && df->console ? df->console : NULL;
	if (con && !strncmp(con, "ttyS", 4) && isdigit((unsigned char)con[4])) {
		size_t k = strcspn(con + 4, ",");
		b->serial_unit = kf_arena_strndup(a, con + 4, k);
		b->serial_speed = con[4 + k] ? kf_arena_printf(a, "%.*s", (int)strspn(con + 5 + k, "0123456789"), con + 5 + k)
					     : "115200";
		if (!*b->serial_speed)
			b->serial_speed = "115200";
	}
	if (mode == KF_BOOT_LOCAL)
		return;
	const struct kf_i_distro *d = it ? it->distro
				  : inv->distros.n ? KF_LIST_AT(inv->distros, struct kf_i_distro, 0)
						   : NULL;
	if (!d) {
		b->mode = KF_BOOT_LOCAL;
		return;
	}
	b->kernel_tftp = kf_arena_printf(a, "distro/%s/vmlinuz", d->name);
	b->initrd_tftp = kf_arena_printf(a, "distro/%s/initrd.img", d->name);
	b->kernel_url = kf_arena_printf(a, "%s/boot/%s", base, b->kernel_tftp);
	b->initrd_url = kf_arena_printf(a, "%s/boot/%s", base, b->initrd_tftp);
	const struct kf_i_provisioner *p = inv->provisioner;
	if (!p->url && p->http_port == 80)
		b->grub_http = kf_arena_printf(a, "(http,%s)/boot", p->address);
	struct kf_buf args = KF_BUF_INIT;
	if (mode == KF_BOOT_INSTALL) {
		b->label = kf_arena_printf(a, "install %s (%s)", it->name, d->name);
		if (d->family == KF_FAMILY_PRESEED) {
			kf_buf_printf(&args, "auto=true priority=critical url=%s/ks/%s?token=%s", base,
				      it->name, token);
			kf_buf_printf(&args, " hostname=%s netcfg/choose_interface=auto", it->name);
		} else {
			kf_buf_printf(&args, "inst.ks=%s/ks/%s?token=%s", base, it->name, token);
			if (d->tree)
				kf_buf_printf(&args, " inst.repo=%s", d->tree);
		}
	} else {
		/* the distro's kernel, its initrd for the kernel's modules, and
		 * the discovery image laid over it (docs/discovery.md); no token */
		b->label = kf_arena_printf(a, "discovery (%s kernel)", d->name);
		b->overlay_tftp = KF_DISCOVERY_IMAGE;
		b->overlay_url = kf_arena_printf(a, "%s/boot/%s", base, KF_DISCOVERY_IMAGE);
		kf_buf_printf(&args, "kickfleet.discover=%s/discover", base);
	}
	if (mode == KF_BOOT_INSTALL)
		add_arg(&args, d->kernel_args);
	if (it && it->role)
		add_arg(&args, it->role->kernel_args);
	if (df)
		add_arg(&args, df->kernel_args);
	if (con) {
		add_arg(&args, "console=tty0");
		kf_buf_printf(&args, " console=%s", con);
	}
	char *s = kf_buf_detach(&args);
	b->args = kf_arena_strdup(a, s);
	free(s);
}
