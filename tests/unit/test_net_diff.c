/* Unit tests: the pure parts of the network resources — diff against
 * made-up link snapshots (normalisation: options that exist only in some
 * modes, delays in miimon steps, forward delay in centiseconds, macvlan
 * modes), ownership (only recorded devices are deleted), names by MAC, the
 * path to the rollback target, and the ownership record's text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "agent/net.h"
#include "types.h"
#include "util.h"

extern const struct kf_resource kf_res_net_bonds, kf_res_net_bridges, kf_res_net_macvtaps;

static const char profile_text[] =
	"role: t\n"
	"network:\n"
	"  persist: none\n"
	"  bonds:\n"
	"    - {name: kfbond0, mode: 802.3ad, members: [d0, \"02:00:00:00:00:D1\"], updelay: 250,\n"
	"       lacp_rate: fast, xmit_hash_policy: layer3+4}\n"
	"    - {name: kfbond1, mode: active-backup, members: [d2], miimon: 50}\n"
	"  bridges:\n"
	"    - {name: kfbr0, ports: [nic1], stp: true, forward_delay: 15}\n"
	"  macvtaps:\n"
	"    - {name: kfmv0, link: nic3, mode: vepa}\n";

struct fx {
	struct kf_profile *p;
	struct kf_net_want w;
	struct kf_net_have h;
	struct kf_ctx ctx;
	struct kf_err err, fail;
	struct kf_plan plan;
};

static struct kf_nl_link *add_link(struct kf_net_have *h, int idx, const char *name, const char *kind)
{
	h->snap.links = kf_xrealloc(h->snap.links, (h->snap.nlinks + 1) * sizeof(*h->snap.links));
	struct kf_nl_link *l = &h->snap.links[h->snap.nlinks++];
	memset(l, 0, sizeof(*l));
	l->ifindex = idx;
	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->kind, sizeof(l->kind), "%s", kind);
	l->flags = 1; /* up */
	l->mtu = 1500;
	l->has_mac = true;
	l->mac[0] = 2;
	l->mac[5] = (uint8_t)idx;
	return l;
}

/* A host where everything already is as the profile says. */
static int setup(void **state)
{
	struct fx *f = kf_xcalloc(1, sizeof(*f));
	assert_int_equal(kf_profile_load_buf(&f->p, "t.yaml", profile_text, strlen(profile_text), &f->err), 0);
	f->w.net = f->p->network;
	f->w.live = true;
	f->w.state_path = "/nonexistent";
	f->ctx.profile = f->p;
	f->ctx.err = &f->err;
	f->ctx.fail = &f->fail;
	struct kf_net_have *h = &f->h;
	struct kf_nl_link *b0 = add_link(h, 10, "kfbond0", "bond");
	b0->bond = (struct kf_nl_bond){ .mode = 4, .miimon = 100, .updelay = 200, .downdelay = 0,
					.lacp_rate = 1, .xmit_hash = 1 };
	struct kf_nl_link *b1 = add_link(h, 11, "kfbond1", "bond");
	/* options of other modes hold whatever: not compared in active-backup */
	b1->bond = (struct kf_nl_bond){ .mode = 1, .miimon = 50, .lacp_rate = 1, .xmit_hash = 2 };
	add_link(h, 2, "d0", "dummy")->master = 10;
	add_link(h, 3, "d1", "dummy")->master = 10;
	add_link(h, 4, "d2", "dummy")->master = 11;
	struct kf_nl_link *br = add_link(h, 20, "kfbr0", "bridge");
	br->br_stp = 1;
	br->br_fwd_delay = 1499; /* jiffies rounding */
	add_link(h, 5, "nic1", "veth")->master = 20;
	add_link(h, 6, "nic3", "veth");
	struct kf_nl_link *mv = add_link(h, 30, "kfmv0", "macvtap");
	mv->link = 6;
	mv->macvlan_mode = 2; /* MACVLAN_MODE_VEPA */
	/* a member wears the bond's MAC (pointers again: add_link reallocates) */
	memcpy(((struct kf_nl_link *)kf_nl_by_name(&h->snap, "d1"))->mac, kf_nl_by_name(&h->snap, "kfbond0")->mac, 6);
	kf_net_state_parse("dev kfbond0 bond\ndev kfmv0 macvtap\nmac 02:00:00:00:00:d1 d1\n", &h->st);
	/* names as probe resolves them */
	static struct kf_net_alias al[1];
	al[0].ref = "02:00:00:00:00:d1"; /* the profile's MAC, normalised by the schema */
	snprintf(al[0].name, sizeof(al[0].name), "%s", kf_net_lookup(&h->snap, &h->st, al[0].ref));
	h->alias = NULL;
	h->nalias = 0;
	h->alias = kf_xcalloc(1, sizeof(*h->alias));
	h->alias[0] = al[0];
	h->nalias = 1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	kf_plan_release(&f->plan);
	kf_nl_snap_release(&f->h.snap);
	kf_net_state_release(&f->h.st);
	free(f->h.alias);
	kf_profile_free(f->p);
	kf_err_release(&f->err);
	kf_err_release(&f->fail);
	free(f);
	return 0;
}

