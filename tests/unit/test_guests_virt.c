/* Unit tests of the guests resource: domain XML reading and writing
 * (lib/domxml.c), placement auto, the checks against the host, and whole
 * parse → probe → diff → apply → probe → diff cycles in-process against
 * libvirt's test:///default driver (its state lives for one connection,
 * which the resource keeps in its desired state). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/guest.h"
#include "agent/host.h"
#include "domxml.h"
#include "profile.h"
#include "util.h"
#include "virt.h"

extern const struct kf_resource kf_res_guests;

static const char sample[] =
	"<domain type='kvm'><name>web01</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>"
	"<memory unit='GiB'>8</memory><currentMemory unit='KiB'>6291456</currentMemory>"
	"<vcpu placement='static' current='4'>8</vcpu><iothreads>2</iothreads>"
	"<cputune><vcpupin vcpu='0' cpuset='2'/><vcpupin vcpu='1' cpuset='3,2'/>"
	"<emulatorpin cpuset='6,7'/><iothreadpin iothread='1' cpuset='0-1'/></cputune>"
	"<numatune><memory mode='interleave' nodeset='0-1'/><memnode cellid='0' mode='strict' nodeset='1'/></numatune>"
	"<memtune><hard_limit unit='KiB'>10485760</hard_limit><swap_hard_limit unit='GiB'>12</swap_hard_limit></memtune>"
	"<memoryBacking><hugepages><page size='2048' unit='KiB'/></hugepages><nosharepages/><locked/></memoryBacking>"
	"<os><type arch='x86_64'>hvm</type></os>"
	"<cpu mode='custom' match='exact'><model fallback='allow'>Skylake-Client</model>"
	"<topology sockets='1' dies='1' cores='4' threads='2'/></cpu>"
	"<devices><interface type='bridge'><mac address='52:54:00:AA:00:01'/><source bridge='br0'/>"
	"<model type='virtio'/><driver name='vhost' queues='4'/>"
	"<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></interface>"
	"<interface type='direct'><source dev='eth2' mode='private'/><model type='e1000'/></interface>"
	"<hostdev mode='subsystem' type='pci' managed='yes'><source>"
	"<address domain='0x0000' bus='0x06' slot='0x00' function='0x1'/></source></hostdev>"
	"<memballoon model='virtio'><stats period='10'/></memballoon></devices></domain>";

static void test_domxml_read(void **state)
{
	(void)state;
	struct kf_err e = KF_ERR_INIT;
	struct kf_domcfg c;
	assert_int_equal(kf_domxml_parse(sample, &c, &e), 0);
	assert_string_equal(c.name, "web01");
	assert_int_equal(c.vcpu_max, 8);
	assert_int_equal(c.vcpu_current, 4);
	assert_int_equal(c.cpu_mode, KF_CPU_CUSTOM);
	assert_string_equal(c.cpu_model, "Skylake-Client");
	assert_int_equal(c.cores, 4);
	assert_int_equal(c.threads, 2);
	assert_int_equal(c.nvcpupin, 2);
	assert_string_equal(c.vcpupin[1].cpus, "2-3"); /* normalised */
	assert_string_equal(c.emulatorpin, "6-7");
	assert_int_equal(c.iothreads, 2);
	assert_string_equal(c.iothreadpin[0].cpus, "0-1");
	assert_int_equal(c.numa_mode, KF_NUMA_INTERLEAVE);
	assert_string_equal(c.numa_nodes, "0-1");
	assert_int_equal(c.nmemnodes, 1);
	assert_string_equal(c.memnodes[0].nodes, "1");
	assert_true(c.memory == 8LL << 30);
	assert_true(c.current_memory == 6LL << 30);
	assert_true(c.hard_limit == 10LL << 30);
	assert_true(c.swap_hard_limit == 12LL << 30);
	assert_true(c.soft_limit == KF_UNSET);
	assert_true(c.hugepages == 2LL << 20);
	assert_int_equal(c.nosharepages, 1);
	assert_int_equal(c.locked, 1);
	assert_int_equal(c.balloon, KF_BALLOON_VIRTIO);
	assert_int_equal(c.stats_period, 10);
	assert_int_equal(c.nnics, 2);
	assert_int_equal(c.nics[0].type, KF_NIC_BRIDGE);
	assert_string_equal(c.nics[0].mac, "52:54:00:aa:00:01");
	assert_int_equal(c.nics[0].queues, 4);
	assert_int_equal(c.nics[0].driver, KF_DRV_VHOST);
	assert_int_equal(c.nics[1].type, KF_NIC_DIRECT);
	assert_int_equal(c.nics[1].mode, KF_NICM_PRIVATE);
	assert_int_equal(c.nics[1].model, KF_MODEL_E1000);
	assert_int_equal(c.nhostdevs, 1);
	assert_string_equal(c.hostdevs[0].pci, "0000:06:00.1");
	kf_domcfg_release(&c);
	assert_int_not_equal(kf_domxml_parse("<domain><name>x", &c, &e), 0);
	assert_int_not_equal(kf_domxml_parse("<network/>", &c, &e), 0);
	assert_int_equal(e.n, 2);
	kf_err_release(&e);
}

