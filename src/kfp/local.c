/*
 * local.c - the local runner for KFP v2 pipelines (see local.h).
 *
 * Before anything runs, the pipeline's parameters are resolved and typed,
 * the output directory is checked, and every task's command line is
 * planned lazily: a task's argv is built just before it starts, when the
 * output parameters of its producers are known. Tasks are child processes
 * (fork + execvp) with stdout and stderr in files under the task's
 * directory; the loop starts every ready task up to the job limit, polls
 * the running ones, and marks the dependents of a failed task "not run".
 * Ctrl-C stops the running tasks (SIGTERM, then SIGKILL).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "local.h"

#define OUT_PARAM_MAX (1u << 20)
#define TAIL_LINES 15
#define TAIL_BYTES 4096

const char *kf_kfp_local_state_str(enum kf_kfp_local_state s)
{
	switch (s) {
	case KF_LOCAL_PENDING: return "pending";
	case KF_LOCAL_RUNNING: return "running";
	case KF_LOCAL_SUCCEEDED: return "succeeded";
	case KF_LOCAL_FAILED: return "failed";
	case KF_LOCAL_NOT_RUN: return "not run";
	}
	return "?";
}

static char *new_uuid(void)
{
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	while (fd >= 0 && got < sizeof(b)) {
		ssize_t n = read(fd, b + got, sizeof(b) - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	if (got < sizeof(b)) { /* no /dev/urandom: time and pid will do */
		unsigned long long t = (unsigned long long)(kf_now() * 1e9) ^ (unsigned long long)getpid();

		for (size_t i = 0; i < sizeof(b); i++, t = t * 6364136223846793005ULL + 1442695040888963407ULL)
			b[i] = (unsigned char)(t >> 56);
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	return kf_xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
			    b[11], b[12], b[13], b[14], b[15]);
}

/* ---- parameters --------------------------------------------------------- */

/* A -p value typed as the pipeline declares it. */
static int typed_value(json_t **out, const char *name, const char *type, const char *s,
		       struct kf_err **err)
{
	char *end;

	*out = NULL;
	if (!type || !strcmp(type, "STRING")) {
		*out = json_string(s);
	} else if (!strcmp(type, "NUMBER_INTEGER")) {
		long long v;

		errno = 0;
		v = strtoll(s, &end, 10);
		if (!*s || *end || errno)
			return kf_err_set(err, KF_EINVAL, "parameter '%s': '%s' is not an integer", name, s);
		*out = json_integer(v);
	} else if (!strcmp(type, "NUMBER_DOUBLE")) {
		double v;

		errno = 0;
		v = strtod(s, &end);
		if (!*s || *end || errno)
			return kf_err_set(err, KF_EINVAL, "parameter '%s': '%s' is not a number", name, s);
		*out = json_real(v);
	} else if (!strcmp(type, "BOOLEAN")) {
		if (!strcmp(s, "true") || !strcmp(s, "True"))
			*out = json_true();
		else if (!strcmp(s, "false") || !strcmp(s, "False"))
			*out = json_false();
		else
			return kf_err_set(err, KF_EINVAL, "parameter '%s': '%s' is not true or false", name, s);
	} else { /* LIST, STRUCT: JSON */
		json_error_t je;

		*out = json_loads(s, JSON_DECODE_ANY, &je);
		if (!*out || (!strcmp(type, "LIST") && !json_is_array(*out)) ||
		    (!strcmp(type, "STRUCT") && !json_is_object(*out))) {
			json_decref(*out);
			*out = NULL;
			return kf_err_set(err, KF_EINVAL, "parameter '%s': expected a JSON %s",
					  name, !strcmp(type, "LIST") ? "list" : "object");
		}
	}
	return 0;
}

