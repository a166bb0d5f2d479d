/* The doctor: compare a checkpoint with what its config and family spec say it must hold, and
 * collect findings. Shape-level by default (headers, plus a few bytes of each expert for the
 * duplicate test and the small F32 scales); --deep reads every byte. */
#ifndef CK_CHECK_H
#define CK_CHECK_H

#include <stdbool.h>

#include "checkpoint.h"
#include "findings.h"
#include "spec.h"

struct ck_backend;

/* Per-tensor numbers from --deep, for the JSON report. */
typedef struct {
    char *name;           /* the logical tensor (X for X_blocks + X_scales) */
    const char *format;   /* "raw", "mxfp4", "nvfp4", "fp8" */
    bool has_stats;
    uint64_t count, finite, nan, inf, zero;
    double min, max, mean, std;
    uint64_t hash;
} ck_tensor_summary;

typedef struct {
    ck_tensor_summary *items;
    size_t n, cap;
} ck_deep_report;

typedef struct {
    bool deep;            /* read all data: NaN/Inf, all-zero tensors, every quant scale */
    bool index_only;      /* key names only: the shards are not there */
    const char *family;   /* force a family spec (NULL: from config.json) */
    struct ck_backend *backend;  /* for --deep and --reference: decodes and reduces */
    int threads;
    ck_checkpoint *reference;    /* --reference: the same model in any layout or quantization */
    ck_deep_report *deep_report; /* --deep: per-tensor numbers are kept here when not NULL */
} ck_check_options;

void ck_deep_report_free(ck_deep_report *r);

/* Run every check on an opened checkpoint. Findings go to `out` (which the caller set up, e.g.
 * with a cap); `x` receives the expansion used (family, quant format; caller frees). Returns 0,
 * or -1 with err set only for internal failures (out of memory). */
int ck_check_run(ck_checkpoint *ck, const ck_check_options *opt, ck_findings *out, ck_expectation *x,
                 ck_error *err);

#endif
