/* A NIC's PCI function and its IRQs, through the sysroot (agent/hostio.h):
 * shared by the facts and the irq_affinity resource. */
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/hostio.h"
#include "types.h"
#include "util.h"

static bool is_pci_addr(const char *s)
{
	char buf[32];
	return strlen(s) == 12 && kf_pci_norm(s, buf, sizeof(buf)) == 0;
}

char *kf_nic_pci(const char *name, char **reldir)
{
	char *link = kf_path("/sys/class/net/%s/device", name), *root = kf_path("/");
	char real[PATH_MAX], rroot[PATH_MAX];
	char *pci = NULL;
	if (reldir)
		*reldir = NULL;
	if (realpath(link, real) && realpath(root, rroot)) {
		size_t rl = strcmp(rroot, "/") ? strlen(rroot) : 0;
		for (char *slash = strrchr(real, '/'); slash && slash > real; slash = strrchr(real, '/')) {
			if (is_pci_addr(slash + 1)) {
				pci = kf_xstrdup(slash + 1);
				if (reldir)
					*reldir = kf_xstrdup(strncmp(real, rroot, rl) ? real : real + rl);
				break;
			}
			*slash = 0;
		}
	}
	free(link);
	free(root);
	return pci;
}

static size_t msi_irqs(const char *reldir, int *irqs, size_t max)
{
	size_t n = 0;
	char *dir = kf_path("%s/msi_irqs", reldir);
	DIR *d = opendir(dir);
	free(dir);
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < max) {
		char *end;
		long v = strtol(de->d_name, &end, 10);
		if (de->d_name[0] != '.' && !*end)
			irqs[n++] = (int)v;
	}
	closedir(d);
	return n;
}

/* The last component of /sys/class/net/NAME/device's target, or NULL. */
static char *dev_base(const char *name)
{
	char *link = kf_path("/sys/class/net/%s/device", name), buf[PATH_MAX];
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);
	free(link);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	char *slash = strrchr(buf, '/');
	return kf_xstrdup(slash ? slash + 1 : buf);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int kf_nic_irqs(const char *name, int *irqs, size_t max, size_t *n)
{
	char *reldir = NULL, *pci = kf_nic_pci(name, &reldir);
	*n = reldir ? msi_irqs(reldir, irqs, max) : 0;
	free(pci);
	free(reldir);
	if (!*n) {
		/* no MSI: the lines of /proc/interrupts named after the
		 * interface, or after its device when that is not the PCI
		 * function itself (virtio0-input.0 for a virtio NIC) */
		char *text = NULL, *dev = dev_base(name);
		int r = kf_host_read("/proc/interrupts", &text);
		if (r < 0) {
			free(dev);
			return r;
		}
		*n = kf_interrupts_for(text, name, irqs, max);
		if (dev && !is_pci_addr(dev))
			*n += kf_interrupts_for(text, dev, irqs + *n, max - *n);
		free(dev);
		free(text);
	}
	qsort(irqs, *n, sizeof(*irqs), cmp_int);
	return 0;
}
