/* Shared by the .cu files: the C headers with C linkage, one CUDA_CHECK, and device staging. */
#ifndef CK_CUDA_COMMON_CUH
#define CK_CUDA_COMMON_CUH

#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "inspect/dtype.h"
#include "inspect/error.h"
#include "kernels/backend.h"
}
#include "kernels/codec.h"

/* Evaluate a runtime call; on failure set `err` with the statement, file, line and CUDA's own
 * message, and return -1 from the enclosing function. */
#define CUDA_CHECK(err, stmt)                                                                        \
    do {                                                                                             \
        cudaError_t ck_e_ = (stmt);                                                                  \
        if (ck_e_ != cudaSuccess)                                                                    \
            return ck_error_set((err), CK_E_IO, NULL, NULL, -1, "CUDA: %s failed at %s:%d: %s", #stmt, \
                                __FILE__, __LINE__, cudaGetErrorString(ck_e_));                      \
    } while (0)

/* Device scratch owned by the back end, grown on demand: in and out staging for host pointers. */
#define CK_CUDA_BUFS 4
typedef struct {
    cudaStream_t stream;
    void *buf[CK_CUDA_BUFS];
    size_t cap[CK_CUDA_BUFS];
    void *blas;                 /* cublasHandle_t, made on the first matmul (matmul.cu) */
    void *stats;                /* the statistics' streams and staging buffers, made on first use (stats.cu) */
    /* the GPU bench's device timing (timing.cu): events after an op's last upload and before its
     * first download, their distance added up */
    bool timing;
    cudaEvent_t ev_in, ev_out;
    double device_ms;
} ck_cuda;

/* timing.cu: the two timing points (no-ops unless timing is on). */
void ck_cuda_mark_in(ck_cuda *c);
void ck_cuda_mark_out(ck_cuda *c);
void ck_cuda_add_timed(ck_cuda *c);
void ck_cuda_timing_release(ck_cuda *c);

/* Make sure buffer `i` holds `bytes`; returns its device pointer or NULL with err set. */
void *ck_cuda_scratch(ck_cuda *c, int i, size_t bytes, ck_error *err);

/* Copy to device buffer `i` (grown as needed); NULL with err set on failure. */
void *ck_cuda_upload(ck_cuda *c, int i, const void *host, size_t bytes, ck_error *err);

/* Wait for the stream, check for launch errors, copy `bytes` from device `dev` to host. */
int ck_cuda_finish(ck_cuda *c, void *host, const void *dev, size_t bytes, ck_error *err);

int ck_cuda_transpose(ck_backend *be, ck_dtype dtype, const void *src, void *dst, uint64_t batch, uint64_t rows,
                      uint64_t cols, ck_error *err);
bool ck_cuda_transpose_supports(ck_dtype dtype);
int ck_cuda_cast(ck_backend *be, ck_dtype from, const void *src, ck_dtype to, void *dst, uint64_t n, ck_error *err);
bool ck_cuda_cast_supports(ck_dtype dtype);
int ck_cuda_dequant_mxfp4(ck_backend *be, const uint8_t *codes, const uint8_t *scales, float *dst, uint64_t rows,
                          uint64_t cols, ck_error *err);
int ck_cuda_dequant_nvfp4(ck_backend *be, const uint8_t *codes, const uint8_t *scales, float global, float *dst,
                          uint64_t rows, uint64_t cols, ck_error *err);
int ck_cuda_dequant_fp8(ck_backend *be, ck_dtype dtype, const uint8_t *src, const float *scales, float *dst,
                        uint64_t row0, uint64_t rows, uint64_t cols, uint64_t block_rows, uint64_t block_cols,
                        ck_error *err);

int ck_cuda_compare(ck_backend *be, const float *a, const float *b, uint64_t n, ck_compare *acc, ck_error *err);
bool ck_cuda_permute_supports(ck_dtype dtype);
int ck_cuda_permute_pairs(ck_backend *be, ck_dtype dtype, const void *src, void *dst, uint64_t outer, uint64_t n,
                          uint64_t inner, ck_pairs_dir dir, ck_error *err);
int ck_cuda_quant_mxfp4(ck_backend *be, const float *src, uint8_t *codes, uint8_t *scales, uint64_t rows,
                        uint64_t cols, ck_error *err);
int ck_cuda_quant_nvfp4(ck_backend *be, const float *src, uint8_t *codes, uint8_t *scales, float *global,
                        uint64_t rows, uint64_t cols, ck_error *err);
int ck_cuda_quant_fp8(ck_backend *be, ck_dtype dtype, const float *src, uint8_t *dst, float *scales, uint64_t rows,
                      uint64_t cols, uint64_t block_rows, uint64_t block_cols, bool compute_scales, ck_error *err);
int ck_cuda_matmul(ck_backend *be, const float *a, const float *b, float *c, uint64_t m, uint64_t n, uint64_t k,
                   ck_error *err);
void ck_cuda_blas_release(ck_cuda *c);
int ck_cuda_stats(ck_backend *be, ck_dtype dtype, const void *src, uint64_t n, ck_stats *st, ck_error *err);
bool ck_cuda_stats_supports(ck_dtype dtype);
void ck_cuda_stats_release(ck_cuda *c);

static inline unsigned ck_cuda_grid(uint64_t n, unsigned block)
{
    uint64_t g = (n + block - 1) / block;
    return g > 65535u * 8 ? 65535u * 8 : (unsigned)(g ? g : 1); /* kernels loop, grid size only tunes */
}

#endif
