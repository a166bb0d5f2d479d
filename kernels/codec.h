/* Element codecs: every conversion between F32 and a narrow float format, written once.
 *
 * These are `static inline` and marked CK_HOST_DEVICE so that the CPU back end, the CUDA back end
 * and the unit tests all run the very same arithmetic: the code the GPU executes is exhaustively
 * tested on a machine without one. Integer arithmetic only (no FPU rounding modes, no FTZ/DAZ
 * surprises on the device), except where noted. No branches either, only selects: the CPU back
 * end's loops over these functions vectorize.
 *
 * Rounding and special values follow PyTorch's CPU casts (c10/util/BFloat16.h, Half.h,
 * Float8_e4m3fn.h, Float8_e5m2.h), so that `x.to(dtype)` and ckdoc agree bit for bit:
 *   - all encoders round to nearest, ties to even;
 *   - F32 -> BF16: any NaN becomes 0x7FC0 (sign dropped, as c10::round_to_nearest_even);
 *     overflow rounds to Inf;
 *   - F32 -> F16: NaN becomes sign|0x7E00; overflow rounds to Inf;
 *   - F32 -> F8_E5M2: NaN becomes sign|0x7F; |x| >= 2^16 (after rounding: > 57344) becomes Inf;
 *   - F32 -> F8_E4M3 (e4m3fn): NO saturation. NaN, Inf and anything that rounds past 448 (that is
 *     |x| > 464) become sign|0x7F, the NaN code. PyTorch's `fp8e4m3fn_from_fp32_value` does this;
 *     saturating casts exist only in scaled-mm kernels and quantizers, which clamp before casting;
 *   - F32 -> E2M1 (FP4): no Inf/NaN codes exist; overflow saturates to +-6 and NaN becomes +6
 *     (what CUDA's __nv_cvt_float_to_fp4 does: it only offers __NV_SATFINITE);
 *   - decoders are exact; a NaN code decodes to a quiet f32 NaN with the code's sign.
 */
#ifndef CK_CODEC_H
#define CK_CODEC_H

#include <stdint.h>
#ifndef __CUDACC__
#include <string.h>
#endif

#ifdef __CUDACC__
#define CK_HOST_DEVICE __host__ __device__
#else
#define CK_HOST_DEVICE
#endif

/* ---- bit casts and bit counting ---------------------------------------------------------- */

CK_HOST_DEVICE static inline uint32_t ck_f32_bits(float f)
{
#ifdef __CUDA_ARCH__
    return __float_as_uint(f);
#else
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
#endif
}

CK_HOST_DEVICE static inline float ck_bits_f32(uint32_t u)
{
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
#endif
}

/* Leading zeros of a non-zero 32-bit word. */
CK_HOST_DEVICE static inline int ck_clz32(uint32_t x)
{
#ifdef __CUDA_ARCH__
    return __clz((int)x);
#else
    return __builtin_clz(x);
#endif
}

/* ---- the two generic halves of every small-float codec ----------------------------------- */

/* Round the magnitude `a` (f32 bits without the sign; finite, not NaN) to a float with `man`
 * mantissa bits and exponent bias `bias`, and return its code (exponent field << man | mantissa),
 * rounded to nearest even. The code is not clamped: a result at or past the format's top is
 * returned as is, for the caller to turn into Inf, NaN or saturation by its own rule.
 * `maxexp` is the largest exponent field the caller can use; beyond it we stop early so the
 * arithmetic cannot overflow, returning (maxexp + 1) << man. */
