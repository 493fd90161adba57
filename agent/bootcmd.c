/* Kernel command line in the boot loader's defaults (agent/bootcmd.h). */
#include "agent/bootcmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/hostio.h"
#include "types.h"
#include "util.h"

/* --- shell-style KEY=value files --- */

static bool line_assigns(const char *line, size_t len, const char *key, const char **val)
{
	size_t k = strlen(key);
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (len >= 7 && !strncmp(line, "export ", 7)) {
		line += 7;
		len -= 7;
	}
	if (len <= k || strncmp(line, key, k) || line[k] != '=')
		return false;
	*val = line + k + 1;
	return true;
}

char *kf_shvar_get(const char *text, const char *key)
{
	char *found = NULL;
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *v;
		if (line_assigns(line, len, key, &v)) {
			size_t vlen = len - (size_t)(v - line);
			free(found);
			if (vlen >= 2 && (v[0] == '"' || v[0] == '\'')) {
				const char *end = memchr(v + 1, v[0], vlen - 1);
				vlen = end ? (size_t)(end - v - 1) : vlen - 1;
				v++;
			}
			found = strndup(v, vlen);
			if (!found)
				kf_die_oom();
			kf_rstrip(found);
		}
		line = nl ? nl + 1 : NULL;
	}
	return found;
}

char *kf_shvar_set(const char *text, const char *key, const char *value)
{
	const char *last = NULL;
	size_t lastlen = 0;
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *v;
		if (line_assigns(line, len, key, &v)) {
			last = line;
			lastlen = len;
		}
		line = nl ? nl + 1 : NULL;
	}
	struct kf_buf b = KF_BUF_INIT;
	if (last) {
		kf_buf_add(&b, text, (size_t)(last - text));
		kf_buf_printf(&b, "%s=\"%s\"", key, value);
		kf_buf_puts(&b, last + lastlen);
	} else {
		kf_buf_puts(&b, text);
		if (b.len && b.s[b.len - 1] != '\n')
			kf_buf_puts(&b, "\n");
		kf_buf_printf(&b, "%s=\"%s\"\n", key, value);
	}
	return kf_buf_detach(&b);
}

/* --- hugepage words of a command line --- */

#define MAXGROUPS 8

struct hpline {
	struct kf_buf other;               /* words we do not manage */
	unsigned long long defsize;        /* default_hugepagesz, 0 none */
	unsigned long long size[MAXGROUPS];
	char *value[MAXGROUPS];            /* hugepages= for that size, may be NULL */
	int n;
};

static int group_of(struct hpline *h, unsigned long long size)
{
	for (int i = 0; i < h->n; i++)
		if (h->size[i] == size)
			return i;
	if (h->n == MAXGROUPS)
		return -1;
	h->size[h->n] = size;
	h->value[h->n] = NULL;
	return h->n++;
}

static void add_other(struct hpline *h, const char *w)
{
	if (h->other.len)
		kf_buf_puts(&h->other, " ");
	kf_buf_puts(&h->other, w);
}

static void hp_parse(struct hpline *h, const char *cmdline)
{
	memset(h, 0, sizeof(*h));
	char *copy = kf_xstrdup(cmdline ? cmdline : "");
	char *save = NULL;
	int cur = -1;
	for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		uint64_t sz;
		if (!strncmp(w, "default_hugepagesz=", 19) && kf_size_parse(w + 19, &sz) == 0) {
			h->defsize = sz;
		} else if (!strncmp(w, "hugepagesz=", 11) && kf_size_parse(w + 11, &sz) == 0) {
			cur = group_of(h, sz);
			if (cur < 0)
				add_other(h, w);
		} else if (!strncmp(w, "hugepages=", 10) && cur >= 0) {
			free(h->value[cur]);
			h->value[cur] = kf_xstrdup(w + 10);
		} else {
			add_other(h, w);
		}
	}
	free(copy);
}

