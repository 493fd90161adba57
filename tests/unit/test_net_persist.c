/* Unit tests: the persistence files of the network resources
 * (kf_net_render): systemd-networkd .netdev/.network and NetworkManager
 * keyfiles, for bonds, bridges, VLANs and macvtaps, names and MACs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "agent/net.h"
#include "util.h"

static const char profile_text[] =
	"role: t\n"
	"network:\n"
	"  bonds:\n"
	"    - {name: bond0, mode: 802.3ad, members: [eth0, \"52:54:00:AA:00:02\"], updelay: 250,\n"
	"       lacp_rate: fast, xmit_hash_policy: layer3+4, mtu: 9000}\n"
	"  vlans:\n"
	"    - {name: bond0.100, link: bond0, id: 100}\n"
	"  bridges:\n"
	"    - {name: br0, ports: [bond0.100], addresses: [10.0.0.11/24], gateway: 10.0.0.1}\n"
	"  macvtaps:\n"
	"    - {name: mvt0, link: eth2, mode: private}\n";

struct files {
	struct kf_net_file *v;
	size_t n;
};

static const char *text_of(const struct files *f, const char *path)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].path, path))
			return f->v[i].text;
	return NULL;
}

static void release(struct files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].path);
		free(f->v[i].text);
	}
	free(f->v);
}

static struct kf_profile *load(void)
{
	struct kf_err e = KF_ERR_INIT;
	struct kf_profile *p = NULL;
	assert_int_equal(kf_profile_load_buf(&p, "t.yaml", profile_text, strlen(profile_text), &e), 0);
	kf_err_release(&e);
	return p;
}

static void test_networkd(void **state)
{
	(void)state;
	struct kf_profile *p = load();
	struct files f;
	assert_int_equal(kf_net_render(p->network, KF_PERSIST_NETWORKD, &f.v, &f.n), 0);
	/* 4 netdevs; networks: bond0, eth0, the MAC member, bond0.100, br0, mvt0, eth2 */
	assert_int_equal(f.n, 11);
	const char *bond = text_of(&f, "/etc/systemd/network/50-kickfleet-bond0.netdev");
	assert_non_null(bond);
	assert_non_null(strstr(bond, "[NetDev]\nName=bond0\nKind=bond\nMTUBytes=9000\n\n[Bond]\nMode=802.3ad\n"
				     "MIIMonitorSec=100ms\nUpDelaySec=200ms\nLACPTransmitRate=fast\n"
				     "TransmitHashPolicy=layer3+4\n"));
	const char *m = text_of(&f, "/etc/systemd/network/50-kickfleet-525400aa0002.network");
	assert_non_null(m);
	assert_non_null(strstr(m, "[Match]\nPermanentMACAddress=52:54:00:aa:00:02\n"));
	assert_non_null(strstr(m, "Bond=bond0\n"));
	const char *bn = text_of(&f, "/etc/systemd/network/50-kickfleet-bond0.network");
	assert_non_null(strstr(bn, "VLAN=bond0.100\n"));
	const char *br = text_of(&f, "/etc/systemd/network/50-kickfleet-br0.network");
	assert_non_null(strstr(br, "Address=10.0.0.11/24\nGateway=10.0.0.1\nConfigureWithoutCarrier=yes\n"));
	assert_null(strstr(br, "LinkLocalAddressing"));
	assert_non_null(strstr(text_of(&f, "/etc/systemd/network/50-kickfleet-bond0.100.network"), "Bridge=br0\n"));
	assert_non_null(strstr(text_of(&f, "/etc/systemd/network/50-kickfleet-eth2.network"), "MACVTAP=mvt0\n"));
	assert_non_null(strstr(text_of(&f, "/etc/systemd/network/50-kickfleet-mvt0.netdev"), "[MACVTAP]\nMode=private\n"));
	release(&f);
	kf_profile_free(p);
}

