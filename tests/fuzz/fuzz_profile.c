/* libFuzzer target: the profile loader (YAML parsing, schema decoding,
 * semantic checks, normalised printing) must never crash or leak, whatever
 * the input.  `make fuzz` runs it for longer; `make check` briefly. */
#include <stdint.h>
#include <stdio.h>

#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kf_err e = KF_ERR_INIT;
	struct kf_profile *p = NULL;
	if (kf_profile_load_buf(&p, "fuzz.yaml", (const char *)data, size, &e) == 0) {
		FILE *f = fopen("/dev/null", "w");
		if (f) {
			kf_profile_print(p, f);
			fclose(f);
		}
		kf_profile_free(p);
	} else {
		FILE *f = fopen("/dev/null", "w");
		if (f) {
			kf_err_print(&e, f);
			fclose(f);
		}
	}
	kf_err_release(&e);
	return 0;
}