static void hp_release(struct hpline *h)
{
	kf_buf_release(&h->other);
	for (int i = 0; i < h->n; i++)
		free(h->value[i]);
}

static char *hp_format(struct hpline *h, bool hp_only)
{
	struct kf_buf b = KF_BUF_INIT;
	char sz[32];
	if (!hp_only && h->other.len)
		kf_buf_puts(&b, h->other.s);
	if (h->defsize)
		kf_buf_printf(&b, "%sdefault_hugepagesz=%s", b.len ? " " : "", kf_size_fmt(h->defsize, sz, sizeof(sz)));
	/* smallest size first */
	bool done[MAXGROUPS] = { 0 };
	for (int k = 0; k < h->n; k++) {
		int best = -1;
		for (int i = 0; i < h->n; i++)
			if (!done[i] && (best < 0 || h->size[i] < h->size[best]))
				best = i;
		done[best] = true;
		kf_buf_printf(&b, "%shugepagesz=%s", b.len ? " " : "", kf_size_fmt(h->size[best], sz, sizeof(sz)));
		if (h->value[best])
			kf_buf_printf(&b, " hugepages=%s", h->value[best]);
	}
	return kf_buf_detach(&b);
}

char *kf_cmdline_set_hugepages(const char *cmdline, unsigned long long size, const char *value)
{
	struct hpline h;
	hp_parse(&h, cmdline);
	int g = group_of(&h, size);
	if (g >= 0) {
		free(h.value[g]);
		h.value[g] = value ? kf_xstrdup(value) : NULL;
		if (!value) { /* drop the group */
			h.size[g] = h.size[h.n - 1];
			h.value[g] = h.value[h.n - 1];
			h.n--;
		}
	}
	char *s = hp_format(&h, false);
	hp_release(&h);
	return s;
}

char *kf_cmdline_set_default_hpsz(const char *cmdline, unsigned long long size)
{
	struct hpline h;
	hp_parse(&h, cmdline);
	h.defsize = size;
	char *s = hp_format(&h, false);
	hp_release(&h);
	return s;
}

char *kf_cmdline_hugepages(const char *cmdline)
{
	struct hpline h;
	hp_parse(&h, cmdline);
	char *s = hp_format(&h, true);
	hp_release(&h);
	return s;
}

char *kf_cmdline_hp_value(const char *cmdline, unsigned long long size)
{
	struct hpline h;
	hp_parse(&h, cmdline);
	char *v = NULL;
	for (int i = 0; i < h.n; i++)
		if (h.size[i] == size && h.value[i])
			v = kf_xstrdup(h.value[i]);
	hp_release(&h);
	return v;
}

/* --- single key=value words --- */

/* The key part of word w ("iommu=pt" → 4) when it is key's. */
static bool word_is(const char *w, const char *key)
{
	size_t k = strlen(key);
	return !strncmp(w, key, k) && (w[k] == '=' || w[k] == 0);
}

char *kf_cmdline_word(const char *cmdline, const char *key)
{
	char *copy = kf_xstrdup(cmdline ? cmdline : ""), *save = NULL, *found = NULL;
	for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
		if (word_is(w, key)) {
			free(found);
			found = kf_xstrdup(w[strlen(key)] ? w + strlen(key) + 1 : "");
		}
	free(copy);
	return found;
}

char *kf_cmdline_set_word(const char *cmdline, const char *key, const char *value)
{
	char *copy = kf_xstrdup(cmdline ? cmdline : ""), *save = NULL;
	struct kf_buf b = KF_BUF_INIT;
	bool done = false;
	for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		if (word_is(w, key)) {
			if (done)
				continue;
			done = true;
			kf_buf_printf(&b, "%s%s=%s", b.len ? " " : "", key, value);
			continue;
		}
		kf_buf_printf(&b, "%s%s", b.len ? " " : "", w);
	}
	if (!done)
		kf_buf_printf(&b, "%s%s=%s", b.len ? " " : "", key, value);
	free(copy);
	return kf_buf_detach(&b);
}
