/* The inventory's provisioner.tls: the certificate and key files of
 * serve's HTTPS listener (docs/http.md, TLS).  The key must be readable by
 * its owner only; the check is made at load, at the key's line, so that
 * `kickfleet check` says it before serve starts. */
#include "inventory.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define FLD(S, k, t, m, ...) { .key = k, .type = t, .off = offsetof(S, m), __VA_ARGS__ }

#define S struct kf_i_tls
static const struct kf_field tls_fields[] = {
	FLD(S, "cert", KF_T_STR, cert, .flags = KF_F_REQUIRED,
	    .doc = "PEM certificate (chain) of the provisioner, relative to the fleet file"),
	FLD(S, "key", KF_T_STR, key, .flags = KF_F_REQUIRED,
	    .doc = "its PEM private key (relative to the fleet file; mode 0600 or stricter)"),
	FLD(S, "port", KF_T_INT, port, .min = 1, .max = 65535, .def = "8443",
	    .doc = "the HTTPS port, on provisioner.address"),
	{ 0 }
};
#undef S
const struct kf_schema kf_tls_section_schema = { .name = "tls", .size = sizeof(struct kf_i_tls),
						 .fields = tls_fields };

void kf_inventory_check_tls(struct kf_inventory *inv, struct kf_err *e)
{
	const struct kf_i_tls *t = inv->provisioner ? inv->provisioner->tls : NULL;
	if (!t || !t->cert || !t->key)
		return;
	char *cert = kf_inventory_secret_path(inv, t->cert);
	if (access(cert, R_OK) < 0)
		kf_errf(e, kf_mark_of(t, "cert"), "provisioner: tls cert %s: %s", cert, strerror(errno));
	free(cert);
	kf_inventory_check_secret(inv, t, "key", t->key, "provisioner: tls key", e);
}
