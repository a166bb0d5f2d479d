/* Shared state of one `check` run, for the check_*.c files only. */
#ifndef CK_CHECK_INTERNAL_H
#define CK_CHECK_INTERNAL_H

#include <cjson/cJSON.h>

#include "check.h"

/* present[] values besides an entry index */
#define CK_ABSENT (-1)
#define CK_ACCOUNTED (-2) /* absent, but a more specific finding already explains it */

typedef struct {
    ck_checkpoint *ck;
    const ck_check_options *opt;
    ck_findings *f;
    ck_expectation *x;
    const cJSON *config, *hf_quant;
    bool have_spec;
    const ck_expected **match; /* per catalog entry: its expectation, or NULL */
    long *present;             /* per expected item: catalog entry index, CK_ABSENT or CK_ACCOUNTED */
    bool *explained;           /* per catalog entry: an unexpected key already reported otherwise */
} ck_check_ctx;

/* Shape as JSON array / as text "[a, b]". */
cJSON *ck_shape_json(const uint64_t *shape, int ndim);
void ck_shape_text(char *buf, size_t size, const uint64_t *shape, int ndim);

/* Pointer to an entry's bytes (maps its shard on first use); NULL if unavailable. */
const uint8_t *ck_entry_data(ck_checkpoint *ck, const ck_entry *e);

/* The passes, in the order check.c runs them. */
void ck_check_experts(ck_check_ctx *c);      /* MISSING_EXPERTS (EP pattern), DUPLICATE_EXPERTS */
void ck_check_quant_values(ck_check_ctx *c); /* QUANT_SCALE_INVALID on the scale values */
void ck_check_quant_config(ck_check_ctx *c); /* QUANT_CONFIG_MISMATCH: excluded but quantized, excludes naming nothing */
/* A weight the config says is quantized is stored in full precision: QUANT_CONFIG_MISMATCH. */
bool ck_check_unquantized_weight(ck_check_ctx *c, const ck_entry *e, const ck_expected *x);

#endif
