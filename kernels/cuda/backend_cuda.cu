/* The CUDA back end: availability, the ops table, staging buffers. Ops take host pointers and
 * stage through device buffers on one stream; statistics have their own two streams and pinned
 * double buffers (stats.cu). */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cuda/common.cuh"
extern "C" {
#include "kernels/cuda/backend_cuda.h"
}

extern "C" bool ck_cuda_available(char *why, size_t size)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (why) snprintf(why, size, "no usable CUDA device (%s)", cudaGetErrorString(e));
        return false;
    }
    if (n == 0) {
        if (why) snprintf(why, size, "no CUDA device");
        return false;
    }
    if (why) snprintf(why, size, "%d CUDA device%s", n, n == 1 ? "" : "s");
    return true;
}

void *ck_cuda_scratch(ck_cuda *c, int i, size_t bytes, ck_error *err)
{
    if (bytes == 0) bytes = 1;
    if (c->cap[i] < bytes) {
        if (c->buf[i]) cudaFree(c->buf[i]);
        c->buf[i] = NULL;
        c->cap[i] = 0;
        cudaError_t e = cudaMalloc(&c->buf[i], bytes);
        if (e != cudaSuccess) {
            ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "CUDA: cannot allocate %zu bytes: %s", bytes,
                         cudaGetErrorString(e));
            return NULL;
        }
        c->cap[i] = bytes;
    }
    return c->buf[i];
}

void *ck_cuda_upload(ck_cuda *c, int i, const void *host, size_t bytes, ck_error *err)
{
    void *d = ck_cuda_scratch(c, i, bytes, err);
    if (!d) return NULL;
    cudaError_t e = cudaMemcpyAsync(d, host, bytes, cudaMemcpyHostToDevice, c->stream);
    if (e != cudaSuccess) {
        ck_error_set(err, CK_E_IO, NULL, NULL, -1, "CUDA: upload of %zu bytes failed: %s", bytes, cudaGetErrorString(e));
        return NULL;
    }
    ck_cuda_mark_in(c);
    return d;
}

int ck_cuda_finish(ck_cuda *c, void *host, const void *dev, size_t bytes, ck_error *err)
{
    CUDA_CHECK(err, cudaGetLastError());
    ck_cuda_mark_out(c);
    CUDA_CHECK(err, cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, c->stream));
    CUDA_CHECK(err, cudaStreamSynchronize(c->stream));
    ck_cuda_add_timed(c);
    return 0;
}

static bool cuda_supports(const ck_backend *be, ck_op op, ck_dtype dtype)
{
    (void)be;
    if ((unsigned)dtype >= CK_DTYPE_COUNT || (unsigned)op >= CK_OP_COUNT) return false;
    const ck_dtype_traits *t = ck_dtype_info(dtype);
    bool answer[CK_OP_COUNT] = {};
    answer[CK_OP_TRANSPOSE] = ck_cuda_transpose_supports(dtype);
    answer[CK_OP_CAST] = ck_cuda_cast_supports(dtype);
    answer[CK_OP_DEQUANT_MXFP4] = dtype == CK_F4;
    answer[CK_OP_DEQUANT_NVFP4] = dtype == CK_F4;
    answer[CK_OP_DEQUANT_FP8] = t->bits == 8 && t->kind == CK_KIND_FLOAT && !t->is_quant_scale && ck_cuda_cast_supports(dtype);
    answer[CK_OP_STATS] = ck_cuda_stats_supports(dtype); /* the CPU back end's dtypes */
    answer[CK_OP_COMPARE] = dtype == CK_F32;
    answer[CK_OP_PERMUTE_PAIRS] = ck_cuda_permute_supports(dtype);
    answer[CK_OP_QUANT_MXFP4] = dtype == CK_F4;
    answer[CK_OP_QUANT_NVFP4] = dtype == CK_F4;
    answer[CK_OP_QUANT_FP8] = dtype == CK_F8_E4M3 || dtype == CK_F8_E5M2;
    answer[CK_OP_MATMUL] = dtype == CK_F32;
    return answer[op];
}

static void cuda_destroy(ck_backend *be)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    if (c) {
        ck_cuda_blas_release(c);
        ck_cuda_stats_release(c);
        ck_cuda_timing_release(c);
        for (int i = 0; i < CK_CUDA_BUFS; i++)
            if (c->buf[i]) cudaFree(c->buf[i]);
        if (c->stream) cudaStreamDestroy(c->stream);
        free(c);
    }
    free(be);
}

static ck_backend_ops make_ops(void)
{
    ck_backend_ops o = {};
    o.name = "cuda";
    o.supports = cuda_supports;
    o.transpose = ck_cuda_transpose;
    o.cast = ck_cuda_cast;
    o.dequant_mxfp4 = ck_cuda_dequant_mxfp4;
    o.dequant_nvfp4 = ck_cuda_dequant_nvfp4;
    o.dequant_fp8 = ck_cuda_dequant_fp8;
    o.stats = ck_cuda_stats;
    o.stats_stream = NULL; /* callers read windows and call stats */
    o.hash_blocks = NULL;  /* callers hash on the host */
    o.destroy = cuda_destroy;
    o.compare = ck_cuda_compare;
    o.permute_pairs = ck_cuda_permute_pairs;
    o.quant_mxfp4 = ck_cuda_quant_mxfp4;
    o.quant_nvfp4 = ck_cuda_quant_nvfp4;
    o.quant_fp8 = ck_cuda_quant_fp8;
    o.matmul = ck_cuda_matmul;
    return o;
}
static const ck_backend_ops cuda_ops = make_ops();

extern "C" ck_backend *ck_cuda_backend_create(int threads, ck_error *err)
{
    char why[256];
    if (!ck_cuda_available(why, sizeof why)) {
        ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "%s", why);
        return NULL;
    }
    ck_backend *be = (ck_backend *)calloc(1, sizeof *be);
    ck_cuda *c = (ck_cuda *)calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "cuda back end: out of memory");
        return NULL;
    }
    be->ops = &cuda_ops;
    be->impl = c;
    be->threads = threads;
    cudaDeviceProp prop;
    cudaError_t e = cudaSetDevice(0);
    if (e == cudaSuccess) e = cudaGetDeviceProperties(&prop, 0);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        ck_error_set(err, CK_E_IO, NULL, NULL, -1, "CUDA: cannot start device 0: %s", cudaGetErrorString(e));
        cuda_destroy(be);
        return NULL;
    }
    snprintf(be->device, sizeof be->device, "%.80s (sm_%d%d, %.0f GiB)", prop.name, prop.major, prop.minor,
             prop.totalGlobalMem / 1073741824.0);
    return be;
}
