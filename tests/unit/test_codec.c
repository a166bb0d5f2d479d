/* kernels/codec.h against a scalar reference written differently: values are built with ldexp,
 * rounding is done in double with nearbyint (the FPU's round-to-nearest-even), and the format
 * rules (overflow to Inf, to NaN, or saturation) are applied to the rounded value. Every code of
 * every 8- and 16-bit format is decoded; encoders are checked on every representable value, every
 * midpoint between neighbours (and the f32 values next to it), special values, and random f32s. */
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/codec.h"
#include "tests/check.h"

typedef enum { OVF_INF, OVF_NAN, OVF_SAT } ovf_rule;

typedef struct {
    const char *name;
    int bits, man, bias;
    double max;         /* largest finite value */
    ovf_rule ovf;
    float (*dec)(uint32_t code);
    uint32_t (*enc)(float f);
    int top_exp_special; /* the all-ones exponent is Inf/NaN (IEEE-like) */
} fmt;

static float dec_bf16(uint32_t c) { return ck_bf16_to_f32((uint16_t)c); }
static float dec_f16(uint32_t c) { return ck_f16_to_f32((uint16_t)c); }
static float dec_e4m3(uint32_t c) { return ck_e4m3_to_f32((uint8_t)c); }
static float dec_e5m2(uint32_t c) { return ck_e5m2_to_f32((uint8_t)c); }
static float dec_e2m1(uint32_t c) { return ck_e2m1_to_f32((uint8_t)c); }
static uint32_t enc_bf16(float f) { return ck_f32_to_bf16(f); }
static uint32_t enc_f16(float f) { return ck_f32_to_f16(f); }
static uint32_t enc_e4m3(float f) { return ck_f32_to_e4m3(f); }
static uint32_t enc_e5m2(float f) { return ck_f32_to_e5m2(f); }
static uint32_t enc_e2m1(float f) { return ck_f32_to_e2m1(f); }

static const fmt fmts[] = {
    {"bf16", 16, 7, 127, 0x1.fep127, OVF_INF, dec_bf16, enc_bf16, 1},
    {"f16", 16, 10, 15, 65504.0, OVF_INF, dec_f16, enc_f16, 1},
    {"e5m2", 8, 2, 15, 57344.0, OVF_INF, dec_e5m2, enc_e5m2, 1},
    {"e4m3", 8, 3, 7, 448.0, OVF_NAN, dec_e4m3, enc_e4m3, 0},
    {"e2m1", 4, 1, 1, 6.0, OVF_SAT, dec_e2m1, enc_e2m1, 0},
};

/* Reference decode: sign, exponent field, mantissa; ldexp builds the value. */
static double ref_decode(const fmt *f, uint32_t code, int *is_nan)
{
    int ebits = f->bits - 1 - f->man;
    uint32_t sign = code >> (f->bits - 1), ef = (code >> f->man) & ((1u << ebits) - 1), m = code & ((1u << f->man) - 1);
    *is_nan = 0;
    double v;
    if (f->top_exp_special && ef == (1u << ebits) - 1) {
        if (m) { *is_nan = 1; return NAN; }
        v = INFINITY;
    } else if (!f->top_exp_special && f->ovf == OVF_NAN && ef == (1u << ebits) - 1 && m == (1u << f->man) - 1) {
        *is_nan = 1;
        return NAN;
    } else if (ef == 0) {
        v = ldexp((double)m, 1 - f->bias - f->man);
    } else {
        v = ldexp(1.0 + ldexp((double)m, -f->man), (int)ef - f->bias);
    }
    return sign ? -v : v;
}

/* Reference encode, as a value: round |x| to the format's grid in double, then the overflow rule.
 * Returns the expected decoded value (NaN for the NaN code). */
static double ref_round(const fmt *f, float x)
{
    if (isnan(x)) return f->ovf == OVF_SAT ? 6.0 : NAN;
    double ax = fabs((double)x);
    double r;
    if (isinf(x)) r = INFINITY;
    else if (ax == 0) r = 0;
    else {
        int e;
        frexp(ax, &e);
        int E = e - 1;
        if (E < 1 - f->bias) E = 1 - f->bias; /* subnormal range: fixed quantum */
        double q = ldexp(1.0, E - f->man);
        r = nearbyint(ax / q) * q;
    }
    if (r > f->max) r = f->ovf == OVF_INF ? INFINITY : f->ovf == OVF_NAN ? NAN : f->max;
    return signbit(x) ? -r : r;
}

