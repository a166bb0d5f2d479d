/* What a set of tensors adds up to: counts, bytes per dtype, layers, experts, and the
 * quantization formats they show. Computed from names, dtypes and shapes only (no data).
 *
 * Parameters are the sum of numel as stored: a packed quantized tensor (MXFP4 `*_blocks` in U8,
 * NVFP4 weights in U8) counts its bytes, not the 4-bit values they hold, and scales count too. */
#ifndef CK_SUMMARY_H
#define CK_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"
#include "dtype.h"

#define CK_SUMMARY_MAX_QUANT 4

typedef struct {
    uint64_t tensors;
    uint64_t tensors_without_header;   /* index-only entries: dtype and shape unknown */
    uint64_t params;                   /* sum of numel over tensors with a header */
    uint64_t bytes;
    uint64_t dtype_tensors[CK_DTYPE_COUNT];
    uint64_t dtype_bytes[CK_DTYPE_COUNT];
    uint64_t shards;                   /* distinct shards holding these tensors */
    uint64_t layers;                   /* max N + 1 over "layers.N." names; 0 if none */
    uint64_t moe_layers;               /* layers with experts */
    uint64_t experts_min, experts_max; /* experts per MoE layer (0 when none) */
    const char *quant[CK_SUMMARY_MAX_QUANT]; /* formats seen in the tensors, fixed order */
    size_t n_quant;
    const char *quant_algo;            /* hf_quant_config.json quantization.quant_algo, or NULL */
    const char *quant_method;          /* config.json quantization_config.quant_method, or NULL */
} ck_summary;

/* Summarize `sel` (n entries of ck's catalog; NULL = the whole catalog). Sibling tensors (scales
 * of a quantized weight) are looked up in the whole catalog. Strings point into ck. */
int ck_summary_compute(const ck_checkpoint *ck, const ck_entry *const *sel, size_t n, ck_summary *out,
                       ck_error *err);

/* The layer number N of the first "layers.N." in a name (at its start or after a '.'), or -1. */
long ck_layer_of(const char *name, size_t len, size_t *after);

#endif
