/* The CPU back end's per-dtype table: block decoders to f32 and encoders from f32, each a loop
 * over the element codec in kernels/codec.h (8-bit formats decode through a 256-entry table made
 * from that same codec). Integer types decode exactly where f32 holds them exactly. */
#include <pthread.h>
#include <string.h>

#include "kernels/codec.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/simd.h"

static float lut_e4m3[256], lut_e5m2[256], lut_e8m0[256], lut_e2m1[16], lut_e2m1_pairs[256][2];
static pthread_once_t lut_once = PTHREAD_ONCE_INIT;

static void lut_build(void)
{
    for (int i = 0; i < 256; i++) {
        lut_e4m3[i] = ck_e4m3_to_f32((uint8_t)i);
        lut_e5m2[i] = ck_e5m2_to_f32((uint8_t)i);
        lut_e8m0[i] = ck_e8m0_to_f32((uint8_t)i);
    }
    for (int i = 0; i < 16; i++) lut_e2m1[i] = ck_e2m1_to_f32((uint8_t)i);
    for (int i = 0; i < 256; i++) {
        lut_e2m1_pairs[i][0] = lut_e2m1[i & 0xF];
        lut_e2m1_pairs[i][1] = lut_e2m1[i >> 4];
    }
}

const float *ck_cpu_lut_e4m3(void) { pthread_once(&lut_once, lut_build); return lut_e4m3; }
const float *ck_cpu_lut_e5m2(void) { pthread_once(&lut_once, lut_build); return lut_e5m2; }
const float *ck_cpu_lut_e8m0(void) { pthread_once(&lut_once, lut_build); return lut_e8m0; }
const float *ck_cpu_lut_e2m1(void) { pthread_once(&lut_once, lut_build); return lut_e2m1; }
const float (*ck_cpu_lut_e2m1_pairs(void))[2] { pthread_once(&lut_once, lut_build); return lut_e2m1_pairs; }

static void f32_to_f32(const void *src, float *dst, size_t n) { memcpy(dst, src, n * sizeof *dst); }
static void f32_from_f32(const float *src, void *dst, size_t n) { memcpy(dst, src, n * sizeof *src); }

CK_VEC_CLONES static void bf16_to_f32(const void *src, float *dst, size_t n)
{
    const uint16_t *s = src;
    for (size_t i = 0; i < n; i++) dst[i] = ck_bf16_to_f32(s[i]);
}

CK_VEC_CLONES static void bf16_from_f32(const float *src, void *dst, size_t n)
{
    uint16_t *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = ck_f32_to_bf16(src[i]);
}

CK_VEC_CLONES static void f16_to_f32(const void *src, float *dst, size_t n)
{
    const uint16_t *s = src;
    for (size_t i = 0; i < n; i++) dst[i] = ck_f16_to_f32(s[i]);
}

CK_VEC_CLONES static void f16_from_f32(const float *src, void *dst, size_t n)
{
    uint16_t *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = ck_f32_to_f16(src[i]);
}

static void lut8_to_f32(const float *lut, const void *src, float *dst, size_t n)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++) dst[i] = lut[s[i]];
}

/* E4M3 (FN) without the table, so that it vectorizes (a table lookup per element bounded the
 * statistics of FP8 tensors): the 7 magnitude bits placed at f32's exponent/mantissa boundary read
 * as an f32 2^120 times too small, subnormals included (they come out as f32 subnormals, which
 * the multiplication scales exactly); 0x7F is NaN. The same bits as ck_e4m3_to_f32 (tested on
 * every code). */
CK_VEC_CLONES_WIDE static void e4m3_to_f32(const void *src, float *dst, size_t n)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++) {
        uint32_t mag = s[i] & 0x7Fu, sign = (uint32_t)(s[i] & 0x80u) << 24;
        uint32_t b = ck_f32_bits(ck_bits_f32(mag << 20) * 0x1p120f);
        dst[i] = ck_bits_f32(sign | (mag == 0x7Fu ? 0x7FC00000u : b));
    }
}
static void e5m2_to_f32(const void *src, float *dst, size_t n) { lut8_to_f32(ck_cpu_lut_e5m2(), src, dst, n); }
static void e8m0_to_f32(const void *src, float *dst, size_t n) { lut8_to_f32(ck_cpu_lut_e8m0(), src, dst, n); }

CK_VEC_CLONES static void e4m3_from_f32(const float *src, void *dst, size_t n)
{
    uint8_t *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = ck_f32_to_e4m3(src[i]);
}

CK_VEC_CLONES static void e5m2_from_f32(const float *src, void *dst, size_t n)
{
    uint8_t *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = ck_f32_to_e5m2(src[i]);
}

/* Packed F4: element 2k is the low nibble of byte k; n is a count of elements (even). */
static void f4_to_f32(const void *src, float *dst, size_t n)
{
    const uint8_t *s = src;
    const float *lut = ck_cpu_lut_e2m1();
    for (size_t i = 0; i < n; i++) dst[i] = lut[(s[i >> 1] >> ((i & 1) * 4)) & 0xF];
}

#define INT_TO_F32(name, type)                                            \
    static void name(const void *src, float *dst, size_t n)               \
    {                                                                     \
        const type *s = src;                                              \
        for (size_t i = 0; i < n; i++) dst[i] = (float)s[i];              \
    }
INT_TO_F32(u8_to_f32, uint8_t)
INT_TO_F32(i8_to_f32, int8_t)
INT_TO_F32(u16_to_f32, uint16_t)
INT_TO_F32(i16_to_f32, int16_t)

const ck_cpu_dtype ck_cpu_dtypes[CK_DTYPE_COUNT] = {
    [CK_F32] = {f32_to_f32, f32_from_f32},
    [CK_BF16] = {bf16_to_f32, bf16_from_f32},
    [CK_F16] = {f16_to_f32, f16_from_f32},
    [CK_F8_E4M3] = {e4m3_to_f32, e4m3_from_f32, ck_cpu_lut_e4m3},
    [CK_F8_E5M2] = {e5m2_to_f32, e5m2_from_f32, ck_cpu_lut_e5m2},
    [CK_F8_E8M0] = {e8m0_to_f32, NULL, ck_cpu_lut_e8m0},
    [CK_F4] = {f4_to_f32, NULL},
    [CK_BOOL] = {u8_to_f32, NULL},
    [CK_U8] = {u8_to_f32, NULL},
    [CK_I8] = {i8_to_f32, NULL},
    [CK_U16] = {u16_to_f32, NULL},
    [CK_I16] = {i16_to_f32, NULL},
};
