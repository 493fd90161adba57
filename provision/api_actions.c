/* What an operator may do from the API or the page: one row per action in
 * actions[], each calling the function the matching command uses (so the
 * API never does an action its own way).  kf_api_action_run checks the
 * body, holds the inventory, brackets the change with kf_serve_wrote and
 * logs who did it, in the server's log and in the host's events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision/api.h"
#include "provision/enlist.h"
#include "provision/power.h"
#include "provision/serve.h"
#include "provision/state_extra.h"
#include "types.h"

/* As `kickfleet power` and `reinstall` run them, one machine at a time. */
static const struct kf_power_opts power_opts = { .timeout_ms = 5000, .retries = 2 };

/* netboot on|off, as `kickfleet netboot HOST on|off`; then the boot files */
static int set_netboot(struct kf_serve *s, struct kf_api_act *c, int on, struct kf_err *e)
{
	struct kf_state *st = kf_serve_state(s, e);
	if (!st)
		return -EIO;
	int r = kf_state_netboot(st, c->target, on, e);
	if (r < 0)
		return r;
	kf_serve_rerender(s, c->inv, c->target);
	kf_json_set(c->result, "changed", kf_json_bool(r > 0));
	return 0;
}

/* The power action on the machine, as `kickfleet power ACTION NAME` (pxe:
 * a one-time network boot first, as `kickfleet reinstall`), recorded in
 * the store.  -ENOTSUP when the machine has no power control. */
static int power(struct kf_serve *s, struct kf_api_act *c, int action, bool pxe, struct kf_err *e)
{
	struct kf_power_job *v = NULL;
	size_t n = 0;
	char *names[1] = { (char *)c->target };
	struct kf_err pe = KF_ERR_INIT;
	int r = kf_power_jobs_for(c->inv, names, 1, NULL, false, &v, &n, &pe);
	if (r < 0 || n != 1) {
		char msg[256];
		r = kf_errc(e, -ENOTSUP, NULL, "%s", kf_api_errmsg(&pe, msg, sizeof(msg)));
		goto out;
	}
	v[0].action = action;
	v[0].pxe = pxe;
	kf_power_run(v, 1, 1, &power_opts, NULL, NULL, NULL);
	struct kf_state *st = kf_serve_state(s, e);
	if (!st || kf_state_set_power(st, c->target, v[0].power, kf_power_action_name(action), v[0].error, e) < 0) {
		r = -EIO;
		goto out;
	}
	kf_json_set(c->result, "power", v[0].power < 0 ? NULL : kf_json_str(v[0].power ? "on" : "off"));
	kf_json_set(c->result, "done", kf_json_str(v[0].rc < 0 ? NULL : v[0].done));
	if (v[0].rc < 0)
		r = kf_errc(e, -EREMOTEIO, NULL, "%s: %s", c->target, v[0].error ? v[0].error : "power action failed");
out:
	kf_err_release(&pe);
	kf_power_jobs_free(v, n);
	return r;
}

static int act_power(struct kf_serve *s, struct kf_api_act *c, struct kf_err *e)
{
	const struct kf_json *a = kf_json_member(c->body, "action");
	const char *name = kf_json_str_of(a, NULL);
	int action = name ? kf_power_action_parse(name) : -1;
	if (action < 0)
		return kf_errc(e, -EINVAL, NULL, "\"action\" must be one of status, on, off, cycle, reset");
	return power(s, c, action, false, e);
}

static int act_netboot(struct kf_serve *s, struct kf_api_act *c, struct kf_err *e)
{
	const struct kf_json *on = kf_json_member(c->body, "on");
	if (!on || kf_json_type(on) != KF_JSON_BOOL)
		return kf_errc(e, -EINVAL, NULL, "\"on\" must be true or false");
	return set_netboot(s, c, kf_json_bool_of(on), e);
}

/* As `kickfleet reinstall NAME [--force]`: netboot on, then a one-time
 * network boot and a power cycle when the machine has power control
 * (without, it installs when it is next restarted).  A machine already
 * booting or installing is left alone unless "force". */
