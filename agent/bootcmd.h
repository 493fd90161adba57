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

/* Reads GRUB_CMDLINE_LINUX from the (sys)root's /etc/default/grub.
 * -ENOENT when the file is absent; *out "" when the key is. */
int kf_bootcmd_read(char **out);
/* Writes a new GRUB_CMDLINE_LINUX atomically and, on the real host, runs
 * update-grub (or grub2-mkconfig).  *note says what was not done (e.g.
 * under --root); malloc'd or NULL.  0 or a negative errno, *err set. */
int kf_bootcmd_write(const char *cmdline, char **note, char **err);

#endif
