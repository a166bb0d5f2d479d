/* Quantization on the CPU, the inverse of kernels/cpu/dequant.c: F32 -> MXFP4, NVFP4 and FP8 with
 * the scale rules of kernels/ops.h (ModelOpt's), element encoders from kernels/codec.h. Tasks are
 * runs of rows; maxima are exact, so every thread count gives the same bytes. */
#include <stdlib.h>

#include "kernels/cpu/cpu.h"
#include "kernels/cpu/simd.h"

#define TASK_ELEMS (64 * 1024)

typedef struct {
    const float *src;
    uint8_t *codes, *scales;
    float global;
    uint64_t rows, cols, rpt;       /* rows per task */
    /* FP8 */
    float *fscales, *rowmax, fmax;
    uint64_t br, bc, nbc;
    bool e4m3;
    /* amax */
    uint32_t *task_max;
} q_job;

static uint64_t rows_per_task(uint64_t cols)
{
    uint64_t r = cols ? TASK_ELEMS / cols : 1;
    return r ? r : 1;
}

static size_t task_count(const q_job *j) { return (size_t)((j->rows + j->rpt - 1) / j->rpt); }

#define ROW_RANGE(j, task, r0, r1)                                                        \
    uint64_t r0 = (uint64_t)(task) * (j)->rpt,                                            \
             r1 = r0 + (j)->rpt < (j)->rows ? r0 + (j)->rpt : (j)->rows

CK_VEC_CLONES static void mxfp4_task(void *ctx, size_t task)
{
    const q_job *j = ctx;
    ROW_RANGE(j, task, r0, r1);
    uint64_t nblk = (j->cols + 31) / 32;
    for (uint64_t r = r0; r < r1; r++)
        for (uint64_t b = 0; b < nblk; b++) {
            uint64_t c = b * 32, n = j->cols - c < 32 ? j->cols - c : 32;
            j->scales[r * nblk + b] = ck_mxfp4_block(j->src + r * j->cols + c, (unsigned)n,
                                                     j->codes + r * (j->cols / 2) + c / 2);
        }
}

CK_VEC_CLONES static void nvfp4_task(void *ctx, size_t task)
{
    const q_job *j = ctx;
    ROW_RANGE(j, task, r0, r1);
    uint64_t nblk = (j->cols + 15) / 16;
    for (uint64_t r = r0; r < r1; r++)
        for (uint64_t b = 0; b < nblk; b++) {
            uint64_t c = b * 16, n = j->cols - c < 16 ? j->cols - c : 16;
            j->scales[r * nblk + b] = ck_nvfp4_block(j->src + r * j->cols + c, (unsigned)n, j->global,
                                                     j->codes + r * (j->cols / 2) + c / 2);
        }
}

static void amax_task(void *ctx, size_t task)
{
    const q_job *j = ctx;
    ROW_RANGE(j, task, r0, r1);
    uint32_t m = 0;
    const float *x = j->src + r0 * j->cols;
    for (uint64_t i = 0; i < (r1 - r0) * j->cols; i++) {
        uint32_t a = ck_abs_bits_finite(x[i]);
        m = a > m ? a : m;
    }
    j->task_max[task] = m;
}

/* FP8 pass 1: each row's amax per column block. */
static void fp8_rowmax_task(void *ctx, size_t task)
{
    const q_job *j = ctx;
    ROW_RANGE(j, task, r0, r1);
    for (uint64_t r = r0; r < r1; r++) {
        const float *x = j->src + r * j->cols;
        for (uint64_t b = 0, c0 = 0; c0 < j->cols; b++, c0 += j->bc) {
            uint64_t c1 = c0 + j->bc < j->cols ? c0 + j->bc : j->cols;
            uint32_t m = 0;
            for (uint64_t c = c0; c < c1; c++) {
                uint32_t a = ck_abs_bits_finite(x[c]);
                m = a > m ? a : m;
            }
            j->rowmax[r * j->nbc + b] = ck_bits_f32(m);
        }
    }
}

