/* PCI functions and IOMMU groups in sysfs, read and rebound through the
 * sysroot (kf_path).  Addresses are normalised (0000:06:00.0, as
 * kf_pci_norm() writes them).  Strings returned are malloc'd. */
#ifndef KF_AGENT_PCI_H
#define KF_AGENT_PCI_H

#include <stdbool.h>
#include <stddef.h>

#define KF_PCI_BUS "/sys/bus/pci"
#define KF_PCI_DEVICES KF_PCI_BUS "/devices"
#define KF_VFIO_DRIVER "vfio-pci"

bool kf_pci_exists(const char *addr);
/* The driver bound to the function (the driver link's name), NULL none. */
char *kf_pci_driver(const char *addr);
/* driver_override, NULL when unset ("(null)") or unreadable. */
char *kf_pci_override(const char *addr);
/* The function's IOMMU group, -1 when it has none. */
int kf_pci_group(const char *addr);
/* The functions in IOMMU group `group`, sorted; free with kf_pci_names_free. */
size_t kf_pci_group_devices(int group, char ***names);
void kf_pci_names_free(char **names, size_t n);
/* A bridge (config header type other than 0, as the kernel's vfio tells
 * endpoints from bridges; the class when config space cannot be read):
 * vfio lets a group be used while its bridges keep their drivers. */
bool kf_pci_is_bridge(const char *addr);
/* The running kernel has an IOMMU: a unit in /sys/class/iommu or a group. */
bool kf_iommu_active(void);
/* Unbinds the function from its driver (unless it is `driver` already)
 * and asks the bus to probe it again, which honours driver_override; then
 * checks `driver` took it.  0, or a negative errno with *err set. */
int kf_pci_rebind(const char *addr, const char *driver, char **err);

#endif
