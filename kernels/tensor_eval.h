/* Reading tensor values out of a checkpoint, for every command that needs numbers (stats,
 * check --deep, check --reference, the browser's statistics): quantized tensors are grouped with
 * their scales (MXFP4 X_blocks + X_scales, or ModelOpt weight + weight_scale (E8M0); NVFP4 weight
 * + weight_scale + weight_scale_2; FP8 weight + weight_scale_inv or weight_scale) and decoded to
 * f32 through the back end, streamed from the mmapped shards in bounded windows whose pages are
 * released after use, so memory stays bounded whatever the checkpoint's size. */
#ifndef CK_TENSOR_EVAL_H
#define CK_TENSOR_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "inspect/checkpoint.h"
#include "kernels/backend.h"
#include "kernels/stats.h"

#define CK_EVAL_WINDOW ((uint64_t)16 << 20) /* decoded f32 per window: 64 MiB */

typedef enum { CK_GROUP_RAW, CK_GROUP_MXFP4, CK_GROUP_NVFP4, CK_GROUP_FP8 } ck_group_fmt;
extern const char *const ck_group_fmt_names[];

/* One logical tensor: a plain tensor, or a quantized tensor with its scales. */
typedef struct {
    ck_group_fmt fmt;
    const ck_entry *m[3];      /* data, scale, global scale (NULL where absent) */
    uint64_t rows, cols;       /* logical (dequantized) matrix: rows = all dims but the last */
    uint64_t br, bc;           /* FP8 scale block */
    int ndim;
    uint64_t shape[CK_MAX_DIMS];
} ck_tgroup;

/* What `e` heads: a quantized group whose shapes agree (true), or else `g` is `e` alone (false). */
bool ck_tgroup_find(const ck_checkpoint *ck, const ck_entry *e, ck_tgroup *g);

typedef struct ck_teval ck_teval;

/* `be` does the decoding; reductions run on it when it supports them, else on a CPU back end made
 * with `threads`. */
ck_teval *ck_teval_new(ck_checkpoint *ck, ck_backend *be, int threads, ck_error *err);
void ck_teval_free(ck_teval *t);
/* The back end that reduces (named in messages). */
const ck_backend *ck_teval_reducer(const ck_teval *t);

typedef struct {
    bool has_stats;
    ck_stats st;
    uint64_t hash;             /* XXH3-64 of the stored bytes of every member (CK_EVAL_HASH) */
    const char *why_no_stats;
} ck_tresult;

/* What ck_teval_stats computes beyond the statistics. */
enum {
    CK_EVAL_HISTOGRAM = 1, /* the 64 bins: a second read of the data */
    CK_EVAL_HASH = 2,      /* the content hash (kernels/hash.h) */
    CK_EVAL_COUNTS = 4,    /* only NaN, Inf, zero and finite counts: min, max, mean and std are left
                            * NaN (what check --deep's findings need, at the cost of reading) */
};

/* Statistics, and as `flags` ask the histogram and content hash, of a group, streamed: a plain
 * tensor through read-ahead windows (kernels/preader.h), a quantized group from the mapping. */
int ck_teval_stats(ck_teval *t, const ck_tgroup *g, unsigned flags, ck_tresult *r, ck_error *err);

/* Decode rows [r0, r0 + k) of the group's logical [rows, cols] matrix into dst (k * cols f32).
 * k * cols must not exceed CK_EVAL_WINDOW. */
int ck_teval_decode(ck_teval *t, const ck_tgroup *g, uint64_t r0, uint64_t k, float *dst, ck_error *err);

#endif
