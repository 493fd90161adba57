/* The kernel command line in the boot loader's defaults
 * (/etc/default/grub, GRUB_CMDLINE_LINUX), and the hugepage reservations
 * in it.  The text functions are pure; kf_bootcmd_update() does the I/O. */
#ifndef KF_AGENT_BOOTCMD_H
#define KF_AGENT_BOOTCMD_H

#include <stdbool.h>

#define KF_GRUB_DEFAULTS "/etc/default/grub"

/* The value of KEY=... in a shell-style defaults file, unquoted; malloc'd,
 * NULL when absent.  The last assignment wins, as in the shell. */
char *kf_shvar_get(const char *text, const char *key);
/* The text with KEY="value" replacing the last assignment of key (or
 * appended); malloc'd. */
char *kf_shvar_set(const char *text, const char *key, const char *value);

/* Hugepage tokens of a kernel command line.  Sets (value != NULL) or
 * removes (value == NULL) the reservation "hugepagesz=SIZE hugepages=VALUE"
 * for one page size, and returns the line normalised: other words in their
 * order, then default_hugepagesz=, then one hugepagesz=/hugepages= pair per
 * size, smallest first.  malloc'd. */
char *kf_cmdline_set_hugepages(const char *cmdline, unsigned long long size, const char *value);
/* Sets (size != 0) or removes default_hugepagesz=; normalised as above. */
char *kf_cmdline_set_default_hpsz(const char *cmdline, unsigned long long size);
/* Only the hugepage words, normalised ("" when none); malloc'd. */
char *kf_cmdline_hugepages(const char *cmdline);
/* The hugepages= value reserved for one size, NULL when none; malloc'd. */
char *kf_cmdline_hp_value(const char *cmdline, unsigned long long size);

/* Words of a command line: the value of the last "key=value" (or "" for a
 * bare "key"), NULL when absent; malloc'd. */
char *kf_cmdline_word(const char *cmdline, const char *key);
/* The line with every "key" / "key=..." word replaced by one "key=value"
 * where the first was (appended when there was none); other words keep
 * their order.  malloc'd. */
char *kf_cmdline_set_word(const char *cmdline, const char *key, const char *value);

/* --- the boot loader (agent/bootloader.c) ---
 * The command line the next boot uses lives in one of two places:
 *   - BLS entries (/boot/loader/entries/NAME.conf, EL9) when grubby is
 *     installed: read from the default entry's options line (grubenv's
 *     saved_entry, else the newest entry), written with
 *     `grubby --update-kernel=ALL --args=... --remove-args=...`;
 *   - otherwise /etc/default/grub's GRUB_CMDLINE_LINUX, written atomically,
 *     then update-grub, grub2-mkconfig -o /boot/grub2/grub.cfg or
 *     grub-mkconfig -o /boot/grub/grub.cfg, the first that exists. */

/* "GRUB_CMDLINE_LINUX" or "BLS entries": names the place in a change. */
const char *kf_bootcmd_where(void);
/* The file read: /etc/default/grub or the default BLS entry's path. */
const char *kf_bootcmd_file(void);
/* The next boot's command line (malloc'd).  -ENOENT when there is no such
 * file; *out "" when the file has no command line. */
int kf_bootcmd_read(char **out);
/* Why a write cannot be made here (BLS entries under --root: grubby does
 * not run on a sysroot), else NULL.  Changes then are pending. */
const char *kf_bootcmd_pending(void);
/* Makes cmdline the next boot's command line.  *note says what was not
 * done (the config not regenerated under --root, no generator found);
 * malloc'd or NULL.  0 or a negative errno, *err set. */
int kf_bootcmd_write(const char *cmdline, char **note, char **err);
/* The running kernel's command line (/proc/cmdline), NULL when absent. */
char *kf_cmdline_running(void);

struct kf_change;
struct kf_plan;
/* Marks a change to the next boot's command line pending when
 * kf_bootcmd_pending() says it cannot be written here. */
void kf_bootcmd_pend(struct kf_change *ch);
/* Reads the next boot's command line, writes edit(cur, arg) (malloc'd by
 * edit) with kf_bootcmd_write and flags ch reboot; ch->reason gets the
 * note (or NULL), or the error on failure.  0 or a negative errno. */
int kf_bootcmd_edit(struct kf_change *ch, char *(*edit)(const char *cur, const void *arg), const void *arg);
/* When the next boot's words (want, as the resource normalises them)
 * already hold but the running kernel's (running, the same words of
 * /proc/cmdline; NULL: unknown) differ: a pending change "WHAT (running
 * kernel)", flagged reboot, "reboot required".  It is not counted as a
 * change, so a second apply stays a no-op while the reboot is due. */
void kf_bootcmd_reboot_due(struct kf_plan *plan, const char *res, const char *what, const char *want,
			   const char *running);

#endif
