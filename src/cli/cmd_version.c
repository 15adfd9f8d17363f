/*
 * cmd_version.c - `kfboot version`: kfboot's version and the versions of
 * the libraries it is linked with (read at run time, not from headers).
 */
#include <curl/curl.h>
#include <git2.h>
#include <jansson.h>
#include <libssh2.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <yaml.h>

#include "cli.h"
#include "kf_commit.h"

static int run_version(int argc, char **argv, struct kf_cli *cli)
{
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	int gmaj = 0, gmin = 0, grev = 0;
	char git[32];
	json_t *v;

	git_libgit2_version(&gmaj, &gmin, &grev);
	snprintf(git, sizeof(git), "%d.%d.%d", gmaj, gmin, grev);
	v = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}}",
		      "kfboot", KF_VERSION, "commit", KF_GIT_COMMIT, "libraries",
		      "libgit2", git,
		      "libcurl", cv->version,
		      "libssh2", libssh2_version(0),
		      "libyaml", yaml_get_version_string(),
		      "jansson", jansson_version_str(),
		      "openssl", OpenSSL_version(OPENSSL_VERSION),
		      "libmicrohttpd", MHD_get_version(),
		      "http2", (cv->features & CURL_VERSION_HTTP2) != 0);
	if (kf_cli_structured(cli)) {
		kf_cli_print_json(v);
	} else {
		json_t *libs = json_object_get(v, "libraries");
		const char *k;
		json_t *val;

		printf("kfboot %s (commit %s)\n", KF_VERSION, KF_GIT_COMMIT);
		json_object_foreach(libs, k, val) {
			if (json_is_string(val))
				printf("  %-14s %s\n", k, json_string_value(val));
		}
	}
	json_decref(v);
	return KF_EXIT_OK;
}

const struct kf_cmd kf_cmd_version = {
	.name = "version",
	.run = run_version,
	.summary = "print kfboot's version and its libraries'",
	.usage = "usage: kfboot version [-o json]\n\n"
		 "Print kfboot's version, the git commit it was built from, and the versions\n"
		 "of the libraries it runs with.\n",
};
