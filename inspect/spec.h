/* Family specs (docs/specs.md): load the built-in JSON specs, pick one for a config.json, and
 * expand it into the list of tensors a checkpoint of that config must hold. */
#ifndef CK_SPEC_H
#define CK_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "error.h"
#include "safetensors.h"

struct cJSON;

typedef enum {
    CK_QUANT_NONE,
    CK_QUANT_NVFP4,      /* ModelOpt: U8 weight, F8_E4M3 weight_scale per 16, F32 weight_scale_2, input_scale */
    CK_QUANT_FP8_TENSOR, /* ModelOpt FP8: F8_E4M3 weight, F32 weight_scale [], input_scale [] */
    CK_QUANT_FP8_BLOCK,  /* DeepSeek: F8_E4M3 weight, F32 weight_scale_inv per block */
    CK_QUANT_MXFP4,      /* GPT-OSS: *_blocks U8 + *_scales U8 (E8M0) per 32 */
    CK_QUANT_MIXED,      /* ModelOpt MIXED_PRECISION: a format per module (quantized_layers) */
    CK_QUANT_UNSUPPORTED /* a quantization config ckdoc does not model (named in quant_name) */
} ck_quant_format;

/* What part of a (possibly quantized) logical tensor an expected key is. */
typedef enum {
    CK_PART_PLAIN,       /* the tensor itself, unquantized */
    CK_PART_QWEIGHT,     /* packed or FP8 weight */
    CK_PART_SCALE,       /* weight_scale / weight_scale_inv / *_scales */
    CK_PART_SCALE2,      /* NVFP4 weight_scale_2 */
    CK_PART_INPUT_SCALE, /* input_scale */
} ck_part;

enum {
    CK_EXP_IN_OUT = 1u << 0,      /* last two logical dims are [in, out] */
    CK_EXP_SQUARE_WARN = 1u << 1, /* formats disagree on orientation when square */
    CK_EXP_OPTIONAL = 1u << 2,
    CK_EXP_HAS_DTYPE = 1u << 3,   /* `dtype` is fixed by the format */
};

typedef struct {
    char *key;
    int ndim;
    uint64_t shape[CK_MAX_DIMS];
    int ndim_l;                       /* the logical (unquantized) shape this key stores a part of */
    uint64_t shape_l[CK_MAX_DIMS];
    int ndim_t;                       /* the shape a wrong-orientation export would have; */
    uint64_t shape_t[CK_MAX_DIMS];    /* ndim_t 0: no distinct transposed form */
    ck_dtype dtype;                   /* valid with CK_EXP_HAS_DTYPE */
    unsigned flags;
    ck_part part;
    ck_quant_format quant;
    int layer, expert;                /* -1 where the key has none */
    int rule;                         /* index into the spec's "tensors" */
    const char *role;                 /* "" or the rule's role */
} ck_expected;

typedef struct ck_spec ck_spec;

enum { CK_UNITS_INTERLEAVED, CK_UNITS_CONCATENATED }; /* how gate and up units share an output dim */

typedef struct {
    const ck_spec *spec;
    const char *family;
    ck_expected *items;               /* sorted by key */
    size_t n_items;
    int64_t layers, experts;          /* experts 0 for dense families */
    ck_quant_format quant;
    char quant_name[64];              /* as the config says it ("mxfp4", "NVFP4", ...) */
    const struct cJSON *config;       /* borrowed: the config expanded against */
    void *arena;
} ck_expectation;

/* Number of built-in specs and their family names (for listings and tests). */
size_t ck_spec_count(void);
const char *ck_spec_family(size_t i);

/* The spec for a config.json (by model_type, at the top level or under the spec's config_root), or
 * NULL if no spec covers it. Specs are parsed on first use; a broken built-in spec is a bug and
 * is reported through err. */
const ck_spec *ck_spec_for_config(const struct cJSON *config, ck_error *err);
const ck_spec *ck_spec_by_family(const char *family, ck_error *err);

/* Expand `spec` against `config` (and hf_quant_config.json's JSON, may be NULL). Errors name the
 * config field or rule that could not be evaluated. */
int ck_spec_expand(const ck_spec *spec, const struct cJSON *config, const struct cJSON *hf_quant,
                   ck_expectation *out, ck_error *err);
void ck_expectation_free(ck_expectation *x);

/* Binary search by key; NULL if not expected. */
const ck_expected *ck_expectation_find(const ck_expectation *x, const char *key, size_t key_len);

/* Does `key` belong to a component the family spec does not describe (the vision tower of a
 * multimodal checkpoint: spec field "other_components", a list of key prefixes)? */
bool ck_expectation_other_component(const ck_expectation *x, const char *key);

/* For a square tensor whose rule names "units_from" (docs/specs.md): the key of the fused gate/up
 * tensor whose output units feed its input, and how gate and up share that dim. 0, or -1 if none. */
int ck_spec_units_partner(const ck_expectation *x, const ck_expected *it, char *key, size_t size, int *split);

/* Is module `module` (a key without its parameter suffix) excluded from quantization by the
 * config's patterns? Exposed for tests. */
bool ck_quant_module_excluded(const struct cJSON *patterns, const char *module);

#endif
