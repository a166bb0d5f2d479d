/* The CPU back end's compare, pair permutes (RoPE q/k, gate/up), quantizers and matrix product
 * against scalar references written here from the definitions (kernels/ops.h, layouts.md 3.4 and
 * 6.2-6.4), on random shapes (odd, tiny, unaligned) and values, with 1, 2, 3 and 7 threads: every
 * result must be bit-identical across thread counts (and, for compare, across ways of splitting
 * the input). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/codec.h"
#include "tests/check.h"
#include "tests/unit/kernel_test.h"

static double rnd_unit(void) { return (double)(rnd() >> 11) * 0x1p-53; } /* [0, 1) */
static float rnd_normalish(void) { return (float)((rnd_unit() + rnd_unit() + rnd_unit() - 1.5) * 2.0); }

static void fill_bytes(void *p, size_t n)
{
    for (size_t i = 0; i < n; i++) ((uint8_t *)p)[i] = (uint8_t)rnd();
}

/* Weights of varied magnitude, some blocks tiny or huge, a few zeros. */
static void fill_weights(float *x, uint64_t n)
{
    double scale = ldexp(1.0, (int)rnd_upto(40) - 20);
    for (uint64_t i = 0; i < n; i++) {
        if (i % 64 == 0 && rnd() % 4 == 0) scale = ldexp(1.0, (int)rnd_upto(60) - 30);
        x[i] = rnd() % 50 == 0 ? 0.0f : (float)(rnd_normalish() * scale);
    }
}

static int same_bytes_all(const void *ref, void *const *outs, size_t bytes)
{
    for (int t = 0; t < NT; t++)
        if (memcmp(ref, outs[t], bytes)) return 0;
    return 1;
}

/* ---- compare ---- */

static void feed(ck_backend *b, const float *x, const float *y, uint64_t n, int pieces, ck_compare *c)
{
    ck_error err;
    ck_compare_init(c);
    for (uint64_t i = 0; i < n;) {
        uint64_t k = pieces ? 1 + rnd_upto(pieces == 1 ? 5000 : 40000) : n;
        if (k > n - i) k = n - i;
        CHECK(b->ops->compare(b, x + i, y + i, k, c, &err) == 0);
        i += k;
    }
    ck_compare_finish(c);
}

static int same_result(const ck_compare *p, const ck_compare *q)
{
    return !memcmp(&p->cosine, &q->cosine, sizeof(double)) && !memcmp(&p->rel_err, &q->rel_err, sizeof(double)) &&
           !memcmp(&p->max_abs, &q->max_abs, sizeof(double)) && !memcmp(&p->dot, &q->dot, sizeof(double)) &&
           !memcmp(&p->norm_a, &q->norm_a, sizeof(double)) && !memcmp(&p->norm_b, &q->norm_b, sizeof(double)) &&
           p->t.nonfinite == q->t.nonfinite && p->t.mismatch == q->t.mismatch;
}

