/* Open vSwitch through OVSDB's JSON-RPC on ovsdb-server's unix socket
 * (agent/ovsdb.h).  Requests and replies are built and read with
 * lib/json.c; OVSDB's own encodings are handled here: ["uuid", U],
 * ["named-uuid", N], ["set", [...]] (a one-element set may come bare) and
 * ["map", [[K, V], ...]]. */
#include "agent/ovsdb.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "util.h"

#define IO_MS 10000   /* one reply */
#define APPLY_MS 10000 /* ovs-vswitchd catching up with a change */

struct kf_ovs {
	int fd;
	int64_t id;
	char why[256];
};

static int fail(struct kf_ovs *o, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct kf_ovs *o, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->why, sizeof(o->why), fmt, ap);
	va_end(ap);
	return r;
}

int kf_ovs_open(const char *sock, struct kf_ovs **out)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	*out = NULL;
	if (strlen(sock) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	struct kf_ovs *o = kf_xcalloc(1, sizeof(*o));
	o->fd = fd;
	*out = o;
	return 0;
}

void kf_ovs_close(struct kf_ovs *o)
{
	if (!o)
		return;
	close(o->fd);
	free(o);
}

const char *kf_ovs_why(const struct kf_ovs *o)
{
	return o ? o->why : "";
}

/* ---- JSON-RPC ---- */

static struct kf_json *arr(int n, ...)
{
	struct kf_json *a = kf_json_array();
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		kf_json_push(a, va_arg(ap, struct kf_json *));
	va_end(ap);
	return a;
}

