/* kf_state_check (state.h): is a state store sound?  The engine checks
 * its storage (the backend's check, when it has one), then every row of
 * every table is read through the backend's dump, and the hosts table's
 * columns are held, as stored, to the values the rest of kickfleet
 * relies on (a reader maps an unknown install state to "new": the check
 * sees the stored text). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "provision/state_backend.h"

/* hosts columns and what each must hold */
enum col_rule { C_NAME, C_STATE, C_NETBOOT, C_TOKEN, C_DIGEST, C_RULES };
static const char *const col_names[C_RULES] = { "name", "state", "netboot", "token", "digest" };

struct checker {
	struct kf_buf *out;
	size_t rows;
	int bad;
	int col[C_RULES]; /* index in the current table's row, -1: none (not hosts) */
};

static int ck_table(void *ctx, const char *table, size_t ncols, const char *const *cols)
{
	struct checker *c = ctx;
	for (int i = 0; i < C_RULES; i++) {
		c->col[i] = -1;
		for (size_t j = 0; !strcmp(table, "hosts") && j < ncols; j++)
			if (!strcmp(cols[j], col_names[i]))
				c->col[i] = (int)j;
	}
	return 0;
}

static bool hex_ok(const char *s, size_t len)
{
	return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

static const char *col_val(const struct checker *c, const char *const *vals, enum col_rule i)
{
	return c->col[i] >= 0 ? vals[c->col[i]] : NULL;
}

/* Which stored column of a hosts row is out of range, NULL when none. */
static const char *host_bad(const struct checker *c, const char *const *vals)
{
	const char *state = col_val(c, vals, C_STATE), *netboot = col_val(c, vals, C_NETBOOT);
	const char *token = col_val(c, vals, C_TOKEN), *digest = col_val(c, vals, C_DIGEST);
	if (!state || kf_install_state_parse(state) < 0)
		return "state";
	if (!netboot || (strcmp(netboot, "0") && strcmp(netboot, "1")))
		return "netboot";
	if (token && token[0] && !hex_ok(token, KF_TOKEN_HEX))
		return "token";
	if (digest && digest[0] && !hex_ok(digest, KF_DIGEST_HEX))
		return "digest";
	return NULL;
}

static int ck_row(void *ctx, const char *const *vals, const bool *is_int)
{
	(void)is_int;
	struct checker *c = ctx;
	c->rows++;
	if (c->col[C_NAME] < 0)
		return 0;
	const char *why = host_bad(c, vals), *name = col_val(c, vals, C_NAME);
	if (why) {
		const char *v = col_val(c, vals, why[0] == 's' ? C_STATE : why[0] == 'n' ? C_NETBOOT
							   : why[0] == 't' ? C_TOKEN : C_DIGEST);
		kf_buf_printf(c->out, "host %s: %s \"%s\" out of range\n", name ? name : "(no name)", why,
			      why[0] == 't' ? "..." : v ? v : "NULL");
		c->bad++;
	}
	return 0;
}

int kf_state_check(struct kf_state *st, struct kf_buf *problems, size_t *rows, struct kf_err *e)
{
	struct checker c = { .out = problems };
	*rows = 0;
	int n = st->ops->check ? st->ops->check(st, problems, e) : 0;
	if (n < 0)
		return n;
	const struct kf_state_sink sink = { ck_table, ck_row, &c };
	int r = st->ops->dump(st, &sink, e);
	*rows = c.rows;
	return r < 0 ? r : n + c.bad;
}
