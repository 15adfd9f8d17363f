/*
 * apply_int.h - what the files of the staged apply share, and nothing else
 * includes: the record format's keys, the stages, one run's state (struct
 * run) and the functions one stage's file calls in another's. The files,
 * top (orchestration) to bottom (helpers):
 *   apply.c      a run: kf_apply_run and kf_apply_delete_inventory
 *   stages.c     applying one wave: batches, retries, CRD waits
 *   prune.c      deleting members that left the set
 *   waits.c      health waits
 *   members.c    the live state: one label-selected LIST per kind
 *   inventory.c  the ApplySet parent and kfboot's record in it
 *   apply_util.c small helpers (progress, keys, stages)
 *   handsoff.c   members whose live copy says hands off
 */
#ifndef KF_KUBE_APPLY_INT_H
#define KF_KUBE_APPLY_INT_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kube.h"

#define STATE_KEY "kfboot-state"     /* before 0.2: base64 JSON, one part */
#define STATE_Z_KEY "kfboot-state.z" /* deflated JSON, part 0 */
#define PART_KEY "part"
#define ANN_PARTS "kfboot.io/state-parts"
#define ANN_SHA "kfboot.io/state-sha256"
#define ANN_PART_OF "kfboot.io/state-of"
#define PART_MAX ((size_t)512 * 1024)
#define PARENT_KIND "Secret"
#define DEFAULT_INV_NS "kube-system"
#define DEFAULT_INV_NAME "kfboot"

enum stage { ST_PREREQ, ST_BUILTIN, ST_CUSTOM, ST_WEBHOOK, ST_N };
extern const char *const kf_ap_stage_names[ST_N];

enum verdict { V_OK, V_RETRY, V_WEBHOOK, V_FAIL };

struct member {       /* a live object listed by the part-of label */
	char *key;
	char *live;       /* the listed object, trimmed (members.c), compact JSON, owned */
	const struct kf_rest *rest;
	int rank;
	bool desired;
};

struct gk_list {          /* one LIST per group/kind */
	const struct kf_rest *rest;
	json_t *index;        /* health lists: key -> [health, why?] */
	bool settled;         /* health: all ready, not listed again */
};

struct run {
	struct kf_kube *k;
	struct kf_discovery *d;
	struct kf_objset *set;
	const struct kf_apply_opts *o;
	struct kf_apply_result *res;
	double start, deadline;
	char *inv_ns, *inv_name, *id;
	bool parent_exists, parent_deferred;
	json_t *state;       /* {"key": {"rv": "..", "gen": n}} */
	char state0[65];     /* SHA-256 of the state as read (canonical JSON) */
	char *gks_old, *nss_old;
	size_t parts_old;    /* state parts the parent named when read */
	json_t *ns_names;    /* names of the set's Namespaces (classify) */
	struct gk_list *lists;
	size_t nlists;
	struct member *members;
	size_t nmembers, amembers;
	const struct kf_obj **pruned;
	size_t npruned;
	bool kept_undesired;  /* a member that left the set was kept (hands off) */
};

/* Metadata is all that skip-unchanged and prune need: the server sends
 * PartialObjectMetadataList (much smaller than full CRDs), or plain JSON. */
#define ACCEPT_META "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


const char *kf_ap_sget(const json_t *o, const char *k);
const char *kf_ap_nz(const char *s);
void kf_ap_progress(struct run *r, const char *phase, size_t done, size_t total, const char *detail);
char *kf_ap_obj_key(const char *group, const char *kind, const char *ns, const char *name);
char *kf_ap_live_key(const json_t *live);
enum stage kf_ap_stage_of(const struct kf_obj *o);
int kf_ap_parse_inventory(struct run *r, struct kf_err **err);
char *kf_ap_parent_path(const struct run *r);
int kf_ap_read_parent(struct run *r, struct kf_err **err);
int kf_ap_cmp_str(const void *a, const void *b);
char *kf_ap_csv_union(const char *a, const char *b);
char *kf_ap_namespaces_csv(const struct run *r);
void kf_ap_delete_parts(struct run *r, size_t from, size_t to);
int kf_ap_write_parent(struct run *r, const char *gks, const char *nss, bool with_state, long *status, struct kf_err **err);
void kf_ap_state_digest(const json_t *state, char out[65]);
void kf_ap_plan_lists(struct run *r);
int kf_ap_list_all(struct run *r, bool metadata_only, struct kf_err **err);
void kf_ap_collect_members(struct run *r);
struct member *kf_ap_find_member(struct run *r, const char *key);
/* The member's listed object, parsed (a new reference; never NULL). */
json_t *kf_ap_member_live(const struct member *m);
/* "Kind[.group] [ns/]name" of a member (members.c). Caller frees. */
char *kf_ap_member_label(const struct member *m);
void kf_ap_record(struct run *r, struct kf_obj *o, const struct kf_kube_req *q);
int kf_ap_apply_wave(struct run *r, size_t from, size_t to, struct kf_err **err);
size_t kf_ap_prune_candidates(struct run *r, struct member ***out);
int kf_ap_prune(struct run *r, struct member **c, size_t n, struct kf_err **err);
int kf_ap_wait_health(struct run *r, struct kf_err **err);
/* handsoff.c: does a member's live copy (kf_ap_member_live) say hands off (o->hands_off_annotation)? */
bool kf_ap_hands_off(const struct run *r, const json_t *live);
/* Count it in res->hands_off and name it in report.handsOffObjects. */
void kf_ap_hands_off_note(struct run *r, const struct member *m);
/* A desired object whose member is hands off: nothing is sent for it. */
void kf_ap_hands_off_obj(struct run *r, struct kf_obj *o, const struct member *m);

#endif
