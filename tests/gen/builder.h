/* The fixture builder: a family file lists a model's tensors (name, dtype, shape, how to fill
 * them) and its config text; breakage functions then edit that list (drop a tensor, transpose
 * one, make two experts share bytes); ckg_model_write turns it into files. Data is produced only
 * at write time, so an edit never has to touch bytes, and a sparse model never produces any. */
#ifndef CKG_BUILDER_H
#define CKG_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../inspect/dtype.h"
#include "../../inspect/error.h"

#define CKG_MAX_DIMS 4

/* How a tensor's bytes are made. Every random fill is seeded by the tensor's `seed`, which is a
 * hash of its name unless a breakage points it at another tensor's name. */
typedef enum {
    CKG_FILL_WEIGHT,   /* floats ~ N(0, std²) (bounded), encoded for the dtype; ints: random bytes */
    CKG_FILL_NORM,     /* floats near 1.0 (1 ± 0.05): RMSNorm weights */
    CKG_FILL_POS,      /* positive floats in [std, 1.5·std): scales */
    CKG_FILL_BYTES,    /* uniform random bytes: packed E2M1 codes (every nibble is finite) */
    CKG_FILL_E8M0,     /* bytes 116..124, i.e. scales 2^-11 .. 2^-3 */
    CKG_FILL_MXFP4_T,  /* BF16 [E, K, rows] = transpose(dequant(blocks, scales)) of two MXFP4 tensors */
    CKG_FILL_ZERO,     /* all zero: written as a file hole */
} ckg_fill;

typedef struct {
    char *name;
    ck_dtype dtype;
    int ndim;
    uint64_t shape[CKG_MAX_DIMS];  /* as written */
    ckg_fill fill;
    double std;                    /* WEIGHT: standard deviation; POS: lower bound */
    uint64_t seed;
    uint64_t aux_seed[2];          /* MXFP4_T: seeds of the blocks and scales tensors */
    bool transposed;               /* data made for the last two dims swapped, then transposed */
} ckg_tensor;

typedef struct {
    char *name;
    char *text;
    size_t len;
} ckg_side_file;

typedef struct {
    ckg_tensor *t;
    size_t n, cap;
    bool sparse;            /* every tensor a hole, whatever its fill */
    uint64_t shard_bytes;   /* 0: one model.safetensors; else shards of at most this many bytes */
    unsigned n_shards;      /* nonzero: pick shard_bytes so that the writer makes exactly this many */
    ckg_side_file *side;    /* config.json first, then any others, written in this order */
    size_t n_side;
    bool failed;            /* an allocation failed while building; writing reports CK_E_NOMEM */
    ckg_tensor sink;        /* what ckg_add returns after a failure, so callers need no checks */
} ckg_model;

/* Shape arguments: CKG_SHAPE(a, b) expands to "ndim, pointer"; CKG_SCALAR to a 0-d shape. */
#define CKG_SHAPE(...) \
    (int)(sizeof((uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t)), (const uint64_t[]){__VA_ARGS__}
#define CKG_SCALAR 0, (const uint64_t[]){0}

void ckg_model_init(ckg_model *m);
void ckg_model_free(ckg_model *m);

/* Append a tensor named by the printf format (fill WEIGHT with std 1/sqrt(last dim)). Never
 * returns NULL: after an allocation failure it returns a scratch tensor and marks the model. */
ckg_tensor *ckg_add(ckg_model *m, ck_dtype dtype, int ndim, const uint64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Same, with fill NORM: the [H]-shaped RMSNorm weights every family has. */
ckg_tensor *ckg_add_norm(ckg_model *m, ck_dtype dtype, uint64_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Weight layouts a linear layer can be stored in. */
typedef enum {
    CKG_Q_BF16,      /* weight BF16 [out, in] */
    CKG_Q_FP8_BLOCK, /* DeepSeek: weight F8_E4M3 [out, in] + weight_scale_inv F32 [ceil(out/128), ceil(in/128)] */
    CKG_Q_NVFP4,     /* ModelOpt: weight U8 [out, in/2] + weight_scale F8_E4M3 [out, in/16]
                        + weight_scale_2 F32 [] + input_scale F32 [] */
} ckg_quant;

/* Add the tensors of one linear layer `<prefix>.weight` (and its scales) in layout `q`. */
void ckg_linear(ckg_model *m, ckg_quant q, uint64_t out, uint64_t in, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The config (or another JSON side file); takes ownership of `text` (malloc'd, NUL-terminated). */
void ckg_set_side_file(ckg_model *m, const char *name, char *text);
ckg_side_file *ckg_side_file_find(ckg_model *m, const char *name);

/* ---- edits used by the broken variants ---- */
ckg_tensor *ckg_find(ckg_model *m, const char *name);
/* Each returns 0, or -1 if the tensor is not there (a fixture-table bug, reported by the caller). */
int ckg_remove(ckg_model *m, const char *name);
int ckg_transpose(ckg_model *m, const char *name);        /* swap the last two dims, shape and data */
int ckg_reshape(ckg_model *m, const char *name, int ndim, const uint64_t *shape);
int ckg_copy_bytes(ckg_model *m, const char *dst, const char *src); /* dst gets src's bytes */
/* Every tensor whose name starts with `prefix` and has ".experts.B." gets the bytes of the same
 * name with ".experts.A.": two experts of a layer become identical. Returns the count changed. */
size_t ckg_dup_expert(ckg_model *m, const char *prefix, unsigned a, unsigned b);
/* An expert-parallel export that kept local ids: of `n_experts` per layer only the first
 * n_experts/ep ids survive under `prefix`, and each holds the bytes of the last rank's expert
 * ((ep-1)·n_experts/ep + id), as if every rank wrote the same names and the last one won.
 * Returns the number of tensors removed. */
size_t ckg_ep_collide(ckg_model *m, const char *prefix, unsigned n_experts, unsigned ep);

uint64_t ckg_hash(const char *s);

/* Write the model into `dir` (created with its parents): safetensors (one file or shards plus the
 * index, through repair/st_writer) then the side files, each atomically. Refuses a directory that
 * already holds a config.json or safetensors files. */
int ckg_model_write(ckg_model *m, const char *dir, ck_error *err);

/* ---- data (fill.c) ---- */
/* The bytes of tensor `t` (ck_tensor_size bytes) into `out`. Returns 0, or -1 if the fill cannot
 * make this dtype/shape (sets err). */
int ckg_fill_tensor(const ckg_tensor *t, uint8_t *out, ck_error *err);
/* Encode `v` into a whole-byte float dtype (round to nearest even, clamped to the largest finite
 * value), driven by the dtype's traits; little-endian into out. */
void ckg_encode_float(ck_dtype dtype, double v, uint8_t *out);

#endif
