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
    size_t *squares;           /* expected items present in plain form with square last two dims */
    unsigned char *square_state; /* per square: CK_SQUARE_* */
    size_t n_squares, cap_squares;
} ck_check_ctx;

enum { CK_SQUARE_UNRESOLVED, CK_SQUARE_VERIFIED, CK_SQUARE_TRANSPOSED, CK_SQUARE_INCONCLUSIVE };

/* Shape as JSON array / as text "[a, b]". */
cJSON *ck_shape_json(const uint64_t *shape, int ndim);
void ck_shape_text(char *buf, size_t size, const uint64_t *shape, int ndim);

/* The plan action that swaps the last two dims of `key`. */
cJSON *ck_fix_transpose(const char *key);

/* Read `len` bytes at `offset` of an entry with pread: for samples and small tensors, where
 * faulting in mapped pages would read ahead far more than is needed. 0 or -1. */
int ck_entry_read(ck_checkpoint *ck, const ck_entry *e, uint64_t offset, void *buf, size_t len);

/* Pointer to an entry's bytes (maps its shard on first use); NULL if unavailable. */
const uint8_t *ck_entry_data(ck_checkpoint *ck, const ck_entry *e);

/* The passes, in the order check.c runs them. */
void ck_check_experts(ck_check_ctx *c);      /* MISSING_EXPERTS (EP pattern), DUPLICATE_EXPERTS */
void ck_check_quant_values(ck_check_ctx *c); /* QUANT_SCALE_INVALID on the scale values */
void ck_check_reference(ck_check_ctx *c);    /* --reference: settle square orientations numerically */
void ck_check_deep(ck_check_ctx *c);         /* --deep: NONFINITE, ALL_ZERO, per-tensor numbers */
/* Without a reference: what the weights themselves say about a square rule's orientation (NULL if
 * nothing can be said); `verdict` gets one line with its strength. */
cJSON *ck_square_weight_evidence(ck_check_ctx *c, int rule, char *verdict, size_t verdict_len);
void ck_check_quant_config(ck_check_ctx *c); /* QUANT_CONFIG_MISMATCH: excluded but quantized, excludes naming nothing */
/* A weight the config says is quantized is stored in full precision: QUANT_CONFIG_MISMATCH. */
bool ck_check_unquantized_weight(ck_check_ctx *c, const ck_entry *e, const ck_expected *x);
/* A weight the config says is unquantized is stored quantized, scales beside it: one
 * QUANT_CONFIG_MISMATCH for the module (its scale keys are then explained). */
bool ck_check_quantized_unexpectedly(ck_check_ctx *c, const ck_entry *e, const ck_expected *x);

#endif
