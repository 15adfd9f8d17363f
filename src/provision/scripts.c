/*
 * scripts.c - the node scripts (the .sh files of scripts/node), embedded in the binary
 * at build time so that one kfboot file is all a user needs, and their
 * "# step:" lines, which `plan` shows as what each script does.
 *
 * The scripts are the single source of node-side work: kfboot uploads and
 * runs them, and the Ansible playbook in ansible/ runs the same files.
 * KFBOOT_SCRIPTS_DIR (or kf_prov_opts.scripts_dir via kf_scripts_set_dir)
 * points at a directory to read them from instead, for development.
 *
 * The assembler includes the files (.incbin); CMakeLists.txt lists them as
 * this file's OBJECT_DEPENDS so that editing a script rebuilds it.
 */
#include <stdlib.h>
#include <string.h>

#include "provision/internal.h"

#define KF_SCRIPT_DIR KF_SOURCE_DIR "/scripts/node/"

/* Each script becomes kf_script_<name>_start .. _end in .rodata. */
#define KF_EMBED(sym, file)                                                    \
	__asm__(".section .rodata\n"                                           \
		".global " #sym "_start\n"                                     \
		".global " #sym "_end\n"                                       \
		".balign 16\n" #sym "_start:\n"                                \
		".incbin \"" KF_SCRIPT_DIR file "\"\n" #sym "_end:\n"          \
		".byte 0\n"                                                    \
		".previous\n");                                                \
	extern const char sym##_start[];                                       \
	extern const char sym##_end[];

KF_EMBED(kf_script_facts, "facts.sh")
KF_EMBED(kf_script_prepare, "prepare.sh")
KF_EMBED(kf_script_init, "init-control-plane.sh")
KF_EMBED(kf_script_network, "network.sh")
KF_EMBED(kf_script_join, "join.sh")
KF_EMBED(kf_script_reset, "reset.sh")

struct script {
	const char *name;
	const char *start;
	const char *end;
	char *override; /* read from the scripts directory, or NULL */
	size_t override_len;
	bool tried;
};

static struct script scripts[] = {
	{ "facts.sh", kf_script_facts_start, kf_script_facts_end, NULL, 0, false },
	{ "prepare.sh", kf_script_prepare_start, kf_script_prepare_end, NULL, 0, false },
	{ "init-control-plane.sh", kf_script_init_start, kf_script_init_end, NULL, 0, false },
	{ "network.sh", kf_script_network_start, kf_script_network_end, NULL, 0, false },
	{ "join.sh", kf_script_join_start, kf_script_join_end, NULL, 0, false },
	{ "reset.sh", kf_script_reset_start, kf_script_reset_end, NULL, 0, false },
};

static pthread_mutex_t scripts_lock = PTHREAD_MUTEX_INITIALIZER;
static char *scripts_dir;

void kf_scripts_set_dir(const char *dir)
{
	pthread_mutex_lock(&scripts_lock);
	free(scripts_dir);
	scripts_dir = dir ? kf_xstrdup(dir) : NULL;
	for (size_t i = 0; i < KF_ARRAY_SIZE(scripts); i++) {
		free(scripts[i].override);
		scripts[i].override = NULL;
		scripts[i].tried = false;
	}
	pthread_mutex_unlock(&scripts_lock);
}

const char *kf_script_text(const char *name, size_t *len)
{
	const char *text = NULL;

	pthread_mutex_lock(&scripts_lock);
	for (size_t i = 0; i < KF_ARRAY_SIZE(scripts); i++) {
		struct script *s = &scripts[i];
		const char *dir = scripts_dir ? scripts_dir : getenv("KFBOOT_SCRIPTS_DIR");

		if (strcmp(s->name, name))
			continue;
		if (!s->tried && dir && *dir) {
			char *path = kf_path_join(dir, name);

			s->tried = true;
			if (kf_file_read(path, &s->override, &s->override_len, NULL))
				s->override = NULL;
			free(path);
		}
		if (s->override) {
			text = s->override;
			if (len)
				*len = s->override_len;
		} else {
			text = s->start;
			if (len)
				*len = (size_t)(s->end - s->start);
		}
		break;
	}
	pthread_mutex_unlock(&scripts_lock);
	return text;
}

char **kf_script_steps(const char *name)
{
	const char *text = kf_script_text(name, NULL);
	char **v = NULL;
	size_t n = 0, alloc = 0;
	const char *p;

	if (!text)
		return NULL;
	for (p = text; *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > 8 && !strncmp(p, "# step: ", 8)) {
			kf_xgrow((void **)&v, &alloc, n + 2, sizeof(*v));
			v[n++] = kf_xstrndup(p + 8, len - 8);
		}
		p += len + (eol ? 1 : 0);
	}
	kf_xgrow((void **)&v, &alloc, n + 1, sizeof(*v));
	v[n] = NULL;
	return v;
}

void kf_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}
