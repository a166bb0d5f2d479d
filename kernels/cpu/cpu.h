/* Internals of the CPU back end: its per-dtype compute table and its op entry points. */
#ifndef CK_CPU_H
#define CK_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "kernels/cpu/pool.h"

/* Compute facts per dtype (the format facts live in inspect/dtype.h). NULL: not handled. */
typedef struct {
    void (*to_f32)(const void *src, float *dst, size_t n);
    void (*from_f32)(const float *src, void *dst, size_t n);
    const float *(*lut8)(void); /* 8-bit floats: the 256-entry decode table */
} ck_cpu_dtype;

extern const ck_cpu_dtype ck_cpu_dtypes[CK_DTYPE_COUNT];

/* 256-entry decode tables built from kernels/codec.h on first use. */
const float *ck_cpu_lut_e4m3(void);
const float *ck_cpu_lut_e5m2(void);
const float *ck_cpu_lut_e8m0(void);
const float *ck_cpu_lut_e2m1(void); /* 16 entries */
const float (*ck_cpu_lut_e2m1_pairs(void))[2]; /* a packed byte's two values, low nibble first */

typedef struct {
    ck_pool *pool;
    int threads;
} ck_cpu;

static inline ck_pool *ck_cpu_pool(ck_backend *be) { return ((ck_cpu *)be->impl)->pool; }

bool ck_cpu_transpose_supports(ck_dtype dtype);
bool ck_cpu_cast_supports(ck_dtype dtype);
int ck_cpu_transpose(ck_backend *be, ck_dtype dtype, const void *src, void *dst, uint64_t batch, uint64_t rows,
                     uint64_t cols, ck_error *err);
int ck_cpu_cast(ck_backend *be, ck_dtype from, const void *src, ck_dtype to, void *dst, uint64_t n, ck_error *err);
int ck_cpu_dequant_mxfp4(ck_backend *be, const uint8_t *codes, const uint8_t *scales, float *dst, uint64_t rows,
                         uint64_t cols, ck_error *err);
int ck_cpu_dequant_nvfp4(ck_backend *be, const uint8_t *codes, const uint8_t *scales, float global, float *dst,
                         uint64_t rows, uint64_t cols, ck_error *err);
int ck_cpu_dequant_fp8(ck_backend *be, ck_dtype dtype, const uint8_t *src, const float *scales, float *dst,
                       uint64_t row0, uint64_t rows, uint64_t cols, uint64_t block_rows, uint64_t block_cols,
                       ck_error *err);
int ck_cpu_stats(ck_backend *be, ck_dtype dtype, const void *src, uint64_t n, ck_stats *st, ck_error *err);
int ck_cpu_hash_blocks(ck_backend *be, const void *src, uint64_t len, uint64_t *digests, ck_error *err);
int ck_cpu_stats_stream(ck_backend *be, ck_dtype dtype, const ck_elem_source *src, uint64_t n, ck_stats *st,
                        ck_error *err);

/* stats_e4m3.c: nchunks whole chunks of F8_E4M3 codes (at most 2^17), reduced exactly
 * (ck_stats_sums_exact): the sums added to e, the counts, min and max to t. The dispatched
 * version, the portable one (the tests check both), and whether the dispatched one is the vector
 * kernel. */
void ck_cpu_e4m3_chunks(const uint8_t *codes, uint64_t nchunks, ck_exact_sums *e, ck_tally *t);
void ck_cpu_e4m3_chunks_portable(const uint8_t *codes, uint64_t nchunks, ck_exact_sums *e, ck_tally *t);
bool ck_cpu_e4m3_chunks_vector(void);

/* stats_avx512.c: the fast path of a whole F32 or BF16 chunk (kernels/cpu/stats.c's, the same
 * bits) written for AVX-512; false for a chunk it does not take, having changed nothing (the BF16
 * one fills buf with the chunk's floats either way). ck_cpu_stats_avx512: whether the CPU can run
 * them. */
bool ck_cpu_chunk_f32_avx512(const float *x, ck_tally *t, ck_chunk_moments *m);
bool ck_cpu_chunk_bf16_avx512(const uint16_t *src, float *buf, ck_tally *t, ck_chunk_moments *m);
bool ck_cpu_stats_avx512(void);
/* For the tests: false makes the statistics use the portable fast paths even where AVX-512 is
 * there (default true: use it where the CPU has it). */
void ck_cpu_stats_allow_avx512(bool allow);

/* compare.c, permute.c, quant.c, matmul.c (kernels/ops.h) */
int ck_cpu_compare(ck_backend *be, const float *a, const float *b, uint64_t n, ck_compare *acc, ck_error *err);
bool ck_cpu_permute_supports(ck_dtype dtype);
int ck_cpu_permute_pairs(ck_backend *be, ck_dtype dtype, const void *src, void *dst, uint64_t outer, uint64_t n,
                         uint64_t inner, ck_pairs_dir dir, ck_error *err);
int ck_cpu_quant_mxfp4(ck_backend *be, const float *src, uint8_t *codes, uint8_t *scales, uint64_t rows,
                       uint64_t cols, ck_error *err);
int ck_cpu_quant_nvfp4(ck_backend *be, const float *src, uint8_t *codes, uint8_t *scales, float *global,
                       uint64_t rows, uint64_t cols, ck_error *err);
int ck_cpu_quant_fp8(ck_backend *be, ck_dtype dtype, const float *src, uint8_t *dst, float *scales, uint64_t rows,
                     uint64_t cols, uint64_t block_rows, uint64_t block_cols, bool compute_scales, ck_error *err);
int ck_cpu_matmul(ck_backend *be, const float *a, const float *b, float *c, uint64_t m, uint64_t n, uint64_t k,
                  ck_error *err);

#endif