static int resolve_params(json_t **out, const struct kf_kfp_ir *ir,
			  const struct kf_kfp_local_opts *o, struct kf_err **err)
{
	json_t *params = json_object();
	size_t n = kf_kfp_ir_param_count(ir);
	const char **names = kf_xcalloc(n + 1, sizeof(*names));
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		const struct kf_kfp_param *p = kf_kfp_ir_param(ir, i);

		names[i] = p->name;
		if (p->def)
			json_object_set(params, p->name, (json_t *)p->def);
	}
	for (size_t i = 0; i < o->nparams; i++) {
		const char *eq = strchr(o->params[i], '=');
		char *name;
		const struct kf_kfp_param *p;
		json_t *v;

		if (!eq || eq == o->params[i]) {
			rc = kf_err_set(err, KF_EUSAGE, "-p '%s': expected NAME=VALUE", o->params[i]);
			goto out;
		}
		name = kf_xstrndup(o->params[i], (size_t)(eq - o->params[i]));
		p = kf_kfp_ir_param_find(ir, name);
		if (!p) {
			const char *near = kf_closest(name, names, n);

			rc = kf_err_set(err, KF_EINVAL, "the pipeline has no parameter '%s'%s%s%s", name,
					near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
			free(name);
			goto out;
		}
		rc = typed_value(&v, name, p->type, eq + 1, err);
		free(name);
		if (rc < 0)
			goto out;
		json_object_set_new(params, p->name, v);
	}
	for (size_t i = 0; i < n; i++) {
		const struct kf_kfp_param *p = kf_kfp_ir_param(ir, i);

		if (!json_object_get(params, p->name) && !p->optional) {
			rc = kf_err_set(err, KF_EINVAL, "the pipeline needs parameter '%s' (-p %s=VALUE)",
					p->name, p->name);
			goto out;
		}
	}
out:
	free(names);
	if (rc < 0)
		json_decref(params);
	else
		*out = params;
	return rc;
}

/* A parameter value as the text a command line gets. */
static char *value_text(const json_t *v)
{
	if (json_is_string(v))
		return kf_xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return kf_xasprintf("%lld", (long long)json_integer_value(v));
	if (!v || json_is_null(v))
		return kf_xstrdup("");
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
}

/* ---- images ------------------------------------------------------------- */

static const char *repo_end(const char *image)
{
	const char *at = strchr(image, '@'), *slash = strrchr(image, '/');
	const char *colon = strrchr(slash ? slash : image, ':');

	if (at)
		return at;
	return colon ? colon : image + strlen(image);
}

static bool image_matches(const char *pattern, size_t plen, const char *image)
{
	const char *pe = pattern + plen;
	bool has_tag = false;

	for (const char *p = pattern; p < pe; p++)
		if (*p == '@' || (*p == ':' && !memchr(p, '/', (size_t)(pe - p))))
			has_tag = true;
	if (has_tag)
		return strlen(image) == plen && !strncmp(pattern, image, plen);
	return (size_t)(repo_end(image) - image) == plen && !strncmp(pattern, image, plen);
}

static void split_words(const char *s, char ***words, size_t *n, size_t *alloc)
{
	while (*s) {
		const char *b;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		b = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
		kf_xgrow((void **)words, alloc, *n + 2, sizeof(**words));
		(*words)[(*n)++] = kf_xstrndup(b, (size_t)(s - b));
	}
}

/* The prefix for image, or NULL (no mapping). *prefix_out is owned. */
static int image_prefix(char **prefix_out, const char *image, const char *base_dir,
			const struct kf_kfp_local_opts *o)
{
	const char *slash, *name;
	size_t rl;

	*prefix_out = NULL;
	for (size_t i = o->nmaps; i-- > 0;) {
		const char *m = o->image_maps[i], *eq = strchr(m, '=');

		if (eq && image_matches(m, (size_t)(eq - m), image)) {
			*prefix_out = kf_xstrdup(eq + 1);
			return 1;
		}
	}
	rl = (size_t)(repo_end(image) - image);
	slash = memrchr(image, '/', rl);
	name = slash ? slash + 1 : image;
	if ((size_t)(repo_end(image) - name) == strlen("kfboot-xor") && !strncmp(name, "kfboot-xor", 10)) {
		char *py = kf_path_join(base_dir, "xor.py");

		if (access(py, R_OK) == 0) {
			*prefix_out = kf_xasprintf("/usr/bin/python3 %s", py);
			free(py);
			return 1;
		}
		free(py);
	}
	return 0;
}

/* ---- the run ------------------------------------------------------------ */

struct runner {
	const struct kf_kfp_ir *ir;
	const struct kf_kfp_local_opts *o;
	struct kf_kfp_local_run *run;
	char *base_dir;
};

static struct kf_kfp_local_task *task_by_name(struct kf_kfp_local_run *run, const char *name)
{
	for (size_t i = 0; i < run->ntasks; i++)
		if (!strcmp(run->tasks[i].name, name))
			return &run->tasks[i];
	return NULL;
}

static char *art_path(const struct kf_kfp_local_task *t, const char *name)
{
	return kf_path_join(t->dir, name);
}