static void test_networkmanager(void **state)
{
	(void)state;
	struct kf_profile *p = load();
	struct files f, g;
	assert_int_equal(kf_net_render(p->network, KF_PERSIST_NM, &f.v, &f.n), 0);
	assert_int_equal(kf_net_render(p->network, KF_PERSIST_NM, &g.v, &g.n), 0);
	/* bond0, br0, bond0.100, mvt0, and the two members */
	assert_int_equal(f.n, 6);
	for (size_t i = 0; i < f.n; i++) /* same profile, same files (stable UUIDs) */
		assert_string_equal(f.v[i].text, g.v[i].text);
	const char *d = "/etc/NetworkManager/system-connections/";
	char path[256];
	snprintf(path, sizeof(path), "%skickfleet-bond0.nmconnection", d);
	const char *bond = text_of(&f, path);
	assert_non_null(strstr(bond, "type=bond\ninterface-name=bond0\n"));
	assert_non_null(strstr(bond, "[bond]\nmode=802.3ad\nmiimon=100\nupdelay=200\nlacp_rate=fast\n"));
	snprintf(path, sizeof(path), "%skickfleet-525400aa0002.nmconnection", d);
	const char *m = text_of(&f, path);
	assert_non_null(strstr(m, "type=ethernet\nmaster=bond0\nslave-type=bond\n"));
	assert_non_null(strstr(m, "[ethernet]\nmac-address=52:54:00:aa:00:02\n"));
	assert_null(strstr(m, "interface-name"));
	snprintf(path, sizeof(path), "%skickfleet-br0.nmconnection", d);
	assert_non_null(strstr(text_of(&f, path), "[ipv4]\nmethod=manual\naddress1=10.0.0.11/24,10.0.0.1\n"));
	snprintf(path, sizeof(path), "%skickfleet-bond0.100.nmconnection", d);
	const char *v = text_of(&f, path);
	assert_non_null(strstr(v, "master=br0\nslave-type=bridge\n"));
	assert_non_null(strstr(v, "[vlan]\nid=100\nparent=bond0\n"));
	assert_null(strstr(v, "[ipv4]"));
	snprintf(path, sizeof(path), "%skickfleet-mvt0.nmconnection", d);
	assert_non_null(strstr(text_of(&f, path), "[macvlan]\nmode=3\nparent=eth2\ntap=true\n"));
	release(&f);
	release(&g);
	kf_profile_free(p);
}

/* An Open vSwitch bridge: ovsdb keeps the switch, networkd the address;
 * its bond and VLAN are not Linux devices. */
static void test_ovs(void **state)
{
	(void)state;
	static const char y[] = "role: t\n"
				"network:\n"
				"  bonds: [{name: ob0, mode: active-backup, members: [eth0, eth1]}]\n"
				"  bridges: [{name: ovs0, backend: ovs, ports: [ob0, eth2], addresses: [10.0.0.5/24]}]\n"
				"  vlans: [{name: v7, link: ovs0, id: 7}]\n";
	struct kf_err e = KF_ERR_INIT;
	struct kf_profile *p = NULL;
	assert_int_equal(kf_profile_load_buf(&p, "o.yaml", y, strlen(y), &e), 0);
	struct files f;
	assert_int_equal(kf_net_render(p->network, KF_PERSIST_NETWORKD, &f.v, &f.n), 0);
	/* .network for ovs0, the members, eth2 and v7; no .netdev */
	assert_int_equal(f.n, 5);
	for (size_t i = 0; i < f.n; i++) {
		assert_null(strstr(f.v[i].path, ".netdev"));
		assert_null(strstr(f.v[i].text, "Bond="));
		assert_null(strstr(f.v[i].text, "Bridge="));
	}
	assert_non_null(strstr(text_of(&f, "/etc/systemd/network/50-kickfleet-ovs0.network"), "Address=10.0.0.5/24\n"));
	assert_non_null(text_of(&f, "/etc/systemd/network/50-kickfleet-v7.network"));
	release(&f);
	assert_int_equal(kf_net_render(p->network, KF_PERSIST_NM, &f.v, &f.n), 0);
	assert_int_equal(f.n, 0);
	release(&f);
	kf_profile_free(p);
	kf_err_release(&e);
}

static void test_none(void **state)
{
	(void)state;
	struct kf_profile *p = load();
	struct files f;
	assert_int_equal(kf_net_render(p->network, KF_PERSIST_NONE, &f.v, &f.n), 0);
	assert_int_equal(f.n, 0);
	release(&f);
	kf_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_networkd),
		cmocka_unit_test(test_networkmanager),
		cmocka_unit_test(test_ovs),
		cmocka_unit_test(test_none),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
