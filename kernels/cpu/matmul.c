/* C = A . B^T on the CPU through CBLAS (Debian's libblas-dev: the reference BLAS, single-threaded
 * and deterministic; an OpenBLAS swapped in by update-alternatives is pinned to one thread below).
 * The pool runs fixed blocks of ROWS rows of C, each one sgemm call: block boundaries do not depend
 * on the thread count, and each element of C is one dot product over k in BLAS's own order, so the
 * result is the same for every thread count. */
#include <cblas.h>
#include <limits.h>
#include <pthread.h>

#include "kernels/cpu/cpu.h"

#define ROWS 64

/* Present only when the BLAS behind libblas.so is OpenBLAS. */
extern void openblas_set_num_threads(int n) __attribute__((weak));

static pthread_once_t pin_once = PTHREAD_ONCE_INIT;
static void pin_blas_threads(void)
{
    if (openblas_set_num_threads) openblas_set_num_threads(1);
}

typedef struct {
    const float *a, *b;
    float *c;
    uint64_t m, n, k;
} mm_job;

static void mm_task(void *ctx, size_t task)
{
    const mm_job *j = ctx;
    uint64_t r0 = (uint64_t)task * ROWS, r = j->m - r0 < ROWS ? j->m - r0 : ROWS;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, (int)j->n, (int)j->k, 1.0f, j->a + r0 * j->k,
                (int)j->k, j->b, (int)j->k, 0.0f, j->c + r0 * j->n, (int)j->n);
}

int ck_cpu_matmul(ck_backend *be, const float *a, const float *b, float *c, uint64_t m, uint64_t n, uint64_t k,
                  ck_error *err)
{
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "matmul: [%llu, %llu] x [%llu, %llu]^T is too large for BLAS",
                            (unsigned long long)m, (unsigned long long)k, (unsigned long long)n, (unsigned long long)k);
    if (!m || !n) return 0;
    if (!k) { /* BLAS accepts k = 0 too, but a zero-size A or B may come as NULL */
        for (uint64_t i = 0; i < m * n; i++) c[i] = 0.0f;
        return 0;
    }
    pthread_once(&pin_once, pin_blas_threads);
    mm_job j = {a, b, c, m, n, k};
    ck_pool_run(ck_cpu_pool(be), (size_t)((m + ROWS - 1) / ROWS), mm_task, &j);
    return 0;
}