static int act_reinstall(struct kf_serve *s, struct kf_api_act *c, struct kf_err *e)
{
	const struct kf_json *f = kf_json_member(c->body, "force");
	if (f && kf_json_type(f) != KF_JSON_BOOL)
		return kf_errc(e, -EINVAL, NULL, "\"force\" must be true or false");
	struct kf_state *st = kf_serve_state(s, e);
	struct kf_host_rec h = { 0 };
	int r = st ? kf_state_get_host(st, c->target, &h, NULL) : -EIO;
	if (r == 0 && !(f && kf_json_bool_of(f)) && (h.state == KF_ST_BOOTING || h.state == KF_ST_INSTALLING))
		r = kf_errc(e, -EBUSY, NULL, "%s is already %s (\"force\": true cycles it again)", c->target,
			    kf_install_state_name(h.state));
	kf_host_rec_release(&h);
	if (r == 0 || r == -ENOENT) /* unknown: set_netboot says so */
		r = set_netboot(s, c, 1, e);
	if (r < 0)
		return r;
	/* hosts have power control with a power: section, guests through libvirt */
	const struct kf_i_host *ih = kf_inventory_host(c->inv, c->target);
	if (ih && !ih->power) {
		kf_json_set(c->result, "power", NULL);
		kf_json_set(c->result, "note", kf_json_str("no power control: it installs when it is next restarted"));
		return 0;
	}
	return power(s, c, KF_PA_CYCLE, true, e);
}

/* A string member: required (or NULL when absent and optional); else
 * -EINVAL naming it. */
static int str_field(const struct kf_json *body, const char *key, bool required, const char **out,
		     struct kf_err *e)
{
	const struct kf_json *v = kf_json_member(body, key);
	*out = kf_json_str_of(v, NULL);
	if ((v && !*out) || (required && !*out))
		return kf_errc(e, -EINVAL, NULL, "\"%s\" must be a string", key);
	return 0;
}

/* As `kickfleet enlist MAC --name N --role R [--ip A] [--bmc B
 * [--bmc-user U] [--bmc-password-file F]] [--force]`: the
 * discovered machine becomes a host of the inventory file, which the
 * server then reads again; kf_api_action_run renders it. */
static int act_enlist(struct kf_serve *s, struct kf_api_act *c, struct kf_err *e)
{
	struct kf_enlist x = { .fleet = kf_serve_fleet(s), .outdir = kf_serve_outdir(s), .mac = c->target,
			       .force_hint = "\"force\": true" };
	const struct kf_json *f = kf_json_member(c->body, "force");
	if (f && kf_json_type(f) != KF_JSON_BOOL)
		return kf_errc(e, -EINVAL, NULL, "\"force\" must be true or false");
	x.force = f && kf_json_bool_of(f);
	int r = str_field(c->body, "name", true, &x.name, e);
	if (r == 0)
		r = str_field(c->body, "role", true, &x.role, e);
	if (r == 0)
		r = str_field(c->body, "ip", false, &x.ip, e);
	if (r == 0)
		r = str_field(c->body, "bmc", false, &x.bmc, e);
	if (r == 0)
		r = str_field(c->body, "bmc_user", false, &x.bmc_user, e);
	if (r == 0)
		r = str_field(c->body, "bmc_password_file", false, &x.bmc_password_file, e);
	if (r < 0)
		return r;
	if (!x.fleet)
		return kf_errc(e, -ENOTSUP, NULL, "the server was started without its inventory file");
	if (strlen(x.name) >= sizeof(c->host) || !kf_serve_name_ok(x.name))
		return kf_errc(e, -EINVAL, NULL, "bad host name");
	struct kf_state *st = kf_serve_state(s, e);
	if (!st)
		return -EIO;
	struct kf_enlisted d;
	if ((r = kf_enlist(&x, st, &d, e)) < 0)
		return r; /* -ENOENT: not discovered, 404 */
	snprintf(c->host, sizeof(c->host), "%s", x.name);
	c->reload = true;
	kf_json_set(c->result, "mac", kf_json_str(d.mac));
	kf_json_set(c->result, "name", kf_json_str(x.name));
	kf_json_set(c->result, "line", kf_json_int(d.line));
	kf_enlisted_release(&d);
	return 0;
}

static const char *const f_netboot[] = { "on", NULL };
static const char *const f_reinstall[] = { "force", NULL };
static const char *const f_power[] = { "action", NULL };
static const char *const f_enlist[] = { "name", "role", "ip", "bmc", "bmc_user", "bmc_password_file", "force", NULL };

