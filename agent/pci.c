/* PCI functions in sysfs, through the sysroot (agent/pci.h). */
#include "agent/pci.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/facts_int.h"
#include "agent/hostio.h"
#include "types.h"
#include "util.h"

bool kf_pci_exists(const char *addr)
{
	char *rel = kf_xasprintf(KF_PCI_DEVICES "/%s", addr);
	bool ok = kf_host_exists(rel);
	free(rel);
	return ok;
}

char *kf_pci_driver(const char *addr)
{
	return fx_link_base(KF_PCI_DEVICES "/%s/driver", addr);
}

char *kf_pci_override(const char *addr)
{
	char *rel = kf_xasprintf(KF_PCI_DEVICES "/%s/driver_override", addr), *v = NULL;
	if (kf_host_read(rel, &v) < 0 || !*v || !strcmp(v, "(null)")) {
		free(v);
		v = NULL;
	}
	free(rel);
	return v;
}

int kf_pci_group(const char *addr)
{
	char *g = fx_link_base(KF_PCI_DEVICES "/%s/iommu_group", addr);
	long long id = -1;
	if (!g || kf_int_parse(g, &id) < 0 || id < 0 || id > INT_MAX)
		id = -1;
	free(g);
	return (int)id;
}

size_t kf_pci_group_devices(int group, char ***names)
{
	return fx_list(names, "/sys/kernel/iommu_groups/%d/devices", group);
}

void kf_pci_names_free(char **names, size_t n)
{
	fx_list_free(names, n);
}

/* The header type from config space (byte 0x0e, without the multifunction
 * bit), as the kernel's vfio reads pdev->hdr_type; -1 when unreadable. */
static int header_type(const char *addr)
{
	char *full = kf_path(KF_PCI_DEVICES "/%s/config", addr);
	unsigned char cfg[16];
	int fd = open(full, O_RDONLY | O_CLOEXEC), t = -1;
	free(full);
	if (fd < 0)
		return -1;
	if (read(fd, cfg, sizeof(cfg)) == (ssize_t)sizeof(cfg))
		t = cfg[0x0e] & 0x7f;
	close(fd);
	return t;
}

bool kf_pci_is_bridge(const char *addr)
{
	int t = header_type(addr);
	if (t >= 0)
		return t != 0;
	/* no config space to read: the class says PCI or CardBus bridge */
	char *rel = kf_xasprintf(KF_PCI_DEVICES "/%s/class", addr), *cls = NULL;
	bool bridge = kf_host_read(rel, &cls) == 0 &&
		      (!strncmp(cls, "0x0604", 6) || !strncmp(cls, "0x0607", 6));
	free(cls);
	free(rel);
	return bridge;
}

bool kf_iommu_active(void)
{
	char **names = NULL;
	size_t n = fx_list(&names, "/sys/class/iommu");
	fx_list_free(names, n);
	if (n)
		return true;
	n = fx_list(&names, "/sys/kernel/iommu_groups");
	fx_list_free(names, n);
	return n > 0;
}

int kf_pci_rebind(const char *addr, const char *driver, char **err)
{
	char *cur = kf_pci_driver(addr), *path = NULL;
	int r = 0;
	*err = NULL;
	if (cur && strcmp(cur, driver)) {
		path = kf_xasprintf(KF_PCI_DEVICES "/%s/driver/unbind", addr);
		if ((r = kf_sys_write(path, addr, NULL)) < 0) {
			*err = kf_xasprintf("%s: writing %s: %s", path, addr, strerror(-r));
			goto out;
		}
	}
	if ((r = kf_sys_write(KF_PCI_BUS "/drivers_probe", addr, NULL)) < 0) {
		*err = kf_xasprintf(KF_PCI_BUS "/drivers_probe: writing %s: %s", addr, strerror(-r));
		goto out;
	}
	free(cur);
	cur = kf_pci_driver(addr);
	if (!cur || strcmp(cur, driver)) {
		*err = kf_xasprintf("%s: %s did not take it (bound to %s)", addr, driver, cur ? cur : "no driver");
		r = -EIO;
	}
out:
	free(cur);
	free(path);
	return r;
}
