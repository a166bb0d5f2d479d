/* Pair permutes on the device (kernels/ops.h): one thread per output unit (the widest of 8, 4, 2, 1
 * bytes dividing a row), each reading the one source unit it comes from. Byte-identical to the CPU. */
#include "kernels/cuda/common.cuh"

template <typename T>
__global__ void pairs_k(const T *__restrict__ s, T *__restrict__ d, uint64_t rows, uint64_t n, uint64_t urow,
                        bool split)
{
    uint64_t total = rows * urow, h = n / 2;
    for (uint64_t u = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; u < total; u += (uint64_t)gridDim.x * blockDim.x) {
        uint64_t row = u / urow, j = u % urow, o = row / n, m = row % n;
        /* output row m of slice o comes from source row: */
        uint64_t sm = split ? (m < h ? 2 * m : 2 * (m - h) + 1) : (m % 2 ? h + m / 2 : m / 2);
        d[u] = s[(o * n + sm) * urow + j];
    }
}

bool ck_cuda_permute_supports(ck_dtype dtype)
{
    unsigned bits = ck_dtype_info(dtype)->bits;
    return bits && (bits % 8 == 0 || bits == 4);
}

template <typename T>
static void launch(const void *s, void *d, uint64_t rows, uint64_t n, uint64_t rb, bool split, cudaStream_t st)
{
    uint64_t units = rows * (rb / sizeof(T));
    pairs_k<T><<<ck_cuda_grid(units, 256), 256, 0, st>>>((const T *)s, (T *)d, rows, n, rb / sizeof(T), split);
}

int ck_cuda_permute_pairs(ck_backend *be, ck_dtype dtype, const void *src, void *dst, uint64_t outer, uint64_t n,
                          uint64_t inner, ck_pairs_dir dir, ck_error *err)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    if (!ck_cuda_permute_supports(dtype))
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "permute: no kernel for %s", ck_dtype_name(dtype));
    uint64_t rb, total;
    if (ck_permute_args(dtype, outer, n, inner, dir, &rb, &total, err) < 0) return -1;
    if (total == 0) return 0;
    uint64_t rows = outer * n, bytes = rows * rb;
    void *ds = ck_cuda_upload(c, 0, src, bytes, err);
    void *dd = ds ? ck_cuda_scratch(c, 1, bytes, err) : NULL;
    if (!dd) return -1;
    bool split = dir == CK_PAIRS_SPLIT;
    if (rb % 8 == 0) launch<uint64_t>(ds, dd, rows, n, rb, split, c->stream);
    else if (rb % 4 == 0) launch<uint32_t>(ds, dd, rows, n, rb, split, c->stream);
    else if (rb % 2 == 0) launch<uint16_t>(ds, dd, rows, n, rb, split, c->stream);
    else launch<uint8_t>(ds, dd, rows, n, rb, split, c->stream);
    return ck_cuda_finish(c, dst, dd, bytes, err);
}
