#include "types.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int kf_int_parse(const char *s, long long *out)
{
	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	char *end = NULL;
	errno = 0;
	int base = 10;
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16;
	long long v = strtoll(s, &end, base);
	if (errno || *end || end == s)
		return -EINVAL;
	*out = v;
	return 0;
}

int kf_size_parse(const char *s, uint64_t *bytes)
{
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	unsigned shift = 0;
	switch (*end) {
	case 0: break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	case 'p': case 'P': shift = 50; end++; break;
	case 'b': case 'B': break;
	default: return -EINVAL;
	}
	if (shift && *end == 'i')
		end++;
	if (*end == 'B' || (*end == 'b' && !end[1]))
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (ULLONG_MAX >> shift))
		return -EINVAL;
	*bytes = (uint64_t)v << shift;
	return 0;
}

const char *kf_size_fmt(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	int u = -1;
	uint64_t v = bytes;
	while (v && !(v & 1023) && u < 4) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
	return buf;
}

void kf_bitmap_set(struct kf_bitmap *b, unsigned bit)
{
	if (bit < KF_MAX_CPUS)
		b->w[bit / 64] |= 1ull << (bit % 64);
}

void kf_bitmap_clear(struct kf_bitmap *b, unsigned bit)
{
	if (bit < KF_MAX_CPUS)
		b->w[bit / 64] &= ~(1ull << (bit % 64));
}

bool kf_bitmap_test(const struct kf_bitmap *b, unsigned bit)
{
	return bit < KF_MAX_CPUS && (b->w[bit / 64] >> (bit % 64)) & 1;
}

unsigned kf_bitmap_count(const struct kf_bitmap *b)
{
	unsigned n = 0;
	for (size_t i = 0; i < KF_MAX_CPUS / 64; i++)
		n += (unsigned)__builtin_popcountll(b->w[i]);
	return n;
}

int kf_bitmap_last(const struct kf_bitmap *b)
{
	for (int i = KF_MAX_CPUS / 64 - 1; i >= 0; i--)
		if (b->w[i])
			return i * 64 + 63 - __builtin_clzll(b->w[i]);
	return -1;
}

bool kf_bitmap_equal(const struct kf_bitmap *a, const struct kf_bitmap *b)
{
	return !memcmp(a->w, b->w, sizeof(a->w));
}

bool kf_bitmap_subset(const struct kf_bitmap *a, const struct kf_bitmap *b)
{
	for (size_t i = 0; i < KF_MAX_CPUS / 64; i++)
		if (a->w[i] & ~b->w[i])
			return false;
	return true;
}

static int parse_uint(const char **p, unsigned long *out)
{
	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(*p, &end, 10);
	if (errno)
		return -EINVAL;
	*p = end;
	*out = v;
	return 0;
}

int kf_cpulist_parse(const char *s, struct kf_bitmap *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	const char *p = s;
	while (*p == ' ')
		p++;
	if (!*p)
		return 0;
	for (;;) {
		unsigned long a, b, stride = 1;
		if (parse_uint(&p, &a) < 0)
			return -EINVAL;
		b = a;
		if (*p == '-') {
			p++;
			if (parse_uint(&p, &b) < 0)
				return -EINVAL;
			if (*p == ':') {
				p++;
				if (parse_uint(&p, &stride) < 0 || !stride)
					return -EINVAL;
			}
		}
		if (a > b || b >= KF_MAX_CPUS)
			return -EINVAL;
		for (unsigned long i = a; i <= b; i += stride)
			kf_bitmap_set(out, (unsigned)i);
		while (*p == ' ')
			p++;
		if (!*p)
			return 0;
		if (*p != ',')
			return -EINVAL;
		p++;
		while (*p == ' ')
			p++;
	}
}

const char *kf_cpulist_fmt(const struct kf_bitmap *b, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = 0;
	int i = 0;
	while (i < KF_MAX_CPUS) {
		if (!kf_bitmap_test(b, (unsigned)i)) {
			i++;
			continue;
		}
		int j = i;
		while (j + 1 < KF_MAX_CPUS && kf_bitmap_test(b, (unsigned)j + 1))
			j++;
		int n;
		if (j == i)
			n = snprintf(buf + off, len - off, "%s%d", off ? "," : "", i);
		else
			n = snprintf(buf + off, len - off, "%s%d-%d", off ? "," : "", i, j);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
		i = j + 1;
	}
	return buf;
}

int kf_cpulist_norm(const char *s, char *buf, size_t len)
{
	struct kf_bitmap b;
	if (kf_cpulist_parse(s, &b) < 0)
		return -EINVAL;
	kf_cpulist_fmt(&b, buf, len);
	return 0;
}

int kf_cpumask_parse(const char *s, struct kf_bitmap *out)
{
	memset(out, 0, sizeof(*out));
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		n--;
	if (!n)
		return -EINVAL;
	unsigned bit = 0;
	for (size_t i = n; i-- > 0;) {
		char c = s[i];
		if (c == ',')
			continue;
		int v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -EINVAL;
		for (int k = 0; k < 4; k++, bit++)
			if (v >> k & 1) {
				if (bit >= KF_MAX_CPUS)
					return -EINVAL;
				kf_bitmap_set(out, bit);
			}
	}
	return 0;
}