/* ---- a profile, a fake host, a sysroot ---- */

static char sysroot[64];

static void mkfile(const char *rel, const char *text)
{
	char *p = kf_xasprintf("%s%s", sysroot, rel);
	char *dir = kf_xstrdup(p);
	*strrchr(dir, '/') = 0;
	assert_int_equal(kf_mkdir_p(dir, 0755), 0);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(dir);
	free(p);
}

static int setup_root(void **state)
{
	(void)state;
	strcpy(sysroot, "/tmp/kf-guests-XXXXXX");
	if (!mkdtemp(sysroot))
		return -1;
	mkfile("/sys/bus/pci/devices/0000:06:00.0/vendor", "0x8086\n");
	mkfile("/sys/module/vhost_net/refcnt", "0\n");
	mkfile("/dev/vhost-net", "");
	mkfile("/sys/devices/system/node/node0/meminfo", "Node 0 MemTotal: 8388608 kB\nNode 0 MemFree: 1048576 kB\n");
	mkfile("/sys/devices/system/node/node1/meminfo", "Node 1 MemTotal: 8388608 kB\nNode 1 MemFree: 4194304 kB\n");
	mkfile("/sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages", "512\n");
	mkfile("/sys/devices/system/node/node1/hugepages/hugepages-2048kB/free_hugepages", "16\n");
	kf_sysroot_set(sysroot);
	return 0;
}

static int teardown_root(void **state)
{
	(void)state;
	char *cmd = kf_xasprintf("rm -rf '%s'", sysroot);
	int r = system(cmd);
	free(cmd);
	kf_sysroot_set("/");
	return r == 0 ? 0 : -1;
}

static void fake_host(struct kf_hostinfo *h)
{
	memset(h, 0, sizeof(*h));
	kf_cpulist_parse("0-7", &h->present);
	h->online = h->present;
	h->nnodes = 2;
	h->nodes = kf_xcalloc(2, sizeof(*h->nodes));
	h->nodes[0].id = 0;
	kf_cpulist_parse("0-3", &h->nodes[0].cpus);
	h->nodes[1].id = 1;
	kf_cpulist_parse("4-7", &h->nodes[1].cpus);
	h->numa_sysfs = true;
	h->hpsizes[0] = 2u << 20;
	h->hpsizes[1] = 1u << 30;
	h->nhpsizes = 2;
}

struct run {
	struct kf_profile *p;
	struct kf_hostinfo host;
	struct kf_err err, fail;
	struct kf_ctx ctx;
	void *desired;
};

static int run_load(struct run *r, const char *yaml)
{
	memset(r, 0, sizeof(*r));
	if (kf_profile_load_buf(&r->p, "g.yaml", yaml, strlen(yaml), &r->err) < 0)
		return -1;
	fake_host(&r->host);
	r->ctx = (struct kf_ctx){ .profile = r->p, .err = &r->err, .host = &r->host, .fail = &r->fail };
	return kf_res_guests.parse(&r->ctx, &r->desired);
}

