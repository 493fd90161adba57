#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void kf_err_init(struct kf_err *e)
{
	memset(e, 0, sizeof(*e));
}

void kf_err_release(struct kf_err *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].file);
		free(e->v[i].text);
	}
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static void add(struct kf_err *e, const struct kf_mark *m, char *text)
{
	if (e->n >= KF_ERR_MAX) {
		e->dropped++;
		free(text);
		return;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		e->v = kf_xrealloc(e->v, cap * sizeof(*e->v));
		e->cap = cap;
	}
	struct kf_errmsg *msg = &e->v[e->n++];
	msg->file = m && m->file ? kf_xstrdup(m->file) : NULL;
	msg->line = m ? m->line : 0;
	msg->col = m ? m->col : 0;
	msg->text = text;
}

static int vadd(struct kf_err *e, int code, const struct kf_mark *m, const char *fmt, va_list ap)
{
	char *text = NULL;
	if (vasprintf(&text, fmt, ap) < 0)
		kf_die_oom();
	if (e)
		add(e, m, text);
	else
		free(text);
	return code;
}

int kf_errf(struct kf_err *e, const struct kf_mark *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vadd(e, -EINVAL, m, fmt, ap);
	va_end(ap);
	return r;
}

int kf_errc(struct kf_err *e, int code, const struct kf_mark *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vadd(e, code, m, fmt, ap);
	va_end(ap);
	return r;
}

void kf_err_move(struct kf_err *dst, struct kf_err *src)
{
	for (size_t i = 0; i < src->n; i++) {
		struct kf_errmsg *s = &src->v[i];
		struct kf_mark m = { s->file, s->line, s->col };
		add(dst, &m, s->text);
		s->text = NULL;
	}
	dst->dropped += src->dropped;
	kf_err_release(src);
}

const char *kf_err_format(const struct kf_err *e, size_t i, char *buf, size_t len)
{
	if (i >= e->n) {
		snprintf(buf, len, "unknown error");
		return buf;
	}
	const struct kf_errmsg *m = &e->v[i];
	if (m->file && m->line > 0)
		snprintf(buf, len, "%s:%d:%d: %s", m->file, m->line, m->col, m->text);
	else if (m->file)
		snprintf(buf, len, "%s: %s", m->file, m->text);
	else
		snprintf(buf, len, "%s", m->text);
	return buf;
}

static const struct kf_errmsg *sort_base;

static int cmp_idx(const void *a, const void *b)
{
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	const struct kf_errmsg *x = &sort_base[ia], *y = &sort_base[ib];
	int c = strcmp(x->file ? x->file : "", y->file ? y->file : "");
	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

void kf_err_print(const struct kf_err *e, FILE *f)
{
	if (!e->n)
		return;
	size_t *idx = kf_xcalloc(e->n, sizeof(*idx));
	for (size_t i = 0; i < e->n; i++)
		idx[i] = i;
	sort_base = e->v;
	qsort(idx, e->n, sizeof(*idx), cmp_idx);
	char buf[2048];
	for (size_t i = 0; i < e->n; i++)
		fprintf(f, "%s\n", kf_err_format(e, idx[i], buf, sizeof(buf)));
	if (e->dropped)
		fprintf(f, "(%zu more errors not shown)\n", e->dropped);
	free(idx);
}