CK_VEC_CLONES static void fp8_encode_task(void *ctx, size_t task)
{
    const q_job *j = ctx;
    ROW_RANGE(j, task, r0, r1);
    for (uint64_t r = r0; r < r1; r++) {
        const float *x = j->src + r * j->cols, *sc = j->fscales + r / j->br * j->nbc;
        uint8_t *d = j->codes + r * j->cols;
        for (uint64_t b = 0, c0 = 0; c0 < j->cols; b++, c0 += j->bc) {
            uint64_t c1 = c0 + j->bc < j->cols ? c0 + j->bc : j->cols;
            float s = sc[b], fmax = j->fmax;
            if (j->e4m3)
                for (uint64_t c = c0; c < c1; c++) d[c] = ck_fp8_quant(x[c], s, fmax, true);
            else
                for (uint64_t c = c0; c < c1; c++) d[c] = ck_fp8_quant(x[c], s, fmax, false);
        }
    }
}


int ck_cpu_quant_mxfp4(ck_backend *be, const float *src, uint8_t *codes, uint8_t *scales, uint64_t rows,
                       uint64_t cols, ck_error *err)
{
    if (ck_quant_args("quantize MXFP4", rows, cols, true, err)) return -1;
    q_job j = {.src = src, .codes = codes, .scales = scales, .rows = rows, .cols = cols, .rpt = rows_per_task(cols)};
    if (rows && cols) ck_pool_run(ck_cpu_pool(be), task_count(&j), mxfp4_task, &j);
    return 0;
}

int ck_cpu_quant_nvfp4(ck_backend *be, const float *src, uint8_t *codes, uint8_t *scales, float *global,
                       uint64_t rows, uint64_t cols, ck_error *err)
{
    if (ck_quant_args("quantize NVFP4", rows, cols, true, err)) return -1;
    if (!(*global >= 0) || !ck_f32_finite(*global))
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "quantize NVFP4: global scale %g", (double)*global);
    q_job j = {.src = src, .codes = codes, .scales = scales, .rows = rows, .cols = cols, .rpt = rows_per_task(cols)};
    if (*global == 0) {
        uint32_t m = 0;
        if (rows && cols) {
            j.task_max = malloc(task_count(&j) * sizeof *j.task_max);
            if (!j.task_max) return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "quantize NVFP4: out of memory");
            ck_pool_run(ck_cpu_pool(be), task_count(&j), amax_task, &j);
            for (size_t t = 0; t < task_count(&j); t++) m = j.task_max[t] > m ? j.task_max[t] : m;
            free(j.task_max);
        }
        *global = ck_nvfp4_global(ck_bits_f32(m));
    }
    j.global = *global;
    if (rows && cols) ck_pool_run(ck_cpu_pool(be), task_count(&j), nvfp4_task, &j);
    return 0;
}

int ck_cpu_quant_fp8(ck_backend *be, ck_dtype dtype, const float *src, uint8_t *dst, float *scales, uint64_t rows,
                     uint64_t cols, uint64_t block_rows, uint64_t block_cols, bool compute_scales, ck_error *err)
{
    if (dtype != CK_F8_E4M3 && dtype != CK_F8_E5M2)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "quantize FP8: %s is not an FP8 type",
                            ck_dtype_name(dtype));
    if (!block_rows || !block_cols)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "quantize FP8: zero block size");
    if (ck_quant_args("quantize FP8", rows, cols, false, err)) return -1;
    if (!rows || !cols) return 0;
    q_job j = {.src = src, .codes = dst, .rows = rows, .cols = cols, .rpt = rows_per_task(cols), .fscales = scales,
               .fmax = dtype == CK_F8_E4M3 ? 448.0f : 57344.0f, .br = block_rows, .bc = block_cols,
               .nbc = (cols + block_cols - 1) / block_cols, .e4m3 = dtype == CK_F8_E4M3};
    if (compute_scales) {
        j.rowmax = malloc(rows * j.nbc * sizeof *j.rowmax);
        if (!j.rowmax) return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "quantize FP8: out of memory");
        ck_pool_run(ck_cpu_pool(be), task_count(&j), fp8_rowmax_task, &j);
        uint64_t nbr = (rows + block_rows - 1) / block_rows;
        for (uint64_t b = 0; b < nbr; b++) {
            uint64_t q0 = b * block_rows, q1 = q0 + block_rows < rows ? q0 + block_rows : rows;
            for (uint64_t c = 0; c < j.nbc; c++) {
                float m = 0;
                for (uint64_t r = q0; r < q1; r++) m = j.rowmax[r * j.nbc + c] > m ? j.rowmax[r * j.nbc + c] : m;
                scales[b * j.nbc + c] = ck_fp8_scale(m, j.fmax);
            }
        }
        free(j.rowmax);
    }
    ck_pool_run(ck_cpu_pool(be), task_count(&j), fp8_encode_task, &j);
    return 0;
}