/* probe + diff into plan */
static void run_plan(struct run *r, struct kf_plan *plan)
{
	void *actual = NULL;
	memset(plan, 0, sizeof(*plan));
	assert_int_equal(kf_res_guests.probe(&r->ctx, r->desired, &actual), 0);
	assert_int_equal(kf_res_guests.diff(&r->ctx, r->desired, actual, plan), 0);
	kf_res_guests.free_actual(actual);
}

static void print_plan(const struct kf_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		printf("  %s: %s -> %s%s\n", plan->v[i].what, plan->v[i].from ? plan->v[i].from : "(absent)",
		       plan->v[i].to, plan->v[i].flags & KF_CH_RESTART ? " [at restart]" : "");
}

static void apply_plan(struct run *r, struct kf_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		if (!kf_change_actionable(&plan->v[i]))
			continue; /* as the engine: pending changes are never applied */
		size_t before = r->fail.n;
		int rc = kf_res_guests.apply(&r->ctx, &plan->v[i]);
		if (rc < 0) {
			char buf[512];
			print_plan(plan);
			fail_msg("apply %s: %s", plan->v[i].what,
				 r->fail.n > before ? kf_err_format(&r->fail, r->fail.n - 1, buf, sizeof(buf)) : "?");
		}
	}
}

static void run_release(struct run *r)
{
	kf_res_guests.free_desired(r->desired);
	kf_host_release(&r->host);
	kf_profile_free(r->p);
	kf_err_release(&r->err);
	kf_err_release(&r->fail);
}

static const struct kf_change *find_change(const struct kf_plan *p, const char *what)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].what, what))
			return &p->v[i];
	return NULL;
}

/* Changes apply would act on (pending ones left out). */
static size_t nactionable(const struct kf_plan *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += kf_change_actionable(&p->v[i]);
	return n;
}

/* ---- whole cycles on test:///default ---- */

static const char tuned[] =
	"guests:\n"
	"  - name: test\n"
	"    vcpus: {max: 2, current: 1}\n"
	"    cpu_mode: host-passthrough\n"
	"    topology: {sockets: 1, cores: 1, threads: 2}\n"
	"    pinning:\n"
	"      vcpus: {0: 1, 1: 2-3}\n"
	"      emulator: 6-7\n"
	"    numatune: {mode: strict, nodes: 0}\n"
	"    memory: {size: 8G, current: 4G, balloon: virtio, stats_period: 10}\n"
	"    memtune: {hard_limit: 9G, soft_limit: 5G, swap_hard_limit: 10G}\n"
	"    memory_backing: {hugepages: 2M, nosharepages: true, locked: true}\n"
	"    interfaces:\n"
	"      - {type: bridge, source: br0, model: virtio, driver: vhost, queues: 2, mac: '52:54:00:00:00:10'}\n"
	"      - {type: direct, source: eth2, mode: bridge, model: e1000}\n"
	"    hostdevs: ['06:00.0']\n"
	"libvirt: {uri: 'test:///default'}\n";