static char *param_file(const struct kf_kfp_local_task *t, const char *name)
{
	char *d = kf_path_join(t->dir, "outputs"), *p = kf_path_join(d, name);

	free(d);
	return p;
}

/* The value of input parameter `name` of task t (NULL: not bound). */
static json_t *input_param(struct runner *r, const struct kf_kfp_task *kt, const char *name,
			   struct kf_err **err)
{
	const json_t *b = json_object_get(json_object_get(json_object_get(kt->task, "inputs"), "parameters"), name);
	const json_t *v;

	if ((v = json_object_get(b, "componentInputParameter")))
		return json_incref(json_object_get(r->run->params, json_string_value(v)));
	if ((v = json_object_get(b, "runtimeValue")))
		return json_incref(json_object_get(v, "constant"));
	if ((v = json_object_get(b, "taskOutputParameter"))) {
		const char *prod = json_string_value(json_object_get(v, "producerTask"));
		const char *key = json_string_value(json_object_get(v, "outputParameterKey"));
		struct kf_kfp_local_task *pt = task_by_name(r->run, prod);
		json_t *val = pt ? json_object_get(json_object_get(pt->outputs, "parameters"), key) : NULL;

		if (!val) {
			kf_err_set(err, KF_EINVAL, "input '%s': task '%s' did not write output parameter '%s'",
				   name, prod, key);
			return NULL;
		}
		return json_incref(val);
	}
	if (json_object_get(b, "taskFinalStatus")) {
		kf_err_set(err, KF_EINVAL, "input '%s': taskFinalStatus (exit handlers) is not supported locally", name);
		return NULL;
	}
	v = json_object_get(json_object_get(json_object_get(json_object_get(kt->comp, "inputDefinitions"), "parameters"), name), "defaultValue");
	return v ? json_incref((json_t *)v) : NULL;
}

/* The path of input artifact `name` of task t (owned), or NULL. */
static char *input_artifact(struct runner *r, const struct kf_kfp_task *kt, const char *name,
			    struct kf_err **err)
{
	const json_t *b = json_object_get(json_object_get(json_object_get(kt->task, "inputs"), "artifacts"), name);
	const json_t *v = json_object_get(b, "taskOutputArtifact");
	struct kf_kfp_local_task *pt;

	if (!v) {
		kf_err_set(err, KF_EINVAL, "input artifact '%s': only task outputs are supported locally", name);
		return NULL;
	}
	pt = task_by_name(r->run, json_string_value(json_object_get(v, "producerTask")));
	if (!pt) {
		kf_err_set(err, KF_EINVAL, "input artifact '%s': no producer", name);
		return NULL;
	}
	return art_path(pt, json_string_value(json_object_get(v, "outputArtifactKey")));
}

static char *file_uri(const char *path)
{
	return kf_xasprintf("file://%s", path);
}

/* The executor input ({{$}}): what KFP's launcher hands a component. */
static json_t *executor_input(struct runner *r, const struct kf_kfp_task *kt,
			      struct kf_kfp_local_task *t, struct kf_err **err)
{
	json_t *ei = json_object(), *in = json_object(), *pv = json_object(), *ia = json_object();
	json_t *out = json_object(), *oa = json_object(), *op = json_object();
	const json_t *defs = json_object_get(kt->comp, "inputDefinitions"), *v;
	const char *k;
	int rc = 0;

	json_object_foreach(json_object_get(defs, "parameters"), k, v) {
		json_t *val = input_param(r, kt, k, err);

		if (val)
			json_object_set_new(pv, k, val);
	}
	json_object_foreach(json_object_get(defs, "artifacts"), k, v) {
		char *p = input_artifact(r, kt, k, err);

		if (!p) {
			rc = KF_EINVAL;
			break;
		}
		char *u = file_uri(p);
		json_object_set_new(ia, k, json_pack("{s:[{s:s,s:{}}]}", "artifacts", "uri", u, "metadata"));
		free(u);
		free(p);
	}
	defs = json_object_get(kt->comp, "outputDefinitions");
	json_object_foreach(json_object_get(defs, "artifacts"), k, v) {
		char *p = art_path(t, k), *u = file_uri(p);

		json_object_set_new(oa, k, json_pack("{s:[{s:s,s:{}}]}", "artifacts", "uri", u, "metadata"));
		free(u);
		free(p);
	}
	json_object_foreach(json_object_get(defs, "parameters"), k, v) {
		char *p = param_file(t, k);

		json_object_set_new(op, k, json_pack("{s:s}", "outputFile", p));
		free(p);
	}
	json_object_set_new(in, "parameterValues", pv);
	json_object_set_new(in, "artifacts", ia);
	json_object_set_new(out, "artifacts", oa);
	json_object_set_new(out, "parameters", op);
	{
		char *f = kf_path_join(t->dir, "executor_output.json");

		json_object_set_new(out, "outputFile", json_string(f));
		free(f);
	}
	json_object_set_new(ei, "inputs", in);
	json_object_set_new(ei, "outputs", out);
	if (rc < 0) {
		json_decref(ei);
		return NULL;
	}
	return ei;
}