static void diff_all(struct fx *f)
{
	kf_plan_release(&f->plan);
	assert_int_equal(kf_res_net_bonds.diff(&f->ctx, &f->w, &f->h, &f->plan), 0);
	assert_int_equal(kf_res_net_bridges.diff(&f->ctx, &f->w, &f->h, &f->plan), 0);
	assert_int_equal(kf_res_net_macvtaps.diff(&f->ctx, &f->w, &f->h, &f->plan), 0);
}

static void test_steady_state_plans_nothing(void **state)
{
	struct fx *f = *state;
	assert_int_equal(f->err.n, 0);
	assert_string_equal(f->h.alias[0].name, "d1");
	diff_all(f);
	for (size_t i = 0; i < f->plan.n; i++)
		print_message("unexpected: %s %s -> %s\n", f->plan.v[i].what, f->plan.v[i].from, f->plan.v[i].to);
	assert_int_equal(f->plan.n, 0);
}

static void test_bond_drift(void **state)
{
	struct fx *f = *state;
	struct kf_nl_link *b0 = (struct kf_nl_link *)kf_nl_by_name(&f->h.snap, "kfbond0");
	b0->bond.miimon = 300;
	b0->bond.mode = 1;
	((struct kf_nl_link *)kf_nl_by_name(&f->h.snap, "d1"))->master = 0;
	diff_all(f);
	assert_int_equal(f->plan.n, 3);
	assert_string_equal(f->plan.v[0].what, "kfbond0 mode");
	assert_string_equal(f->plan.v[0].from, "active-backup");
	assert_string_equal(f->plan.v[0].to, "802.3ad");
	assert_string_equal(f->plan.v[1].what, "kfbond0 miimon");
	assert_string_equal(f->plan.v[1].to, "100");
	assert_string_equal(f->plan.v[2].what, "d1 master");
	assert_string_equal(f->plan.v[2].to, "kfbond0");
	const struct kf_net_op *op = f->plan.v[2].data;
	assert_int_equal(op->op, KF_NOP_MASTER);
	assert_string_equal(op->arg, "d1");
	assert_string_equal(op->ref, "02:00:00:00:00:d1");
}

static void test_bridge_and_macvtap_drift(void **state)
{
	struct fx *f = *state;
	struct kf_nl_link *br = (struct kf_nl_link *)kf_nl_by_name(&f->h.snap, "kfbr0");
	br->br_stp = 0;
	br->br_fwd_delay = 400;
	br->flags = 0;
	((struct kf_nl_link *)kf_nl_by_name(&f->h.snap, "kfmv0"))->macvlan_mode = 1; /* private */
	diff_all(f);
	assert_int_equal(f->plan.n, 4);
	assert_string_equal(f->plan.v[0].what, "kfbr0 stp");
	assert_string_equal(f->plan.v[1].what, "kfbr0 forward_delay");
	assert_string_equal(f->plan.v[1].from, "4");
	assert_int_equal(((const struct kf_net_op *)f->plan.v[1].data)->val, 1500);
	assert_string_equal(f->plan.v[2].what, "kfbr0 state");
	assert_string_equal(f->plan.v[3].what, "kfmv0 mode");
	assert_string_equal(f->plan.v[3].from, "private");
	assert_string_equal(f->plan.v[3].to, "vepa");
}

static void test_only_owned_devices_deleted(void **state)
{
	struct fx *f = *state;
	struct kf_p_network *n = (struct kf_p_network *)f->p->network;
	n->macvtaps.n = 0; /* the profile drops its macvtap */
	add_link(&f->h, 31, "foreign0", "macvtap");
	diff_all(f);
	assert_int_equal(f->plan.n, 1);
	assert_string_equal(f->plan.v[0].what, "kfmv0");
	assert_null(f->plan.v[0].to[0] ? f->plan.v[0].to : NULL);
	assert_int_equal(((const struct kf_net_op *)f->plan.v[0].data)->op, KF_NOP_DELETE);
	/* a bond the agent did not create is left alone when dropped */
	n->bonds.n = 1; /* kfbond1 (not recorded) leaves the profile */
	diff_all(f);
	for (size_t i = 0; i < f->plan.n; i++)
		assert_string_not_equal(f->plan.v[i].what, "kfbond1");
}