static void test_cycle_converges(void **state)
{
	(void)state;
	struct run r;
	struct kf_plan plan, again;
	assert_int_equal(run_load(&r, tuned), 0);
	assert_int_equal(r.err.n, 0);
	run_plan(&r, &plan);
	assert_int_equal(r.fail.n, 0);
	print_plan(&plan);
	const struct kf_change *ch = find_change(&plan, "test vcpus.current");
	assert_non_null(ch);
	assert_true(((struct gchange *)ch->data)->live); /* running: hot(un)plug */
	ch = find_change(&plan, "test cpu_mode");
	assert_non_null(ch);
	assert_true(ch->flags & KF_CH_RESTART); /* config only, guest runs */
	ch = find_change(&plan, "test memory.current");
	assert_non_null(ch);
	assert_true(((struct gchange *)ch->data)->live);
	assert_non_null(find_change(&plan, "test vcpupin 1"));
	assert_non_null(find_change(&plan, "test memtune"));
	assert_non_null(find_change(&plan, "test interface 1"));
	assert_non_null(find_change(&plan, "test hostdev 0000:06:00.0"));
	assert_null(find_change(&plan, "test restart")); /* allow_restart is false */
	apply_plan(&r, &plan);
	run_plan(&r, &again);
	print_plan(&again);
	assert_int_equal(nactionable(&again), 0);
	assert_int_equal(r.fail.n, 0);
	/* the config-only changes: in the config now, the running guest still
	 * without them, so every run says pending restart (never applied) */
	ch = find_change(&again, "test cpu_mode");
	assert_non_null(ch);
	assert_true((ch->flags & KF_CH_PENDING) && (ch->flags & KF_CH_RESTART));
	assert_string_equal(kf_change_status_name(ch), "pending restart");
	assert_non_null(find_change(&again, "test interface 1"));
	assert_null(find_change(&again, "test vcpupin 1")); /* live: done */
	assert_null(find_change(&again, "test restart"));
	size_t npending = again.n;
	kf_plan_release(&again);

	/* the live values and the XML libvirt kept */
	struct kf_vdom *d = NULL;
	struct kf_vlive l;
	char *xml = NULL;
	struct kf_domcfg c;
	assert_int_equal(kf_virt_lookup(r.ctx.virt, "test", &d, &r.fail), 0);
	assert_int_equal(kf_vdom_live(d, KF_VLIVE_ALL, &l, &r.fail), 0);
	assert_int_equal(l.vcpus, 1);
	assert_string_equal(l.vcpupin[0], "1");
	assert_true(l.balloon == 4LL << 30);
	assert_true(l.hard_limit == 9LL << 30);
	kf_vlive_release(&l);
	assert_int_equal(kf_vdom_xml(d, true, &xml, &r.fail), 0);
	assert_int_equal(kf_domxml_parse(xml, &c, &r.fail), 0);
	assert_int_equal(c.cpu_mode, KF_CPU_PASSTHROUGH);
	assert_true(c.hugepages == 2LL << 20);
	assert_int_equal(c.nics[0].queues, 2);
	assert_string_equal(c.nics[0].mac, "52:54:00:00:00:10");
	assert_int_equal(c.nics[1].mode, KF_NICM_BRIDGE);
	kf_domcfg_release(&c);
	free(xml);

	/* drift, live only (as `virsh vcpupin` on a running guest): planned, fixed */
	assert_int_equal(kf_vdom_pin_vcpu_live(d, 0, "7", &r.fail), 0);
	assert_int_equal(kf_vdom_set_memtune_live(d, KF_UNSET, 6LL << 30, KF_UNSET, KF_UNSET, &r.fail), 0);
	run_plan(&r, &again);
	print_plan(&again);
	assert_int_equal(nactionable(&again), 2);
	assert_int_equal(again.n, 2 + npending);
	ch = find_change(&again, "test vcpupin 0");
	assert_non_null(ch);
	assert_string_equal(ch->from, "1 (live 7)");
	assert_false(((struct gchange *)ch->data)->config);
	apply_plan(&r, &again);
	kf_plan_release(&again);
	run_plan(&r, &again);
	assert_int_equal(nactionable(&again), 0);
	kf_vdom_free(d);
	kf_plan_release(&plan);
	kf_plan_release(&again);
	run_release(&r);
}

static void test_restart_allowed(void **state)
{
	(void)state;
	struct run r;
	struct kf_plan plan, again;
	assert_int_equal(run_load(&r, "guests:\n"
				      "  - name: test\n"
				      "    allow_restart: true\n"
				      "    cpu_mode: custom\n"
				      "    cpu_model: Haswell\n"
				      "    autostart: true\n"
				      "libvirt: {uri: 'test:///default'}\n"),
			 0);
	run_plan(&r, &plan);
	print_plan(&plan);
	assert_int_equal(plan.n, 3);
	assert_non_null(find_change(&plan, "test restart"));
	assert_string_equal(plan.v[plan.n - 1].what, "test restart"); /* after the config changes */
	apply_plan(&r, &plan);
	run_plan(&r, &again);
	assert_int_equal(again.n, 0);
	kf_plan_release(&plan);
	kf_plan_release(&again);
	run_release(&r);
}

