/* The compute back-end interface: one struct of function pointers per back end, plus a capability
 * query that callers use before dispatching (as ggml's supports_op). Back ends: "cpu" (always
 * built, the reference) and "cuda" (built when nvcc is found: CK_HAVE_CUDA).
 *
 * Contract for every op:
 *   - pointers are HOST memory (the CUDA back end stages through device buffers itself);
 *   - shapes are element counts; packed 4-bit data holds element 2k in the low nibble of byte k;
 *   - return 0, or -1 with `err` set (CK_E_USAGE for shapes or dtypes the op refuses, CK_E_NOMEM,
 *     CK_E_IO for a device failure); ops never print and never exit;
 *   - results are bit-identical for every thread count, and the CUDA back end's transposes, casts
 *     and dequantizations are bit-identical to the CPU's (they share kernels/codec.h). */
#ifndef CK_BACKEND_H
#define CK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "inspect/dtype.h"
#include "inspect/error.h"
#include "kernels/ops.h"
#include "kernels/stats.h"

/* Where a streamed reduction gets its elements: `get` makes elements [first, first + count) of
 * the stream available at *data, either copied into `scratch` (room for count elements) or where
 * the source keeps them (a mapping), until the matching `done` (NULL: nothing to do). Called from
 * any thread, for disjoint ranges; pass 1 gets every element once, in pieces that start at
 * multiples of `align` elements and, but for the last, span multiples of it (so a source can hash
 * its blocks as it reads). 0, or -1 with err set. */
typedef struct {
    int (*get)(void *ctx, uint64_t first, uint64_t count, void *scratch, const void **data, ck_error *err);
    void (*done)(void *ctx, uint64_t first, uint64_t count);
    void *ctx;
    uint64_t align; /* 0, or a multiple of CK_STATS_CHUNK: pieces start at multiples of it */
} ck_elem_source;

typedef enum {
    CK_OP_TRANSPOSE,     /* dtype: the element type (any whole-byte width, or F4 packed) */
    CK_OP_CAST,          /* dtype: a source or destination type (casts go between any two) */
    CK_OP_DEQUANT_MXFP4, /* dtype: CK_F4 */
    CK_OP_DEQUANT_NVFP4, /* dtype: CK_F4 */
    CK_OP_DEQUANT_FP8,   /* dtype: F8_E4M3 or F8_E5M2 */
    CK_OP_STATS,         /* dtype: the element type reduced */
    CK_OP_COMPARE,       /* dtype: CK_F32 */
    CK_OP_PERMUTE_PAIRS, /* dtype: the element type (whole-byte widths; F4 with whole-byte rows) */
    CK_OP_QUANT_MXFP4,   /* dtype: CK_F4 */
    CK_OP_QUANT_NVFP4,   /* dtype: CK_F4 */
    CK_OP_QUANT_FP8,     /* dtype: F8_E4M3 or F8_E5M2 */
    CK_OP_MATMUL,        /* dtype: CK_F32 */
    CK_OP_COUNT
} ck_op;

typedef struct ck_backend ck_backend;