static int send_all(struct kf_ovs *o, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(o->fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return fail(o, -errno, "ovsdb: send: %s", strerror(errno));
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one message; answers the server's echo requests on the way. */
static int recv_msg(struct kf_ovs *o, struct kf_json **out)
{
	struct kf_buf b = KF_BUF_INIT;
	struct kf_err e = KF_ERR_INIT;
	int r;
	*out = NULL;
	for (;;) {
		struct pollfd p = { o->fd, POLLIN, 0 };
		char chunk[8192];
		if ((r = poll(&p, 1, IO_MS)) <= 0) {
			r = fail(o, r ? -errno : -ETIMEDOUT, "ovsdb: no reply from ovsdb-server");
			break;
		}
		ssize_t n = recv(o->fd, chunk, sizeof(chunk), 0);
		if (n <= 0) {
			r = fail(o, n ? -errno : -ECONNRESET, "ovsdb: connection closed");
			break;
		}
		kf_buf_add(&b, chunk, (size_t)n);
		r = kf_json_parse_part(b.s, b.len, out, &e);
		if (r == -EAGAIN)
			continue;
		if (r < 0)
			fail(o, r, "ovsdb: %s", e.n ? e.v[0].text : "bad reply");
		break;
	}
	kf_err_release(&e);
	kf_buf_release(&b);
	return r;
}

/* Calls method; *reply holds "result" (freed by the caller). */
static int rpc(struct kf_ovs *o, const char *method, struct kf_json *params, struct kf_json **reply)
{
	struct kf_json *req = kf_json_object();
	int64_t id = ++o->id;
	kf_json_set(req, "method", kf_json_str(method));
	kf_json_set(req, "params", params);
	kf_json_set(req, "id", kf_json_int(id));
	char *text = kf_json_dump(req, KF_JSON_PLAIN);
	kf_json_free(req);
	int r = send_all(o, text, strlen(text));
	free(text);
	*reply = NULL;
	while (r == 0 && (r = recv_msg(o, reply)) == 0) {
		const char *m = kf_json_get_str(*reply, "method");
		if (m && !strcmp(m, "echo")) {
			struct kf_json *pong = kf_json_object();
			kf_json_set(pong, "result", kf_json_array());
			kf_json_set(pong, "id", kf_json_str("echo"));
			char *t = kf_json_dump(pong, KF_JSON_PLAIN);
			kf_json_free(pong);
			r = send_all(o, t, strlen(t));
			free(t);
		} else if (kf_json_get_int(*reply, "id", -1) == id) {
			const struct kf_json *err = kf_json_member(*reply, "error");
			if (err)
				r = fail(o, -EIO, "ovsdb: %s", kf_json_str_of(err, NULL) ? kf_json_str_of(err, NULL) : "error");
			break;
		}
		kf_json_free(*reply);
		*reply = NULL;
	}
	if (r < 0) {
		kf_json_free(*reply);
		*reply = NULL;
	}
	return r;
}

/* ---- transactions ---- */

static struct kf_json *tx_new(void)
{
	return arr(1, kf_json_str("Open_vSwitch"));
}

static struct kf_json *op_new(const char *op, const char *table, struct kf_json *where)
{
	struct kf_json *x = kf_json_object();
	kf_json_set(x, "op", kf_json_str(op));
	kf_json_set(x, "table", kf_json_str(table));
	if (where)
		kf_json_set(x, "where", where);
	return x;
}

/* [["name", "==", name]], or [] for NULL */
static struct kf_json *where_name(const char *name)
{
	if (!name)
		return kf_json_array();
	return arr(1, arr(3, kf_json_str("name"), kf_json_str("=="), kf_json_str(name)));
}

static struct kf_json *uuid(const char *kind, const char *id)
{
	return arr(2, kf_json_str(kind), kf_json_str(id));
}

static struct kf_json *set_of(struct kf_json *elems)
{
	return arr(2, kf_json_str("set"), elems);
}

/* Sends the transaction tx (taken); the reply's "result" is one entry per
 * operation, and an entry with "error" fails it. */
static int transact(struct kf_ovs *o, struct kf_json *tx, struct kf_json **reply)
{
	int r = rpc(o, "transact", tx, reply);
	const struct kf_json *res = r ? NULL : kf_json_member(*reply, "result");
	for (size_t i = 0; res && i < kf_json_len(res); i++) {
		const struct kf_json *x = kf_json_at(res, i);
		const char *err = kf_json_get_str(x, "error"), *det = kf_json_get_str(x, "details");
		if (err) {
			r = fail(o, -EIO, "ovsdb: %s%s%s", err, det ? ": " : "", det ? det : "");
			break;
		}
	}
	if (!r && !res)
		r = fail(o, -EIO, "ovsdb: reply without a result");
	if (r < 0) {
		kf_json_free(*reply);
		*reply = NULL;
	}
	return r;
}

static long long cfg_of(const struct kf_json *reply, size_t i, const char *col)
{
	const struct kf_json *rows = kf_json_member(kf_json_at(kf_json_member(reply, "result"), i), "rows");
	return kf_json_get_int(kf_json_at(rows, 0), col, -1);
}

/* Waits until ovs-vswitchd has applied configuration next. */
static int wait_cfg(struct kf_ovs *o, long long next)
{
	struct timespec t0, now, nap = { 0, 5 * 1000 * 1000 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct kf_json *tx = tx_new(), *reply = NULL, *sel = op_new("select", "Open_vSwitch", kf_json_array());
		kf_json_set(sel, "columns", arr(1, kf_json_str("cur_cfg")));
		kf_json_push(tx, sel);
		int r = transact(o, tx, &reply);
		long long cur = r ? -1 : cfg_of(reply, 0, "cur_cfg");
		kf_json_free(reply);
		if (r < 0 || cur >= next)
			return r;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > APPLY_MS)
			return fail(o, -ETIMEDOUT, "ovs-vswitchd did not apply the change within %d s (is it running?)",
				    APPLY_MS / 1000);
		nanosleep(&nap, NULL);
	}
}

/* A change: tx (taken) plus the next_cfg bump, then the wait for it. */
static int change(struct kf_ovs *o, struct kf_json *tx)
{
	struct kf_json *m = op_new("mutate", "Open_vSwitch", kf_json_array()), *reply = NULL;
	kf_json_set(m, "mutations", arr(1, arr(3, kf_json_str("next_cfg"), kf_json_str("+="), kf_json_int(1))));
	kf_json_push(tx, m);
	struct kf_json *sel = op_new("select", "Open_vSwitch", kf_json_array());
	kf_json_set(sel, "columns", arr(1, kf_json_str("next_cfg")));
	kf_json_push(tx, sel);
	size_t last = kf_json_len(tx) - 2; /* results count the ops, not the database name */
	int r = transact(o, tx, &reply);
	long long next = r ? -1 : cfg_of(reply, last, "next_cfg");
	kf_json_free(reply);
	return r ? r : wait_cfg(o, next);
}

/* ---- reading ---- */

/* The atoms of a column value: a set's elements, or the value itself. */
static size_t atoms(const struct kf_json *v, const struct kf_json **out, size_t max)
{
	const char *tag = kf_json_str_of(kf_json_at(v, 0), NULL);
	size_t n = 0;
	if (tag && !strcmp(tag, "set")) {
		const struct kf_json *e = kf_json_at(v, 1);
		for (size_t i = 0; i < kf_json_len(e) && n < max; i++)
			out[n++] = kf_json_at(e, i);
	} else if (v && max) {
		out[n++] = v;
	}
	return n;
}

static const char *uuid_str(const struct kf_json *atom)
{
	return kf_json_str_of(kf_json_at(atom, 1), NULL);
}

static const char *str_col(const struct kf_json *row, const char *col)
{
	return kf_json_get_str(row, col); /* an empty set is not a string: NULL */
}

static const char *map_get(const struct kf_json *row, const char *col, const char *key)
{
	const struct kf_json *pairs = kf_json_at(kf_json_member(row, col), 1);
	for (size_t i = 0; i < kf_json_len(pairs); i++) {
		const struct kf_json *kv = kf_json_at(pairs, i);
		const char *k = kf_json_str_of(kf_json_at(kv, 0), NULL);
		if (k && !strcmp(k, key))
			return kf_json_str_of(kf_json_at(kv, 1), NULL);
	}
	return NULL;
}

static const struct kf_json *row_by_uuid(const struct kf_json *rows, const char *id)
{
	for (size_t i = 0; id && i < kf_json_len(rows); i++) {
		const struct kf_json *u = kf_json_member(kf_json_at(rows, i), "_uuid");
		const char *s = uuid_str(u);
		if (s && !strcmp(s, id))
			return kf_json_at(rows, i);
	}
	return NULL;
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static void read_port(const struct kf_json *row, const struct kf_json *ifrows, const char *bridge,
		      struct kf_ovs_port *p)
{
	const struct kf_json *v[KF_OVS_MAXIF];
	memset(p, 0, sizeof(*p));
	copy(p->name, sizeof(p->name), str_col(row, "name"));
	copy(p->bridge, sizeof(p->bridge), bridge);
	size_t n = atoms(kf_json_member(row, "interfaces"), v, KF_OVS_MAXIF);
	for (size_t i = 0; i < n; i++) {
		const struct kf_json *ir = row_by_uuid(ifrows, uuid_str(v[i]));
		const char *type = str_col(ir, "type");
		if (!ir)
			continue;
		copy(p->ifaces[p->nif++], KF_IFNAMSIZ, str_col(ir, "name"));
		p->internal |= type && !strcmp(type, "internal");
	}
	const struct kf_json *tag = kf_json_member(row, "tag");
	p->tag = kf_json_type(tag) == KF_JSON_INT ? kf_json_int_of(tag) : -1;
	copy(p->bond_mode, sizeof(p->bond_mode), str_col(row, "bond_mode"));
	copy(p->lacp, sizeof(p->lacp), str_col(row, "lacp"));
	const char *t = map_get(row, "other_config", "lacp-time");
	p->lacp_fast = t && !strcmp(t, "fast");
	p->updelay = kf_json_get_int(row, "bond_updelay", 0);
	p->downdelay = kf_json_get_int(row, "bond_downdelay", 0);
}

static void select_all(struct kf_json *tx, const char *table)
{
	kf_json_push(tx, op_new("select", table, kf_json_array()));
}

int kf_ovs_dump(struct kf_ovs *o, struct kf_ovs_snap *s)
{
	struct kf_json *tx = tx_new(), *reply = NULL;
	memset(s, 0, sizeof(*s));
	select_all(tx, "Bridge");
	select_all(tx, "Port");
	select_all(tx, "Interface");
	int r = transact(o, tx, &reply);
	if (r < 0)
		return r;
	const struct kf_json *res = kf_json_member(reply, "result");
	const struct kf_json *br = kf_json_member(kf_json_at(res, 0), "rows");
	const struct kf_json *ports = kf_json_member(kf_json_at(res, 1), "rows");
	const struct kf_json *ifs = kf_json_member(kf_json_at(res, 2), "rows");
	s->br = kf_xcalloc(kf_json_len(br) + 1, sizeof(*s->br));
	s->ports = kf_xcalloc(kf_json_len(ports) + 1, sizeof(*s->ports));
	for (size_t i = 0; i < kf_json_len(br); i++) {
		const struct kf_json *row = kf_json_at(br, i), *v[256];
		struct kf_ovs_bridge *b = &s->br[s->nbr++];
		copy(b->name, sizeof(b->name), str_col(row, "name"));
		copy(b->datapath, sizeof(b->datapath), str_col(row, "datapath_type"));
		b->stp = kf_json_get_int(row, "stp_enable", 0) == 1;
		size_t n = atoms(kf_json_member(row, "ports"), v, 256);
		for (size_t j = 0; j < n && s->nports < kf_json_len(ports); j++) {
			const struct kf_json *pr = row_by_uuid(ports, uuid_str(v[j]));
			if (pr)
				read_port(pr, ifs, b->name, &s->ports[s->nports++]);
		}
	}
	kf_json_free(reply);
	return 0;
}

void kf_ovs_snap_release(struct kf_ovs_snap *s)
{
	free(s->br);
	free(s->ports);
	memset(s, 0, sizeof(*s));
}

const struct kf_ovs_bridge *kf_ovs_bridge(const struct kf_ovs_snap *s, const char *name)
{
	for (size_t i = 0; i < s->nbr; i++)
		if (!strcmp(s->br[i].name, name))
			return &s->br[i];
	return NULL;
}

const struct kf_ovs_port *kf_ovs_port(const struct kf_ovs_snap *s, const char *name)
{
	for (size_t i = 0; i < s->nports; i++)
		if (!strcmp(s->ports[i].name, name))
			return &s->ports[i];
	return NULL;
}

/* ---- writing ---- */

/* The uuid of the row of table called name, into id (NULL: none). */
static int find(struct kf_ovs *o, const char *table, const char *name, char id[40])
{
	struct kf_json *tx = tx_new(), *reply = NULL, *sel = op_new("select", table, where_name(name));
	kf_json_set(sel, "columns", arr(1, kf_json_str("_uuid")));
	kf_json_push(tx, sel);
	int r = transact(o, tx, &reply);
	id[0] = 0;
	if (r < 0)
		return r;
	const struct kf_json *rows = kf_json_member(kf_json_at(kf_json_member(reply, "result"), 0), "rows");
	copy(id, 40, uuid_str(kf_json_member(kf_json_at(rows, 0), "_uuid")));
	kf_json_free(reply);
	return id[0] ? 0 : fail(o, -ENOENT, "ovsdb: no %s called %s", table, name);
}

static struct kf_json *bridge_row(const struct kf_ovs_bridge *b)
{
	struct kf_json *row = kf_json_object();
	kf_json_set(row, "datapath_type", kf_json_str(b->datapath));
	kf_json_set(row, "stp_enable", kf_json_bool(b->stp));
	return row;
}

/* Inserts the port's interfaces and the port (named-uuid "p") into tx. */
static void insert_port(struct kf_json *tx, const struct kf_ovs_port *p)
{
	struct kf_json *ifs = kf_json_array();
	for (int i = 0; i < p->nif; i++) {
		char nid[16];
		snprintf(nid, sizeof(nid), "i%d", i);
		struct kf_json *ins = op_new("insert", "Interface", NULL), *row = kf_json_object();
		kf_json_set(row, "name", kf_json_str(p->ifaces[i]));
		if (p->internal)
			kf_json_set(row, "type", kf_json_str("internal"));
		kf_json_set(ins, "row", row);
		kf_json_set(ins, "uuid-name", kf_json_str(nid));
		kf_json_push(tx, ins);
		kf_json_push(ifs, uuid("named-uuid", nid));
	}
	struct kf_json *ins = op_new("insert", "Port", NULL), *row = kf_json_object();
	kf_json_set(row, "name", kf_json_str(p->name));
	kf_json_set(row, "interfaces", set_of(ifs));
	if (p->tag >= 0)
		kf_json_set(row, "tag", kf_json_int(p->tag));
	if (p->bond_mode[0]) {
		kf_json_set(row, "bond_mode", kf_json_str(p->bond_mode));
		kf_json_set(row, "bond_updelay", kf_json_int(p->updelay));
		kf_json_set(row, "bond_downdelay", kf_json_int(p->downdelay));
	}
	if (p->lacp[0])
		kf_json_set(row, "lacp", kf_json_str(p->lacp));
	if (p->lacp_fast)
		kf_json_set(row, "other_config",
			    arr(2, kf_json_str("map"), arr(1, arr(2, kf_json_str("lacp-time"), kf_json_str("fast")))));
	kf_json_set(ins, "row", row);
	kf_json_set(ins, "uuid-name", kf_json_str("p"));
	kf_json_push(tx, ins);
}

/* Mutates column col of the row of table where (taken): op ("insert" or
 * "delete") the one uuid value. */
static void mutate_set(struct kf_json *tx, const char *table, struct kf_json *where, const char *col,
		       const char *op, struct kf_json *value)
{
	struct kf_json *m = op_new("mutate", table, where);
	kf_json_set(m, "mutations", arr(1, arr(3, kf_json_str(col), kf_json_str(op), set_of(arr(1, value)))));
	kf_json_push(tx, m);
}

int kf_ovs_add_bridge(struct kf_ovs *o, const struct kf_ovs_bridge *b)
{
	struct kf_json *tx = tx_new();
	struct kf_ovs_port own = { .nif = 1, .internal = true, .tag = -1 };
	copy(own.name, sizeof(own.name), b->name);
	copy(own.ifaces[0], KF_IFNAMSIZ, b->name);
	insert_port(tx, &own);
	struct kf_json *ins = op_new("insert", "Bridge", NULL), *row = bridge_row(b);
	kf_json_set(row, "name", kf_json_str(b->name));
	kf_json_set(row, "ports", set_of(arr(1, uuid("named-uuid", "p"))));
	kf_json_set(ins, "row", row);
	kf_json_set(ins, "uuid-name", kf_json_str("b"));
	kf_json_push(tx, ins);
	mutate_set(tx, "Open_vSwitch", kf_json_array(), "bridges", "insert", uuid("named-uuid", "b"));
	return change(o, tx);
}

int kf_ovs_set_bridge(struct kf_ovs *o, const struct kf_ovs_bridge *b)
{
	struct kf_json *tx = tx_new(), *up = op_new("update", "Bridge", where_name(b->name));
	kf_json_set(up, "row", bridge_row(b));
	kf_json_push(tx, up);
	return change(o, tx);
}

/* Ports and interfaces go with the bridge: OVSDB collects rows no root
 * row references. */
int kf_ovs_del_bridge(struct kf_ovs *o, const char *name)
{
	char id[40];
	int r = find(o, "Bridge", name, id);
	if (r < 0)
		return r;
	struct kf_json *tx = tx_new();
	mutate_set(tx, "Open_vSwitch", kf_json_array(), "bridges", "delete", uuid("uuid", id));
	return change(o, tx);
}

int kf_ovs_put_port(struct kf_ovs *o, const struct kf_ovs_port *p)
{
	char old[40] = "";
	int r = find(o, "Port", p->name, old);
	if (r < 0 && r != -ENOENT)
		return r;
	struct kf_json *tx = tx_new();
	insert_port(tx, p);
	if (old[0])
		mutate_set(tx, "Bridge", where_name(p->bridge), "ports", "delete", uuid("uuid", old));
	mutate_set(tx, "Bridge", where_name(p->bridge), "ports", "insert", uuid("named-uuid", "p"));
	return change(o, tx);
}

int kf_ovs_del_port(struct kf_ovs *o, const char *bridge, const char *name)
{
	char id[40];
	int r = find(o, "Port", name, id);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	struct kf_json *tx = tx_new();
	mutate_set(tx, "Bridge", where_name(bridge), "ports", "delete", uuid("uuid", id));
	return change(o, tx);
}
