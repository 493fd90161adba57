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
#include "provision/serve.h"
#include "provision/state_extra.h"

/* netboot on|off, as `kickfleet netboot HOST on|off`; then the boot files */
static int set_netboot(struct kf_serve *s, struct kf_api_act *c, int on, struct kf_err *e)
{
	struct kf_state *st = kf_serve_state(s, e);
	if (!st)
		return -EIO;
	int r = kf_state_netboot(st, c->target, on, e);
	if (r < 0)
		return r;
	const struct kf_inventory *inv = kf_serve_inv_get(s);
	kf_serve_rerender(s, inv, c->target);
	kf_serve_inv_put(s);
	kf_json_set(c->result, "changed", kf_json_bool(r > 0));
	return 0;
}

static int act_netboot(struct kf_serve *s, struct kf_api_act *c, struct kf_err *e)
{
	const struct kf_json *on = kf_json_member(c->body, "on");
	if (!on || kf_json_type(on) != KF_JSON_BOOL)
		return kf_errc(e, -EINVAL, NULL, "\"on\" must be true or false");
	return set_netboot(s, c, kf_json_bool_of(on), e);
}

/* reinstall on the next boot: `kickfleet netboot HOST on` */
static int act_reinstall(struct kf_serve *s, struct kf_api_act *c, struct kf_err *e)
{
	return set_netboot(s, c, 1, e);
}

static const char *const f_netboot[] = { "on", NULL };
static const char *const f_none[] = { NULL };

static const struct kf_api_action actions[] = {
	{ .name = "netboot", .fields = f_netboot, .label = NULL, .run = act_netboot,
	  .confirm = "Change how %s boots?" },
	{ .name = "reinstall", .fields = f_none, .label = "Reinstall", .run = act_reinstall,
	  .confirm = "Reinstall %s from the network on its next boot? Its disk will be wiped." },
};

const struct kf_api_action *kf_api_action_find(const char *name)
{
	for (size_t i = 0; i < KF_ARRAY_SIZE(actions); i++)
		if (!strcmp(actions[i].name, name))
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

int kf_api_action_run(struct kf_serve *s, const struct kf_api_action *act, struct kf_api_act *c,
		      struct kf_err *e)
{
	const char *bad = kf_json_unknown_key(c->body, act->fields);
	if (bad || !kf_serve_name_ok(c->target)) {
		if (bad)
			kf_errc(e, -EINVAL, NULL, "unknown field \"%s\" for %s", bad, act->name);
		else
			kf_errc(e, -EINVAL, NULL, "bad host name");
		kf_log(KF_LOG_WARN, "api: 400 %s of %s by %s from %s: %s", act->name, c->target, c->who->name,
		       c->peer, bad ? "unknown field" : "bad host name");
		return 400;
	}
	c->result = kf_json_object();
	kf_json_set(c->result, "host", kf_json_str(c->target));
	kf_json_set(c->result, "action", kf_json_str(act->name));
	char *line = who_line(act, c);
	kf_serve_inv_get(s); /* no full render overlaps (kf_serve_exclusive) */
	kf_serve_wrote(s);
	int r = act->run(s, c, e);
	struct kf_state *st = kf_serve_state(s, NULL);
	if (r == 0 && st)
		kf_state_log_event(st, c->target, "api", line, NULL);
	kf_serve_wrote(s);
	kf_serve_inv_put(s);
	int status = r == 0 ? 200 : r == -ENOENT ? 404 : r == -EINVAL ? 400 : r == -ENOTSUP ? 409 : 503;
	char msg[256];
	if (r == 0)
		kf_log(KF_LOG_INFO, "api: %s (%s)", line, c->who->role == KF_ROLE_ADMIN ? "admin" : "read-only");
	else
		kf_log(KF_LOG_WARN, "api: %d %s: %s", status, line, kf_api_errmsg(e, msg, sizeof(msg)));
	free(line);
	return status;
}
