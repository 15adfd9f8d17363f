/*
 * profile.c - loading a Cluster profile for the provisioning commands: one
 * error that lists every problem the validator found, each with its
 * file:line:col, so the user fixes them all in one go.
 */
#include <stdlib.h>

#include "provision/internal.h"

int kf_prov_load_profile(struct kf_cluster **out, const char *path,
			 struct kf_err **err)
{
	struct kf_diags diags = KF_DIAGS_INIT;
	struct kf_buf b = KF_BUF_INIT;
	int rc;

	*out = NULL;
	rc = kf_cluster_load(out, path, &diags, err);
	if (rc && diags.n) {
		kf_diags_sort(&diags);
		for (size_t i = 0; i < diags.n; i++) {
			char *s = kf_diag_str(&diags.v[i]);

			kf_buf_addf(&b, "\n  %s", s);
			free(s);
		}
		rc = kf_err_set(err, KF_EINVAL, "profile %s has %zu problem%s:%s", path, diags.n,
				diags.n == 1 ? "" : "s", b.buf);
	} else if (rc) {
		kf_err_wrap(err, "profile %s", path);
	}
	kf_buf_release(&b);
	kf_diags_release(&diags);
	return rc;
}
