/*
 * cmd_pipeline.c - `kfboot pipeline`: KFP v2 pipeline packages on this
 * machine.
 *
 *   pipeline validate FILE...   check packages (every problem, file:line:col)
 *   pipeline run --local FILE   run the package's container components here
 *
 * `run --local` prints each task as it starts and ends (stderr), then a
 * summary per task (state, time, outputs) on stdout, or the run as JSON
 * with -o json. A failed task names itself, shows the tail of its stderr,
 * and the command exits 1; tasks that depend on it do not run.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kfp/ir.h"
#include "kfp/local.h"

extern const struct kf_cmd kf_cmd_pipeline;

static int validate(int argc, char **argv, struct kf_cli *cli)
{
	json_t *results = json_array();
	int exit_code = KF_EXIT_OK, nfiles = 0;

	for (int i = 1; i < argc; i++) {
		struct kf_kfp_ir *ir = NULL;
		struct kf_diags diags = KF_DIAGS_INIT;
		struct kf_err *err = NULL;
		char *data = NULL;
		size_t len = 0;
		json_t *problems = json_array();

		if ((!strcmp(argv[i], "-f") || !strcmp(argv[i], "--filename")) && i + 1 < argc) {
			i++;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			json_decref(problems);
			json_decref(results);
			return kf_cli_usage(cli, &kf_cmd_pipeline, "pipeline validate: unknown option '%s'", argv[i]);
		}
		nfiles++;
		if (kf_file_read(argv[i], &data, &len, &err) < 0) {
			char *m = kf_err_str(err);

			kf_diags_add(&diags, NULL, 0, 0, "%s", m);
			free(m);
		} else {
			kf_kfp_ir_check(&ir, argv[i], data, len, &diags, &err);
		}
		for (size_t d = 0; d < diags.n; d++) {
			char *s = kf_diag_str(&diags.v[d]);

			if (!kf_cli_structured(cli))
				printf("%s\n", s);
			json_array_append_new(problems, json_string(s));
			free(s);
		}
		if (!kf_cli_structured(cli)) {
			if (ir)
				printf("%s: ok (pipeline '%s', %zu tasks, %zu parameters)\n", argv[i],
				       kf_kfp_ir_name(ir), kf_kfp_ir_task_count(ir), kf_kfp_ir_param_count(ir));
			else
				printf("%s: %zu problem%s\n", argv[i], diags.n, diags.n == 1 ? "" : "s");
		}
		json_array_append_new(results, json_pack("{s:s,s:b,s:o}", "file", argv[i], "ok", ir != NULL,
							 "problems", problems));
		if (!ir)
			exit_code = KF_EXIT_FAIL;
		kf_kfp_ir_free(ir);
		kf_diags_release(&diags);
		kf_err_free(err);
		free(data);
	}
	if (!nfiles) {
		json_decref(results);
		return kf_cli_usage(cli, &kf_cmd_pipeline, "pipeline validate: pass a FILE");
	}
	if (kf_cli_structured(cli))
		kf_cli_print_json(json_array_size(results) == 1 ? json_array_get(results, 0) : results);
	json_decref(results);
	return exit_code;
}

struct progress {
	struct kf_cli *cli;
};

static void on_task(void *ctx, const struct kf_kfp_local_run *run,
		    const struct kf_kfp_local_task *t)
{
	struct progress *p = ctx;
	char d[32];

	(void)run;
	if (p->cli->quiet)
		return;
	if (t->state == KF_LOCAL_RUNNING)
		fprintf(stderr, "  %-14s started\n", t->name);
	else
		fprintf(stderr, "  %-14s %s%s%s %s\n", t->name,
			kf_cli_c(p->cli, t->state == KF_LOCAL_SUCCEEDED ? KF_C_GREEN : KF_C_RED),
			kf_kfp_local_state_str(t->state), kf_cli_c(p->cli, KF_C_RESET),
			t->state == KF_LOCAL_SUCCEEDED || t->state == KF_LOCAL_FAILED
				? kf_duration_fmt(t->seconds, d) : "");
}

static void print_summary(const struct kf_kfp_local_run *run, struct kf_cli *cli)
{
	char d[32];

	printf("Run %s of pipeline '%s' (%s): %s\n", run->run_id, run->pipeline,
	       kf_duration_fmt(run->seconds, d), run->ok ? "succeeded" : "failed");
	printf("Output: %s\n", run->out_dir);
	for (size_t i = 0; i < run->ntasks; i++) {
		const struct kf_kfp_local_task *t = &run->tasks[i];
		const json_t *arts = json_object_get(t->outputs, "artifacts");
		const json_t *params = json_object_get(t->outputs, "parameters"), *v;
		const char *k;
		bool ran = t->state == KF_LOCAL_SUCCEEDED || t->state == KF_LOCAL_FAILED;

		printf("  %-14s %s%-9s%s %8s", t->name,
		       kf_cli_c(cli, t->state == KF_LOCAL_SUCCEEDED ? KF_C_GREEN : KF_C_RED),
		       kf_kfp_local_state_str(t->state), kf_cli_c(cli, KF_C_RESET),
		       ran ? kf_duration_fmt(t->seconds, d) : "-");
		if (t->why)
			printf("  %s", t->why);
		printf("\n");
		json_object_foreach((json_t *)arts, k, v) {
			bool w = json_is_true(json_object_get(v, "written"));

			if (t->state != KF_LOCAL_SUCCEEDED)
				continue;
			printf("      %-16s %s%s\n", k, json_string_value(json_object_get(v, "path")),
			       w ? "" : "  (not written)");
		}
		json_object_foreach((json_t *)params, k, v) {
			char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));

			printf("      %-16s = %s\n", k, s ? s : "?");
			free(s);
		}
		if (t->stderr_tail && *t->stderr_tail) {
			char *line = t->stderr_tail, *nl;

			printf("      stderr (last lines):\n");
			while (line && *line) {
				nl = strchr(line, '\n');
				printf("        | %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
				line = nl ? nl + 1 : NULL;
			}
		}
	}
}

static int run_local(int argc, char **argv, struct kf_cli *cli)
{
	const char **params = kf_xcalloc((size_t)argc + 1, sizeof(*params));
	const char **maps = kf_xcalloc((size_t)argc + 1, sizeof(*maps));
	struct kf_kfp_local_opts o = { 0 };
	struct kf_kfp_local_run *run = NULL;
	struct kf_kfp_ir *ir = NULL;
	struct kf_err *err = NULL;
	struct progress prog = { cli };
	const char *file = NULL;
	bool local = false;
	int exit_code = KF_EXIT_OK, rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;

#define VALUE(flag)                                                                      \
	(i + 1 < argc ? argv[++i]                                                        \
		      : (exit_code = kf_cli_usage(cli, &kf_cmd_pipeline, "%s needs a value", flag), \
			 (const char *)NULL))
		if (!strcmp(a, "--local")) {
			local = true;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--param")) {
			slot = &params[o.nparams++];
			*slot = VALUE(a);
		} else if (!strncmp(a, "--param=", 8)) {
			params[o.nparams++] = a + 8;
		} else if (!strcmp(a, "--image-map")) {
			slot = &maps[o.nmaps++];
			*slot = VALUE(a);
		} else if (!strncmp(a, "--image-map=", 12)) {
			maps[o.nmaps++] = a + 12;
		} else if (!strcmp(a, "--out")) {
			o.out_dir = VALUE(a);
		} else if (!strncmp(a, "--out=", 6)) {
			o.out_dir = a + 6;
		} else if (!strcmp(a, "--run-id")) {
			o.run_id = VALUE(a);
		} else if (!strcmp(a, "--jobs") || !strcmp(a, "-j")) {
			const char *v = VALUE(a);

			if (v && (o.jobs = atoi(v)) < 1)
				exit_code = kf_cli_usage(cli, &kf_cmd_pipeline, "--jobs: '%s' is not a positive number", v);
		} else if (!strcmp(a, "-f") || !strcmp(a, "--filename")) {
			const char *v = VALUE(a);

			if (v && file)
				exit_code = kf_cli_usage(cli, &kf_cmd_pipeline, "pipeline run: one FILE only ('%s')", v);
			file = v;
		} else if (a[0] == '-' && a[1]) {
			exit_code = kf_cli_usage(cli, &kf_cmd_pipeline, "pipeline run: unknown option '%s'", a);
		} else if (!file) {
			file = a;
		} else {
			exit_code = kf_cli_usage(cli, &kf_cmd_pipeline, "pipeline run: one FILE only ('%s')", a);
		}
#undef VALUE
		if (exit_code)
			goto out;
	}
	if (!file) {
		exit_code = kf_cli_usage(cli, &kf_cmd_pipeline, "pipeline run: pass the pipeline package FILE");
		goto out;
	}
	if (!local) {
		exit_code = kf_cli_usage(cli, &kf_cmd_pipeline,
					 "pipeline run: only --local runs exist here (a cluster run goes through the KFP API)");
		goto out;
	}
	if (o.run_id) {
		for (const char *c = o.run_id; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
				c = NULL, exit_code = kf_cli_usage(cli, &kf_cmd_pipeline, "--run-id: lower-case letters, digits and '-' only");
		if (exit_code)
			goto out;
	}
	o.params = params;
	o.image_maps = maps;
	o.on_task = on_task;
	o.ctx = &prog;
	if (kf_kfp_ir_load(&ir, file, &err) < 0) {
		exit_code = kf_cli_fail(cli, err);
		goto out;
	}
	if (!cli->quiet)
		fprintf(stderr, "pipeline '%s': %zu tasks, running locally\n", kf_kfp_ir_name(ir),
			kf_kfp_ir_task_count(ir));
	rc = kf_kfp_local_run(&run, ir, &o, &err);
	if (run) {
		if (kf_cli_structured(cli)) {
			json_t *j = kf_kfp_local_run_json(run);

			kf_cli_print_json(j);
			json_decref(j);
		} else {
			print_summary(run, cli);
		}
	}
	if (rc < 0)
		exit_code = kf_cli_fail(cli, err);
out:
	kf_kfp_local_run_free(run);
	kf_kfp_ir_free(ir);
	kf_err_free(err);
	free(params);
	free(maps);
	return exit_code;
}

static int run_pipeline(int argc, char **argv, struct kf_cli *cli)
{
	if (argc < 2 || kf_cli_wants_help(2, argv))
		return argc < 2 ? kf_cli_usage(cli, &kf_cmd_pipeline, "pipeline: run or validate?")
				: kf_cli_help(&kf_cmd_pipeline);
	if (kf_cli_wants_help(argc, argv))
		return kf_cli_help(&kf_cmd_pipeline);
	if (!strcmp(argv[1], "validate"))
		return validate(argc - 1, argv + 1, cli);
	if (!strcmp(argv[1], "run"))
		return run_local(argc - 1, argv + 1, cli);
	return kf_cli_usage(cli, &kf_cmd_pipeline, "pipeline: unknown subcommand '%s' (run, validate)", argv[1]);
}

const struct kf_cmd kf_cmd_pipeline = {
	.name = "pipeline",
	.run = run_pipeline,
	.summary = "KFP v2 pipeline packages: validate, run locally",
	.usage =
		"usage: kfboot pipeline validate [-f] FILE...\n"
		"       kfboot pipeline run --local [-f] FILE [-p NAME=VALUE]... [--out DIR]\n"
		"                           [--image-map IMAGE=PREFIX]... [--run-id ID] [-j N] [-o json]\n"
		"\n"
		"validate checks a compiled KFP v2 pipeline (IR YAML): schemaVersion,\n"
		"pipelineInfo.name, components and executors that exist, task inputs that the\n"
		"components declare, producers that exist and are dependencies, no cycles, and\n"
		"placeholders that name declared inputs and outputs. Every problem is printed\n"
		"as FILE:LINE:COL: MESSAGE; the exit status is 1 when there is one.\n"
		"\n"
		"run --local runs the pipeline's container components on this machine, in\n"
		"dependency order, independent tasks in parallel (-j N at once; default: the\n"
		"number of CPUs). Placeholders are substituted: parameters, task output\n"
		"parameters, artifact paths and URIs (files under DIR), the run id\n"
		"({{$.pipeline_job_uuid}}). A failed task stops the tasks that depend on it; its\n"
		"stderr's last lines are shown and the exit status is 1.\n"
		"\n"
		"  --local                 run here (the only runner kfboot has)\n"
		"  -f, --filename FILE     the package (also accepted as a plain argument)\n"
		"  -p, --param N=V         a pipeline parameter (typed as the pipeline declares)\n"
		"  --out DIR               output directory (default kfboot-runs/RUN_ID); it must\n"
		"                          be empty or hold an earlier run (DIR/run.json)\n"
		"  --image-map IMAGE=PREFIX\n"
		"                          run tasks of IMAGE (no tag: any tag) with PREFIX (split\n"
		"                          on blanks) in place of the command's program; an empty\n"
		"                          PREFIX runs the command as it is. Built in: kfboot-xor\n"
		"                          -> '/usr/bin/python3 DIR/xor.py' (DIR: the FILE's folder)\n"
		"  --run-id ID             the run id (default: a new UUID)\n"
		"  -j, --jobs N            tasks at once\n"
		"\n"
		"Layout: DIR/TASK/ARTIFACT, DIR/TASK/outputs/PARAMETER, DIR/TASK/stdout.log and\n"
		"stderr.log, DIR/run.json (the summary, as -o json prints it).\n",
};