CK_HOST_DEVICE static inline uint32_t ck_round_mag(uint32_t a, int man, int bias, int maxexp)
{
    /* Branch-free (selects only), so that loops over it vectorize; every case is computed and
     * the right one kept. */
    int e = (int)(a >> 23) - 127;         /* unbiased exponent; -127 for f32 subnormals */
    uint32_t sub = a < 0x800000u;         /* f32 subnormal: same scale as the smallest normal */
    uint32_t sig = (a & 0x7FFFFFu) | (sub ? 0u : 0x800000u); /* implicit one */
    e = sub ? -126 : e;
    /* value = sig * 2^(e-23). In the target, a normal has the exponent field e + bias >= 1 and
     * its code is ((e+bias) << man) + (sig's top man bits); a subnormal's code is
     * value / 2^(1-bias-man). Both are "sig shifted right by `shift`, plus an exponent part". */
    int normal = e + bias >= 1;
    int shift = normal ? 23 - man : 23 - man + (1 - bias - e);
    uint32_t expart = normal ? (uint32_t)(e + bias - 1) << man : 0u; /* sig's implicit one adds the last 1 << man */
    /* Below half the smallest subnormal the result is 0: a shift of 31 gives q = 0 and a
     * remainder below half, since sig < 2^24. */
    shift = shift > 31 ? 31 : shift;
    uint32_t q = sig >> shift;
    uint32_t rem = sig & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1);
    q += (rem > half) | ((rem == half) & q);
    /* A carry out of the mantissa bumps the exponent field by one: exactly the next binade. Past
     * `maxexp` we return (maxexp + 1) << man, which the caller turns into its overflow value. */
    return e > maxexp - bias ? (uint32_t)(maxexp + 1) << man : expart + q;
}

/* Decode a magnitude code of a float with `man` mantissa bits and bias `bias` (finite codes only)
 * into f32 bits. Exact for every format here: all of them fit inside f32's range and precision. */
CK_HOST_DEVICE static inline uint32_t ck_expand_mag(uint32_t code, int man, int bias)
{
    uint32_t ef = code >> man, m = code & ((1u << man) - 1u);
    if (ef == 0) {
        if (m == 0) return 0;
        /* Subnormal m * 2^(1-bias-man): normalise so that the leading one is the implicit bit. */
        int lead = 31 - ck_clz32(m);      /* position of the leading one */
        int e = 1 - bias - man + lead;
        uint32_t frac = (m << (23 - lead)) & 0x7FFFFFu;
        /* e >= -24 for every format here (F16's smallest subnormal), so f32 stays normal. */
        return ((uint32_t)(e + 127) << 23) | frac;
    }
    return ((ef - (uint32_t)bias + 127u) << 23) | (m << (23 - man));
}

/* ---- BF16 --------------------------------------------------------------------------------- */

CK_HOST_DEVICE static inline float ck_bf16_to_f32(uint16_t h) { return ck_bits_f32((uint32_t)h << 16); }

CK_HOST_DEVICE static inline uint16_t ck_f32_to_bf16(float f)
{
    uint32_t u = ck_f32_bits(f);
    /* BF16 is F32's top half: round the low 16 bits away, ties to even. A carry into the exponent
     * is correct rounding, and the largest finite values carry into Inf. */
    uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return (uint16_t)((u & 0x7FFFFFFFu) > 0x7F800000u ? 0x7FC0u : r); /* PyTorch: every NaN is 0x7FC0 */
}

/* ---- F16 (IEEE binary16) ------------------------------------------------------------------- */

CK_HOST_DEVICE static inline float ck_f16_to_f32(uint16_t h)
{
    /* Branch-free, so that loops over it vectorize. A subnormal is mag * 2^-24: converting an
     * integer below 2^11 and scaling by a power of two are both exact, whatever the rounding mode,
     * and the result is an f32 normal (so FTZ does not touch it). */
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, mag = h & 0x7FFFu;
    uint32_t normal = (mag << 13) + ((127u - 15u) << 23);
    uint32_t subnormal = ck_f32_bits((float)(int32_t)mag * 0x1p-24f);
    /* Inf, or NaN with its payload kept and the quiet bit set */
    uint32_t special = 0x7F800000u | ((mag & 0x3FFu) << 13) | (mag > 0x7C00u ? 0x400000u : 0u);
    return ck_bits_f32(sign | (mag >= 0x7C00u ? special : mag >= 0x400u ? normal : subnormal));
}

