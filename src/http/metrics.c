/*
 * metrics.c - a small Prometheus metrics registry: counter, gauge and
 * histogram families with labels, updated from many threads, rendered in the
 * text exposition format 0.0.4 (what `promtool check metrics` and every
 * Prometheus server read).
 *
 * Each family has its own mutex and a short array of series looked up by
 * label values; the number of series is expected to stay small (routes x
 * status codes), so a linear scan is cheaper than hashing. Families are
 * added under the registry lock and never removed until the registry is
 * freed.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

struct series {
	char **values;    /* one per label name */
	double value;     /* counter, gauge */
	double sum;       /* histogram */
	unsigned long long count;
	unsigned long long *buckets; /* histogram: nbounds + 1 (+Inf) */
};

struct kf_metric {
	enum kf_metric_type type;
	char *name;
	char *help;
	size_t nlabels;
	char *labels[KF_METRIC_MAX_LABELS];
	double *bounds;
	size_t nbounds;
	pthread_mutex_t lock;
	struct series *series;
	size_t nseries, alloc;
	struct kf_metric *next;
};

struct kf_metrics {
	pthread_mutex_t lock;
	struct kf_metric *first, *last;
};

static const double default_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1,
					  0.25,  0.5,  1,     2.5,  5, 10 };

void kf_metrics_new(struct kf_metrics **out)
{
	struct kf_metrics *m = kf_xcalloc(1, sizeof(*m));

	pthread_mutex_init(&m->lock, NULL);
	*out = m;
}

