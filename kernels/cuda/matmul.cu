/* C = A . B^T through cuBLAS. Row-major C[m, n] is column-major C^T[n, m] = B . A^T: with B and A
 * seen column-major as B^T [k, n] and A^T [k, m], that is sgemm(T, N). cuBLAS runs FP32 in its
 * default math mode (no TF32 unless NVIDIA_TF32_OVERRIDE forces it); results match the CPU's BLAS
 * to rounding, not bit for bit. */
#include <cublas_v2.h>
#include <limits.h>

#include "kernels/cuda/common.cuh"

void ck_cuda_blas_release(ck_cuda *c)
{
    if (c->blas) cublasDestroy((cublasHandle_t)c->blas);
    c->blas = NULL;
}

#define BLAS_CHECK(err, stmt)                                                                         \
    do {                                                                                              \
        cublasStatus_t ck_s_ = (stmt);                                                                \
        if (ck_s_ != CUBLAS_STATUS_SUCCESS)                                                           \
            return ck_error_set((err), CK_E_IO, NULL, NULL, -1, "cuBLAS: %s failed: %s", #stmt,      \
                                cublasGetStatusString(ck_s_));                                        \
    } while (0)

int ck_cuda_matmul(ck_backend *be, const float *a, const float *b, float *cm, uint64_t m, uint64_t n, uint64_t k,
                   ck_error *err)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "matmul: [%llu, %llu] x [%llu, %llu]^T is too large",
                            (unsigned long long)m, (unsigned long long)k, (unsigned long long)n, (unsigned long long)k);
    if (!m || !n) return 0;
    if (!k) {
        for (uint64_t i = 0; i < m * n; i++) cm[i] = 0.0f;
        return 0;
    }
    if (!c->blas) {
        cublasHandle_t h;
        BLAS_CHECK(err, cublasCreate(&h));
        c->blas = h;
        BLAS_CHECK(err, cublasSetStream(h, c->stream));
        BLAS_CHECK(err, cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    }
    void *da = ck_cuda_upload(c, 0, a, m * k * 4, err);
    void *db = da ? ck_cuda_upload(c, 1, b, n * k * 4, err) : NULL;
    void *dc = db ? ck_cuda_scratch(c, 2, m * n * 4, err) : NULL;
    if (!dc) return -1;
    const float one = 1.0f, zero = 0.0f;
    BLAS_CHECK(err, cublasSgemm((cublasHandle_t)c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)m, (int)k, &one,
                                (const float *)db, (int)k, (const float *)da, (int)k, &zero, (float *)dc, (int)n));
    return ck_cuda_finish(c, cm, dc, m * n * 4, err);
}
