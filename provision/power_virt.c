/* The power backend "libvirt": a guest's power through libvirt on its KVM
 * host (lib/virt.c), for `kickfleet power` and `reinstall`.  on starts the
 * domain, off destroys it (pulls the plug), cycle does both, reset is
 * libvirt's hard reset. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "domxml.h"
#include "provision/power.h"
#include "util.h"
#include "virt.h"

struct conn {
	struct kf_virt *v;
	struct kf_vdom *d;
};

static void virt_close(void *conn)
{
	struct conn *k = conn;
	if (!k)
		return;
	kf_vdom_free(k->d);
	kf_virt_close(k->v);
	free(k);
}

/* Connects to host:port within timeout_ms: 0, or -EHOSTUNREACH. */
static int probe_tcp(const char *host, const char *port, int timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -EHOSTUNREACH;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), r = -EHOSTUNREACH;
	if (fd >= 0 && (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int err = 0;
		socklen_t len = sizeof(err);
		if (poll(&p, 1, timeout_ms) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && !err)
			r = 0;
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return r;
}

/* libvirt has no timeout of its own for reaching a remote host over SSH
 * (ssh waits for TCP): the host's SSH port must answer within the power
 * timeout first.  Other transports (local sockets) are not probed. */
static int reach(const char *uri, int timeout_ms, struct kf_err *e)
{
	const char *p = strstr(uri, "+ssh://");
	if (!p)
		return 0;
	p += strlen("+ssh://");
	const char *at = strchr(p, '@'), *end = p + strcspn(p, "/?");
	if (at && at < end)
		p = at + 1;
	const char *colon = memchr(p, ':', (size_t)(end - p));
	char *host = kf_xasprintf("%.*s", (int)((colon ? colon : end) - p), p);
	char *port = colon ? kf_xasprintf("%.*s", (int)(end - colon - 1), colon + 1) : kf_xstrdup("22");
	int r = probe_tcp(host, port, timeout_ms);
	if (r < 0)
		kf_errc(e, r, NULL, "libvirt unreachable: no SSH answer from %s:%s within %.1f s", host, port,
			timeout_ms / 1000.0);
	free(host);
	free(port);
	return r;
}

static int virt_open(const struct kf_power_cfg *c, const struct kf_power_opts *o, void **out,
		     struct kf_err *e)
{
	struct conn *k = kf_xcalloc(1, sizeof(*k));
	/* no_tty: ssh never prompts (it fails instead) */
	char *uri = c->uri ? kf_xstrdup(c->uri)
			   : kf_xasprintf("qemu+ssh://root@%s/system?no_tty=1", c->kvm_host);
	int r = reach(uri, o->timeout_ms, e);
	if (r < 0)
		goto out;
	r = kf_virt_open(&k->v, uri, e);
	if (r == -ELIBACC)
		goto out;
	if (r < 0) {
		r = kf_errc(e, -EHOSTUNREACH, NULL, "libvirt unreachable at %s", uri);
		goto out;
	}
	r = kf_virt_lookup(k->v, c->name, &k->d, e);
	if (r == -ENOENT)
		r = kf_errc(e, -ENOENT, NULL,
			    "guest is not defined on %s (define it with kickfleet guest install %s)", uri,
			    c->name);
out:
	free(uri);
	if (r < 0) {
		virt_close(k);
		k = NULL;
	}
	*out = k;
	return r;
}

static int virt_status(void *conn, bool *on, struct kf_err *e)
{
	struct conn *k = conn;
	return kf_vdom_is_running(k->d, on, e);
}

static int virt_on(void *conn, struct kf_err *e)
{
	struct conn *k = conn;
	bool on = false;
	int r = kf_vdom_is_running(k->d, &on, e);
	return r < 0 || on ? r : kf_vdom_start(k->d, e);
}

static int virt_off(void *conn, struct kf_err *e)
{
	struct conn *k = conn;
	bool on = false;
	int r = kf_vdom_is_running(k->d, &on, e);
	return r < 0 || !on ? r : kf_vdom_destroy(k->d, e);
}

static int virt_cycle(void *conn, struct kf_err *e)
{
	int r = virt_off(conn, e);
	return r < 0 ? r : virt_on(conn, e);
}

static int virt_reset(void *conn, struct kf_err *e)
{
	struct conn *k = conn;
	return kf_vdom_reset(k->d, e);
}

/* Guests are defined to boot from their first NIC first (guest install),
 * and the provisioner's DHCP decides whether that boot installs; a
 * definition that does not boot from the network first is refused rather
 * than reordered behind the operator's back. */
static int virt_set_pxe(void *conn, struct kf_err *e)
{
	struct conn *k = conn;
	char *xml = NULL;
	struct kf_domcfg cfg;
	kf_domcfg_init(&cfg);
	int r = kf_vdom_xml(k->d, true, &xml, e);
	if (r == 0)
		r = kf_domxml_parse(xml, &cfg, e);
	bool net_first = false;
	for (size_t i = 0; r == 0 && i < cfg.nnics; i++)
		net_first |= cfg.nics[i].boot == 1;
	if (r == 0 && !net_first)
		r = kf_errc(e, -EREMOTEIO, NULL,
			    "refused: guest %s does not boot from the network first (no interface has boot order 1)",
			    kf_vdom_name(k->d));
	free(xml);
	kf_domcfg_release(&cfg);
	return r;
}

const struct kf_power_backend kf_power_libvirt = {
	.type = "libvirt",
	.open = virt_open,
	.close = virt_close,
	.status = virt_status,
	.on = virt_on,
	.off = virt_off,
	.cycle = virt_cycle,
	.reset = virt_reset,
	.set_pxe = virt_set_pxe,
};
