/* The state store's export and import (state.h): every row of every table
 * of kf_state_tables through the backends' dump and load, as JSON built
 * and read with lib/json.h.  Nothing here knows a column: a column a
 * migration adds is carried as it is. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "provision/state_backend.h"

#define DUMP_FORMAT 1

/* ---- export ---- */

struct exporter {
	FILE *out;
	enum kf_dump_style style;
	struct kf_json *doc, *rows; /* KF_DUMP_JSON: the document, the current table's array */
	const char *table;
	size_t ncols;
	const char *const *cols;
};

static int ex_table(void *ctx, const char *table, size_t ncols, const char *const *cols)
{
	struct exporter *x = ctx;
	x->table = table;
	x->ncols = ncols;
	x->cols = cols;
	if (x->style == KF_DUMP_JSON) {
		x->rows = kf_json_array();
		kf_json_set(x->doc, table, x->rows);
	}
	return 0;
}

static int ex_row(void *ctx, const char *const *vals, const bool *is_int)
{
	struct exporter *x = ctx;
	struct kf_json *o = kf_json_object();
	if (x->style == KF_DUMP_LINES)
		kf_json_set(o, "table", kf_json_str(x->table));
	for (size_t i = 0; i < x->ncols; i++)
		kf_json_set(o, x->cols[i], !vals[i] ? kf_json_str(NULL)
					   : is_int[i] ? kf_json_int(strtoll(vals[i], NULL, 10))
						       : kf_json_str(vals[i]));
	if (x->style == KF_DUMP_JSON) {
		kf_json_push(x->rows, o);
		return 0;
	}
	char *line = kf_json_dump(o, KF_JSON_PLAIN);
	kf_json_free(o);
	int r = fputs(line, x->out) < 0 || fputc('\n', x->out) < 0 ? -EIO : 0;
	free(line);
	return r;
}

static struct kf_json *header(struct kf_state *st)
{
	struct kf_json *h = kf_json_object();
	kf_json_set(h, "kickfleet_state", kf_json_int(DUMP_FORMAT));
	kf_json_set(h, "schema", kf_json_int((int64_t)kf_state_nmigrations));
	kf_json_set(h, "backend", kf_json_str(st->ops->name));
	return h;
}

int kf_state_export(struct kf_state *st, FILE *out, enum kf_dump_style style, struct kf_err *e)
{
	struct exporter x = { .out = out, .style = style };
	struct kf_state_sink sink = { ex_table, ex_row, &x };
	struct kf_json *h = header(st);
	int r = 0;
	if (style == KF_DUMP_JSON) {
		x.doc = h;
	} else {
		char *line = kf_json_dump(h, KF_JSON_PLAIN);
		kf_json_free(h);
		fprintf(out, "%s\n", line);
		free(line);
	}
	r = st->ops->dump(st, &sink, e);
	if (r == 0 && style == KF_DUMP_JSON) {
		char *text = kf_json_dump(x.doc, KF_JSON_PRETTY);
		fprintf(out, "%s\n", text);
		free(text);
	}
	kf_json_free(x.doc);
	if (r == 0 && (fflush(out) != 0 || ferror(out)))
		r = kf_errc(e, -EIO, NULL, "state export: cannot write the dump");
	if (r == -EIO && e && !e->n)
		kf_errc(e, r, NULL, "state export: cannot write the dump");
	return r;
}

/* ---- import ---- */

/* The target's columns per table, and whether it holds any row. */
struct target {
	size_t ncols[16];
	char **cols[16];
	size_t cur, rows;
};

static int tg_table(void *ctx, const char *table, size_t ncols, const char *const *cols)
{
	struct target *t = ctx;
	for (t->cur = 0; t->cur < kf_state_ntables; t->cur++)
		if (!strcmp(kf_state_tables[t->cur].name, table))
			break;
	t->ncols[t->cur] = ncols;
	t->cols[t->cur] = kf_xcalloc(ncols + 1, sizeof(char *));
	for (size_t i = 0; i < ncols; i++)
		t->cols[t->cur][i] = kf_xstrdup(cols[i]);
	return 0;
}

static int tg_row(void *ctx, const char *const *vals, const bool *is_int)
{
	(void)vals;
	(void)is_int;
	((struct target *)ctx)->rows++;
	return 0;
}

static void target_release(struct target *t)
{
	for (size_t i = 0; i < kf_state_ntables; i++) {
		for (size_t k = 0; t->cols[i] && k < t->ncols[i]; k++)
			free(t->cols[i][k]);
		free(t->cols[i]);
	}
}