static void family_free(struct kf_metric *f)
{
	size_t i, j;

	for (i = 0; i < f->nseries; i++) {
		for (j = 0; j < f->nlabels; j++)
			free(f->series[i].values[j]);
		free(f->series[i].values);
		free(f->series[i].buckets);
	}
	free(f->series);
	for (j = 0; j < f->nlabels; j++)
		free(f->labels[j]);
	free(f->bounds);
	free(f->name);
	free(f->help);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void kf_metrics_free(struct kf_metrics *m)
{
	struct kf_metric *f, *next;

	if (!m)
		return;
	for (f = m->first; f; f = next) {
		next = f->next;
		family_free(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static bool valid_name(const char *s, bool colon)
{
	size_t i;

	if (!s || !*s)
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  c == '_' || (colon && c == ':') ||
			  (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

static struct kf_metric *family_add(struct kf_metrics *m,
				    enum kf_metric_type type, const char *name,
				    const char *help, size_t nlabels,
				    const char *const *labels,
				    const double *bounds, size_t nbounds,
				    struct kf_err **err)
{
	struct kf_metric *f, *it;
	size_t i;

	if (!valid_name(name, true)) {
		kf_err_set(err, KF_EINVAL, "metric name '%s' is not valid",
			   name ? name : "");
		return NULL;
	}
	if (nlabels > KF_METRIC_MAX_LABELS) {
		kf_err_set(err, KF_EINVAL, "metric '%s': more than %d labels",
			   name, KF_METRIC_MAX_LABELS);
		return NULL;
	}
	for (i = 0; i < nlabels; i++) {
		if (!valid_name(labels[i], false) ||
		    kf_str_startswith(labels[i], "__") ||
		    (type == KF_METRIC_HISTOGRAM && !strcmp(labels[i], "le"))) {
			kf_err_set(err, KF_EINVAL,
				   "metric '%s': label name '%s' is not valid",
				   name, labels[i] ? labels[i] : "");
			return NULL;
		}
	}
	if (type == KF_METRIC_HISTOGRAM) {
		if (!bounds || !nbounds) {
			bounds = default_bounds;
			nbounds = KF_ARRAY_SIZE(default_bounds);
		}
		for (i = 0; i < nbounds; i++) {
			if (!isfinite(bounds[i]) ||
			    (i > 0 && bounds[i] <= bounds[i - 1])) {
				kf_err_set(err, KF_EINVAL,
					   "metric '%s': bucket bounds must be finite and strictly increasing",
					   name);
				return NULL;
			}
		}
	}

	f = kf_xcalloc(1, sizeof(*f));
	f->type = type;
	f->name = kf_xstrdup(name);
	f->help = kf_xstrdup(help ? help : "");
	f->nlabels = nlabels;
	for (i = 0; i < nlabels; i++)
		f->labels[i] = kf_xstrdup(labels[i]);
	if (type == KF_METRIC_HISTOGRAM) {
		f->nbounds = nbounds;
		f->bounds = kf_xmalloc(nbounds * sizeof(double));
		memcpy(f->bounds, bounds, nbounds * sizeof(double));
	}
	pthread_mutex_init(&f->lock, NULL);

	pthread_mutex_lock(&m->lock);
	for (it = m->first; it; it = it->next) {
		if (!strcmp(it->name, name))
			break;
	}
	if (it) {
		pthread_mutex_unlock(&m->lock);
		kf_err_set(err, KF_ECONFLICT, "metric '%s' is already registered",
			   name);
		family_free(f);
		return NULL;
	}
	if (m->last)
		m->last->next = f;
	else
		m->first = f;
	m->last = f;
	pthread_mutex_unlock(&m->lock);
	return f;
}

struct kf_metric *kf_metrics_counter(struct kf_metrics *m, const char *name,
				     const char *help, size_t nlabels,
				     const char *const *labels,
				     struct kf_err **err)
{
	return family_add(m, KF_METRIC_COUNTER, name, help, nlabels, labels,
			  NULL, 0, err);
}

struct kf_metric *kf_metrics_gauge(struct kf_metrics *m, const char *name,
				   const char *help, size_t nlabels,
				   const char *const *labels,
				   struct kf_err **err)
{
	return family_add(m, KF_METRIC_GAUGE, name, help, nlabels, labels, NULL,
			  0, err);
}

struct kf_metric *kf_metrics_histogram(struct kf_metrics *m, const char *name,
				       const char *help, size_t nlabels,
				       const char *const *labels,
				       const double *bounds, size_t nbounds,
				       struct kf_err **err)
{
	return family_add(m, KF_METRIC_HISTOGRAM, name, help, nlabels, labels,
			  bounds, nbounds, err);
}

/* Find or create the series for `values`; called with f->lock held. */
static struct series *series_get(struct kf_metric *f,
				 const char *const *values, bool create)
{
	struct series *s;
	size_t i, j;

	for (i = 0; i < f->nseries; i++) {
		s = &f->series[i];
		for (j = 0; j < f->nlabels; j++) {
			const char *v = values && values[j] ? values[j] : "";

			if (strcmp(s->values[j], v))
				break;
		}
		if (j == f->nlabels)
			return s;
	}
	if (!create)
		return NULL;
	kf_xgrow((void **)&f->series, &f->alloc, f->nseries + 1,
		 sizeof(*f->series));
	s = &f->series[f->nseries++];
	memset(s, 0, sizeof(*s));
	s->values = kf_xcalloc(f->nlabels ? f->nlabels : 1, sizeof(char *));
	for (j = 0; j < f->nlabels; j++)
		s->values[j] = kf_xstrdup(values && values[j] ? values[j] : "");
	if (f->type == KF_METRIC_HISTOGRAM)
		s->buckets = kf_xcalloc(f->nbounds + 1, sizeof(*s->buckets));
	return s;
}

void kf_metric_add(struct kf_metric *f, const char *const *values, double v)
{
	if (!f || f->type == KF_METRIC_HISTOGRAM || isnan(v))
		return;
	if (f->type == KF_METRIC_COUNTER && v < 0)
		return;
	pthread_mutex_lock(&f->lock);
	series_get(f, values, true)->value += v;
	pthread_mutex_unlock(&f->lock);
}

void kf_metric_set(struct kf_metric *f, const char *const *values, double v)
{
	if (!f || f->type != KF_METRIC_GAUGE)
		return;
	pthread_mutex_lock(&f->lock);
	series_get(f, values, true)->value = v;
	pthread_mutex_unlock(&f->lock);
}

void kf_metric_observe(struct kf_metric *f, const char *const *values,
		       double v)
{
	struct series *s;
	size_t i;

	if (!f || f->type != KF_METRIC_HISTOGRAM || isnan(v))
		return;
	pthread_mutex_lock(&f->lock);
	s = series_get(f, values, true);
	for (i = 0; i < f->nbounds && v > f->bounds[i]; i++)
		;
	s->buckets[i]++;
	s->sum += v;
	s->count++;
	pthread_mutex_unlock(&f->lock);
}

double kf_metric_get(struct kf_metric *f, const char *const *values)
{
	struct series *s;
	double v = 0;

	if (!f)
		return 0;
	pthread_mutex_lock(&f->lock);
	s = series_get(f, values, false);
	if (s)
		v = f->type == KF_METRIC_HISTOGRAM ? (double)s->count : s->value;
	pthread_mutex_unlock(&f->lock);
	return v;
}

/* ---- exposition ---------------------------------------------------------- */

/* Shortest of %.15g/%.17g that reads back as the same double. */
static void fmt_double(char *buf, size_t n, double v)
{
	snprintf(buf, n, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, n, "%.17g", v);
}

static void add_number(struct kf_buf *out, double v)
{
	char num[40];

	if (isnan(v))
		kf_buf_adds(out, "NaN");
	else if (isinf(v))
		kf_buf_adds(out, v > 0 ? "+Inf" : "-Inf");
	else {
		fmt_double(num, sizeof(num), v);
		kf_buf_adds(out, num);
	}
}

/* HELP text escapes backslash and newline; label values also '"'. */
static void add_escaped(struct kf_buf *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			kf_buf_adds(out, "\\\\");
		else if (*s == '\n')
			kf_buf_adds(out, "\\n");
		else if (quote && *s == '"')
			kf_buf_adds(out, "\\\"");
		else
			kf_buf_addch(out, *s);
	}
}

static void add_labels(struct kf_buf *out, const struct kf_metric *f,
		       const struct series *s, const char *le)
{
	size_t j;
	bool any = false;

	if (!f->nlabels && !le)
		return;
	kf_buf_addch(out, '{');
	for (j = 0; j < f->nlabels; j++) {
		kf_buf_addf(out, "%s%s=\"", any ? "," : "", f->labels[j]);
		add_escaped(out, s->values[j], true);
		kf_buf_addch(out, '"');
		any = true;
	}
	if (le)
		kf_buf_addf(out, "%sle=\"%s\"", any ? "," : "", le);
	kf_buf_addch(out, '}');
}

static void render_family(struct kf_buf *out, struct kf_metric *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	size_t i, b;

	kf_buf_addf(out, "# HELP %s ", f->name);
	add_escaped(out, f->help, false);
	kf_buf_addf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
	pthread_mutex_lock(&f->lock);
	for (i = 0; i < f->nseries; i++) {
		const struct series *s = &f->series[i];

		if (f->type != KF_METRIC_HISTOGRAM) {
			kf_buf_adds(out, f->name);
			add_labels(out, f, s, NULL);
			kf_buf_addch(out, ' ');
			add_number(out, s->value);
			kf_buf_addch(out, '\n');
			continue;
		}
		unsigned long long cum = 0;

		for (b = 0; b <= f->nbounds; b++) {
			char le[40];

			cum += s->buckets[b];
			if (b < f->nbounds)
				fmt_double(le, sizeof(le), f->bounds[b]);
			else
				snprintf(le, sizeof(le), "+Inf");
			kf_buf_addf(out, "%s_bucket", f->name);
			add_labels(out, f, s, le);
			kf_buf_addf(out, " %llu\n", cum);
		}
		kf_buf_addf(out, "%s_sum", f->name);
		add_labels(out, f, s, NULL);
		kf_buf_addch(out, ' ');
		add_number(out, s->sum);
		kf_buf_addf(out, "\n%s_count", f->name);
		add_labels(out, f, s, NULL);
		kf_buf_addf(out, " %llu\n", s->count);
	}
	pthread_mutex_unlock(&f->lock);
}

void kf_metrics_render(struct kf_metrics *m, struct kf_buf *out)
{
	struct kf_metric *f;

	pthread_mutex_lock(&m->lock);
	for (f = m->first; f; f = f->next)
		render_family(out, f);
	pthread_mutex_unlock(&m->lock);
}