static void test_compare(void)
{
    static const uint64_t sizes[] = {0, 1, 7, 4095, 4096, 4097, 70001, 300000};
    int bad = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        uint64_t n = sizes[s];
        float *x = malloc(n * 4 + 4), *y = malloc(n * 4 + 4);
        fill_weights(y, n);
        for (uint64_t i = 0; i < n; i++) x[i] = y[i] + (float)(rnd_normalish() * 1e-3 * fabsf(y[i]));
        uint64_t nonfinite = 0, mismatch = 0;
        if (n > 100) { /* specials: skipped by the sums, counted */
            x[3] = NAN, y[3] = NAN;             /* agree */
            x[5] = INFINITY, y[5] = INFINITY;   /* agree */
            x[7] = INFINITY, y[7] = 1.0f;       /* disagree */
            x[9] = 2.0f, y[9] = -NAN;           /* disagree */
            nonfinite = 4, mismatch = 2;
        }
        long double dot = 0, aa = 0, bb = 0, dd = 0, mx = 0;
        for (uint64_t i = 0; i < n; i++) {
            if (!isfinite(x[i]) || !isfinite(y[i])) continue;
            long double a = x[i], b = y[i];
            dot += a * b, aa += a * a, bb += b * b, dd += (a - b) * (a - b);
            double ad = fabs((double)x[i] - (double)y[i]);
            if (ad > mx) mx = ad;
        }
        ck_compare ref;
        feed(be[0], x, y, n, 0, &ref);
        double cos_ref = n ? (double)(dot / sqrtl(aa * bb)) : 1.0, rel_ref = n ? (double)sqrtl(dd / bb) : 0.0;
        if (fabs(ref.cosine - cos_ref) > 1e-12 || fabs(ref.rel_err - rel_ref) > 1e-12 * (1 + rel_ref) ||
            ref.max_abs != (double)mx || ref.t.nonfinite != nonfinite || ref.t.mismatch != mismatch ||
            ref.count != n) {
            fprintf(stderr, "  compare n=%llu: cos %.17g vs %.17g, rel %.17g vs %.17g, max %g vs %g, nonfinite %llu\n",
                    (unsigned long long)n, ref.cosine, cos_ref, ref.rel_err, rel_ref, ref.max_abs, (double)mx,
                    (unsigned long long)ref.t.nonfinite);
            bad++;
        }
        /* the same bits for every thread count and every way of splitting the input */
        for (int t = 0; t < NT; t++)
            for (int pieces = 0; pieces < 3; pieces++) {
                ck_compare c;
                feed(be[t], x, y, n, pieces, &c);
                if (!same_result(&c, &ref)) {
                    fprintf(stderr, "  compare n=%llu threads=%d pieces=%d differs\n", (unsigned long long)n,
                            thread_counts[t], pieces);
                    bad++;
                }
            }
        free(x);
        free(y);
    }
    CHECK(bad == 0);
    /* exact cases */
    float a[5] = {1, -2, 3, 0.5f, 0}, m[5], z[5] = {0};
    for (int i = 0; i < 5; i++) m[i] = -a[i];
    ck_compare c;
    feed(be[1], a, a, 5, 0, &c);
    CHECK(c.cosine == 1 && c.rel_err == 0 && c.max_abs == 0);
    feed(be[1], a, m, 5, 0, &c);
    CHECK(c.cosine == -1 && c.rel_err == 2 && c.max_abs == 6);
    feed(be[1], z, z, 5, 0, &c);
    CHECK(c.cosine == 1 && c.rel_err == 0);
    feed(be[1], a, z, 5, 0, &c);
    CHECK(c.cosine == 0 && isinf(c.rel_err));
    feed(be[1], z, a, 5, 0, &c);
    CHECK(c.cosine == 0 && c.rel_err == 1);
    ck_error err;
    CHECK(be[0]->ops->compare(be[0], a, a, 5, &c, &err) == -1 && err.code == CK_E_USAGE); /* finished */
    CHECK(be[0]->ops->supports(be[0], CK_OP_COMPARE, CK_F32) && !be[0]->ops->supports(be[0], CK_OP_COMPARE, CK_BF16));
}

/* ---- pair permutes ---- */

/* Copy bits [bit_src, +nbits) of s to [bit_dst, ...) of d (nbits a multiple of 4, bit offsets too). */
static void copy_bits(const uint8_t *s, uint64_t bs, uint8_t *d, uint64_t bd, uint64_t nbits)
{
    if (bs % 8 == 0 && bd % 8 == 0 && nbits % 8 == 0) {
        memcpy(d + bd / 8, s + bs / 8, nbits / 8);
        return;
    }
    for (uint64_t k = 0; k < nbits; k += 4) {
        unsigned v = (s[(bs + k) / 8] >> ((bs + k) % 8)) & 0xF;
        uint8_t *p = d + (bd + k) / 8;
        *p = (uint8_t)((*p & ~(0xF << ((bd + k) % 8))) | v << ((bd + k) % 8));
    }
}

/* The definition, row by row: SPLIT dst[o][k] = src[o][2k], dst[o][n/2+k] = src[o][2k+1]. */
static void pairs_ref(unsigned bits, const uint8_t *src, uint8_t *dst, uint64_t outer, uint64_t n, uint64_t inner,
                      ck_pairs_dir dir)
{
    uint64_t rbits = inner * bits, h = n / 2;
    for (uint64_t o = 0; o < outer; o++)
        for (uint64_t k = 0; k < h; k++)
            for (int p = 0; p < 2; p++) {
                uint64_t inter = o * n + 2 * k + p, halves = o * n + p * h + k;
                if (dir == CK_PAIRS_SPLIT) copy_bits(src, inter * rbits, dst, halves * rbits, rbits);
                else copy_bits(src, halves * rbits, dst, inter * rbits, rbits);
            }
}