/* kvm.nested with a guest whose CPU does not show VMX/SVM: a warning
 * naming it; none for host-passthrough. */
static void test_nested_warning(void **state)
{
	(void)state;
	static const char *const modes[] = { "custom\n    cpu_model: qemu64", "host-passthrough" };
	for (int i = 0; i < 2; i++) {
		struct run r;
		struct kf_plan plan;
		char *y = kf_xasprintf("kvm: {nested: true}\nguests:\n  - name: test\n    cpu_mode: %s\n"
				       "libvirt: {uri: 'test:///default'}\n",
				       modes[i]);
		assert_int_equal(run_load(&r, y), 0);
		run_plan(&r, &plan);
		bool warned = false;
		for (size_t j = 0; j < plan.nnotes; j++)
			warned |= strstr(plan.notes[j].text, "guest test: nested KVM needs cpu_mode host-passthrough "
							     "or host-model, it has custom") != NULL;
		assert_true(warned == (i == 0));
		kf_plan_release(&plan);
		run_release(&r);
		free(y);
	}
}

static void test_define_new(void **state)
{
	(void)state;
	struct run r;
	struct kf_plan plan, again;
	assert_int_equal(run_load(&r, "guests:\n"
				      "  - name: new1\n"
				      "    define: true\n"
				      "    mac: '52:54:00:00:01:01'\n"
				      "    disk: 2G\n"
				      "    vcpus: 2\n"
				      "    memory: 1G\n"
				      "    pinning: auto\n"
				      "    memory_backing: {hugepages: 2M}\n"
				      "    interfaces: [{type: network, source: default}]\n"
				      "libvirt: {uri: 'test:///default', pool: kfpool, pool_path: /tmp/kf-unit-pool}\n"),
			 0);
	run_plan(&r, &plan);
	print_plan(&plan);
	assert_int_equal(plan.n, 1);
	assert_string_equal(plan.v[0].what, "new1 domain");
	assert_null(plan.v[0].from);
	apply_plan(&r, &plan);
	run_plan(&r, &again);
	print_plan(&again);
	assert_int_equal(again.n, 0);

	struct kf_vdom *d = NULL;
	char *xml = NULL;
	struct kf_domcfg c;
	bool running = false;
	assert_int_equal(kf_virt_lookup(r.ctx.virt, "new1", &d, &r.fail), 0);
	assert_int_equal(kf_vdom_is_running(d, &running, &r.fail), 0);
	assert_true(running);
	assert_int_equal(kf_vdom_xml(d, true, &xml, &r.fail), 0);
	assert_int_equal(kf_domxml_parse(xml, &c, &r.fail), 0);
	assert_int_equal(c.nics[0].boot, 1); /* network first */
	assert_string_equal(c.nics[0].mac, "52:54:00:00:01:01");
	assert_non_null(strstr(xml, "<boot order='2'/>")); /* then the disk */
	assert_non_null(strstr(xml, "new1.qcow2"));
	/* placement auto: node 0 has the most free 2M pages (512 vs 16) */
	assert_string_equal(c.numa_nodes, "0");
	assert_int_equal(c.nvcpupin, 2);
	assert_string_equal(c.vcpupin[1].cpus, "0-3");
	assert_string_equal(c.emulatorpin, "0-3");
	kf_domcfg_release(&c);
	free(xml);
	kf_vdom_free(d);
	kf_plan_release(&plan);
	kf_plan_release(&again);
	run_release(&r);
}

static void test_missing_guest_fails(void **state)
{
	(void)state;
	struct run r;
	struct kf_plan plan;
	assert_int_equal(run_load(&r, "guests:\n  - name: nosuch\n    vcpus: 2\nlibvirt: {uri: 'test:///default'}\n"), 0);
	run_plan(&r, &plan);
	assert_int_equal(plan.n, 0);
	assert_int_equal(r.fail.n, 1);
	assert_non_null(strstr(r.fail.v[0].text, "nosuch"));
	kf_plan_release(&plan);
	run_release(&r);
}