static int same_value(double a, double b) /* NaN equals NaN; +0 and -0 differ */
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

static int check_encode(const fmt *f, float x)
{
    uint32_t c = f->enc(x);
    int nan;
    double got = ref_decode(f, c, &nan), want = ref_round(f, x);
    if (!same_value(got, want)) {
        fprintf(stderr, "  %s: encode(%a) = 0x%x (%a), expected %a\n", f->name, (double)x, c, got, want);
        return 0;
    }
    return 1;
}

static void test_decode_every_code(void)
{
    for (size_t k = 0; k < sizeof fmts / sizeof *fmts; k++) {
        const fmt *f = &fmts[k];
        int bad = 0;
        for (uint32_t c = 0; c < (1u << f->bits); c++) {
            int nan;
            double want = ref_decode(f, c, &nan);
            float got = f->dec(c);
            if (!same_value(got, want)) {
                if (bad++ < 5) fprintf(stderr, "  %s: decode(0x%x) = %a, expected %a\n", f->name, c, (double)got, want);
            }
            /* a NaN comes out quiet, with the code's sign */
            if (nan && (!(ck_f32_bits(got) & 0x400000u) || (ck_f32_bits(got) >> 31) != (c >> (f->bits - 1))) &&
                f->man != 7)
                bad++;
        }
        CHECK(bad == 0);
    }
}

static void test_e8m0_decode(void)
{
    int bad = 0;
    for (int e = 0; e < 255; e++)
        if (ck_e8m0_to_f32((uint8_t)e) != ldexp(1.0, e - 127)) bad++;
    CHECK(bad == 0);
    CHECK(isnan(ck_e8m0_to_f32(0xFF)));
}