static void test_permute_pairs(void)
{
    static const ck_dtype dts[] = {CK_U8, CK_BF16, CK_F32, CK_I64, CK_F8_E4M3, CK_F4};
    int bad = 0;
    for (size_t di = 0; di < sizeof dts / sizeof *dts; di++) {
        ck_dtype d = dts[di];
        unsigned bits = ck_dtype_info(d)->bits;
        CHECK(be[0]->ops->supports(be[0], CK_OP_PERMUTE_PAIRS, d));
        for (int it = 0; it < 40; it++) {
            uint64_t outer = 1 + rnd_upto(it < 10 ? 3 : 9), n = 2 * (1 + rnd_upto(it < 10 ? 3 : 90));
            uint64_t inner = it % 3 == 0 ? 1 : 1 + rnd_upto(it % 3 == 1 ? 5 : 300);
            if (it == 20) n = 2 * 40000, inner = 1, outer = 2;            /* several tasks per slice */
            if (bits == 4 && inner % 2) inner++;
            uint64_t bytes = outer * n * inner * bits / 8;
            size_t off = it % 4 == 3 ? 1 : 0;                            /* unaligned buffers */
            uint8_t *src = malloc(bytes + 1), *ref = malloc(bytes + 1), *back = malloc(bytes + 1);
            void *outs[NT];
            for (int t = 0; t < NT; t++) outs[t] = malloc(bytes + 1);
            fill_bytes(src + off, bytes);
            for (int dir = 0; dir < 2; dir++) {
                memset(ref, 0, bytes + 1);
                pairs_ref(bits, src + off, ref, outer, n, inner, (ck_pairs_dir)dir);
                for (int t = 0; t < NT; t++) {
                    ck_error err;
                    memset(outs[t], 0xA5, bytes + 1);
                    if (be[t]->ops->permute_pairs(be[t], d, src + off, (uint8_t *)outs[t] + off, outer, n, inner,
                                                  (ck_pairs_dir)dir, &err))
                        bad++;
                    memmove(outs[t], (uint8_t *)outs[t] + off, bytes);
                }
                if (!same_bytes_all(ref, outs, bytes)) {
                    fprintf(stderr, "  permute %s [%llu,%llu,%llu] dir %d differs\n", ck_dtype_name(d),
                            (unsigned long long)outer, (unsigned long long)n, (unsigned long long)inner, dir);
                    bad++;
                }
                /* round trip: the other direction undoes it */
                ck_error err;
                be[1]->ops->permute_pairs(be[1], d, outs[0], back, outer, n, inner, (ck_pairs_dir)!dir, &err);
                if (memcmp(back, src + off, bytes)) bad++;
            }
            free(src), free(ref), free(back);
            for (int t = 0; t < NT; t++) free(outs[t]);
        }
    }
    CHECK(bad == 0);
    ck_error err;
    uint8_t b[8] = {0}, o[8];
    CHECK(be[0]->ops->permute_pairs(be[0], CK_U8, b, o, 1, 3, 1, CK_PAIRS_SPLIT, &err) == -1 && err.code == CK_E_USAGE);
    CHECK(be[0]->ops->permute_pairs(be[0], CK_F4, b, o, 1, 2, 1, CK_PAIRS_SPLIT, &err) == -1 && err.code == CK_E_USAGE);
}

/* layouts.md 3.4, literally: HF row h*d + p*(d/2) + i = Meta row h*d + 2i + p. */
static void test_rope_permute(void)
{
    int bad = 0;
    for (int it = 0; it < 12; it++) {
        uint64_t heads = 1 + rnd_upto(6), d = 2 * (1 + rnd_upto(40)), cols = it == 0 ? 1 : 1 + rnd_upto(50);
        uint64_t rows = heads * d;
        uint16_t *meta = malloc(rows * cols * 2), *hf = malloc(rows * cols * 2), *back = malloc(rows * cols * 2);
        fill_bytes(meta, rows * cols * 2);
        ck_error err;
        CHECK(ck_rope_permute(be[2], CK_BF16, meta, hf, heads, d, cols, CK_ROPE_META_TO_HF, &err) == 0);
        for (uint64_t h = 0; h < heads; h++)
            for (uint64_t p = 0; p < 2; p++)
                for (uint64_t i = 0; i < d / 2; i++)
                    if (memcmp(hf + (h * d + p * (d / 2) + i) * cols, meta + (h * d + 2 * i + p) * cols, cols * 2)) bad++;
        CHECK(ck_rope_permute(be[3], CK_BF16, hf, back, heads, d, cols, CK_ROPE_HF_TO_META, &err) == 0);
        if (memcmp(back, meta, rows * cols * 2)) bad++;
        free(meta), free(hf), free(back);
    }
    CHECK(bad == 0);
    ck_error err;
    uint16_t x[6];
    CHECK(ck_rope_permute(be[0], CK_BF16, x, x + 3, 1, 3, 1, CK_ROPE_META_TO_HF, &err) == -1 && err.code == CK_E_USAGE);
}

/* GPT-OSS: gate_up_proj [E, H, 2I] interleaved along the last dim (even = gate); dequantized
 * blocks [E, 2I, H] interleaved along dim 1. */
