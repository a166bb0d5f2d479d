/* Repair plans ("ckdoc.plan/1", written by `check --emit-plan` and the browser): parsing and
 * validation of the document itself. Whether the keys exist in a checkpoint is checked when the
 * plan is applied (repair/apply.h). Every error names the plan file, the action index (from 0)
 * and the key. */
#ifndef CK_PLAN_H
#define CK_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "../inspect/dtype.h"
#include "../inspect/error.h"
#include "../inspect/safetensors.h"

#define CK_PLAN_SCHEMA "ckdoc.plan/1"

typedef enum {
    CK_ACT_TRANSPOSE,         /* key, dims [-2, -1] */
    CK_ACT_RENAME,            /* key (from), to */
    CK_ACT_DROP,              /* key */
    CK_ACT_RESET_EXPERT_BIAS, /* key, shape, dtype: a new zero tensor */
    CK_ACT_CAST,              /* key, dtype */
    CK_ACT_REGATHER_EP,       /* parsed so that it can be named; apply refuses it */
    CK_ACT_COUNT
} ck_raction_kind;

extern const char *const ck_raction_names[CK_ACT_COUNT];

typedef struct {
    ck_raction_kind kind;
    char *key;       /* the tensor acted on (rename: "from"); NULL for regather_ep */
    char *to;        /* rename only */
    ck_dtype dtype;  /* reset_expert_bias, cast */
    int ndim;        /* reset_expert_bias */
    uint64_t shape[CK_MAX_DIMS];
} ck_raction;

typedef struct {
    char *path;      /* the plan file, for messages */
    ck_raction *actions;
    size_t n;
} ck_rplan;

/* Read and validate `path`. Returns 0, or -1 with err (file = the plan, key = the action's key,
 * message starting "action N (NAME): "). */
int ck_rplan_load(const char *path, ck_rplan *out, ck_error *err);
/* The same from text already in memory (`path` only names it in messages). */
int ck_rplan_parse(const char *path, const char *text, size_t len, ck_rplan *out, ck_error *err);
void ck_rplan_free(ck_rplan *p);

/* The dtypes `cast` may produce. */
int ck_rplan_cast_dtype_ok(ck_dtype d);

#endif