static void test_encode_grid_and_midpoints(void)
{
    for (size_t k = 0; k < sizeof fmts / sizeof *fmts; k++) {
        const fmt *f = &fmts[k];
        int bad = 0;
        uint32_t half = 1u << (f->bits - 1);
        for (uint32_t c = 0; c < half && bad < 5; c++) { /* positive codes in increasing order */
            int nan;
            double v = ref_decode(f, c, &nan);
            if (nan || isinf(v)) continue;
            /* every representable value, both signs, round-trips */
            if (!check_encode(f, (float)v) || !check_encode(f, -(float)v)) bad++;
            /* the midpoint to the next value up (past the max: the next binade step) and the f32s
             * either side of it decide ties and rounding direction */
            double next;
            int nn;
            double up = c + 1 < half ? ref_decode(f, c + 1, &nn) : NAN;
            if (c + 1 < half && !nn && !isinf(up)) next = up;
            else next = v + (v - ref_decode(f, c - 1, &nn));
            float mid = (float)((v + next) / 2);
            float probes[] = {mid, nextafterf(mid, 0), nextafterf(mid, INFINITY), (float)next};
            for (int p = 0; p < 4; p++)
                if (!check_encode(f, probes[p]) || !check_encode(f, -probes[p])) bad++;
        }
        CHECK(bad == 0);
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void test_encode_random(void)
{
    for (size_t k = 0; k < sizeof fmts / sizeof *fmts; k++) {
        const fmt *f = &fmts[k];
        int bad = 0;
        for (int i = 0; i < 400000 && bad < 5; i++) {
            /* half raw bit patterns (all exponents, NaNs, subnormals), half near the format's range */
            float x = i & 1 ? ck_bits_f32(rnd32()) : (float)ldexp((double)(rnd32() % 4096) / 4096.0 + 0.5,
                                                                   (int)(rnd32() % 40) - 30) * (rnd32() & 1 ? -1 : 1);
            if (!check_encode(f, x)) bad++;
        }
        /* every f32 with the top 16 bits of a given pattern: covers BF16 rounding of all exponents */
        for (uint32_t hi = 0; hi < 0x10000 && bad < 5; hi += 7)
            for (uint32_t lo = 0x7FF0; lo < 0x8011; lo++)
                if (!check_encode(f, ck_bits_f32(hi << 16 | lo))) bad++;
        CHECK(bad == 0);
    }
}

/* Known answers from PyTorch's casts (c10/util, Float8_e4m3fn.h and friends), to pin the rules, not just self-consistency. */
static void test_pytorch_rules(void)
{
    CHECK_EQ_U64(ck_f32_to_e4m3(448.0f), 0x7E);
    CHECK_EQ_U64(ck_f32_to_e4m3(464.0f), 0x7E);      /* tie: to even (448) */
    CHECK_EQ_U64(ck_f32_to_e4m3(470.0f), 0x7F);      /* rounds past 448: NaN, no saturation */
    CHECK_EQ_U64(ck_f32_to_e4m3(1e9f), 0x7F);
    CHECK_EQ_U64(ck_f32_to_e4m3(-INFINITY), 0xFF);
    CHECK_EQ_U64(ck_f32_to_e4m3(-NAN), 0xFF);
    CHECK_EQ_U64(ck_f32_to_e4m3(0x1p-10f), 0x00);    /* half the smallest subnormal: tie to 0 */
    CHECK_EQ_U64(ck_f32_to_e4m3(0x1.8p-10f), 0x01);
    CHECK_EQ_U64(ck_f32_to_e4m3(-0.0f), 0x80);
    CHECK_EQ_U64(ck_f32_to_e5m2(57344.0f), 0x7B);
    CHECK_EQ_U64(ck_f32_to_e5m2(61440.0f), 0x7C);    /* tie past the max: to even = Inf */
    CHECK_EQ_U64(ck_f32_to_e5m2(NAN), 0x7F);
    CHECK_EQ_U64(ck_f32_to_e5m2(-INFINITY), 0xFC);
    CHECK_EQ_U64(ck_f32_to_f16(65520.0f), 0x7C00);
    CHECK_EQ_U64(ck_f32_to_f16(65519.0f), 0x7BFF);
    CHECK_EQ_U64(ck_f32_to_f16(-NAN) & 0xFFFF, 0xFE00);
    CHECK_EQ_U64(ck_f32_to_bf16(-NAN), 0x7FC0);
    CHECK_EQ_U64(ck_f32_to_bf16(ck_bits_f32(0x3F808000u)), 0x3F80); /* tie to even */
    CHECK_EQ_U64(ck_f32_to_bf16(ck_bits_f32(0x3F818000u)), 0x3F82);
    CHECK_EQ_U64(ck_f32_to_bf16(ck_bits_f32(0x7F7FFFFFu)), 0x7F80);
    CHECK_EQ_U64(ck_f32_to_e2m1(5.0f), 0x6);          /* tie between 4 and 6: to even (4) */
    CHECK_EQ_U64(ck_f32_to_e2m1(100.0f), 0x7);        /* saturates */
    CHECK_EQ_U64(ck_f32_to_e2m1(-0.25f), 0x8);        /* tie to -0 */
    CHECK_EQ_U64(ck_f32_to_e2m1(NAN), 0x7);
}

static void test_e2m1_table(void)
{
    /* layouts.md section 6.1, literally */
    static const float table[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    int bad = 0;
    for (int c = 0; c < 16; c++) {
        float v = ck_e2m1_to_f32((uint8_t)c);
        if (v != table[c] || signbit(v) != signbit(table[c])) bad++;
        if (ck_f32_to_e2m1(table[c]) != c) bad++;
    }
    CHECK(bad == 0);
}

int main(void)
{
    fesetround(FE_TONEAREST);
    RUN_TEST("codec", test_decode_every_code);
    RUN_TEST("codec", test_e8m0_decode);
    RUN_TEST("codec", test_e2m1_table);
    RUN_TEST("codec", test_pytorch_rules);
    RUN_TEST("codec", test_encode_grid_and_midpoints);
    RUN_TEST("codec", test_encode_random);
    TEST_EXIT();
}
