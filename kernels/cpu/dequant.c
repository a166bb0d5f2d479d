/* Dequantization to F32: MXFP4, NVFP4 and block-scaled FP8. Rows are independent, so tasks are
 * runs of rows (or, for one long row, that row alone) and write disjoint outputs. */
#include <stdbool.h>
#include <string.h>

#include "kernels/codec.h"
#include "kernels/ops.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/simd.h"

#define TASK_ELEMS (64 * 1024)

typedef struct {
    const uint8_t *codes, *scales;
    const float *fscales;
    float global;
    float *dst;
    uint64_t row0, rows, cols, rows_per_task;
    uint64_t block, nblk;       /* FP4: elements per scale, scales per row */
    uint64_t br, bc, nbc;       /* FP8: block shape, scale columns */
    void (*decode)(const void *, float *, size_t); /* FP8 element decode (the dtype table's) */
} dq_job;

static uint64_t rows_per_task(uint64_t cols)
{
    uint64_t r = cols ? TASK_ELEMS / cols : 1;
    return r ? r : 1;
}

CK_VEC_CLONES static void scale_run(float *d, uint64_t n, float s)
{
    for (uint64_t c = 0; c < n; c++) d[c] *= s;
}

/* FP4 rows: each packed byte's two E2M1 values from a 256-entry table of pairs (one 8-byte load
 * and store per byte), then each block of codes multiplied by its scale in a vectorized pass
 * (MXFP4: 32 codes, E8M0 scales; NVFP4: 16, E4M3 scales, then the global scale): the products of
 * a per-element lookup times the scale, in that order, in half the instructions. */
static void fp4_rows(const dq_job *j, uint64_t r0, uint64_t r1, uint64_t block, const float *scale_lut, bool global)
{
    const float(*pairs)[2] = ck_cpu_lut_e2m1_pairs();
    for (uint64_t r = r0; r < r1; r++) {
        const uint8_t *q = j->codes + r * (j->cols / 2), *sc = j->scales + r * j->nblk;
        float *d = j->dst + r * j->cols;
        for (uint64_t c = 0; c < j->cols; c += 2) memcpy(d + c, pairs[q[c / 2]], 2 * sizeof(float));
        for (uint64_t c0 = 0; c0 < j->cols; c0 += block) {
            uint64_t n = j->cols - c0 < block ? j->cols - c0 : block;
            scale_run(d + c0, n, scale_lut[sc[c0 / block]]);
            if (global) scale_run(d + c0, n, j->global);
        }
    }
}

static void mxfp4_task(void *ctx, size_t task)
{
    const dq_job *j = ctx;
    uint64_t r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    fp4_rows(j, r0, r1, 32, ck_cpu_lut_e8m0(), false);
}

static void nvfp4_task(void *ctx, size_t task)
{
    const dq_job *j = ctx;
    uint64_t r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    fp4_rows(j, r0, r1, 16, ck_cpu_lut_e4m3(), true);
}

static void fp8_task(void *ctx, size_t task)
{
    const dq_job *j = ctx;
    uint64_t r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    for (uint64_t r = r0; r < r1; r++) {
        const uint8_t *q = j->codes + r * j->cols;
        const float *sc = j->fscales + (j->row0 + r) / j->br * j->nbc;
        float *d = j->dst + r * j->cols;
        /* decoded by the dtype's vectorized decoder, then scaled in place: the products are those
         * of a table lookup times the scale */
        j->decode(q, d, (size_t)j->cols);
        for (uint64_t c0 = 0, b = 0; c0 < j->cols; c0 += j->bc, b++) { /* one scale per column block */
            uint64_t c1 = c0 + j->bc < j->cols ? c0 + j->bc : j->cols;
            scale_run(d + c0, c1 - c0, sc[b]);
        }
    }
}

int ck_cpu_dequant_mxfp4(ck_backend *be, const uint8_t *codes, const uint8_t *scales, float *dst, uint64_t rows,
                         uint64_t cols, ck_error *err)
{
    if (ck_quant_args("dequant MXFP4", rows, cols, true, err)) return -1;
    dq_job j = {.codes = codes, .scales = scales, .dst = dst, .rows = rows, .cols = cols,
                .rows_per_task = rows_per_task(cols), .block = 32, .nblk = (cols + 31) / 32};
    ck_pool_run(ck_cpu_pool(be), (size_t)((rows + j.rows_per_task - 1) / j.rows_per_task), mxfp4_task, &j);
    return 0;
}

int ck_cpu_dequant_nvfp4(ck_backend *be, const uint8_t *codes, const uint8_t *scales, float global, float *dst,
                         uint64_t rows, uint64_t cols, ck_error *err)
{
    if (ck_quant_args("dequant NVFP4", rows, cols, true, err)) return -1;
    dq_job j = {.codes = codes, .scales = scales, .global = global, .dst = dst, .rows = rows, .cols = cols,
                .rows_per_task = rows_per_task(cols), .block = 16, .nblk = (cols + 15) / 16};
    ck_pool_run(ck_cpu_pool(be), (size_t)((rows + j.rows_per_task - 1) / j.rows_per_task), nvfp4_task, &j);
    return 0;
}

int ck_cpu_dequant_fp8(ck_backend *be, ck_dtype dtype, const uint8_t *src, const float *scales, float *dst,
                       uint64_t row0, uint64_t rows, uint64_t cols, uint64_t block_rows, uint64_t block_cols,
                       ck_error *err)
{
    bool fp8 = ck_dtype_info(dtype)->bits == 8 && ck_dtype_info(dtype)->man_bits && ck_cpu_dtypes[dtype].lut8;
    if (!fp8)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "dequant FP8: %s is not an FP8 type",
                            ck_dtype_name(dtype));
    if (!block_rows || !block_cols)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "dequant FP8: zero block size");
    if (ck_quant_args("dequant FP8", rows, cols, false, err)) return -1;
    dq_job j = {.codes = src, .fscales = scales, .dst = dst, .row0 = row0, .rows = rows, .cols = cols,
                .rows_per_task = rows_per_task(cols), .br = block_rows, .bc = block_cols,
                .nbc = (cols + block_cols - 1) / block_cols, .decode = ck_cpu_dtypes[dtype].to_f32};
    ck_pool_run(ck_cpu_pool(be), (size_t)((rows + j.rows_per_task - 1) / j.rows_per_task), fp8_task, &j);
    return 0;
}