/* Substitute every placeholder of s. Returns the new string or NULL. */
static char *substitute(struct runner *r, const struct kf_kfp_task *kt,
			struct kf_kfp_local_task *t, const char *s, struct kf_err **err)
{
	struct kf_buf b = KF_BUF_INIT;
	struct kf_kfp_ph ph;
	const char *p;

	while ((p = kf_kfp_ph_next(s, &ph)) != NULL) {
		char *name = ph.name ? kf_xstrndup(ph.name, ph.name_len) : NULL;
		char *text = NULL;

		kf_buf_add(&b, s, (size_t)(p - s));
		switch (ph.kind) {
		case KF_KFP_PH_EXECUTOR_INPUT: {
			json_t *ei = executor_input(r, kt, t, err);

			if (ei)
				text = json_dumps(ei, JSON_COMPACT | JSON_SORT_KEYS);
			json_decref(ei);
			break;
		}
		case KF_KFP_PH_IN_PARAM: {
			json_t *v = input_param(r, kt, name, err);

			if (v)
				text = value_text(v);
			else if (!*err)
				kf_err_set(err, KF_EINVAL, "input parameter '%s' has no value", name);
			json_decref(v);
			break;
		}
		case KF_KFP_PH_IN_ART_PATH:
			text = input_artifact(r, kt, name, err);
			break;
		case KF_KFP_PH_IN_ART_URI: {
			char *path = input_artifact(r, kt, name, err);

			text = path ? file_uri(path) : NULL;
			free(path);
			break;
		}
		case KF_KFP_PH_OUT_ART_PATH:
			text = art_path(t, name);
			break;
		case KF_KFP_PH_OUT_ART_URI: {
			char *path = art_path(t, name);

			text = file_uri(path);
			free(path);
			break;
		}
		case KF_KFP_PH_OUT_PARAM_FILE:
			text = param_file(t, name);
			break;
		case KF_KFP_PH_JOB_UUID:
			text = kf_xstrdup(r->run->run_id);
			break;
		case KF_KFP_PH_JOB_NAME:
			text = kf_xasprintf("%s-%.8s", r->run->pipeline, r->run->run_id);
			break;
		case KF_KFP_PH_TASK_NAME:
			text = kf_xstrdup(t->name);
			break;
		case KF_KFP_PH_TASK_UUID:
			text = new_uuid();
			break;
		case KF_KFP_PH_ROOT:
			text = kf_xstrdup(r->run->out_dir);
			break;
		case KF_KFP_PH_OTHER:
			kf_err_set(err, KF_EINVAL, "placeholder '%.*s' is not supported by the local runner",
				   (int)ph.len, p);
			break;
		}
		free(name);
		if (!text) {
			if (!*err)
				kf_err_set(err, KF_EINVAL, "placeholder '%.*s' has no value", (int)ph.len, p);
			kf_buf_release(&b);
			return NULL;
		}
		kf_buf_adds(&b, text);
		free(text);
		s = p + ph.len;
	}
	kf_buf_adds(&b, s);
	return kf_buf_detach(&b, NULL);
}

static int build_argv(struct runner *r, const struct kf_kfp_task *kt,
		      struct kf_kfp_local_task *t, struct kf_err **err)
{
	const json_t *cmd = json_object_get(kt->container, "command");
	const json_t *args = json_object_get(kt->container, "args"), *v;
	char **argv = NULL, *prefix = NULL;
	size_t n = 0, alloc = 0, i;
	int rc = 0;