static void test_gate_up_permute(void)
{
    int bad = 0;
    uint64_t E = 3, H = 5, I = 7;
    uint64_t sh_last[3] = {E, H, 2 * I}, sh_mid[3] = {E, 2 * I, H};
    float *src = malloc(E * H * 2 * I * 4), *cat = malloc(E * H * 2 * I * 4), *back = malloc(E * H * 2 * I * 4);
    for (uint64_t i = 0; i < E * H * 2 * I; i++) src[i] = (float)i;
    ck_error err;
    CHECK(ck_gate_up_permute(be[1], CK_F32, src, cat, sh_last, 3, 2, true, &err) == 0);
    for (uint64_t e = 0; e < E; e++)
        for (uint64_t h = 0; h < H; h++)
            for (uint64_t k = 0; k < I; k++) {
                const float *s = src + (e * H + h) * 2 * I, *c = cat + (e * H + h) * 2 * I;
                bad += c[k] != s[2 * k] || c[I + k] != s[2 * k + 1];
            }
    CHECK(ck_gate_up_permute(be[2], CK_F32, cat, back, sh_last, 3, 2, false, &err) == 0);
    bad += memcmp(back, src, E * H * 2 * I * 4) != 0;
    CHECK(ck_gate_up_permute(be[1], CK_F32, src, cat, sh_mid, 3, 1, true, &err) == 0);
    for (uint64_t e = 0; e < E; e++)
        for (uint64_t k = 0; k < I; k++)
            for (uint64_t h = 0; h < H; h++) {
                const float *s = src + e * 2 * I * H, *c = cat + e * 2 * I * H;
                bad += c[k * H + h] != s[2 * k * H + h] || c[(I + k) * H + h] != s[(2 * k + 1) * H + h];
            }
    CHECK(ck_gate_up_permute(be[1], CK_F32, src, cat, sh_mid, 3, 3, true, &err) == -1 && err.code == CK_E_USAGE);
    CHECK(bad == 0);
    free(src), free(cat), free(back);
}

/* ---- quantization ---- */

static const float e2m1_mag[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};

/* Nearest E2M1 code of v (a double, exact), ties to the even code, saturating at 6. */
static uint8_t ref_e2m1(double v)
{
    uint8_t sign = signbit(v) ? 8 : 0;
    double a = fabs(v);
    int best = 0;
    for (int c = 1; c < 8; c++) {
        double dc = fabs(a - e2m1_mag[c]), db = fabs(a - e2m1_mag[best]);
        if (dc < db || (dc == db && c % 2 == 0)) best = c;
    }
    return (uint8_t)(sign | best);
}

/* ceil(log2(d)) for d > 0, exactly. */
static int ceil_log2(double d)
{
    int e;
    double m = frexp(d, &e); /* d = m * 2^e, m in [0.5, 1) */
    return m == 0.5 ? e - 1 : e;
}

static void test_quant_mxfp4(void)
{
    int bad = 0;
    for (int it = 0; it < 40; it++) {
        uint64_t rows = 1 + rnd_upto(it < 10 ? 3 : 40), cols = 2 * (1 + rnd_upto(it < 10 ? 20 : 200));
        if (it == 39) rows = 300, cols = 2880; /* several tasks */
        uint64_t nblk = (cols + 31) / 32, n = rows * cols;
        float *x = malloc(n * 4), *deq = malloc(n * 4);
        uint8_t *rc = calloc(1, n / 2), *rs = malloc(rows * nblk);
        void *codes[NT], *scales[NT];
        fill_weights(x, n);
        if (it == 5) x[1] = NAN, x[2] = INFINITY;
        if (it == 6) x[0] = FLT_MAX, x[1] = -FLT_MAX;
        if (it == 7) x[0] = 1e-44f, x[1] = 0x1p-130f; /* subnormal amax */
        /* reference: ModelOpt's rule with an exact ceil(log2(amax / 6)) */
        for (uint64_t r = 0; r < rows; r++)
            for (uint64_t b = 0; b < nblk; b++) {
                uint64_t c0 = b * 32, c1 = c0 + 32 < cols ? c0 + 32 : cols;
                float amax = 0;
                int has_nan = 0;
                for (uint64_t c = c0; c < c1; c++) {
                    float v = x[r * cols + c];
                    if (isnan(v)) has_nan = 1;
                    else if (isfinite(v) && fabsf(v) > amax) amax = fabsf(v);
                }
                float d = amax / 6.0f;
                int e = d > 0 ? ceil_log2(d) : -127;
                if (e < -127) e = -127;
                rs[r * nblk + b] = has_nan ? 0xFF : (uint8_t)(e + 127);
                for (uint64_t c = c0; c < c1; c++) {
                    double v = ldexp((double)x[r * cols + c], -e);
                    uint8_t q = isnan(x[r * cols + c]) ? 7 : ref_e2m1(isinf(v) ? copysign(7.0, v) : v);
                    rc[(r * cols + c) / 2] |= (uint8_t)(q << (c % 2 * 4));
                }
            }
        for (int t = 0; t < NT; t++) {
            ck_error err;
            codes[t] = malloc(n / 2);
            scales[t] = malloc(rows * nblk);
            if (be[t]->ops->quant_mxfp4(be[t], x, codes[t], scales[t], rows, cols, &err)) bad++;
        }
        if (!same_bytes_all(rc, codes, n / 2) || !same_bytes_all(rs, scales, rows * nblk)) {
            fprintf(stderr, "  quant MXFP4 [%llu,%llu] (it %d) differs from the reference\n", (unsigned long long)rows,
                    (unsigned long long)cols, it);
            bad++;
        }
        /* dequant(quant(x)) is the nearest grid point: within half a step of the block's grid */
        ck_error err;
        be[1]->ops->dequant_mxfp4(be[1], codes[0], scales[0], deq, rows, cols, &err);
        for (uint64_t r = 0; r < rows && it != 5; r++)
            for (uint64_t c = 0; c < cols; c++) {
                double s = ldexp(1.0, rs[r * nblk + c / 32] - 127), v = x[r * cols + c] / s, a = fabs(v);
                double half_step = a < 2 ? 0.25 : a < 4 ? 0.5 : 1.0, err_q = fabs(x[r * cols + c] - (double)deq[r * cols + c]);
                if (isinf(deq[r * cols + c]) && fabsf(x[r * cols + c]) > 0x1.cp127f) continue; /* 4 * 2^126 overflows f32 */
                if (!(err_q <= half_step * s)) bad++;
            }
        for (int t = 0; t < NT; t++) free(codes[t]), free(scales[t]);
        free(x), free(deq), free(rc), free(rs);
    }
    CHECK(bad == 0);
}