static const struct kf_api_action actions[] = {
	{ .name = "netboot", .fields = f_netboot, .label = NULL, .run = act_netboot,
	  .confirm = "Change how %s boots?" },
	{ .name = "reinstall", .fields = f_reinstall, .label = "Reinstall", .run = act_reinstall,
	  .confirm = "Reinstall %s from the network (power cycled when it has power control)? Its disk will be wiped." },
	{ .name = "power", .fields = f_power, .label = NULL, .run = act_power,
	  .confirm = "Change the power of %s?" },
	{ .name = "enlist", .fields = f_enlist, .label = NULL, .run = act_enlist, .discovered = true,
	  .confirm = "Enlist %s?" },
};

const struct kf_api_action *kf_api_action_find(const char *name, bool discovered)
{
	for (size_t i = 0; i < KF_ARRAY_SIZE(actions); i++)
		if (!strcmp(actions[i].name, name) && actions[i].discovered == discovered)
			return &actions[i];
	return NULL;
}

const struct kf_api_action *kf_api_actions(size_t *n)
{
	*n = KF_ARRAY_SIZE(actions);
	return actions;
}

/* The event detail: "reinstall by alice from 127.0.0.1" ({"on":true}). */
static char *who_line(const struct kf_api_action *act, const struct kf_api_act *c)
{
	char *body = c->body ? kf_json_dump(c->body, KF_JSON_PLAIN) : NULL;
	char *line = kf_xasprintf("%s by %s from %s%s%s", act->name, c->who->name, c->peer,
				  body ? " " : "", body ? body : "");
	free(body);
	return line;
}

/* After an action that edited the inventory file: read it again, render
 * the new host (no inventory lock may be held). */
static void reload_render(struct kf_serve *s, const struct kf_api_act *c)
{
	struct kf_err e = KF_ERR_INIT;
	if (kf_serve_reload_fleet(s, &e) < 0) {
		kf_log(KF_LOG_ERR, "api: %s changed but does not load again:", kf_serve_fleet(s));
		kf_err_print(&e, stderr);
	} else {
		kf_serve_rerender(s, kf_serve_inv_get(s), c->host);
		kf_serve_inv_put(s);
	}
	kf_err_release(&e);
}

static bool target_ok(const struct kf_api_action *act, const char *target)
{
	char mac[18];
	return act->discovered ? kf_mac_norm(target, mac) == 0 : kf_serve_name_ok(target);
}

int kf_api_action_run(struct kf_serve *s, const struct kf_api_action *act, struct kf_api_act *c,
		      struct kf_err *e)
{
	const char *bad = kf_json_unknown_key(c->body, act->fields);
	const char *what = act->discovered ? "MAC address" : "host name";
	if (bad || !target_ok(act, c->target)) {
		if (bad)
			kf_errc(e, -EINVAL, NULL, "unknown field \"%s\" for %s", bad, act->name);
		else
			kf_errc(e, -EINVAL, NULL, "bad %s", what);
		kf_log(KF_LOG_WARN, "api: 400 %s of %s by %s from %s: %s", act->name, c->target, c->who->name,
		       c->peer, bad ? "unknown field" : e->v[e->n - 1].text);
		return 400;
	}
	c->result = kf_json_object();
	kf_json_set(c->result, act->discovered ? "mac" : "host", kf_json_str(c->target));
	kf_json_set(c->result, "action", kf_json_str(act->name));
	char *line = who_line(act, c);
	c->inv = kf_serve_inv_get(s); /* no full render overlaps (kf_serve_exclusive) */
	kf_serve_wrote(s);
	int r = act->run(s, c, e);
	kf_serve_wrote(s);
	kf_serve_inv_put(s);
	c->inv = NULL;
	if (r == 0 && c->reload)
		reload_render(s, c); /* the new host's row comes with the reload */
	struct kf_state *st = kf_serve_state(s, NULL);
	if (r == 0 && st)
		kf_state_log_event(st, c->host[0] ? c->host : c->target, "api", line, NULL);
	int status = r == 0 ? 200 : r == -ENOENT ? 404 : r == -EINVAL ? 400
		   : r == -ENOTSUP || r == -EBUSY ? 409 : r == -EREMOTEIO ? 502 : 503;
	char msg[256];
	if (r == 0)
		kf_log(KF_LOG_INFO, "api: %s (%s)", line, c->who->role == KF_ROLE_ADMIN ? "admin" : "read-only");
	else
		kf_log(KF_LOG_WARN, "api: %d %s: %s", status, line, kf_api_errmsg(e, msg, sizeof(msg)));
	free(line);
	return status;
}