	if (!kt->container)
		return kf_err_set(err, KF_EINVAL, "component '%s' is not a container component (sub-DAGs, importers and resolvers do not run locally)",
				  kt->component);
	if (!image_prefix(&prefix, kt->image, r->base_dir, r->o))
		return kf_err_set(err, KF_EINVAL, "image '%s' has no local command: pass --image-map '%s=PREFIX' (an empty PREFIX runs the command as it is)",
				  kt->image, kt->image);
	split_words(prefix, &argv, &n, &alloc);
	for (int part = 0; part < 2 && rc == 0; part++) {
		const json_t *arr = part ? args : cmd;

		json_array_foreach(arr, i, v) {
			char *s;

			/* The prefix stands for the program: command[0]. */
			if (!part && i == 0 && *prefix)
				continue;
			s = substitute(r, kt, t, json_string_value(v), err);
			if (!s) {
				rc = KF_EINVAL;
				break;
			}
			kf_xgrow((void **)&argv, &alloc, n + 2, sizeof(*argv));
			argv[n++] = s;
		}
	}
	free(prefix);
	if (rc == 0 && n == 0)
		rc = kf_err_set(err, KF_EINVAL, "the task has an empty command line");
	if (rc < 0) {
		for (i = 0; i < n; i++)
			free(argv[i]);
		free(argv);
		return rc;
	}
	argv[n] = NULL;
	t->argv = argv;
	return 0;
}

/* Remove what an earlier run left for this task and make its dirs. */
static int prepare_dirs(const struct kf_kfp_task *kt, struct kf_kfp_local_task *t,
			struct kf_err **err)
{
	const json_t *defs = json_object_get(kt->comp, "outputDefinitions"), *v;
	const char *k;
	char *od = kf_path_join(t->dir, "outputs");
	int rc = kf_mkdir_p(od, 0755, err);

	free(od);
	if (rc < 0)
		return rc;
	json_object_foreach(json_object_get(defs, "artifacts"), k, v) {
		char *p = art_path(t, k);

		unlink(p);
		free(p);
	}
	json_object_foreach(json_object_get(defs, "parameters"), k, v) {
		char *p = param_file(t, k);

		unlink(p);
		free(p);
	}
	return 0;
}

static int start_task(struct runner *r, const struct kf_kfp_task *kt,
		      struct kf_kfp_local_task *t, struct kf_err **err)
{
	char *outp = kf_path_join(t->dir, "stdout.log"), *errp = kf_path_join(t->dir, "stderr.log");
	int ofd = -1, efd = -1, rc = 0;
	pid_t pid;

	rc = prepare_dirs(kt, t, err);
	if (rc < 0)
		goto out;
	rc = build_argv(r, kt, t, err);
	if (rc < 0)
		goto out;
	ofd = open(outp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	efd = open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ofd < 0 || efd < 0) {
		rc = kf_err_errno(err, "%s", ofd < 0 ? outp : errp);
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = kf_err_errno(err, "fork");
		goto out;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		if (nul >= 0)
			dup2(nul, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		setenv("KFBOOT_RUN_ID", r->run->run_id, 1);
		setenv("KFBOOT_TASK", t->name, 1);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		execvp(t->argv[0], t->argv);
		dprintf(2, "kfboot: cannot run '%s': %s\n", t->argv[0], strerror(errno));
		_exit(127);
	}
	t->pid = pid;
	t->state = KF_LOCAL_RUNNING;
	t->started = kf_now();
out:
	if (ofd >= 0)
		close(ofd);
	if (efd >= 0)
		close(efd);
	free(outp);
	free(errp);
	return rc;
}

static char *tail_of(const char *path)
{
	char *data = NULL, *p;
	size_t len = 0;
	int lines = 0;

	if (kf_file_read(path, &data, &len, NULL) < 0)
		return kf_xstrdup("");
	while (len && (data[len - 1] == '\n' || data[len - 1] == ' '))
		data[--len] = 0;
	p = data + len;
	while (p > data && (size_t)(data + len - p) < TAIL_BYTES) {
		if (p[-1] == '\n' && ++lines >= TAIL_LINES)
			break;
		p--;
	}
	p = kf_xstrdup(p);
	free(data);
	return p;
}

/* A finished task: read its output parameters, note what it wrote. */
static void collect_outputs(const struct kf_kfp_task *kt, struct kf_kfp_local_task *t)
{
	const json_t *defs = json_object_get(kt->comp, "outputDefinitions"), *v;
	json_t *arts = json_object(), *params = json_object();
	const char *k;

	json_object_foreach(json_object_get(defs, "artifacts"), k, v) {
		char *p = art_path(t, k);
		struct stat st;

		json_object_set_new(arts, k, json_pack("{s:s,s:b}", "path", p, "written", stat(p, &st) == 0));
		free(p);
	}
	json_object_foreach(json_object_get(defs, "parameters"), k, v) {
		char *p = param_file(t, k), *data = NULL;
		size_t len = 0;
		const char *type = json_string_value(json_object_get(v, "parameterType"));

		if (kf_file_read(p, &data, &len, NULL) == 0 && len <= OUT_PARAM_MAX) {
			json_t *val = NULL;

			while (len && (data[len - 1] == '\n' || data[len - 1] == ' ' || data[len - 1] == '\r'))
				data[--len] = 0;
			if (typed_value(&val, k, type, data, NULL) < 0 || !val)
				val = json_string(data);
			json_object_set_new(params, k, val);
		}
		free(data);
		free(p);
	}
	json_object_set_new(t->outputs, "artifacts", arts);
	json_object_set_new(t->outputs, "parameters", params);
}

static void finish_task(struct runner *r, const struct kf_kfp_task *kt,
			struct kf_kfp_local_task *t, int status)
{
	const json_t *pdefs = json_object_get(json_object_get(kt->comp, "outputDefinitions"), "parameters"), *v;
	const char *k;

