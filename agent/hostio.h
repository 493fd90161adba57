/* Host file access for the agent's resources.  Every path given here is
 * host-relative ("/sys/kernel/mm/ksm/run") and goes through kf_path(), so
 * the same code runs on the machine and on a sysroot tree.
 *
 * Reads return the value with trailing whitespace removed.  Writes to
 * /sys and /proc go through kf_sys_write(), which reads the value back;
 * files under /etc go through kf_etc_write() (atomic, ordered).  All return 0 or a
 * negative errno and never print. */
#ifndef KF_AGENT_HOSTIO_H
#define KF_AGENT_HOSTIO_H

#include <stdbool.h>
#include <stddef.h>

/* Reads a small file (<= 1 MiB); *out is malloc'd, trailing space trimmed. */
int kf_host_read(const char *path, char **out);
/* Reads one integer. */
int kf_host_read_ll(const char *path, long long *v);
bool kf_host_exists(const char *path);

/* Writes val to a /sys or /proc file (truncating, as the kernel expects),
 * then reads it back into *back (malloc'd, may be NULL when not wanted). */
int kf_sys_write(const char *path, const char *val, char **back);

/* Writes a file under /etc atomically (temp + fsync + rename, without the
 * directory's fsync: kf_write_ordered), creating the parent directory;
 * mode 0644.  What the agent keeps in /etc configures the next boot, and
 * every boot's run compares and rewrites it: after a crash the file is
 * the old one or the new one, whole, and the next run puts it right. */
int kf_etc_write(const char *path, const char *data);

/* agent/host_nic.c: the PCI address of NIC name's device (malloc'd, NULL
 * when none), following its device link up through virtio and other buses
 * to the PCI function; *reldir (may be NULL) gets that function's
 * host-relative sysfs directory. */
char *kf_nic_pci(const char *name, char **reldir);
/* The IRQs of NIC name, sorted, at most max: the PCI function's msi_irqs
 * (a virtio NIC's are its virtio-pci device's), else the /proc/interrupts
 * lines named after the interface or after its device (virtio0-input.0).
 * 0, or a negative errno when /proc/interrupts cannot be read. */
int kf_nic_irqs(const char *name, int *irqs, size_t max, size_t *n);

/* True when a process whose comm is `comm` runs on the (sys)root's /proc. */
bool kf_proc_running(const char *comm);
/* on: from the next kf_proc_running on, /proc is read once and its list
 * of comms answers every call, until kf_proc_snapshot(false) (which also
 * frees it).  The engine takes one for each probe pass (reads only; the
 * resources ask for ksmtuned, qemu, irqbalance, NetworkManager, ...);
 * apply always looks at /proc afresh. */
void kf_proc_snapshot(bool on);

/* Runs a command on the real host (never under --root: callers check
 * kf_sysroot_is_host()).  Returns its exit status, or a negative errno
 * when it could not be started; output goes to the agent's stderr. */
int kf_host_run(const char *const argv[]);

/* --- changes that write one /sys or /proc value --- */
struct kf_change;

/* Attaches "write value to path" to ch (both copied, freed with ch). */
void kf_change_syswrite(struct kf_change *ch, const char *path, const char *value);
/* Applies such a change: writes, reads back, and compares through norm
 * (NULL: trimmed string equality).  On a mismatch or error sets
 * ch->reason ("PATH: wrote X, kernel has Y") and returns a negative errno. */
int kf_apply_syswrite(struct kf_change *ch, const char *(*norm)(const char *s, char *buf, size_t len));

/* --- normalisers (pure) --- */

/* "always [madvise] never" → "madvise"; a bare value is returned as is.
 * Returns buf, or NULL when there is no value. */
const char *kf_norm_bracket(const char *s, char *buf, size_t len);
/* Module booleans: Y/N/1/0 (also y/n) → 1/0; -1 when not a boolean. */
int kf_norm_bool(const char *s);

/* --- parsers of host files, pure --- */

/* OPT's value in "options MODULE OPT=V" lines of a modprobe.d text, as a
 * boolean; -1 when absent ("options kvm_intel nested=1" -> 1). */
int kf_modprobe_option(const char *text, const char *module, const char *opt);
/* IRQ numbers of /proc/interrupts lines whose action is DEV or DEV-...;
 * returns how many were stored. */
size_t kf_interrupts_for(const char *text, const char *dev, int *irqs, size_t max);
/* IRQBALANCE_ARGS: is it powersave (any --powerthresh); the args for a mode
 * (without any --powerthresh word, plus "--powerthresh=1" for powersave). */
bool kf_irqb_args_powersave(const char *args);
char *kf_irqb_args_set(const char *args, bool powersave);
/* IRQBALANCE_ARGS with a --banirq=N word for each of irqs it lacks
 * (malloc'd), NULL when it has them all. */
char *kf_irqb_args_banirq(const char *args, const int *irqs, size_t n);

#endif
