/* Dequantization on the device, one thread per output pair (FP4) or element (FP8), with the same
 * codec functions and the same f32 multiplication order as the CPU back end. */
#include "kernels/cuda/common.cuh"

__global__ void mxfp4_k(const uint8_t *__restrict__ q, const uint8_t *__restrict__ sc, float *__restrict__ d,
                        uint64_t rows, uint64_t cols, uint64_t nblk)
{
    uint64_t half = cols / 2, n = rows * half;
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x) {
        uint64_t r = i / half, c = i % half * 2;
        float s = ck_e8m0_to_f32(sc[r * nblk + c / 32]);
        uint8_t b = q[i];
        d[r * cols + c] = ck_e2m1_to_f32(b & 0xF) * s;
        d[r * cols + c + 1] = ck_e2m1_to_f32(b >> 4) * s;
    }
}

__global__ void nvfp4_k(const uint8_t *__restrict__ q, const uint8_t *__restrict__ sc, float g, float *__restrict__ d,
                        uint64_t rows, uint64_t cols, uint64_t nblk)
{
    uint64_t half = cols / 2, n = rows * half;
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x) {
        uint64_t r = i / half, c = i % half * 2;
        float s = ck_e4m3_to_f32(sc[r * nblk + c / 16]);
        uint8_t b = q[i];
        d[r * cols + c] = __fmul_rn(__fmul_rn(ck_e2m1_to_f32(b & 0xF), s), g);
        d[r * cols + c + 1] = __fmul_rn(__fmul_rn(ck_e2m1_to_f32(b >> 4), s), g);
    }
}

template <bool E4M3>
__global__ void fp8_k(const uint8_t *__restrict__ q, const float *__restrict__ sc, float *__restrict__ d, uint64_t row0,
                      uint64_t rows, uint64_t cols, uint64_t br, uint64_t bc, uint64_t nbc)
{
    uint64_t n = rows * cols;
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x) {
        uint64_t r = i / cols, c = i % cols;
        float v = E4M3 ? ck_e4m3_to_f32(q[i]) : ck_e5m2_to_f32(q[i]);
        d[i] = __fmul_rn(v, sc[(row0 + r) / br * nbc + c / bc]);
    }
}

int ck_cuda_dequant_mxfp4(ck_backend *be, const uint8_t *codes, const uint8_t *scales, float *dst, uint64_t rows,
                          uint64_t cols, ck_error *err)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    if (ck_quant_args("dequant MXFP4", rows, cols, true, err)) return -1;
    if (rows * cols == 0) return 0;
    uint64_t nblk = (cols + 31) / 32;
    void *dq = ck_cuda_upload(c, 0, codes, rows * cols / 2, err);
    void *ds = dq ? ck_cuda_upload(c, 1, scales, rows * nblk, err) : NULL;
    void *dd = ds ? ck_cuda_scratch(c, 2, rows * cols * 4, err) : NULL;
    if (!dd) return -1;
    mxfp4_k<<<ck_cuda_grid(rows * cols / 2, 256), 256, 0, c->stream>>>((const uint8_t *)dq, (const uint8_t *)ds,
                                                                        (float *)dd, rows, cols, nblk);
    return ck_cuda_finish(c, dst, dd, rows * cols * 4, err);
}

int ck_cuda_dequant_nvfp4(ck_backend *be, const uint8_t *codes, const uint8_t *scales, float global, float *dst,
                          uint64_t rows, uint64_t cols, ck_error *err)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    if (ck_quant_args("dequant NVFP4", rows, cols, true, err)) return -1;
    if (rows * cols == 0) return 0;
    uint64_t nblk = (cols + 15) / 16;
    void *dq = ck_cuda_upload(c, 0, codes, rows * cols / 2, err);
    void *ds = dq ? ck_cuda_upload(c, 1, scales, rows * nblk, err) : NULL;
    void *dd = ds ? ck_cuda_scratch(c, 2, rows * cols * 4, err) : NULL;
    if (!dd) return -1;
    nvfp4_k<<<ck_cuda_grid(rows * cols / 2, 256), 256, 0, c->stream>>>((const uint8_t *)dq, (const uint8_t *)ds,
                                                                        global, (float *)dd, rows, cols, nblk);
    return ck_cuda_finish(c, dst, dd, rows * cols * 4, err);
}

int ck_cuda_dequant_fp8(ck_backend *be, ck_dtype dtype, const uint8_t *src, const float *scales, float *dst,
                        uint64_t row0, uint64_t rows, uint64_t cols, uint64_t block_rows, uint64_t block_cols,
                        ck_error *err)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    if (dtype != CK_F8_E4M3 && dtype != CK_F8_E5M2)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "dequant FP8: %s is not an FP8 type",
                            ck_dtype_name(dtype));
    if (!block_rows || !block_cols) return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "dequant FP8: zero block size");
    if (ck_quant_args("dequant FP8", rows, cols, false, err)) return -1;
    uint64_t n = rows * cols; /* cannot overflow: checked above */
    if (n == 0) return 0;
    /* Only the scale rows this window touches travel to the device. */
    uint64_t nbc = (cols + block_cols - 1) / block_cols, sr0 = row0 / block_rows,
             sr1 = (row0 + rows - 1) / block_rows + 1;
    void *dq = ck_cuda_upload(c, 0, src, n, err);
    void *ds = dq ? ck_cuda_upload(c, 1, scales + sr0 * nbc, (sr1 - sr0) * nbc * sizeof(float), err) : NULL;
    void *dd = ds ? ck_cuda_scratch(c, 2, n * 4, err) : NULL;
    if (!dd) return -1;
    /* the device scale array starts at block row sr0: shift row0 to match */
    uint64_t r0 = row0 - sr0 * block_rows;
    if (dtype == CK_F8_E4M3)
        fp8_k<true><<<ck_cuda_grid(n, 256), 256, 0, c->stream>>>((const uint8_t *)dq, (const float *)ds, (float *)dd,
                                                                  r0, rows, cols, block_rows, block_cols, nbc);
    else
        fp8_k<false><<<ck_cuda_grid(n, 256), 256, 0, c->stream>>>((const uint8_t *)dq, (const float *)ds, (float *)dd,
                                                                   r0, rows, cols, block_rows, block_cols, nbc);
    return ck_cuda_finish(c, dst, dd, n * 4, err);
}
