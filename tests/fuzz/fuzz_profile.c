/*
 * fuzz_profile.c - libFuzzer target for profile validation: load the input
 * as a Cluster profile with kf_cluster_load_buf(), turn every diagnostic
 * into its one-line form, and, when the profile is valid, build its JSON
 * form; then free everything. It must never crash, leak or trip a
 * sanitizer, whatever the bytes. The seed corpus is
 * tests/fuzz/corpus/profile/ (the example profiles and the test cases).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kf_diags diags = KF_DIAGS_INIT;
	struct kf_cluster *c = NULL;
	struct kf_err *err = NULL;

	if (kf_cluster_load_buf(&c, "fuzz.yaml", (const char *)data, size, &diags, &err) == 0) {
		json_t *j = kf_cluster_to_json(c);
		char *s = json_dumps(j, JSON_COMPACT);

		/* What validate -o json prints must load back as a valid profile. */
		if (s) {
			struct kf_cluster *again = NULL;

			if (kf_cluster_load_buf(&again, "again.json", s, strlen(s), NULL, NULL) != 0)
				abort();
			kf_cluster_free(again);
		}
		free(s);
		json_decref(j);
	}
	for (size_t i = 0; i < diags.n; i++)
		free(kf_diag_str(&diags.v[i]));
	kf_diags_sort(&diags);
	kf_diags_release(&diags);
	kf_err_free(err);
	kf_cluster_free(c);
	return 0;
}