/* ---- checks against the host: exit 1 material, nothing probed ---- */

static void test_parse_errors(void **state)
{
	(void)state;
	struct run r;
	char buf[512];
	assert_int_not_equal(run_load(&r, "guests:\n"
					  "  - name: test\n"
					  "    vcpus: 2\n"
					  "    pinning: {vcpus: {0: 1, 1: 9-10}, emulator: 12}\n"
					  "    hostdevs: ['0000:07:00.0']\n"
					  "    numatune: {nodes: 3}\n"
					  "    interfaces: [{type: hostdev, source: '0000:06:10.1'}]\n"),
			     0);
	assert_null(r.desired);
	assert_int_equal(r.err.n, 5);
	kf_err_format(&r.err, 0, buf, sizeof(buf));
	printf("%s\n", buf);
	bool cpu = false, emu = false, pci = false, node = false, vf = false;
	for (size_t i = 0; i < r.err.n; i++) {
		kf_err_format(&r.err, i, buf, sizeof(buf));
		cpu |= strstr(buf, "g.yaml:4:") && strstr(buf, "vCPU 1 pinned to CPU 9-10, which this host does not have");
		emu |= strstr(buf, "emulator pinned to CPU 12") != NULL;
		pci |= strstr(buf, "g.yaml:5:") && strstr(buf, "hostdev 0000:07:00.0 does not exist");
		node |= strstr(buf, "g.yaml:6:") && strstr(buf, "NUMA node 3");
		vf |= strstr(buf, "g.yaml:7:") && strstr(buf, "VF 0000:06:10.1 does not exist");
	}
	assert_true(cpu && emu && pci && node && vf);
	run_release(&r);

	assert_int_not_equal(run_load(&r, "guests:\n  - name: n\n    define: true\n    vcpus: 1\n    memory: 1G\n"), 0);
	for (size_t i = 0; i < r.err.n; i++)
		printf("%s\n", kf_err_format(&r.err, i, buf, sizeof(buf)));
	assert_int_equal(r.err.n, 1);
	assert_non_null(strstr(r.err.v[0].text, "needs an interface"));
	run_release(&r);
	/* schema errors come before: locked without hard_limit, queues on e1000 */
	memset(&r, 0, sizeof(r));
	assert_int_not_equal(run_load(&r, "guests:\n  - name: n\n    memory_backing: {locked: true}\n"), 0);
	assert_int_equal(r.err.n, 1);
	assert_string_equal(kf_err_format(&r.err, 0, buf, sizeof(buf)),
			    "g.yaml:3:30: guest n: locked memory needs memtune.hard_limit");
	kf_profile_free(r.p);
	kf_err_release(&r.err);
	memset(&r, 0, sizeof(r));
	assert_int_not_equal(run_load(&r, "guests:\n  - name: n\n"
					  "    interfaces: [{source: br0, model: e1000, queues: 2}]\n"),
			     0);
	assert_int_equal(r.err.n, 1);
	assert_string_equal(kf_err_format(&r.err, 0, buf, sizeof(buf)),
			    "g.yaml:3:54: interface: queues need model virtio, not e1000");
	kf_profile_free(r.p);
	kf_err_release(&r.err);
	/* the host: more queues than its 8 CPUs; vhost without vhost_net */
	memset(&r, 0, sizeof(r));
	assert_int_not_equal(run_load(&r, "guests:\n  - name: n\n"
					  "    interfaces: [{source: br0, model: virtio, driver: vhost, queues: 9}]\n"),
			     0);
	assert_int_equal(r.err.n, 1);
	assert_string_equal(kf_err_format(&r.err, 0, buf, sizeof(buf)),
			    "g.yaml:3:70: guest n: interface 0 has 9 queues, more than this host's 8 CPUs");
	run_release(&r);
	char *dev = kf_path("/dev/vhost-net");
	assert_int_equal(unlink(dev), 0);
	assert_int_not_equal(run_load(&r, "guests:\n  - name: n\n"
					  "    interfaces: [{source: br0, model: virtio, driver: vhost, queues: 4}]\n"),
			     0);
	assert_int_equal(r.err.n, 1);
	printf("%s\n", kf_err_format(&r.err, 0, buf, sizeof(buf)));
	assert_non_null(strstr(buf, "g.yaml:3:55: guest n: interface 0 asks for vhost but vhost_net is not loaded"));
	assert_non_null(strstr(buf, "no /dev/vhost-net"));
	run_release(&r);
	mkfile("/dev/vhost-net", "");
	free(dev);
	kf_err_release(&r.err);
}