	t->seconds = kf_now() - t->started;
	t->pid = 0;
	if (WIFEXITED(status)) {
		t->exit_status = WEXITSTATUS(status);
	} else {
		t->exit_status = -1;
		t->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	}
	collect_outputs(kt, t);
	if (t->exit_status == 0) {
		t->state = KF_LOCAL_SUCCEEDED;
		json_object_foreach((json_t *)pdefs, k, v)
			if (!json_object_get(json_object_get(t->outputs, "parameters"), k)) {
				t->state = KF_LOCAL_FAILED;
				t->why = kf_xasprintf("exit status 0, but output parameter '%s' was not written", k);
				break;
			}
	} else {
		char *errp = kf_path_join(t->dir, "stderr.log");

		t->state = KF_LOCAL_FAILED;
		t->why = t->exit_status >= 0 ? kf_xasprintf("exit status %d", t->exit_status)
					     : kf_xasprintf("killed by signal %d", t->term_signal);
		t->stderr_tail = tail_of(errp);
		free(errp);
	}
	(void)r;
}

/* Mark everything downstream of a failed task as not run. */
static void skip_dependents(struct runner *r, const char *failed)
{
	bool changed = true;

	while (changed) {
		changed = false;
		for (size_t i = 0; i < r->run->ntasks; i++) {
			struct kf_kfp_local_task *t = &r->run->tasks[i];
			const struct kf_kfp_task *kt = kf_kfp_ir_task(r->ir, i);

			if (t->state != KF_LOCAL_PENDING)
				continue;
			for (size_t d = 0; d < kt->ndeps; d++) {
				struct kf_kfp_local_task *dt = task_by_name(r->run, kt->deps[d]);

				if (dt && (dt->state == KF_LOCAL_FAILED || dt->state == KF_LOCAL_NOT_RUN)) {
					t->state = KF_LOCAL_NOT_RUN;
					t->why = kf_xasprintf("not run: %s '%s' failed",
							      !strcmp(dt->name, failed) ? "task" : "upstream task", failed);
					changed = true;
					break;
				}
			}
		}
	}
}

static bool ready(struct runner *r, size_t i)
{
	const struct kf_kfp_task *kt = kf_kfp_ir_task(r->ir, i);

	for (size_t d = 0; d < kt->ndeps; d++) {
		struct kf_kfp_local_task *dt = task_by_name(r->run, kt->deps[d]);

		if (!dt || dt->state != KF_LOCAL_SUCCEEDED)
			return false;
	}
	return true;
}

static void notify(struct runner *r, const struct kf_kfp_local_task *t)
{
	if (r->o->on_task)
		r->o->on_task(r->o->ctx, r->run, t);
}

static void stop_running(struct runner *r)
{
	double deadline = kf_now() + 5;

	for (size_t i = 0; i < r->run->ntasks; i++)
		if (r->run->tasks[i].pid > 0)
			kill(r->run->tasks[i].pid, SIGTERM);
	for (size_t i = 0; i < r->run->ntasks; i++) {
		struct kf_kfp_local_task *t = &r->run->tasks[i];
		int st = 0;

		while (t->pid > 0) {
			pid_t w = waitpid(t->pid, &st, WNOHANG);

			if (w == t->pid || (w < 0 && errno != EINTR)) {
				finish_task(r, kf_kfp_ir_task(r->ir, i), t, w == t->pid ? st : 0);
				t->state = KF_LOCAL_FAILED;
				free(t->why);
				t->why = kf_xstrdup("stopped: interrupted");
				break;
			}
			if (kf_now() > deadline)
				kill(t->pid, SIGKILL);
			kf_sleep(0.02);
		}
	}
}

static int check_out_dir(const char *dir, struct kf_err **err)
{
	struct stat st;
	char *marker;
	int rc = 0;

	if (stat(dir, &st) < 0)
		return kf_mkdir_p(dir, 0755, err);
	if (!S_ISDIR(st.st_mode))
		return kf_err_set(err, KF_EINVAL, "output directory '%s' is not a directory", dir);
	marker = kf_path_join(dir, "run.json");
	if (access(marker, F_OK) < 0) {
		/* Empty directories are fine; others must be an earlier run. */
		if (rmdir(dir) == 0)
			rc = kf_mkdir_p(dir, 0755, err);
		else
			rc = kf_err_set(err, KF_EINVAL, "output directory '%s' is not empty and holds no earlier run (run.json): pick another --out",
					dir);
	}
	free(marker);
	return rc;
}

json_t *kf_kfp_local_run_json(const struct kf_kfp_local_run *run)
{
	json_t *tasks = json_array();

	for (size_t i = 0; i < run->ntasks; i++) {
		const struct kf_kfp_local_task *t = &run->tasks[i];
		json_t *o = json_pack("{s:s,s:s,s:f,s:s}", "name", t->name, "state",
				      kf_kfp_local_state_str(t->state), "seconds", t->seconds,
				      "dir", t->dir);

		if (t->state == KF_LOCAL_SUCCEEDED || t->state == KF_LOCAL_FAILED)
			json_object_set_new(o, "exit_status", json_integer(t->exit_status));
		if (t->why)
			json_object_set_new(o, "why", json_string(t->why));
		if (t->stderr_tail)
			json_object_set_new(o, "stderr_tail", json_string(t->stderr_tail));
		if (json_object_size(t->outputs))
			json_object_set(o, "outputs", t->outputs);
		json_array_append_new(tasks, o);
	}
	return json_pack("{s:s,s:s,s:s,s:b,s:f,s:O,s:o}", "pipeline", run->pipeline, "run_id",
			 run->run_id, "out_dir", run->out_dir, "ok", run->ok, "seconds", run->seconds,
			 "parameters", run->params, "tasks", tasks);
}

static void write_summary(struct kf_kfp_local_run *run)
{
	json_t *j = kf_kfp_local_run_json(run);
	char *s = json_dumps(j, JSON_INDENT(1)), *p = kf_path_join(run->out_dir, "run.json");
	struct kf_err *e = NULL;

	if (s && kf_file_write_atomic(p, s, strlen(s), 0644, &e) < 0) {
		char *m = kf_err_str(e);

		kf_warn("local run: %s", m);
		free(m);
		kf_err_free(e);
	}
	free(s);
	free(p);
	json_decref(j);
}

int kf_kfp_local_run(struct kf_kfp_local_run **out, const struct kf_kfp_ir *ir,
		     const struct kf_kfp_local_opts *o, struct kf_err **err)
{
	struct runner r = { ir, o, NULL, NULL };
	struct kf_kfp_local_run *run = kf_xcalloc(1, sizeof(*run));
	size_t n = kf_kfp_ir_task_count(ir), done = 0, running = 0;
	int jobs = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
	const char *failed = NULL;
	double t0 = kf_now();
	char *abs = NULL;
	int rc;

	*out = NULL;
	r.run = run;
	if (jobs < 1)
		jobs = 1;
	run->pipeline = kf_xstrdup(kf_kfp_ir_name(ir));
	run->run_id = o->run_id ? kf_xstrdup(o->run_id) : new_uuid();
	rc = resolve_params(&run->params, ir, o, err);
	if (rc < 0)
		goto fail;
	{
		char *dir = o->out_dir ? kf_xstrdup(o->out_dir) : kf_xasprintf("kfboot-runs/%s", run->run_id);

		rc = check_out_dir(dir, err);
		if (rc == 0 && !(abs = realpath(dir, NULL)))
			rc = kf_err_errno(err, "%s", dir);
		free(dir);
		if (rc < 0)
			goto fail;
		run->out_dir = abs;
	}
	{
		char *f = realpath(kf_kfp_ir_file(ir), NULL), *slash;

		r.base_dir = f ? f : kf_xstrdup(".");
		if (f && (slash = strrchr(f, '/')))
			*(slash == f ? slash + 1 : slash) = 0;
	}
	run->ntasks = n;
	run->tasks = kf_xcalloc(n ? n : 1, sizeof(*run->tasks));
	for (size_t i = 0; i < n; i++) {
		run->tasks[i].name = kf_kfp_ir_task(ir, i)->name;
		run->tasks[i].dir = kf_path_join(run->out_dir, run->tasks[i].name);
		run->tasks[i].exit_status = -1;
		run->tasks[i].outputs = json_object();
	}
	while (done < n) {
		bool progressed = false;

		if (kf_interrupted()) {
			stop_running(&r);
			rc = kf_err_set(err, KF_ECANCEL, "interrupted");
			for (size_t i = 0; i < n; i++)
				if (run->tasks[i].state == KF_LOCAL_PENDING) {
					run->tasks[i].state = KF_LOCAL_NOT_RUN;
					run->tasks[i].why = kf_xstrdup("not run: interrupted");
				}
			goto finish;
		}
		for (size_t i = 0; i < n && running < (size_t)jobs; i++) {
			struct kf_kfp_local_task *t = &run->tasks[i];
			struct kf_err *te = NULL;

			if (t->state != KF_LOCAL_PENDING || !ready(&r, i))
				continue;
			if (start_task(&r, kf_kfp_ir_task(ir, i), t, &te) < 0) {
				t->state = KF_LOCAL_FAILED;
				t->why = kf_err_str(te);
				kf_err_free(te);
				done++;
				if (!failed)
					failed = t->name;
				skip_dependents(&r, t->name);
				notify(&r, t);
			} else {
				running++;
				notify(&r, t);
			}
			progressed = true;
		}
		for (size_t i = 0; i < n; i++) {
			struct kf_kfp_local_task *t = &run->tasks[i];
			int st;
			pid_t w;

			if (t->state != KF_LOCAL_RUNNING)
				continue;
			w = waitpid(t->pid, &st, WNOHANG);
			if (w == 0 || (w < 0 && errno == EINTR))
				continue;
			finish_task(&r, kf_kfp_ir_task(ir, i), t, w == t->pid ? st : (W_EXITCODE(127, 0)));
			running--;
			done++;
			progressed = true;
			if (t->state == KF_LOCAL_FAILED) {
				if (!failed)
					failed = t->name;
				skip_dependents(&r, t->name);
			}
			notify(&r, t);
		}
		/* Count the tasks that will never run. */
		done = 0;
		for (size_t i = 0; i < n; i++)
			if (run->tasks[i].state != KF_LOCAL_PENDING && run->tasks[i].state != KF_LOCAL_RUNNING)
				done++;
		if (!progressed && done < n)
			kf_sleep(0.01);
		if (!progressed && !running && done < n) {
			rc = kf_err_set(err, KF_ERR, "no task can start (a dependency cycle?)");
			goto finish;
		}
	}
	if (failed) {
		struct kf_kfp_local_task *t = task_by_name(run, failed);

		if (t->started > 0)
			rc = kf_err_set(err, KF_ERR, "task '%s' failed: %s (logs: %s/stderr.log)", failed,
					t->why ? t->why : "?", t->dir);
		else
			rc = kf_err_set(err, KF_ERR, "task '%s' failed: %s", failed, t->why ? t->why : "?");
	}
finish:
	run->seconds = kf_now() - t0;
	run->ok = rc == 0;
	write_summary(run);
	free(r.base_dir);
	*out = run;
	return rc;
fail:
	free(r.base_dir);
	kf_kfp_local_run_free(run);
	return rc;
}

void kf_kfp_local_run_free(struct kf_kfp_local_run *run)
{
	if (!run)
		return;
	for (size_t i = 0; i < run->ntasks; i++) {
		struct kf_kfp_local_task *t = &run->tasks[i];

		free(t->why);
		free(t->stderr_tail);
		free(t->dir);
		json_decref(t->outputs);
		for (char **a = t->argv; a && *a; a++)
			free(*a);
		free(t->argv);
	}
	free(run->tasks);
	free(run->run_id);
	free(run->out_dir);
	free(run->pipeline);
	json_decref(run->params);
	free(run);
}
