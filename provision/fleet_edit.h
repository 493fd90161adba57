/* Editing fleet.yaml in place: a host appended to the `hosts:` list as a
 * line-level edit of the text, guided by the marks of the parsed document,
 * so comments, order and everything else in the file stay byte for byte
 * (docs/facts.md, kickfleet enlist). */
#ifndef KF_PROVISION_FLEET_EDIT_H
#define KF_PROVISION_FLEET_EDIT_H

#include <stddef.h>

#include "err.h"

/* The entry's BMC, written as its power: section (docs/power.md): none
 * when address is NULL; port 0 and a NULL user or password_file are left
 * out (defaults: power: gives them).  The password stays in its file. */
struct kf_new_bmc {
	const char *address;
	int port;
	const char *user;
	const char *password_file;
};

/* The entry to add: name and role required, mac and ip may be NULL. */
struct kf_new_host {
	const char *name;
	const char *mac;
	const char *ip;
	const char *role;
	struct kf_new_bmc bmc;
};

/* Appends h to the root mapping's `hosts:` list of the YAML text buf (its
 * name is used in messages), writing the new text to *out (malloc'd, with
 * its length in *outlen).  The entry follows the last existing one: the
 * indentation of its dash and keys, block or flow style (and the spacing
 * inside its braces), the order of its keys, the file's line ends; a
 * BMC is a flow `power: {address: ...}` unless the last entry's power:
 * is a block mapping, whose indentation it then takes.  An
 * empty list (`hosts:`, `hosts: []`, `hosts: ~`) becomes a block list
 * indented as the file's other lists or mappings; with no `hosts:` key
 * one is appended.  Returns 0, or a negative errno with the reason in e
 * (a document that does not parse, a `hosts:` that is not a list or is
 * an alias, a root mapping in flow style). */
int kf_fleet_add_host(const char *name, const char *buf, size_t len, const struct kf_new_host *h,
		      char **out, size_t *outlen, struct kf_err *e);

#endif