static void test_quant_mxfp4_roundtrip(void)
{
    /* quantize(dequantize(codes, scales)) == (codes, scales) when every block holds a +-6 and the
     * values are f32-representable (scale bytes 0..252) */
    int bad = 0;
    for (int it = 0; it < 30; it++) {
        uint64_t rows = 1 + rnd_upto(20), cols = 2 * (1 + rnd_upto(150)), nblk = (cols + 31) / 32, n = rows * cols;
        uint8_t *q = malloc(n / 2), *s = malloc(rows * nblk), *q2 = malloc(n / 2), *s2 = malloc(rows * nblk);
        float *x = malloc(n * 4);
        fill_bytes(q, n / 2);
        for (uint64_t r = 0; r < rows; r++)
            for (uint64_t b = 0; b < nblk; b++) {
                s[r * nblk + b] = (uint8_t)(it == 0 ? b % 2 * 252 : rnd_upto(253));
                uint64_t c = b * 32 + rnd_upto(cols - b * 32 < 32 ? cols - b * 32 : 32), i = r * cols + c;
                q[i / 2] = (uint8_t)((q[i / 2] & ~(0xF << (i % 2 * 4))) | (rnd() % 2 ? 0x7 : 0xF) << (i % 2 * 4));
            }
        ck_error err;
        be[0]->ops->dequant_mxfp4(be[0], q, s, x, rows, cols, &err);
        be[2]->ops->quant_mxfp4(be[2], x, q2, s2, rows, cols, &err);
        bad += memcmp(q, q2, n / 2) != 0 || memcmp(s, s2, rows * nblk) != 0;
        free(q), free(s), free(q2), free(s2), free(x);
    }
    CHECK(bad == 0);
}

