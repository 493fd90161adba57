/* libFuzzer target: the inventory loader, with its cross-checks.  Role
 * files are looked up relative to a directory that does not exist, so the
 * fuzzer exercises the missing-file paths without touching real files. */
#include <stdint.h>
#include <stdio.h>

#include "inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	if (kf_inventory_load_buf(&inv, "/nonexistent-kickfleet-fuzz/fleet.yaml", (const char *)data,
				  size, &e) == 0) {
		FILE *f = fopen("/dev/null", "w");
		if (f) {
			kf_inventory_print(inv, f);
			fclose(f);
		}
		kf_inventory_free(inv);
	}
	kf_err_release(&e);
	return 0;
}