static void test_path_to_target(void **state)
{
	struct fx *f = *state;
	f->w.target = 0x0100000a;
	f->h.target_oif = 5; /* nic1 */
	assert_true(kf_net_on_path(&f->w, &f->h, "nic1"));
	assert_true(kf_net_on_path(&f->w, &f->h, "kfbr0"));
	assert_false(kf_net_on_path(&f->w, &f->h, "kfbond0"));
	assert_false(kf_net_on_path(&f->w, &f->h, "nic3"));
	f->h.target_oif = 2; /* d0: its bond is on the path, and the bond's other members */
	assert_true(kf_net_on_path(&f->w, &f->h, "kfbond0"));
	assert_true(kf_net_on_path(&f->w, &f->h, "d1"));
	assert_false(kf_net_on_path(&f->w, &f->h, "kfbr0"));
	f->w.target = 0;
	assert_false(kf_net_on_path(&f->w, &f->h, "d0"));
}

static void test_lookup(void **state)
{
	struct fx *f = *state;
	assert_string_equal(kf_net_lookup(&f->h.snap, NULL, "d0"), "d0");
	assert_null(kf_net_lookup(&f->h.snap, NULL, "eth9"));
	/* d0's own MAC (02:..:02), any case */
	assert_string_equal(kf_net_lookup(&f->h.snap, NULL, "02:00:00:00:00:02"), "d0");
	assert_string_equal(kf_net_lookup(&f->h.snap, NULL, "02-00-00-00-00-02"), "d0");
	/* d1 wears the bond's MAC: found through the record */
	assert_null(kf_net_lookup(&f->h.snap, NULL, "02:00:00:00:00:D1"));
	assert_string_equal(kf_net_lookup(&f->h.snap, &f->h.st, "02:00:00:00:00:D1"), "d1");
	/* a permanent MAC wins over current ones */
	struct kf_nl_link *d2 = (struct kf_nl_link *)kf_nl_by_name(&f->h.snap, "d2");
	d2->has_perm_mac = true;
	memcpy(d2->perm_mac, (uint8_t[]){ 0x52, 0x54, 0, 0, 0, 0x99 }, 6);
	assert_string_equal(kf_net_lookup(&f->h.snap, NULL, "52:54:00:00:00:99"), "d2");
}

static void test_state_text(void **state)
{
	(void)state;
	struct kf_net_state st;
	kf_net_state_parse("# comment\ndev br0 bridge\nport br0 eth1\nport br0 eth2\nmac 52:54:00:00:00:01 eth0\n"
			   "junk line\n",
			   &st);
	assert_int_equal(st.n, 4);
	assert_string_equal(kf_net_owned(&st, "br0"), "bridge");
	assert_null(kf_net_owned(&st, "eth1"));
	assert_true(kf_net_state_has(&st, 'p', "br0", "eth2"));
	kf_net_state_del(&st, 'p', "br0", "eth1");
	assert_false(kf_net_state_has(&st, 'p', "br0", "eth1"));
	kf_net_state_set(&st, 'd', "br0", "bridge", NULL); /* no duplicate */
	kf_net_state_set(&st, 'd', "bond0", "bond", NULL);
	char *t = kf_net_state_text(&st);
	struct kf_net_state again;
	kf_net_state_parse(t, &again);
	char *t2 = kf_net_state_text(&again);
	assert_string_equal(t, t2);
	assert_non_null(strstr(t, "\ndev br0 bridge\nport br0 eth2\nmac 52:54:00:00:00:01 eth0\ndev bond0 bond\n"));
	free(t);
	free(t2);
	kf_net_state_release(&st);
	kf_net_state_release(&again);
}

static void test_normalisers(void **state)
{
	(void)state;
	assert_int_equal(kf_net_bond_delay(250, 100), 200);
	assert_int_equal(kf_net_bond_delay(300, 100), 300);
	assert_int_equal(kf_net_bond_delay(KF_UNSET, 100), KF_UNSET);
	assert_int_equal(kf_net_bond_delay(40, 50), 0);
	for (int m = 0; m < 4; m++)
		assert_int_equal(kf_net_mv_mode_from_kernel(kf_net_mv_mode_to_kernel(m)), m);
	assert_int_equal(kf_net_mv_mode_to_kernel(KF_MVM_PASSTHRU), 8);
	assert_int_equal(kf_net_mv_mode_from_kernel(16), -1);
	struct kf_nl_snap s = { 0 };
	struct kf_nl_addr a[] = { { 7, 0x0b00000a, 24 }, { 7, 0x0200000a, 8 }, { 8, 0x0300000a, 24 } };
	s.addrs = a;
	s.naddrs = 3;
	char *x = kf_net_addrs_str(&s, 7);
	assert_string_equal(x, "10.0.0.11/24,10.0.0.2/8");
	free(x);
	const char *v[] = { "10.0.0.2/8", "10.0.0.11/24" };
	struct kf_list l = { 2, v };
	x = kf_net_list_str(&l);
	assert_string_equal(x, "10.0.0.11/24,10.0.0.2/8");
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_steady_state_plans_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bond_drift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bridge_and_macvtap_drift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_owned_devices_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_to_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
		cmocka_unit_test(test_state_text),
		cmocka_unit_test(test_normalisers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
