/* Batched transpose on the device: 32x32 tiles through shared memory for whole-byte elements, and
 * one thread per output byte for packed 4-bit data. Byte-identical to the CPU back end. */
#include "kernels/cuda/common.cuh"

#define TILE 32

template <typename T>
__global__ void tp_tiles(const T *__restrict__ s, T *__restrict__ d, uint64_t batch, uint64_t R, uint64_t C)
{
    __shared__ T tile[TILE][TILE + 1]; /* +1: no bank conflicts on the transposed read */
    uint64_t rt_n = (R + TILE - 1) / TILE, ct_n = (C + TILE - 1) / TILE;
    for (uint64_t b = blockIdx.z; b < batch; b += gridDim.z)
        for (uint64_t rt = blockIdx.y; rt < rt_n; rt += gridDim.y)
            for (uint64_t ct = blockIdx.x; ct < ct_n; ct += gridDim.x) {
                const T *sb = s + b * R * C;
                T *db = d + b * R * C;
                for (unsigned k = threadIdx.y; k < TILE; k += blockDim.y) {
                    uint64_t r = rt * TILE + k, c = ct * TILE + threadIdx.x;
                    if (r < R && c < C) tile[k][threadIdx.x] = sb[r * C + c];
                }
                __syncthreads();
                for (unsigned k = threadIdx.y; k < TILE; k += blockDim.y) {
                    uint64_t c = ct * TILE + k, r = rt * TILE + threadIdx.x;
                    if (r < R && c < C) db[c * R + r] = tile[threadIdx.x][k];
                }
                __syncthreads();
            }
}

/* Output byte ob holds output elements 2ob and 2ob+1 (flat [B, C, R] order). */
__global__ void tp_nibbles(const uint8_t *__restrict__ s, uint8_t *__restrict__ d, uint64_t R, uint64_t C,
                           uint64_t nbytes)
{
    uint64_t per = R * C;
    for (uint64_t ob = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; ob < nbytes;
         ob += (uint64_t)gridDim.x * blockDim.x) {
        unsigned v[2];
        for (int k = 0; k < 2; k++) {
            uint64_t o = ob * 2 + k, b = o / per, c = o % per / R, r = o % R;
            uint64_t i = b * per + r * C + c;
            v[k] = (s[i >> 1] >> ((i & 1) * 4)) & 0xF;
        }
        d[ob] = (uint8_t)(v[0] | v[1] << 4);
    }
}

template <typename T>
static void launch_tiles(const void *s, void *d, uint64_t batch, uint64_t R, uint64_t C, cudaStream_t st)
{
    uint64_t rt = (R + TILE - 1) / TILE, ct = (C + TILE - 1) / TILE;
    dim3 grid(ct > 65535 ? 65535 : (unsigned)ct, rt > 65535 ? 65535 : (unsigned)rt,
              batch > 65535 ? 65535 : (unsigned)batch);
    tp_tiles<T><<<grid, dim3(TILE, 8), 0, st>>>((const T *)s, (T *)d, batch, R, C);
}

typedef void (*tp_launcher)(const void *, void *, uint64_t, uint64_t, uint64_t, cudaStream_t);
static const struct {
    unsigned bits;
    tp_launcher fn;
} launchers[] = {{8, launch_tiles<uint8_t>}, {16, launch_tiles<uint16_t>}, {32, launch_tiles<uint32_t>},
                 {64, launch_tiles<uint64_t>}};

static tp_launcher launcher_for(unsigned bits)
{
    for (size_t i = 0; i < sizeof launchers / sizeof *launchers; i++)
        if (launchers[i].bits == bits) return launchers[i].fn;
    return NULL;
}

bool ck_cuda_transpose_supports(ck_dtype dtype)
{
    unsigned bits = ck_dtype_info(dtype)->bits;
    return bits == 4 || launcher_for(bits) != NULL;
}

int ck_cuda_transpose(ck_backend *be, ck_dtype dtype, const void *src, void *dst, uint64_t batch, uint64_t rows,
                      uint64_t cols, ck_error *err)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    unsigned bits = ck_dtype_info(dtype)->bits;
    uint64_t n;
    if (__builtin_mul_overflow(batch, rows, &n) || __builtin_mul_overflow(n, cols, &n) || n > UINT64_MAX / 64)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "transpose: shape overflows");
    if (n == 0) return 0;
    if (bits == 4 && n % 2)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "transpose: %s needs an even element count (got %llu)",
                            ck_dtype_name(dtype), (unsigned long long)n);
    tp_launcher fn = bits == 4 ? NULL : launcher_for(bits);
    if (bits != 4 && !fn)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "transpose: no CUDA kernel for %s", ck_dtype_name(dtype));
    size_t bytes = (size_t)(n * bits / 8);
    void *ds = ck_cuda_upload(c, 0, src, bytes, err);
    void *dd = ds ? ck_cuda_scratch(c, 1, bytes, err) : NULL;
    if (!dd) return -1;
    if (bits == 4) tp_nibbles<<<ck_cuda_grid(bytes, 256), 256, 0, c->stream>>>((const uint8_t *)ds, (uint8_t *)dd, rows, cols, bytes);
    else fn(ds, dd, batch, rows, cols, c->stream);
    return ck_cuda_finish(c, dst, dd, bytes, err);
}
