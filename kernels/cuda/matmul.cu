/* C = A . B^T through cuBLAS. Row-major C[m, n] is column-major C^T[n, m] = B . A^T: with B and A
 * seen column-major as B^T [k, n] and A^T [k, m], that is sgemm(T, N). cuBLAS runs FP32 in its
 * default math mode (no TF32 unless NVIDIA_TF32_OVERRIDE forces it); results match the CPU's BLAS
 * to rounding, not bit for bit. */
#include <cublas_v2.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <pthread.h>

#include "kernels/cuda/common.cuh"

/* cuBLAS is opened on the first matrix product, not linked: loading it costs about 100 ms and
 * 200 MB of resident memory at start-up, which every command (ls, check) would otherwise pay. */
static struct {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetMathMode) set_math_mode;
    decltype(&cublasSgemm_v2) sgemm;
    decltype(&cublasGetStatusString) status_string;
    char why[200];
} blas;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_load(void)
{
    static const char *const names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
    void *lib = NULL;
    for (size_t i = 0; i < sizeof names / sizeof *names && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(blas.why, sizeof blas.why, "cannot load cuBLAS: %s", dlerror());
        return;
    }
    blas.create = (decltype(blas.create))dlsym(lib, "cublasCreate_v2");
    blas.destroy = (decltype(blas.destroy))dlsym(lib, "cublasDestroy_v2");
    blas.set_stream = (decltype(blas.set_stream))dlsym(lib, "cublasSetStream_v2");
    blas.set_math_mode = (decltype(blas.set_math_mode))dlsym(lib, "cublasSetMathMode");
    blas.sgemm = (decltype(blas.sgemm))dlsym(lib, "cublasSgemm_v2");
    blas.status_string = (decltype(blas.status_string))dlsym(lib, "cublasGetStatusString");
    if (!blas.create || !blas.destroy || !blas.set_stream || !blas.set_math_mode || !blas.sgemm || !blas.status_string) {
        snprintf(blas.why, sizeof blas.why, "cuBLAS lacks a function ckdoc needs");
        blas.create = NULL;
    }
}

void ck_cuda_blas_release(ck_cuda *c)
{
    if (c->blas && blas.destroy) blas.destroy((cublasHandle_t)c->blas);
    c->blas = NULL;
}

#define BLAS_CHECK(err, stmt)                                                                         \
    do {                                                                                              \
        cublasStatus_t ck_s_ = (stmt);                                                                \
        if (ck_s_ != CUBLAS_STATUS_SUCCESS)                                                           \
            return ck_error_set((err), CK_E_IO, NULL, NULL, -1, "cuBLAS: %s failed: %s", #stmt,      \
                                blas.status_string(ck_s_));                                           \
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
        pthread_once(&blas_once, blas_load);
        if (!blas.create) return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "%s", blas.why);
        cublasHandle_t h;
        BLAS_CHECK(err, blas.create(&h));
        c->blas = h;
        BLAS_CHECK(err, blas.set_stream(h, c->stream));
        BLAS_CHECK(err, blas.set_math_mode(h, CUBLAS_DEFAULT_MATH));
    }
    void *da = ck_cuda_upload(c, 0, a, m * k * 4, err);
    void *db = da ? ck_cuda_upload(c, 1, b, n * k * 4, err) : NULL;
    void *dc = db ? ck_cuda_scratch(c, 2, m * n * 4, err) : NULL;
    if (!dc) return -1;
    const float one = 1.0f, zero = 0.0f;
    BLAS_CHECK(err, blas.sgemm((cublasHandle_t)c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)m, (int)k, &one,
                                (const float *)db, (int)k, (const float *)da, (int)k, &zero, (float *)dc, (int)n));
    return ck_cuda_finish(c, cm, dc, m * n * 4, err);
}
