/* The CPU back end: the ops table, the capability query, and the worker pool it owns. */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cpu/cpu.h"

static bool cpu_supports(const ck_backend *be, ck_op op, ck_dtype dtype)
{
    (void)be;
    if ((unsigned)dtype >= CK_DTYPE_COUNT) return false;
    const ck_dtype_traits *t = ck_dtype_info(dtype);
    /* One table of answers per op; each line reads the dtype's traits, not its name. */
    const bool answer[CK_OP_COUNT] = {
        [CK_OP_TRANSPOSE] = ck_cpu_transpose_supports(dtype),
        [CK_OP_CAST] = ck_cpu_cast_supports(dtype),
        [CK_OP_DEQUANT_MXFP4] = dtype == CK_F4,
        [CK_OP_DEQUANT_NVFP4] = dtype == CK_F4,
        [CK_OP_DEQUANT_FP8] = t->bits == 8 && t->kind == CK_KIND_FLOAT && !t->is_quant_scale && ck_cpu_dtypes[dtype].lut8,
        [CK_OP_STATS] = ck_cpu_dtypes[dtype].to_f32 != NULL && t->bits % 8 == 0,
        [CK_OP_COMPARE] = dtype == CK_F32,
        [CK_OP_PERMUTE_PAIRS] = ck_cpu_permute_supports(dtype),
        [CK_OP_QUANT_MXFP4] = dtype == CK_F4,
        [CK_OP_QUANT_NVFP4] = dtype == CK_F4,
        [CK_OP_QUANT_FP8] = dtype == CK_F8_E4M3 || dtype == CK_F8_E5M2,
        [CK_OP_MATMUL] = dtype == CK_F32,
    };
    return (unsigned)op < CK_OP_COUNT && answer[op];
}

static void cpu_destroy(ck_backend *be)
{
    ck_cpu *c = be->impl;
    if (c) ck_pool_destroy(c->pool);
    free(c);
    free(be);
}

static const ck_backend_ops cpu_ops = {
    .name = "cpu",
    .supports = cpu_supports,
    .transpose = ck_cpu_transpose,
    .cast = ck_cpu_cast,
    .dequant_mxfp4 = ck_cpu_dequant_mxfp4,
    .dequant_nvfp4 = ck_cpu_dequant_nvfp4,
    .dequant_fp8 = ck_cpu_dequant_fp8,
    .stats = ck_cpu_stats,
    .stats_stream = ck_cpu_stats_stream,
    .hash_blocks = ck_cpu_hash_blocks,
    .destroy = cpu_destroy,
    .compare = ck_cpu_compare,
    .permute_pairs = ck_cpu_permute_pairs,
    .quant_mxfp4 = ck_cpu_quant_mxfp4,
    .quant_nvfp4 = ck_cpu_quant_nvfp4,
    .quant_fp8 = ck_cpu_quant_fp8,
    .matmul = ck_cpu_matmul,
};

ck_backend *ck_backend_cpu_create(int threads, ck_error *err)
{
    if (threads <= 0) threads = ck_online_cores();
    ck_backend *be = calloc(1, sizeof *be);
    ck_cpu *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "cpu back end: out of memory");
        return NULL;
    }
    be->ops = &cpu_ops;
    be->impl = c;
    be->threads = threads;
    c->threads = threads;
    c->pool = ck_pool_create(threads);
    if (!c->pool) {
        cpu_destroy(be);
        ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "cpu back end: cannot start %d threads", threads);
        return NULL;
    }
    snprintf(be->device, sizeof be->device, "cpu (%d thread%s)", threads, threads == 1 ? "" : "s");
    return be;
}
