/* Value types shared by the schema, the agent and the provisioner: sizes
 * with units, CPU/node lists, MAC addresses, IPv4 addresses and prefixes.
 * Parsers return 0 or -EINVAL and never print; formatters write the one
 * normalised spelling, so that comparing two values is comparing strings. */
#ifndef KF_TYPES_H
#define KF_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sizes: "4096", "512K", "2M", "8G", "1T", with optional "i"/"B"
 * ("1GiB", "8GB", "2MB"); every unit is binary (1K = 1024). */
int kf_size_parse(const char *s, uint64_t *bytes);
/* Shortest exact spelling: 2097152 -> "2M", 1536M stays "1536M". */
const char *kf_size_fmt(uint64_t bytes, char *buf, size_t len);

/* CPU lists: "0-3,8,10-11" (also "0-7:2" strides, as the kernel accepts).
 * A bitmap holds up to KF_MAX_CPUS bits. */
#define KF_MAX_CPUS 8192
struct kf_bitmap {
	uint64_t w[KF_MAX_CPUS / 64];
};
int kf_cpulist_parse(const char *s, struct kf_bitmap *out);
/* Normalised list ("0-3,8"); "" for an empty set.  Returns buf. */
const char *kf_cpulist_fmt(const struct kf_bitmap *b, char *buf, size_t len);
/* Hex masks as in /proc/irq/N/smp_affinity: "ff,00000001". */
int kf_cpumask_parse(const char *s, struct kf_bitmap *out);
const char *kf_cpumask_fmt(const struct kf_bitmap *b, char *buf, size_t len);
/* Normalises a cpulist string into buf; -EINVAL if it does not parse. */
int kf_cpulist_norm(const char *s, char *buf, size_t len);

void kf_bitmap_set(struct kf_bitmap *b, unsigned bit);
void kf_bitmap_clear(struct kf_bitmap *b, unsigned bit);
bool kf_bitmap_test(const struct kf_bitmap *b, unsigned bit);
unsigned kf_bitmap_count(const struct kf_bitmap *b);
/* Highest set bit, or -1 when empty. */
int kf_bitmap_last(const struct kf_bitmap *b);
bool kf_bitmap_equal(const struct kf_bitmap *a, const struct kf_bitmap *b);
/* True when every bit of a is also in b. */
bool kf_bitmap_subset(const struct kf_bitmap *a, const struct kf_bitmap *b);

/* MAC addresses: "52:54:00:AA:00:01" or with '-'; normalised lower case
 * with ':'.  buf holds at least 18 bytes. */
int kf_mac_parse(const char *s, uint8_t mac[6]);
const char *kf_mac_fmt(const uint8_t mac[6], char *buf);
int kf_mac_norm(const char *s, char *buf);

/* IPv4 address and CIDR prefix ("10.0.0.0/24"); normalised dotted quad. */
int kf_ipv4_parse(const char *s, uint32_t *addr);
const char *kf_ipv4_fmt(uint32_t addr, char *buf);
int kf_cidr_parse(const char *s, uint32_t *addr, int *prefix);
bool kf_ipv4_in(uint32_t addr, uint32_t net, int prefix);

/* PCI addresses: "0000:06:00.0" or "06:00.0"; normalised with the domain. */
int kf_pci_norm(const char *s, char *buf, size_t len);

/* Booleans as YAML 1.1 users write them: true/false, yes/no, on/off. */
int kf_bool_parse(const char *s, bool *out);

/* Integers with optional sign, decimal or 0x hex; range checked by callers. */
int kf_int_parse(const char *s, long long *out);

/* Time spans as systemd.time(7) writes them: "30min", "1h 30min", "10s",
 * "2d"; a bare number is seconds.  Whole numbers only. */
int kf_timespan_parse(const char *s, unsigned long long *usec);

#endif