static void test_pick_node(void **state)
{
	(void)state;
	struct gnode nodes[] = {
		{ .id = 0, .cpus = "0-3", .free_mem = 1ULL << 30, .free_hp = 0 },
		{ .id = 1, .cpus = "4-7", .free_mem = 4ULL << 30, .free_hp = 0 },
		{ .id = 2, .cpus = "8-11", .free_mem = 2ULL << 30, .free_hp = 1ULL << 30 },
	};
	struct kf_domcfg w, h;
	kf_domcfg_init(&w);
	kf_domcfg_init(&h);
	assert_int_equal(kf_guest_pick_node(&w, NULL, nodes, 3), 1);  /* most free memory */
	w.hugepages = 2 << 20;
	assert_int_equal(kf_guest_pick_node(&w, NULL, nodes, 3), 2);  /* most free hugepages */
	h.numa_nodes = "0";
	assert_int_equal(kf_guest_pick_node(&w, &h, nodes, 3), 0);    /* stays where it is */
	h.numa_nodes = "5";
	assert_int_equal(kf_guest_pick_node(&w, &h, nodes, 3), 2);    /* gone: choose again */
	assert_int_equal(kf_guest_pick_node(&w, NULL, nodes, 0), -1);
	w.vcpu_max = 3;
	kf_guest_place(&w, NULL, &nodes[1]);
	assert_int_equal(w.nvcpupin, 3);
	assert_string_equal(w.vcpupin[2].cpus, "4-7");
	assert_string_equal(w.emulatorpin, "4-7");
	assert_string_equal(w.numa_nodes, "1");
	assert_int_equal(w.numa_mode, KF_NUMA_STRICT);
	kf_domcfg_release(&w);
}

/* Every XML the agent would define validates against libvirt's schema. */
/* A NIC on an Open vSwitch bridge: its virtualport read, written and
 * compared. */
static void test_nic_openvswitch(void **state)
{
	(void)state;
	struct kf_err e = KF_ERR_INIT;
	struct kf_domcfg c, w;
	const char *xml = "<domain type='kvm'><name>o</name><devices><interface type='bridge'>"
			  "<source bridge='ovsbr0'/><virtualport type='openvswitch'/></interface>"
			  "<interface type='bridge'><source bridge='br0'/></interface></devices></domain>";
	assert_int_equal(kf_domxml_parse(xml, &c, &e), 0);
	assert_true(c.nics[0].ovs);
	assert_false(c.nics[1].ovs);
	char buf[128];
	assert_non_null(strstr(kf_domnic_str(&c.nics[0], buf, sizeof(buf)), "bridge ovsbr0 openvswitch"));
	struct kf_domxml *x = NULL;
	assert_int_equal(kf_domxml_load(&x, xml, &e), 0);
	kf_domcfg_copy(&w, &c);
	w.nics[0].ovs = false;
	w.nics[1].ovs = true;
	assert_int_equal(kf_domxml_set(x, &w, KF_DF_NIC, 0, &e), 0);
	assert_int_equal(kf_domxml_set(x, &w, KF_DF_NIC, 1, &e), 0);
	char *out = kf_domxml_dump(x);
	struct kf_domcfg back;
	assert_int_equal(kf_domxml_parse(out, &back, &e), 0);
	assert_false(back.nics[0].ovs);
	assert_true(back.nics[1].ovs);
	assert_non_null(strstr(out, "<virtualport type=\"openvswitch\"/>"));
	free(out);
	kf_domxml_free(x);
	kf_domcfg_release(&back);
	kf_domcfg_release(&w);
	kf_domcfg_release(&c);
	kf_err_release(&e);
}