static void test_quant_nvfp4(void)
{
    int bad = 0;
    for (int it = 0; it < 40; it++) {
        uint64_t rows = 1 + rnd_upto(it < 10 ? 3 : 40), cols = 2 * (1 + rnd_upto(it < 10 ? 20 : 200));
        if (it == 39) rows = 300, cols = 2048;
        uint64_t nblk = (cols + 15) / 16, n = rows * cols;
        float *x = malloc(n * 4), *deq = malloc(n * 4);
        uint8_t *rc = calloc(1, n / 2), *rs = malloc(rows * nblk);
        fill_weights(x, n);
        if (it == 5) x[1] = NAN, x[2] = -INFINITY;
        if (it == 8)
            for (uint64_t i = 0; i < n; i++) x[i] = 0; /* all zero: global 1, scales 1 */
        float amax = 0;
        for (uint64_t i = 0; i < n; i++)
            if (isfinite(x[i]) && fabsf(x[i]) > amax) amax = fabsf(x[i]);
        float g = amax / 2688.0f;
        if (g == 0) g = 1;
        if (it % 4 == 1) g = (float)ldexp(1.0 + rnd_unit(), (int)rnd_upto(20) - 20); /* a given (shared) global */
        /* reference (ModelOpt): S = e4m3(clamp(bamax / (6 g), 2^-9, 448)), zero -> 1; q = e2m1(x / (S g)) */
        for (uint64_t r = 0; r < rows; r++)
            for (uint64_t b = 0; b < nblk; b++) {
                uint64_t c0 = b * 16, c1 = c0 + 16 < cols ? c0 + 16 : cols;
                float bmax = 0;
                int has_nan = 0;
                for (uint64_t c = c0; c < c1; c++) {
                    float v = x[r * cols + c];
                    if (isnan(v)) has_nan = 1;
                    else if (isfinite(v) && fabsf(v) > bmax) bmax = fabsf(v);
                }
                float sf = bmax / (6.0f * g);
                if (sf == 0) sf = 1;
                sf = fminf(fmaxf(sf, 0x1p-9f), 448.0f);
                uint8_t sc = ck_f32_to_e4m3(sf);
                rs[r * nblk + b] = has_nan ? 0x7F : sc;
                float div = ck_e4m3_to_f32(sc) * g;
                for (uint64_t c = c0; c < c1; c++) {
                    float v = x[r * cols + c] / div;
                    uint8_t q = isnan(v) ? 7 : ref_e2m1(isinf(v) ? copysign(7.0, v) : v);
                    rc[(r * cols + c) / 2] |= (uint8_t)(q << (c % 2 * 4));
                }
            }
        void *codes[NT], *scales[NT];
        for (int t = 0; t < NT; t++) {
            ck_error err;
            codes[t] = malloc(n / 2);
            scales[t] = malloc(rows * nblk);
            float gg = it % 4 == 1 ? g : 0;
            if (be[t]->ops->quant_nvfp4(be[t], x, codes[t], scales[t], &gg, rows, cols, &err) || gg != g) bad++;
        }
        if (!same_bytes_all(rc, codes, n / 2) || !same_bytes_all(rs, scales, rows * nblk)) {
            fprintf(stderr, "  quant NVFP4 [%llu,%llu] (it %d) differs from the reference\n", (unsigned long long)rows,
                    (unsigned long long)cols, it);
            bad++;
        }
        /* dequantized: the nearest point of the block's grid (E2M1 * S * g) up to f32 rounding */
        ck_error err;
        be[1]->ops->dequant_nvfp4(be[1], codes[0], scales[0], g, deq, rows, cols, &err);
        for (uint64_t i = 0; i < n && it != 5; i++) {
            double sg = (double)ck_e4m3_to_f32(((uint8_t *)scales[0])[i / cols * nblk + i % cols / 16]) * g;
            double best = INFINITY;
            for (int c = 0; c < 16; c++) best = fmin(best, fabs(x[i] - (double)e2m1_mag[c % 8] * (c < 8 ? 1 : -1) * sg));
            if (!(fabs(x[i] - (double)deq[i]) <= best * (1 + 1e-6) + 1e-6 * sg)) bad++;
        }
        for (int t = 0; t < NT; t++) free(codes[t]), free(scales[t]);
        free(x), free(deq), free(rc), free(rs);
    }
    CHECK(bad == 0);
    ck_error err;
    float x[2] = {1, 2}, g = -1;
    uint8_t c, s;
    CHECK(be[0]->ops->quant_nvfp4(be[0], x, &c, &s, &g, 1, 2, &err) == -1 && err.code == CK_E_USAGE);
}

static void test_quant_nvfp4_roundtrip(void)
{
    int bad = 0;
    for (int it = 0; it < 30; it++) {
        uint64_t rows = 1 + rnd_upto(20), cols = 2 * (1 + rnd_upto(150)), nblk = (cols + 15) / 16, n = rows * cols;
        uint8_t *q = malloc(n / 2), *s = malloc(rows * nblk), *q2 = malloc(n / 2), *s2 = malloc(rows * nblk);
        float *x = malloc(n * 4);
        float g = (float)ldexp(1.0 + rnd_unit(), (int)rnd_upto(16) - 14);
        fill_bytes(q, n / 2);
        for (uint64_t r = 0; r < rows; r++)
            for (uint64_t b = 0; b < nblk; b++) {
                s[r * nblk + b] = (uint8_t)(0x08 + rnd_upto(0x7F - 0x08)); /* positive normal E4M3 */
                uint64_t c = b * 16 + rnd_upto(cols - b * 16 < 16 ? cols - b * 16 : 16), i = r * cols + c;
                q[i / 2] = (uint8_t)((q[i / 2] & ~(0xF << (i % 2 * 4))) | (rnd() % 2 ? 0x7 : 0xF) << (i % 2 * 4));
            }
        ck_error err;
        be[0]->ops->dequant_nvfp4(be[0], q, s, g, x, rows, cols, &err);
        float gg = g;
        be[3]->ops->quant_nvfp4(be[3], x, q2, s2, &gg, rows, cols, &err);
        bad += memcmp(q, q2, n / 2) != 0 || memcmp(s, s2, rows * nblk) != 0;
        free(q), free(s), free(q2), free(s2), free(x);
    }
    CHECK(bad == 0);
}

