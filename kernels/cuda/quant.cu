/* Quantization on the device, with the very block encoders of kernels/ops.h that the CPU back end
 * runs (one thread per FP4 block, one per FP8 element). Maxima are taken with integer atomics on
 * the bits of |x| (non-negative floats order as their bits), which are exact, so the results are
 * bit-identical to the CPU's. */
#include "kernels/cuda/common.cuh"

__global__ void mxfp4_q(const float *__restrict__ x, uint8_t *__restrict__ q, uint8_t *__restrict__ sc, uint64_t rows,
                        uint64_t cols)
{
    uint64_t nblk = (cols + 31) / 32, total = rows * nblk;
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < total; i += (uint64_t)gridDim.x * blockDim.x) {
        uint64_t r = i / nblk, c = i % nblk * 32, n = cols - c < 32 ? cols - c : 32;
        sc[i] = ck_mxfp4_block(x + r * cols + c, (unsigned)n, q + r * (cols / 2) + c / 2);
    }
}

__global__ void nvfp4_q(const float *__restrict__ x, uint8_t *__restrict__ q, uint8_t *__restrict__ sc, float g,
                        uint64_t rows, uint64_t cols)
{
    uint64_t nblk = (cols + 15) / 16, total = rows * nblk;
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < total; i += (uint64_t)gridDim.x * blockDim.x) {
        uint64_t r = i / nblk, c = i % nblk * 16, n = cols - c < 16 ? cols - c : 16;
        sc[i] = ck_nvfp4_block(x + r * cols + c, (unsigned)n, g, q + r * (cols / 2) + c / 2);
    }
}

/* amax[(r / br) * nbc + c / bc] = max |x| over finite x (bits) */
__global__ void amax_k(const float *__restrict__ x, unsigned *__restrict__ amax, uint64_t rows, uint64_t cols,
                       uint64_t br, uint64_t bc, uint64_t nbc)
{
    uint64_t n = rows * cols;
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x) {
        unsigned a = ck_abs_bits_finite(x[i]);
        if (a) atomicMax(&amax[i / cols / br * nbc + i % cols / bc], a);
    }
}

__global__ void fp8_scales_k(const unsigned *__restrict__ amax, float *__restrict__ sc, uint64_t n, float fmax)
{
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x)
        sc[i] = ck_fp8_scale(ck_bits_f32(amax[i]), fmax);
}

template <bool E4M3>
__global__ void fp8_q(const float *__restrict__ x, uint8_t *__restrict__ q, const float *__restrict__ sc, uint64_t rows,
                      uint64_t cols, uint64_t br, uint64_t bc, uint64_t nbc, float fmax)
{
    uint64_t n = rows * cols;
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x)
        q[i] = ck_fp8_quant(x[i], sc[i / cols / br * nbc + i % cols / bc], fmax, E4M3);
}


int ck_cuda_quant_mxfp4(ck_backend *be, const float *src, uint8_t *codes, uint8_t *scales, uint64_t rows,
                        uint64_t cols, ck_error *err)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    if (ck_quant_args("quantize MXFP4", rows, cols, true, err)) return -1;
    uint64_t n = rows * cols, nsc = rows * ((cols + 31) / 32);
    if (n == 0) return 0;
    void *dx = ck_cuda_upload(c, 0, src, n * 4, err);
    void *dq = dx ? ck_cuda_scratch(c, 1, n / 2, err) : NULL;
    void *ds = dq ? ck_cuda_scratch(c, 2, nsc, err) : NULL;
    if (!ds) return -1;
    mxfp4_q<<<ck_cuda_grid(nsc, 256), 256, 0, c->stream>>>((const float *)dx, (uint8_t *)dq, (uint8_t *)ds, rows, cols);
    CUDA_CHECK(err, cudaMemcpyAsync(scales, ds, nsc, cudaMemcpyDeviceToHost, c->stream));
    return ck_cuda_finish(c, codes, dq, n / 2, err);
}