const char *kf_cpumask_fmt(const struct kf_bitmap *b, char *buf, size_t len)
{
	int last = kf_bitmap_last(b);
	int words = last < 0 ? 1 : last / 32 + 1;
	size_t off = 0;
	buf[0] = 0;
	for (int w = words - 1; w >= 0; w--) {
		uint32_t v = (uint32_t)(b->w[w / 2] >> ((w % 2) * 32));
		int n = snprintf(buf + off, len - off, w == words - 1 ? "%x" : ",%08x", v);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	return buf;
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static const char hex_lower[] = "0123456789abcdef";

int kf_mac_parse(const char *s, uint8_t mac[6])
{
	if (!s || strlen(s) != 17)
		return -EINVAL;
	char sep = s[2];
	if (sep != ':' && sep != '-')
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		const char *p = s + i * 3;
		int hi = hex_digit((unsigned char)p[0]), lo = hex_digit((unsigned char)p[1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		if (i < 5 && p[2] != sep)
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

const char *kf_mac_fmt(const uint8_t mac[6], char *buf)
{
	for (int i = 0; i < 6; i++) {
		buf[3 * i] = hex_lower[mac[i] >> 4];
		buf[3 * i + 1] = hex_lower[mac[i] & 15];
		buf[3 * i + 2] = i < 5 ? ':' : 0;
	}
	return buf;
}

int kf_mac_norm(const char *s, char *buf)
{
	uint8_t mac[6];
	if (kf_mac_parse(s, mac) < 0)
		return -EINVAL;
	kf_mac_fmt(mac, buf);
	return 0;
}

int kf_ipv4_parse(const char *s, uint32_t *addr)
{
	struct in_addr a;
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*addr = ntohl(a.s_addr);
	return 0;
}

const char *kf_ipv4_fmt(uint32_t addr, char *buf)
{
	char *p = buf;
	for (int i = 3; i >= 0; i--) {
		unsigned v = (addr >> (8 * i)) & 0xff;
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i ? '.' : 0;
	}
	return buf;
}

int kf_cidr_parse(const char *s, uint32_t *addr, int *prefix)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	if (!slash || slash - s > 15)
		return -EINVAL;
	char ip[16];
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = 0;
	long long p;
	if (kf_ipv4_parse(ip, addr) < 0 || kf_int_parse(slash + 1, &p) < 0 || p < 0 || p > 32 ||
	    !isdigit((unsigned char)slash[1]))
		return -EINVAL;
	*prefix = (int)p;
	return 0;
}

bool kf_ipv4_in(uint32_t addr, uint32_t net, int prefix)
{
	uint32_t mask = prefix ? ~0u << (32 - prefix) : 0;
	return (addr & mask) == (net & mask);
}

int kf_bool_parse(const char *s, bool *out)
{
	static const char *const t[] = { "true", "yes", "on", "y" };
	static const char *const f[] = { "false", "no", "off", "n" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, t[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, f[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int kf_pci_norm(const char *s, char *buf, size_t len)
{
	unsigned dom = 0, bus, slot, fn;
	char tail;
	if (!s)
		return -EINVAL;
	for (const char *p = s; *p; p++)
		if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
			return -EINVAL;
	if (sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &slot, &fn, &tail) != 4) {
		dom = 0;
		if (sscanf(s, "%x:%x.%x%c", &bus, &slot, &fn, &tail) != 3)
			return -EINVAL;
	}
	if (dom > 0xffff || bus > 0xff || slot > 0x1f || fn > 7)
		return -EINVAL;
	snprintf(buf, len, "%04x:%02x:%02x.%x", dom, bus, slot, fn);
	return 0;
}

/* systemd.time(7) units, longest spelling first within each unit so that
 * "min" is not read as "m" + "in" */
static const struct {
	const char *name;
	unsigned long long usec;
} span_units[] = {
	{ "usec", 1ULL }, { "us", 1ULL }, { "msec", 1000ULL }, { "ms", 1000ULL },
	{ "seconds", 1000000ULL }, { "second", 1000000ULL }, { "sec", 1000000ULL }, { "s", 1000000ULL },
	{ "minutes", 60000000ULL }, { "minute", 60000000ULL }, { "min", 60000000ULL },
	{ "months", 2629800000000ULL }, { "month", 2629800000000ULL }, { "M", 2629800000000ULL },
	{ "m", 60000000ULL },
	{ "hours", 3600000000ULL }, { "hour", 3600000000ULL }, { "hr", 3600000000ULL }, { "h", 3600000000ULL },
	{ "days", 86400000000ULL }, { "day", 86400000000ULL }, { "d", 86400000000ULL },
	{ "weeks", 604800000000ULL }, { "week", 604800000000ULL }, { "w", 604800000000ULL },
	{ "years", 31557600000000ULL }, { "year", 31557600000000ULL }, { "y", 31557600000000ULL },
};

int kf_timespan_parse(const char *s, unsigned long long *usec)
{
	unsigned long long total = 0;
	bool any = false;
	if (!s)
		return -EINVAL;
	for (const char *p = s;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		errno = 0;
		char *end;
		unsigned long long n = strtoull(p, &end, 10);
		if (errno)
			return -EINVAL;
		p = end;
		while (*p == ' ' || *p == '\t')
			p++;
		unsigned long long unit = 1000000ULL; /* a bare number is seconds */
		if (isalpha((unsigned char)*p)) {
			size_t len = 0;
			while (isalpha((unsigned char)p[len]))
				len++;
			unit = 0;
			for (size_t i = 0; i < sizeof(span_units) / sizeof(span_units[0]) && !unit; i++)
				if (strlen(span_units[i].name) == len && !strncmp(p, span_units[i].name, len))
					unit = span_units[i].usec;
			if (!unit)
				return -EINVAL;
			p += len;
		}
		if (n > ULLONG_MAX / unit || total + n * unit < total)
			return -EINVAL;
		total += n * unit;
		any = true;
	}
	if (!any)
		return -EINVAL;
	*usec = total;
	return 0;
}