static void test_quant_fp8(void)
{
    int bad = 0;
    for (int it = 0; it < 40; it++) {
        ck_dtype d = it % 2 ? CK_F8_E5M2 : CK_F8_E4M3;
        float fmx = d == CK_F8_E4M3 ? 448.0f : 57344.0f;
        uint64_t rows = 1 + rnd_upto(it < 8 ? 4 : 300), cols = 1 + rnd_upto(it < 8 ? 4 : 300);
        uint64_t br = it % 3 == 0 ? rows : 128, bc = it % 3 == 0 ? cols : 128;
        if (it % 5 == 1) br = 1 + rnd_upto(7), bc = 1 + rnd_upto(7);
        uint64_t nbr = (rows + br - 1) / br, nbc = (cols + bc - 1) / bc, n = rows * cols;
        float *x = malloc(n * 4), *rsc = malloc(nbr * nbc * 4), *deq = malloc(n * 4);
        uint8_t *rq = malloc(n);
        fill_weights(x, n);
        if (it == 4) x[0] = NAN, x[n - 1] = INFINITY;
        for (uint64_t b = 0; b < nbr * nbc; b++) {
            float m = 0;
            for (uint64_t r = b / nbc * br; r < rows && r < (b / nbc + 1) * br; r++)
                for (uint64_t c = b % nbc * bc; c < cols && c < (b % nbc + 1) * bc; c++)
                    if (isfinite(x[r * cols + c]) && fabsf(x[r * cols + c]) > m) m = fabsf(x[r * cols + c]);
            rsc[b] = m / fmx > 0 ? m / fmx : 1.0f;
        }
        for (uint64_t i = 0; i < n; i++) {
            float v = x[i] / rsc[i / cols / br * nbc + i % cols / bc];
            v = v > fmx ? fmx : v < -fmx ? -fmx : v;
            rq[i] = d == CK_F8_E4M3 ? ck_f32_to_e4m3(v) : ck_f32_to_e5m2(v);
        }
        void *codes[NT], *scales[NT];
        for (int t = 0; t < NT; t++) {
            ck_error err;
            codes[t] = malloc(n);
            scales[t] = malloc(nbr * nbc * 4);
            if (be[t]->ops->quant_fp8(be[t], d, x, codes[t], scales[t], rows, cols, br, bc, true, &err)) bad++;
        }
        if (!same_bytes_all(rq, codes, n) || !same_bytes_all(rsc, scales, nbr * nbc * 4)) {
            fprintf(stderr, "  quant %s [%llu,%llu] blocks %llux%llu differs\n", ck_dtype_name(d), (unsigned long long)rows,
                    (unsigned long long)cols, (unsigned long long)br, (unsigned long long)bc);
            bad++;
        }
        /* given scales are used as given */
        uint8_t *q2 = malloc(n);
        ck_error err;
        if (be[2]->ops->quant_fp8(be[2], d, x, q2, rsc, rows, cols, br, bc, false, &err) || memcmp(q2, rq, n)) bad++;
        /* error bound: half a step of the format (relative 2^-4 for E4M3, 2^-3 for E5M2) above the
         * smallest normal, half the subnormal step below it */
        be[1]->ops->dequant_fp8(be[1], d, codes[0], scales[0], deq, 0, rows, cols, br, bc, &err);
        double rel = d == CK_F8_E4M3 ? 0x1p-4 : 0x1p-3, sub = d == CK_F8_E4M3 ? 0x1p-10 : 0x1p-17;
        for (uint64_t i = 0; i < n && it != 4; i++) {
            double s = rsc[i / cols / br * nbc + i % cols / bc];
            if (!(fabs(x[i] - (double)deq[i]) <= fmax(rel * fabs(x[i]), sub * s) * (1 + 1e-6))) bad++;
        }
        for (int t = 0; t < NT; t++) free(codes[t]), free(scales[t]);
        free(x), free(rsc), free(deq), free(rq), free(q2);
    }
    CHECK(bad == 0);
    ck_error err;
    float x = 1, s;
    uint8_t q;
    CHECK(be[0]->ops->quant_fp8(be[0], CK_BF16, &x, &q, &s, 1, 1, 1, 1, true, &err) == -1 && err.code == CK_E_UNSUPPORTED);
    CHECK(be[0]->ops->quant_fp8(be[0], CK_F8_E4M3, &x, &q, &s, 1, 1, 0, 1, true, &err) == -1 && err.code == CK_E_USAGE);
}