/* One row object of table ti into the store; where names it for errors. */
static int load_row(struct kf_state *st, struct target *t, size_t ti, const struct kf_json *row,
		    const char *where, struct kf_err *e)
{
	size_t n = t->ncols[ti];
	const char **vals = kf_xcalloc(n + 1, sizeof(*vals));
	char (*num)[24] = kf_xcalloc(n + 1, sizeof(*num));
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct kf_json *v = kf_json_member(row, t->cols[ti][i]);
		switch (kf_json_type(v)) {
		case KF_JSON_NULL: vals[i] = NULL; break;
		case KF_JSON_STRING: vals[i] = kf_json_str_of(v, NULL); break;
		case KF_JSON_INT:
		case KF_JSON_BOOL:
			snprintf(num[i], sizeof(num[i]), "%" PRId64,
				 kf_json_type(v) == KF_JSON_BOOL ? (int64_t)kf_json_bool_of(v)
								 : kf_json_int_of(v));
			vals[i] = num[i];
			break;
		default:
			r = kf_errc(e, -EINVAL, NULL, "state import: %s: %s: column %s is not a string, "
				    "integer or null", where, kf_state_tables[ti].name, t->cols[ti][i]);
		}
	}
	if (r == 0)
		r = st->ops->load(st, kf_state_tables[ti].name, n, (const char *const *)t->cols[ti],
				  vals, e);
	free(vals);
	free(num);
	return r;
}

static int table_index(const char *name)
{
	for (size_t i = 0; name && i < kf_state_ntables; i++)
		if (!strcmp(kf_state_tables[i].name, name))
			return (int)i;
	return -1;
}

static int check_header(const struct kf_json *h, const char *where, struct kf_err *e)
{
	if (kf_json_get_int(h, "kickfleet_state", 0) != DUMP_FORMAT)
		return kf_errc(e, -EINVAL, NULL, "state import: %s: not a kickfleet state dump "
			       "(no \"kickfleet_state\": %d)", where, DUMP_FORMAT);
	long v = kf_json_get_int(h, "schema", -1);
	if (v != (long)kf_state_nmigrations)
		return kf_errc(e, -EPROTO, NULL, "state import: the dump is at schema version %ld, "
			       "this kickfleet's is %zu (export it with the same version)", v,
			       kf_state_nmigrations);
	return 0;
}

/* KF_DUMP_JSON: the tables as arrays of the document. */
static int load_doc(struct kf_state *st, struct target *t, const struct kf_json *doc, size_t *rows,
		    struct kf_err *e)
{
	int r = check_header(doc, "the document", e);
	for (size_t ti = 0; r == 0 && ti < kf_state_ntables; ti++) {
		const struct kf_json *a = kf_json_member(doc, kf_state_tables[ti].name);
		for (size_t i = 0; r == 0 && i < kf_json_len(a); i++) {
			char where[64];
			snprintf(where, sizeof(where), "row %zu", i + 1);
			if ((r = load_row(st, t, ti, kf_json_at(a, i), where, e)) == 0)
				(*rows)++;
		}
	}
	return r;
}

/* KF_DUMP_LINES: a header line, then one row a line. */
static int load_lines(struct kf_state *st, struct target *t, const char *text, size_t len,
		      size_t *rows, struct kf_err *e)
{
	int r = 0;
	size_t lineno = 0;
	for (const char *p = text, *end = text + len; r == 0 && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char where[32];
		snprintf(where, sizeof(where), "line %zu", ++lineno);
		struct kf_json *o = NULL;
		if ((r = kf_json_parse_object(p, n, &o, e)) < 0) {
			kf_errc(e, r, NULL, "state import: %s: not a JSON object", where);
		} else if (o && lineno == 1) {
			r = check_header(o, where, e);
		} else if (o) {
			int ti = table_index(kf_json_get_str(o, "table"));
			if (ti < 0)
				r = kf_errc(e, -EINVAL, NULL, "state import: %s: no known \"table\"", where);
			else if ((r = load_row(st, t, (size_t)ti, o, where, e)) == 0)
				(*rows)++;
		}
		kf_json_free(o);
		p += n + 1;
	}
	if (r == 0 && lineno == 0)
		r = kf_errc(e, -EINVAL, NULL, "state import: the dump is empty");
	return r;
}

int kf_state_import(struct kf_state *st, const char *text, size_t len, size_t *rows,
		    struct kf_err *e)
{
	*rows = 0;
	struct target t = { 0 };
	struct kf_state_sink sink = { tg_table, tg_row, &t };
	int r = st->ops->dump(st, &sink, e);
	if (r == 0 && t.rows)
		r = kf_errc(e, -EEXIST, NULL, "state import: the store is not empty (%zu rows): "
			    "import fills a new one", t.rows);
	if (r < 0)
		goto out;
	struct kf_json *doc = NULL;
	struct kf_err ignored = KF_ERR_INIT; /* not one document: the lines style */
	bool one = kf_json_parse_object(text, len, &doc, &ignored) == 0 && doc;
	kf_err_release(&ignored);
	if ((r = st->ops->begin(st, true, e)) < 0)
		goto out_doc;
	r = one ? load_doc(st, &t, doc, rows, e) : load_lines(st, &t, text, len, rows, e);
	if (r == 0)
		r = st->ops->loaded(st, e);
	int c = st->ops->end(st, true, r == 0, e);
	r = r < 0 ? r : c;
	if (r < 0)
		*rows = 0;
out_doc:
	kf_json_free(doc);
out:
	target_release(&t);
	return r;
}