CK_HOST_DEVICE static inline uint16_t ck_f32_to_f16(float f)
{
    uint32_t u = ck_f32_bits(f), sign = (u >> 16) & 0x8000u, a = u & 0x7FFFFFFFu;
    uint32_t c = ck_round_mag(a, 10, 15, 30);   /* Inf: past the top, like an overflow */
    c = c >= 0x7C00u ? 0x7C00u : c;
    return (uint16_t)(sign | (a > 0x7F800000u ? 0x7E00u : c));
}

/* ---- F8_E5M2 (IEEE-like: Inf 0x7C, NaN 0x7D..0x7F) ------------------------------------------ */

CK_HOST_DEVICE static inline float ck_e5m2_to_f32(uint8_t v)
{
    /* E5M2 is the top byte of an F16, so F16's decoder is exact for it. */
    return ck_f16_to_f32((uint16_t)((uint16_t)v << 8));
}

CK_HOST_DEVICE static inline uint8_t ck_f32_to_e5m2(float f)
{
    uint32_t u = ck_f32_bits(f), sign = (u >> 24) & 0x80u, a = u & 0x7FFFFFFFu;
    uint32_t c = ck_round_mag(a, 2, 15, 30);    /* Inf: past the top, like an overflow */
    c = c >= 0x7Cu ? 0x7Cu : c;
    return (uint8_t)(sign | (a > 0x7F800000u ? 0x7Fu : c));
}

/* ---- F8_E4M3 (e4m3fn: no Inf; 0x7F and 0xFF are NaN; max 448) ---------------------------------- */

CK_HOST_DEVICE static inline float ck_e4m3_to_f32(uint8_t v)
{
    uint32_t sign = (uint32_t)(v & 0x80u) << 24, mag = v & 0x7Fu;
    if (mag == 0x7Fu) return ck_bits_f32(sign | 0x7FC00000u);
    return ck_bits_f32(sign | ck_expand_mag(mag, 3, 7));
}

CK_HOST_DEVICE static inline uint8_t ck_f32_to_e4m3(float f)
{
    uint32_t u = ck_f32_bits(f), sign = (u >> 24) & 0x80u, a = u & 0x7FFFFFFFu;
    uint32_t c = ck_round_mag(a, 3, 7, 15);     /* NaN and Inf are past the top too */
    return (uint8_t)(sign | (c >= 0x7Fu ? 0x7Fu : c));   /* past 448: NaN, not saturation */
}

/* ---- E2M1 (FP4; one code per nibble; values in layouts.md section 6.1) ----------------------- */

CK_HOST_DEVICE static inline float ck_e2m1_to_f32(uint8_t code)
{
    uint32_t sign = (uint32_t)(code & 0x8u) << 28;
    return ck_bits_f32(sign | ck_expand_mag(code & 0x7u, 1, 1));
}

CK_HOST_DEVICE static inline uint8_t ck_f32_to_e2m1(float f)
{
    uint32_t u = ck_f32_bits(f), sign = (u >> 28) & 0x8u, a = u & 0x7FFFFFFFu;
    uint32_t c = a >= 0x7F800000u ? 0x7u : ck_round_mag(a, 1, 1, 3);
    c = sign | (c >= 0x7u ? 0x7u : c);               /* saturate at 6 */
    return (uint8_t)(a > 0x7F800000u ? 0x7u : c);    /* NaN: +6, as __NV_SATFINITE (selects only) */
}

/* ---- E8M0 (MX block scale: 2^(e-127), 0xFF is NaN, no sign, no zero) ------------------------ */

CK_HOST_DEVICE static inline float ck_e8m0_to_f32(uint8_t e)
{
    if (e == 0xFFu) return ck_bits_f32(0x7FC00000u);
    if (e == 0) return ck_bits_f32(0x00400000u); /* 2^-127 is an f32 subnormal */
    return ck_bits_f32((uint32_t)e << 23);
}

#endif
