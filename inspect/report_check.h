/* Text, JSON and plan output of `ckdoc check` (schemas in README.md). */
#ifndef CK_REPORT_CHECK_H
#define CK_REPORT_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "findings.h"

typedef struct {
    const char *path;
    const char *family;   /* NULL: no spec */
    int64_t layers, experts;
    const char *quant;    /* "" when unquantized */
    size_t n_tensors, n_shards;
    bool deep;
} ck_report_info;

void ck_report_text(FILE *out, const ck_report_info *info, const ck_findings *f, bool colour);
/* `deep` (may be NULL) adds the per-tensor numbers of --deep as "tensor_stats". */
int ck_report_json(FILE *out, const ck_report_info *info, const ck_findings *f, const ck_deep_report *deep,
                   int exit_status);

/* The suggested fixes as a repair plan ({"schema": "ckdoc.plan/1", "actions": [...]}); caller frees. */
char *ck_plan_json(const char *source, const ck_findings *f);

#endif