typedef struct {
    const char *name;
    bool (*supports)(const ck_backend *be, ck_op op, ck_dtype dtype);

    /* [batch, rows, cols] -> [batch, cols, rows]. */
    int (*transpose)(ck_backend *be, ck_dtype dtype, const void *src, void *dst, uint64_t batch, uint64_t rows,
                     uint64_t cols, ck_error *err);

    /* n elements from `from` to `to` (see kernels/codec.h for rounding, NaN and overflow rules). */
    int (*cast)(ck_backend *be, ck_dtype from, const void *src, ck_dtype to, void *dst, uint64_t n, ck_error *err);

    /* MXFP4: codes [rows, cols/2] bytes, scales [rows, ceil(cols/32)] E8M0 -> dst [rows, cols] F32.
     * `cols` must be even; a last partial block uses its scale like a full one. */
    int (*dequant_mxfp4)(ck_backend *be, const uint8_t *codes, const uint8_t *scales, float *dst, uint64_t rows,
                         uint64_t cols, ck_error *err);

    /* NVFP4: codes [rows, cols/2], scales [rows, ceil(cols/16)] F8_E4M3, one F32 global scale:
     * dst = e2m1 * float(scale) * global, multiplied in that order in f32. */
    int (*dequant_nvfp4)(ck_backend *be, const uint8_t *codes, const uint8_t *scales, float global, float *dst,
                         uint64_t rows, uint64_t cols, ck_error *err);

    /* FP8 with block scales: src [rows, cols] of `dtype` (F8_E4M3 or F8_E5M2), a window of a larger
     * matrix starting at global row `row0`; scales F32 [ceil(R/block_rows), ceil(cols/block_cols)]
     * for the whole matrix. dst = fp8 * scale[(row0 + r) / block_rows][c / block_cols].
     * Per-tensor scaling is one block: block_rows >= R, block_cols >= cols. */
    int (*dequant_fp8)(ck_backend *be, ck_dtype dtype, const uint8_t *src, const float *scales, float *dst,
                       uint64_t row0, uint64_t rows, uint64_t cols, uint64_t block_rows, uint64_t block_cols,
                       ck_error *err);

    /* Feed n elements of `dtype` to the pass `st->pass` of a statistics reduction (kernels/stats.h).
     * Call with the whole tensor in order, in pieces of any size, once per pass. */
    int (*stats)(ck_backend *be, ck_dtype dtype, const void *src, uint64_t n, ck_stats *st, ck_error *err);

    /* The same for a whole tensor of n elements that `src` delivers on demand, in pieces, from
     * any thread and in any order: the back end's workers fetch their own pieces, which are then
     * in their cache (for a file in the page cache, a separate reader's copy costs as much as the
     * statistics). The reduction must be fresh (pass 1, nothing fed yet); the call does every
     * pass and finishes it. NULL where a back end does not do this; callers then read windows
     * themselves and call `stats`. */
    int (*stats_stream)(ck_backend *be, ck_dtype dtype, const ck_elem_source *src, uint64_t n, ck_stats *st,
                        ck_error *err);

    /* The content hash's block digests (kernels/hash.h) of len bytes: digests[i] is the XXH3-64
     * of bytes [i * CK_HASH_BLOCK, (i + 1) * CK_HASH_BLOCK), the last block possibly shorter.
     * NULL where a back end does not do this; callers then hash on the host in order. */
    int (*hash_blocks)(ck_backend *be, const void *src, uint64_t len, uint64_t *digests, ck_error *err);

    void (*destroy)(ck_backend *be);

    /* ---- compare, permutes, quantization, matrix products: definitions in kernels/ops.h ---- */

    /* Add n pairs (a[i], b[i]) to a comparison of a against the reference b (ck_compare_init
     * before, ck_compare_finish after); feed the pairs in order, in pieces of any size. */
    int (*compare)(ck_backend *be, const float *a, const float *b, uint64_t n, ck_compare *acc, ck_error *err);

    /* src seen as [outer, n, inner] elements of `dtype` (n even) -> dst with its pairs split or
     * joined (ck_pairs_dir). Rows of `inner` elements must be whole bytes. */
    int (*permute_pairs)(ck_backend *be, ck_dtype dtype, const void *src, void *dst, uint64_t outer, uint64_t n,
                         uint64_t inner, ck_pairs_dir dir, ck_error *err);

    /* F32 [rows, cols] (cols even) -> MXFP4 codes [rows, cols/2], E8M0 scales [rows, ceil(cols/32)]. */
    int (*quant_mxfp4)(ck_backend *be, const float *src, uint8_t *codes, uint8_t *scales, uint64_t rows,
                       uint64_t cols, ck_error *err);

    /* F32 [rows, cols] (cols even) -> NVFP4 codes [rows, cols/2], F8_E4M3 scales [rows, ceil(cols/16)]
     * under the global scale *global: used as given when > 0 (fused tensors share one), computed
     * from src (ck_nvfp4_global of its amax) and stored when 0. */
    int (*quant_nvfp4)(ck_backend *be, const float *src, uint8_t *codes, uint8_t *scales, float *global,
                       uint64_t rows, uint64_t cols, ck_error *err);

    /* F32 [rows, cols] -> `dtype` (F8_E4M3 or F8_E5M2) with F32 scales [ceil(rows/block_rows),
     * ceil(cols/block_cols)]: computed (amax / fmax) when compute_scales, else read. Per-tensor
     * scaling is one block (block_rows >= rows, block_cols >= cols). */
    int (*quant_fp8)(ck_backend *be, ck_dtype dtype, const float *src, uint8_t *dst, float *scales, uint64_t rows,
                     uint64_t cols, uint64_t block_rows, uint64_t block_cols, bool compute_scales, ck_error *err);

    /* C[m, n] = A[m, k] . B[n, k]^T, F32 row-major (BLAS on the CPU, cuBLAS on the GPU). */
    int (*matmul)(ck_backend *be, const float *a, const float *b, float *c, uint64_t m, uint64_t n, uint64_t k,
                  ck_error *err);
} ck_backend_ops;

struct ck_backend {
    const ck_backend_ops *ops;
    int threads;      /* CPU worker threads this back end uses (CUDA: host threads for its fallbacks) */
    char device[128]; /* what it runs on, for messages: "cpu (4 threads)", "NVIDIA H100 ..." */
    void *impl;
};

typedef enum { CK_BACKEND_AUTO, CK_BACKEND_CPU, CK_BACKEND_CUDA } ck_backend_kind;

/* "cpu", "cuda" or "auto"; false for anything else. */
bool ck_backend_kind_parse(const char *s, ck_backend_kind *out);

/* Create a back end. `threads` <= 0 means all online cores. AUTO picks CUDA when it was compiled
 * in and a device answers, else the CPU; `why` (may be NULL, 256 bytes) then says what was
 * chosen and why. CUDA requested but not available is an error (CK_E_UNSUPPORTED). */
ck_backend *ck_backend_create(ck_backend_kind kind, int threads, char *why, ck_error *err);
void ck_backend_destroy(ck_backend *be);

/* Whether a CUDA device can be used here: compiled in and at least one device. `why` says which
 * (may be NULL, 256 bytes). */
bool ck_backend_cuda_available(char *why);

/* The CPU back end, always available; the CUDA one returns NULL (err set) without a device. */
ck_backend *ck_backend_cpu_create(int threads, ck_error *err);

#endif
