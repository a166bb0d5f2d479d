/* Casts on the device: one kernel per (from, to) pair, instantiated from per-format codec structs
 * that call kernels/codec.h, so the device rounds exactly as the CPU does. Pairs are found in a
 * table indexed by format slot, not by a switch. */
#include "kernels/cuda/common.cuh"

struct FmtF32 {
    typedef float T;
    static __device__ float dec(T v) { return v; }
    static __device__ T enc(float f) { return f; }
};
struct FmtBF16 {
    typedef uint16_t T;
    static __device__ float dec(T v) { return ck_bf16_to_f32(v); }
    static __device__ T enc(float f) { return ck_f32_to_bf16(f); }
};
struct FmtF16 {
    typedef uint16_t T;
    static __device__ float dec(T v) { return ck_f16_to_f32(v); }
    static __device__ T enc(float f) { return ck_f32_to_f16(f); }
};
struct FmtE4M3 {
    typedef uint8_t T;
    static __device__ float dec(T v) { return ck_e4m3_to_f32(v); }
    static __device__ T enc(float f) { return ck_f32_to_e4m3(f); }
};
struct FmtE5M2 {
    typedef uint8_t T;
    static __device__ float dec(T v) { return ck_e5m2_to_f32(v); }
    static __device__ T enc(float f) { return ck_f32_to_e5m2(f); }
};

template <class A, class B>
__global__ void cast_k(const typename A::T *__restrict__ s, typename B::T *__restrict__ d, uint64_t n)
{
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x)
        d[i] = B::enc(A::dec(s[i]));
}

typedef void (*cast_launcher)(const void *, void *, uint64_t, cudaStream_t);

template <class A, class B>
static void launch(const void *s, void *d, uint64_t n, cudaStream_t st)
{
    cast_k<A, B><<<ck_cuda_grid(n, 256), 256, 0, st>>>((const typename A::T *)s, (typename B::T *)d, n);
}

#define ROW(A) {launch<A, FmtF32>, launch<A, FmtBF16>, launch<A, FmtF16>, launch<A, FmtE4M3>, launch<A, FmtE5M2>}
static const cast_launcher table[5][5] = {ROW(FmtF32), ROW(FmtBF16), ROW(FmtF16), ROW(FmtE4M3), ROW(FmtE5M2)};
static const ck_dtype slots[5] = {CK_F32, CK_BF16, CK_F16, CK_F8_E4M3, CK_F8_E5M2};

static int slot_of(ck_dtype d)
{
    for (int i = 0; i < 5; i++)
        if (slots[i] == d) return i;
    return -1;
}

bool ck_cuda_cast_supports(ck_dtype dtype) { return slot_of(dtype) >= 0; }

int ck_cuda_cast(ck_backend *be, ck_dtype from, const void *src, ck_dtype to, void *dst, uint64_t n, ck_error *err)
{
    ck_cuda *c = (ck_cuda *)be->impl;
    int a = slot_of(from), b = slot_of(to);
    if (a < 0 || b < 0)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "cast: %s -> %s is not supported",
                            ck_dtype_name(from), ck_dtype_name(to));
    if (n > UINT64_MAX / 8) return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "cast: count overflows");
    if (n == 0) return 0;
    size_t sb = ck_dtype_info(from)->bits / 8, db = ck_dtype_info(to)->bits / 8;
    void *ds = ck_cuda_upload(c, 0, src, n * sb, err);
    void *dd = ds ? ck_cuda_scratch(c, 1, n * db, err) : NULL;
    if (!dd) return -1;
    if (a == b) CUDA_CHECK(err, cudaMemcpyAsync(dd, ds, n * sb, cudaMemcpyDeviceToDevice, c->stream));
    else table[a][b](ds, dd, n, c->stream);
    return ck_cuda_finish(c, dst, dd, n * db, err);
}
