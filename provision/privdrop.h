/* Privilege separation of `kickfleet serve` and `kickfleet up`
 * (docs/security.md): started as root, they bind their sockets, start
 * dnsmasq and in.tftpd, make the trees they write after start the user's,
 * then switch to that user for good, without capabilities.
 *
 * Order: kf_priv_choose (before anything is written), umask, start,
 * kf_priv_own on the written trees, kf_priv_drop. */
#ifndef KF_PROVISION_PRIVDROP_H
#define KF_PROVISION_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* The user serve and up switch to when none is named and it exists. */
#define KF_PRIV_DEFAULT_USER "kickfleet"

struct kf_priv {
	bool drop;       /* switch to uid/gid after start */
	uid_t uid;       /* the user it runs as after start (its own when !drop) */
	gid_t gid;
	char user[64];   /* names, for dnsmasq's --user/--group and in.tftpd's -u */
	char group[64];
};

/* Decides whom the server runs as after start: user (--user), else cfg
 * (provisioner.user), else KF_PRIV_DEFAULT_USER when it exists.  "root"
 * (uid 0) keeps root; so does root without any such user, with a warning.
 * Not started as root: no switch, and naming a user other than itself is
 * an error.  Adds 027 to the umask when switching, else 022.
 * Records p->uid for kf_priv_uid.  0 or a negative errno with e set. */
int kf_priv_choose(const char *user, const char *cfg, struct kf_priv *p, struct kf_err *e);
/* Makes every entry of the trees under dirs[0..n) the user's (no-op
 * unless p->drop): directories and regular files, never through a
 * symbolic link, never a file with other hard links, never crossing into
 * another filesystem.  0 or a negative errno with e set. */
int kf_priv_own(const struct kf_priv *p, const char *const *dirs, size_t n, struct kf_err *e);
/* Removes group and other access from the files that hold secrets and
 * exist (the SQLite state database and its journals in state_dir). */
void kf_priv_private_state(const char *state_dir);
/* Switches the whole process (all threads) to p->uid/p->gid without
 * supplementary groups when p->drop; then, unless it stays root, empties
 * every capability set (also one a unit's AmbientCapabilities gave an
 * unprivileged start), sets no_new_privs and proves it: root cannot be
 * regained, no capability is left.  0 or a negative errno with e set; on
 * an error the caller must exit. */
int kf_priv_drop(const struct kf_priv *p, struct kf_err *e);
/* Root writing into a tree the server's user owns (kickfleet render as
 * root while serve runs as kickfleet): gives the new file fd at path, or
 * with fd -1 the new directories ending path, the owner of the directory
 * above them, as SQLite does for its journals, so that the server can
 * still read and replace them.  Nothing when not root or that owner is
 * root. */
void kf_priv_follow_owner(int fd, const char *path);
/* The uid the server runs as after start (kf_priv_choose's), else the
 * effective uid: files it must re-read later, as the TLS key on SIGHUP,
 * may belong to it. */
uid_t kf_priv_uid(void);

#endif