int ck_cuda_quant_nvfp4(ck_backend *be, const float *src, uint8_t *codes, uint8_t *scales, float *global,
                        uint64_t rows, uint64_t cols, ck_error *err)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    if (ck_quant_args("quantize NVFP4", rows, cols, true, err)) return -1;
    if (!(*global >= 0) || !ck_f32_finite(*global))
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "quantize NVFP4: global scale %g", (double)*global);
    uint64_t n = rows * cols, nsc = rows * ((cols + 15) / 16);
    if (n == 0) {
        if (*global == 0) *global = ck_nvfp4_global(0.0f);
        return 0;
    }
    void *dx = ck_cuda_upload(c, 0, src, n * 4, err);
    void *dq = dx ? ck_cuda_scratch(c, 1, n / 2, err) : NULL;
    void *ds = dq ? ck_cuda_scratch(c, 2, nsc, err) : NULL;
    void *dm = ds ? ck_cuda_scratch(c, 3, sizeof(unsigned), err) : NULL;
    if (!dm) return -1;
    if (*global == 0) {
        unsigned amax = 0;
        CUDA_CHECK(err, cudaMemsetAsync(dm, 0, sizeof amax, c->stream));
        amax_k<<<ck_cuda_grid(n, 256), 256, 0, c->stream>>>((const float *)dx, (unsigned *)dm, rows, cols, rows, cols, 1);
        if (ck_cuda_finish(c, &amax, dm, sizeof amax, err)) return -1;
        *global = ck_nvfp4_global(ck_bits_f32(amax));
    }
    nvfp4_q<<<ck_cuda_grid(nsc, 256), 256, 0, c->stream>>>((const float *)dx, (uint8_t *)dq, (uint8_t *)ds, *global,
                                                           rows, cols);
    CUDA_CHECK(err, cudaMemcpyAsync(scales, ds, nsc, cudaMemcpyDeviceToHost, c->stream));
    return ck_cuda_finish(c, codes, dq, n / 2, err);
}

int ck_cuda_quant_fp8(ck_backend *be, ck_dtype dtype, const float *src, uint8_t *dst, float *scales, uint64_t rows,
                      uint64_t cols, uint64_t block_rows, uint64_t block_cols, bool compute_scales, ck_error *err)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    if (dtype != CK_F8_E4M3 && dtype != CK_F8_E5M2)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "quantize FP8: %s is not an FP8 type",
                            ck_dtype_name(dtype));
    if (!block_rows || !block_cols) return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "quantize FP8: zero block size");
    if (ck_quant_args("quantize FP8", rows, cols, false, err)) return -1;
    uint64_t n = rows * cols;
    if (n == 0) return 0;
    uint64_t nbc = (cols + block_cols - 1) / block_cols, nsc = (rows + block_rows - 1) / block_rows * nbc;
    float fmax = dtype == CK_F8_E4M3 ? 448.0f : 57344.0f;
    void *dx = ck_cuda_upload(c, 0, src, n * 4, err);
    void *dq = dx ? ck_cuda_scratch(c, 1, n, err) : NULL;
    void *ds = NULL;
    if (dq) ds = compute_scales ? ck_cuda_scratch(c, 2, nsc * 4, err) : ck_cuda_upload(c, 2, scales, nsc * 4, err);
    void *dm = ds && compute_scales ? ck_cuda_scratch(c, 3, nsc * 4, err) : ds;
    if (!dm) return -1;
    if (compute_scales) {
        CUDA_CHECK(err, cudaMemsetAsync(dm, 0, nsc * 4, c->stream));
        amax_k<<<ck_cuda_grid(n, 256), 256, 0, c->stream>>>((const float *)dx, (unsigned *)dm, rows, cols, block_rows,
                                                            block_cols, nbc);
        fp8_scales_k<<<ck_cuda_grid(nsc, 256), 256, 0, c->stream>>>((const unsigned *)dm, (float *)ds, nsc, fmax);
    }
    if (dtype == CK_F8_E4M3)
        fp8_q<true><<<ck_cuda_grid(n, 256), 256, 0, c->stream>>>((const float *)dx, (uint8_t *)dq, (const float *)ds,
                                                                 rows, cols, block_rows, block_cols, nbc, fmax);
    else
        fp8_q<false><<<ck_cuda_grid(n, 256), 256, 0, c->stream>>>((const float *)dx, (uint8_t *)dq, (const float *)ds,
                                                                  rows, cols, block_rows, block_cols, nbc, fmax);
    if (compute_scales) CUDA_CHECK(err, cudaMemcpyAsync(scales, ds, nsc * 4, cudaMemcpyDeviceToHost, c->stream));
    return ck_cuda_finish(c, dst, dq, n, err);
}
