/* Portable SIMD for the CPU kernels: GCC/Clang vector extensions (which the compiler lowers to
 * SSE2, AVX2, NEON... or plain scalar code), and runtime dispatch for the loops that gain most
 * from AVX2 (variable shifts, 256-bit converts). No intrinsics: every path builds and runs on
 * every CPU, and each dispatched clone computes the same bits (no FMA: the clones only add
 * "avx2", and kernels are compiled with -ffp-contract=off, see the Makefile). */
#ifndef CK_CPU_SIMD_H
#define CK_CPU_SIMD_H

#include <stdint.h>
#include <string.h>

typedef uint8_t ck_v16u8 __attribute__((vector_size(16)));
typedef uint16_t ck_v8u16 __attribute__((vector_size(16)));
typedef uint32_t ck_v4u32 __attribute__((vector_size(16)));
typedef uint64_t ck_v2u64 __attribute__((vector_size(16)));
typedef int32_t ck_v4i32 __attribute__((vector_size(16)));
typedef int64_t ck_v4i64 __attribute__((vector_size(32)));
typedef float ck_v4f32 __attribute__((vector_size(16)));
typedef double ck_v4f64 __attribute__((vector_size(32)));
/* Wider ones, only for code built for a target that has such vectors (AVX2, AVX-512) or that uses
 * no shuffles or compares on them (element-wise arithmetic is split into native vectors). */
typedef uint8_t ck_v32u8 __attribute__((vector_size(32)));
typedef uint8_t ck_v64u8 __attribute__((vector_size(64)));
typedef uint16_t ck_v32u16 __attribute__((vector_size(64)));
typedef uint64_t ck_v4u64 __attribute__((vector_size(32)));
typedef uint64_t ck_v8u64 __attribute__((vector_size(64)));

/* Two-input shuffles with constant indices. */
#if defined(__clang__)
#define CK_SHUF(vt, a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define CK_SHUF(vt, a, b, ...) __builtin_shuffle(a, b, (vt){__VA_ARGS__})
#endif

/* Clones for AVX2 where the toolchain does ifunc (GCC on x86-64 Linux). Not under the
 * sanitizers: their runtime is not up yet when ifunc resolvers run. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define CK_VEC_CLONES __attribute__((target_clones("avx2", "default")))
/* The same, plus AVX-512 (F, BW, VL...) for the compute-bound loops that gain from 16 lanes. */
#define CK_VEC_CLONES_WIDE __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define CK_VEC_CLONES
#define CK_VEC_CLONES_WIDE
#endif

/* A 16-byte store that bypasses the caches (p 16-byte aligned), for outputs far larger than the
 * caches that nothing reads soon: no read of the line before it is written, no eviction of data
 * still in use. Elsewhere a plain store. ck_stream_fence after the last one (the task's end), so
 * that the stores are visible before the pool reports the task done. */
static inline void ck_stream16(void *p, ck_v16u8 v)
{
#if defined(__x86_64__) && defined(__clang__)
    __builtin_nontemporal_store((ck_v2u64)v, (ck_v2u64 *)p);
#elif defined(__x86_64__) && defined(__GNUC__)
    typedef long long v2di __attribute__((vector_size(16)));
    __builtin_ia32_movntdq((v2di *)p, (v2di)v);
#else
    memcpy(p, &v, 16);
#endif
}

static inline void ck_stream_fence(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_ia32_sfence();
#endif
}

#endif