static void test_xml_validates(void **state)
{
	(void)state;
	struct kf_err e = KF_ERR_INIT;
	struct kf_profile *p = NULL;
	const char *y =
		"guests:\n"
		"  - name: big\n"
		"    mac: '52:54:00:00:02:01'\n"
		"    vcpus: {max: 8, current: 4}\n"
		"    cpu_mode: custom\n"
		"    cpu_model: Skylake-Server\n"
		"    topology: {sockets: 2, dies: 1, cores: 2, threads: 2}\n"
		"    iothreads: 2\n"
		"    pinning: {vcpus: {0: 2, 1: 3}, emulator: 6-7, iothreads: {1: 0, 2: 1}}\n"
		"    numatune: {mode: preferred, nodes: 0}\n"
		"    memory: {size: 8G, current: 6G, balloon: virtio, stats_period: 5}\n"
		"    memtune: {hard_limit: 10G, soft_limit: 6G, swap_hard_limit: 12G, min_guarantee: 2G}\n"
		"    memory_backing: {hugepages: 1G, nosharepages: true, locked: true}\n"
		"    interfaces:\n"
		"      - {type: bridge, source: br0, driver: vhost, queues: 4}\n"
		"      - {type: direct, source: eth2, mode: passthrough, model: rtl8139}\n"
		"      - {type: network, source: default, model: e1000e}\n"
		"      - {type: hostdev, source: '0000:06:10.2', mac: '52:54:00:00:02:09'}\n"
		"    hostdevs: [{pci: '0000:06:00.0', managed: false}]\n";
	assert_int_equal(kf_profile_load_buf(&p, "v.yaml", y, strlen(y), &e), 0);
	const struct kf_p_guest *g = KF_LIST_AT(p->guests, struct kf_p_guest, 0);
	char *xml = NULL;
	assert_int_equal(kf_virt_guest_xml("kvm", g, NULL, "/var/lib/libvirt/images/big.qcow2", &xml, &e), 0);
	char path[] = "/tmp/kf-domxml-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
	close(fd);
	char *cmd = kf_xasprintf("virt-xml-validate %s domain >/dev/null 2>&1", path);
	int rc = system(cmd);
	if (rc != 0)
		printf("%s", xml);
	assert_int_equal(rc, 0);
	/* what was written reads back as wanted */
	struct kf_domcfg want, got;
	kf_domcfg_from_guest(&want, g);
	assert_int_equal(kf_domxml_parse(xml, &got, &e), 0);
	assert_int_equal(got.vcpu_current, 4);
	assert_int_equal(got.cpu_mode, KF_CPU_CUSTOM);
	assert_int_equal(got.sockets, 2);
	assert_string_equal(got.iothreadpin[1].cpus, "1");
	assert_int_equal(got.numa_mode, KF_NUMA_PREFERRED);
	assert_true(got.min_guarantee == 2LL << 30);
	assert_true(got.hugepages == 1LL << 30);
	assert_int_equal(got.nnics, 4);
	assert_string_equal(got.nics[3].source, "0000:06:10.2");
	assert_int_equal(got.nics[1].mode, KF_NICM_PASSTHROUGH);
	assert_int_equal(got.hostdevs[0].managed, 0);
	assert_int_equal(got.stats_period, 5);
	kf_domcfg_release(&want);
	kf_domcfg_release(&got);
	free(cmd);
	unlink(path);
	free(xml);
	kf_profile_free(p);
	kf_err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domxml_read),
		cmocka_unit_test(test_pick_node),
		cmocka_unit_test(test_nic_openvswitch),
		cmocka_unit_test(test_xml_validates),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_cycle_converges),
		cmocka_unit_test(test_restart_allowed),
		cmocka_unit_test(test_nested_warning),
		cmocka_unit_test(test_define_new),
		cmocka_unit_test(test_missing_guest_fails),
	};
	return cmocka_run_group_tests(tests, setup_root, teardown_root);
}