static void test_quant_fp8_roundtrip(void)
{
    /* codes (no NaN/Inf) with a +-max code in every block and scales of 16 significant bits (so
     * amax = max * scale and amax / max are exact): quantize(dequantize) gives them back */
    int bad = 0;
    for (int it = 0; it < 30; it++) {
        ck_dtype d = it % 2 ? CK_F8_E5M2 : CK_F8_E4M3;
        uint8_t top = d == CK_F8_E4M3 ? 0x7E : 0x7B;
        uint64_t rows = 1 + rnd_upto(200), cols = 1 + rnd_upto(200), br = it % 3 ? 128 : rows, bc = it % 3 ? 128 : cols;
        uint64_t nbr = (rows + br - 1) / br, nbc = (cols + bc - 1) / bc, n = rows * cols;
        uint8_t *q = malloc(n), *q2 = malloc(n);
        float *s = malloc(nbr * nbc * 4), *s2 = malloc(nbr * nbc * 4), *x = malloc(n * 4);
        for (uint64_t i = 0; i < n; i++) {
            uint8_t c = (uint8_t)rnd();
            q[i] = (c & 0x7F) > top ? (uint8_t)(c & 0x80) : c;
        }
        for (uint64_t b = 0; b < nbr * nbc; b++) {
            s[b] = (float)ldexp((double)(0x8000 + rnd_upto(0x8000)), (int)rnd_upto(30) - 50);
            uint64_t r = b / nbc * br + rnd_upto(b / nbc * br + br <= rows ? br : rows - b / nbc * br);
            uint64_t c = b % nbc * bc + rnd_upto(b % nbc * bc + bc <= cols ? bc : cols - b % nbc * bc);
            q[r * cols + c] = (uint8_t)(top | (rnd() % 2 ? 0x80 : 0));
        }
        ck_error err;
        be[0]->ops->dequant_fp8(be[0], d, q, s, x, 0, rows, cols, br, bc, &err);
        be[3]->ops->quant_fp8(be[3], d, x, q2, s2, rows, cols, br, bc, true, &err);
        bad += memcmp(q, q2, n) != 0 || memcmp(s, s2, nbr * nbc * 4) != 0;
        free(q), free(q2), free(s), free(s2), free(x);
    }
    CHECK(bad == 0);
}

/* ---- matrix product ---- */

static void test_matmul(void)
{
    static const uint64_t shapes[][3] = {{1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {64, 64, 64}, {65, 33, 17},
                                         {200, 130, 96}, {3, 4, 0}, {0, 4, 5}};
    int bad = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        uint64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = malloc(m * k * 4 + 4), *b = malloc(n * k * 4 + 4);
        void *c[NT];
        for (uint64_t i = 0; i < m * k; i++) a[i] = rnd_normalish();
        for (uint64_t i = 0; i < n * k; i++) b[i] = rnd_normalish();
        for (int t = 0; t < NT; t++) {
            ck_error err;
            c[t] = malloc(m * n * 4 + 4);
            memset(c[t], 0x7F, m * n * 4);
            if (be[t]->ops->matmul(be[t], a, b, c[t], m, n, k, &err)) bad++;
        }
        for (uint64_t i = 0; i < m; i++)
            for (uint64_t j = 0; j < n; j++) {
                double ref = 0, mag = 0;
                for (uint64_t l = 0; l < k; l++) {
                    ref += (double)a[i * k + l] * b[j * k + l];
                    mag += fabs((double)a[i * k + l] * b[j * k + l]);
                }
                if (!(fabs(((float *)c[0])[i * n + j] - ref) <= 1e-6 * mag + 1e-30)) bad++;
            }
        if (!same_bytes_all(c[0], c, m * n * 4)) bad++;
        for (int t = 0; t < NT; t++) free(c[t]);
        free(a), free(b);
    }
    CHECK(bad == 0);
    CHECK(be[0]->ops->supports(be[0], CK_OP_MATMUL, CK_F32));
}

int main(void)
{
    rng = 0x452821E638D01377ull;
    ck_error err;
    for (int t = 0; t < NT; t++) {
        be[t] = ck_backend_cpu_create(thread_counts[t], &err);
        if (!be[t]) { fprintf(stderr, "cannot create the CPU back end: %s\n", err.msg); return 1; }
    }
    RUN_TEST("ops", test_compare);
    RUN_TEST("ops", test_permute_pairs);
    RUN_TEST("ops", test_rope_permute);
    RUN_TEST("ops", test_gate_up_permute);
    RUN_TEST("ops", test_quant_mxfp4);
    RUN_TEST("ops", test_quant_mxfp4_roundtrip);
    RUN_TEST("ops", test_quant_nvfp4);
    RUN_TEST("ops", test_quant_nvfp4_roundtrip);
    RUN_TEST("ops", test_quant_fp8);
    RUN_TEST("ops", test_quant_fp8_roundtrip);
    RUN_TEST("ops", test_matmul);
    for (int t = 0; t < NT; t++) ck_backend_destroy(be[t]);
    TEST_EXIT();
}
