/* The CPU back end against scalar references, on random shapes (odd, tiny, 1x1 included) and
 * random values (all bit patterns of the narrow types, so NaN, Inf and subnormals too), with
 * 1, 2, 3 and 7 threads: every result must be bit-identical across thread counts. The element
 * codecs themselves are tested exhaustively in test_codec. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "kernels/backend.h"
#include "kernels/codec.h"
#include "kernels/cpu/cpu.h"
#include "kernels/hash.h"
#include "tests/check.h"
#include "tests/unit/kernel_test.h"


static float rnd_value(void)
{
    switch (rnd() % 4) { /* a mix of raw bit patterns and values around the narrow types' ranges */
    case 0: return ck_bits_f32((uint32_t)rnd());
    case 1: return (float)ldexp((double)(rnd() % 100000) / 100000.0, (int)(rnd() % 40) - 24) * (rnd() & 1 ? -1 : 1);
    case 2: return (float)((double)(rnd() % 2001) - 1000.0) / 16.0f;
    default: return (float)ldexp(1.0, (int)(rnd() % 40) - 20);
    }
}

static void fill_random(ck_dtype d, void *buf, uint64_t n)
{
    unsigned bits = ck_dtype_info(d)->bits;
    uint8_t *p = buf;
    if (d == CK_F32) {
        for (uint64_t i = 0; i < n; i++) ((float *)buf)[i] = rnd_value();
        return;
    }
    for (uint64_t i = 0; i < (n * bits + 7) / 8; i++) p[i] = (uint8_t)rnd();
}

/* ---- transpose ---- */

static unsigned get_elem_bits(const uint8_t *p, unsigned bits, uint64_t i, uint8_t out[8])
{
    if (bits == 4) {
        out[0] = (p[i / 2] >> (i % 2 * 4)) & 0xF;
        return 1;
    }
    memcpy(out, p + i * (bits / 8), bits / 8);
    return bits / 8;
}

static int transpose_case(ck_dtype d, uint64_t B, uint64_t R, uint64_t C)
{
    unsigned bits = ck_dtype_info(d)->bits;
    uint64_t n = B * R * C, bytes = (n * bits + 7) / 8;
    /* the output cache-line aligned, as ckdoc allocates its own (large ones are stored past the
     * caches only then) */
    uint8_t *src = malloc(bytes + 1), *ref = calloc(1, bytes + 1), *out = aligned_alloc(64, (bytes + 64) / 64 * 64);
    fill_random(d, src, n);
    for (uint64_t b = 0; b < B; b++)
        for (uint64_t r = 0; r < R; r++)
            for (uint64_t c = 0; c < C; c++) {
                uint8_t e[8];
                unsigned k = get_elem_bits(src, bits, b * R * C + r * C + c, e);
                uint64_t o = b * R * C + c * R + r;
                if (bits == 4) ref[o / 2] |= (uint8_t)(e[0] << (o % 2 * 4));
                else memcpy(ref + o * k, e, k);
            }
    int ok = 1;
    for (int t = 0; t < NT; t++) {
        memset(out, 0xA5, bytes);
        ck_error err;
        if (be[t]->ops->transpose(be[t], d, src, out, B, R, C, &err) != 0 || memcmp(out, ref, bytes) != 0) {
            fprintf(stderr, "  transpose %s [%llu,%llu,%llu] threads=%d differs\n", ck_dtype_name(d),
                    (unsigned long long)B, (unsigned long long)R, (unsigned long long)C, thread_counts[t]);
            ok = 0;
        }
    }
    free(src);
    free(ref);
    free(out);
    return ok;
}

static void test_transpose(void)
{
    static const ck_dtype dts[] = {CK_U8, CK_BF16, CK_F32, CK_I64, CK_F4};
    static const uint64_t fixed[][3] = {{1, 1, 1}, {1, 1, 2}, {1, 2, 1}, {3, 1, 1}, {1, 32, 32}, {1, 33, 31},
                                        {2, 64, 260}, {1, 257, 3}, {5, 7, 9}, {1, 300, 301}, {1, 2, 4096},
                                        /* whole blocks and tiles with edges (F4: 128+ even rows) */
                                        {1, 130, 258}, {2, 192, 140}, {1, 128, 128}, {1, 600, 530},
                                        /* outputs of 4 MiB and more: stored past the caches from
                                         * BF16 up (with a 4 KiB row stride for BF16 in the second) */
                                        {2, 1024, 1040}, {1, 2048, 1024}};
    int bad = 0;
    for (size_t k = 0; k < sizeof dts / sizeof *dts; k++) {
        ck_dtype d = dts[k];
        CHECK(be[0]->ops->supports(be[0], CK_OP_TRANSPOSE, d));
        for (size_t s = 0; s < sizeof fixed / sizeof *fixed; s++) {
            uint64_t B = fixed[s][0], R = fixed[s][1], C = fixed[s][2];
            if (d == CK_F4 && B * R * C % 2) C++;
            bad += !transpose_case(d, B, R, C);
        }
        for (int i = 0; i < 25; i++) {
            uint64_t B = 1 + rnd_upto(3), R = 1 + rnd_upto(i < 12 ? 9 : 150), C = 1 + rnd_upto(i < 12 ? 9 : 150);
            if (d == CK_F4 && B * R * C % 2) R++;
            bad += !transpose_case(d, B, R, C);
        }
    }
    /* 8- and 4-bit outputs of 4 MiB with rows a multiple of a cache line: the wide kernels store
     * whole lines past the caches (on CPUs that have them); power-of-two sides */
    bad += !transpose_case(CK_U8, 1, 2048, 2048);
    bad += !transpose_case(CK_F4, 1, 4096, 2048);
    CHECK(bad == 0);
    /* refused: odd element count for packed F4 */
    uint8_t one = 0, out = 0;
    ck_error err;
    CHECK(be[0]->ops->transpose(be[0], CK_F4, &one, &out, 1, 1, 1, &err) == -1 && err.code == CK_E_USAGE);
}

/* ---- cast ---- */

static const ck_dtype cast_types[] = {CK_F32, CK_F16, CK_BF16, CK_F8_E4M3, CK_F8_E5M2};

static float ref_decode(ck_dtype d, const uint8_t *p, uint64_t i)
{
    uint16_t h;
    float f;
    if (d == CK_F32) { memcpy(&f, p + 4 * i, 4); return f; }
    if (d == CK_F8_E4M3) return ck_e4m3_to_f32(p[i]);
    if (d == CK_F8_E5M2) return ck_e5m2_to_f32(p[i]);
    memcpy(&h, p + 2 * i, 2);
    return d == CK_F16 ? ck_f16_to_f32(h) : ck_bf16_to_f32(h);
}

static void ref_encode(ck_dtype d, uint8_t *p, uint64_t i, float f)
{
    uint16_t h;
    if (d == CK_F32) { memcpy(p + 4 * i, &f, 4); return; }
    if (d == CK_F8_E4M3) { p[i] = ck_f32_to_e4m3(f); return; }
    if (d == CK_F8_E5M2) { p[i] = ck_f32_to_e5m2(f); return; }
    h = d == CK_F16 ? ck_f32_to_f16(f) : ck_f32_to_bf16(f);
    memcpy(p + 2 * i, &h, 2);
}

static void test_cast_every_pair(void)
{
    static const uint64_t sizes[] = {0, 1, 7, 1023, 1025, 65537, 200003};
    int bad = 0;
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 5; b++) {
            ck_dtype from = cast_types[a], to = cast_types[b];
            CHECK(be[0]->ops->supports(be[0], CK_OP_CAST, from));
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
                uint64_t n = sizes[s];
                size_t sb = ck_dtype_info(from)->bits / 8, db = ck_dtype_info(to)->bits / 8;
                uint8_t *src = malloc(n * sb + 1), *ref = malloc(n * db + 1), *out = malloc(n * db + 1);
                fill_random(from, src, n);
                if (from == to) memcpy(ref, src, n * sb);
                else
                    for (uint64_t i = 0; i < n; i++) ref_encode(to, ref, i, ref_decode(from, src, i));
                for (int t = 0; t < NT; t++) {
                    ck_error err;
                    memset(out, 0x5A, n * db);
                    if (be[t]->ops->cast(be[t], from, src, to, out, n, &err) != 0 || memcmp(out, ref, n * db)) {
                        if (bad++ < 5)
                            fprintf(stderr, "  cast %s -> %s n=%llu threads=%d differs\n", ck_dtype_name(from),
                                    ck_dtype_name(to), (unsigned long long)n, thread_counts[t]);
                    }
                }
                free(src);
                free(ref);
                free(out);
            }
        }
    CHECK(bad == 0);
    ck_error err;
    float x = 1;
    CHECK(be[0]->ops->cast(be[0], CK_F32, &x, CK_I32, &x, 1, &err) == -1 && err.code == CK_E_UNSUPPORTED);
    CHECK(!be[0]->ops->supports(be[0], CK_OP_CAST, CK_I64));
}

/* ---- dequantization ---- */

static const float e2m1_table[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};

static int same_bits(const float *a, const float *b, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i])) continue;
        if (ck_f32_bits(a[i]) != ck_f32_bits(b[i])) return 0;
    }
    return 1;
}

static void test_dequant_fp4(void)
{
    int bad = 0;
    for (int it = 0; it < 40; it++) {
        uint64_t rows = 1 + rnd_upto(it < 10 ? 3 : 70), cols = 2 * (1 + rnd_upto(it < 10 ? 20 : 150));
        uint64_t nb32 = (cols + 31) / 32, nb16 = (cols + 15) / 16;
        uint8_t *q = malloc(rows * cols / 2), *s32 = malloc(rows * nb32), *s16 = malloc(rows * nb16);
        float *ref = malloc(rows * cols * 4), *out = malloc(rows * cols * 4);
        fill_random(CK_U8, q, rows * cols / 2);
        for (uint64_t i = 0; i < rows * nb32; i++) s32[i] = (uint8_t)(100 + rnd_upto(60)); /* plausible exponents */
        if (it == 3) s32[0] = 0xFF;                                                        /* NaN scale */
        fill_random(CK_U8, s16, rows * nb16);
        float g = rnd_value();
        /* MXFP4 */
        for (uint64_t r = 0; r < rows; r++)
            for (uint64_t c = 0; c < cols; c++) {
                unsigned code = (q[r * cols / 2 + c / 2] >> (c % 2 * 4)) & 0xF;
                uint8_t e = s32[r * nb32 + c / 32];
                float sc = e == 0xFF ? NAN : (float)ldexp(1.0, e - 127);
                ref[r * cols + c] = e2m1_table[code] * sc;
            }
        for (int t = 0; t < NT; t++) {
            ck_error err;
            if (be[t]->ops->dequant_mxfp4(be[t], q, s32, out, rows, cols, &err) || !same_bits(out, ref, rows * cols))
                bad++;
        }
        /* NVFP4 */
        for (uint64_t r = 0; r < rows; r++)
            for (uint64_t c = 0; c < cols; c++) {
                unsigned code = (q[r * cols / 2 + c / 2] >> (c % 2 * 4)) & 0xF;
                float v = e2m1_table[code] * ck_e4m3_to_f32(s16[r * nb16 + c / 16]);
                ref[r * cols + c] = v * g;
            }
        for (int t = 0; t < NT; t++) {
            ck_error err;
            if (be[t]->ops->dequant_nvfp4(be[t], q, s16, g, out, rows, cols, &err) || !same_bits(out, ref, rows * cols))
                bad++;
        }
        free(q);
        free(s32);
        free(s16);
        free(ref);
        free(out);
    }
    CHECK(bad == 0);
    ck_error err;
    uint8_t q = 0, s = 0;
    float o[3];
    CHECK(be[0]->ops->dequant_mxfp4(be[0], &q, &s, o, 1, 3, &err) == -1 && err.code == CK_E_USAGE);
}

static void test_dequant_fp8(void)
{
    int bad = 0;
    for (int it = 0; it < 30; it++) {
        ck_dtype d = it % 2 ? CK_F8_E5M2 : CK_F8_E4M3;
        uint64_t rows = 1 + rnd_upto(it < 8 ? 4 : 300), cols = 1 + rnd_upto(it < 8 ? 4 : 300);
        uint64_t br = it % 3 == 0 ? rows : 128, bc = it % 3 == 0 ? cols : 128; /* per-tensor or 128x128 */
        if (it % 5 == 1) { br = 1 + rnd_upto(7); bc = 1 + rnd_upto(7); }
        uint64_t nbr = (rows + br - 1) / br, nbc = (cols + bc - 1) / bc;
        uint8_t *q = malloc(rows * cols);
        float *sc = malloc(nbr * nbc * 4), *ref = malloc(rows * cols * 4), *out = malloc(rows * cols * 4);
        fill_random(CK_U8, q, rows * cols);
        for (uint64_t i = 0; i < nbr * nbc; i++) sc[i] = rnd_value();
        for (uint64_t r = 0; r < rows; r++)
            for (uint64_t c = 0; c < cols; c++)
                ref[r * cols + c] = (d == CK_F8_E4M3 ? ck_e4m3_to_f32(q[r * cols + c]) : ck_e5m2_to_f32(q[r * cols + c])) *
                                    sc[r / br * nbc + c / bc];
        for (int t = 0; t < NT; t++) {
            ck_error err;
            /* whole matrix, then in windows of random row counts (as `stats` streams it) */
            if (be[t]->ops->dequant_fp8(be[t], d, q, sc, out, 0, rows, cols, br, bc, &err) || !same_bits(out, ref, rows * cols))
                bad++;
            memset(out, 0, rows * cols * 4);
            for (uint64_t r0 = 0; r0 < rows;) {
                uint64_t k = 1 + rnd_upto(rows - r0);
                if (be[t]->ops->dequant_fp8(be[t], d, q + r0 * cols, sc, out + r0 * cols, r0, k, cols, br, bc, &err)) bad++;
                r0 += k;
            }
            if (!same_bits(out, ref, rows * cols)) bad++;
        }
        free(q);
        free(sc);
        free(ref);
        free(out);
    }
    CHECK(bad == 0);
}

/* ---- statistics ---- */

/* Feed n elements in one call (pieces 0), in random pieces of up to 20000 (1), of up to 300000
 * (2), or of up to 40 elements (3: most values go through the open chunk). Pass 2 is fed only
 * where ck_stats_wants_pass2 asks for it. */
static int run_stats(ck_backend *b, ck_dtype d, const uint8_t *src, uint64_t n, int pieces, bool hist, ck_stats *st)
{
    static const uint64_t most[] = {0, 20000, 300000, 40};
    size_t eb = ck_dtype_info(d)->bits / 8;
    ck_error err;
    ck_stats_init(st, hist);
    for (int pass = 1; pass <= 2; pass++) {
        if (pass == 2) ck_stats_begin_pass2(st);
        if (pass == 2 && !ck_stats_wants_pass2(st)) break;
        for (uint64_t i = 0; i < n || (n == 0 && i == 0);) {
            uint64_t k = pieces ? 1 + rnd_upto(n - i < most[pieces] ? n - i : most[pieces]) : n - i;
            if (n == 0) k = 0;
            if (b->ops->stats(b, d, src + i * eb, k, st, &err)) return -1;
            i += k;
            if (n == 0) break;
        }
    }
    ck_stats_finish(st);
    return 0;
}

static float stats_decode(ck_dtype d, const uint8_t *src, uint64_t i)
{
    uint16_t h;
    switch (d) {
    case CK_BOOL: case CK_U8: return (float)src[i];
    case CK_I8: return (float)(int8_t)src[i];
    case CK_F8_E8M0: return ck_e8m0_to_f32(src[i]);
    case CK_U16: memcpy(&h, src + 2 * i, 2); return (float)h;
    case CK_I16: memcpy(&h, src + 2 * i, 2); return (float)(int16_t)h;
    default: return ref_decode(d, src, i);
    }
}

/* The definition of kernels/stats.h, straight: the scalar chunk reduction over chunks counted
 * from the first element, merged in order. The back end must give the same bits. */
static void stats_definition(ck_dtype d, const float *x, uint64_t n, ck_stats *st)
{
    ck_stats_init(st, false);
    for (uint64_t c = 0; c < n; c += CK_STATS_CHUNK) {
        ck_chunk_moments m;
        unsigned k = (unsigned)(n - c < CK_STATS_CHUNK ? n - c : CK_STATS_CHUNK);
        if (ck_stats_dtype_exact(d)) {
            st->exact = true;
            ck_exact_sums e = {0, 0};
            ck_stats_sums_exact(x + c, k, &st->t, &e);
            ck_stats_add_exact(st, &e);
            continue;
        }
        ck_stats_chunk(x + c, k, &st->t, &m);
        ck_stats_merge_chunk(st, &m);
    }
    st->count = n;
    ck_stats_finish(st);
}

/* Values for one case: 0 random per dtype; for F32, 1 ordinary weights with some specials, 2 huge
 * magnitudes (float lanes would overflow), 3 tiny ones (squares would be subnormal), 4 values far
 * from zero with a small spread; for all, 5 one value repeated, 6 two values alternating. */
static void stats_values(ck_dtype d, int kind, uint8_t *src, uint64_t n)
{
    size_t eb = ck_dtype_info(d)->bits / 8;
    float *f = (float *)(void *)src;
    fill_random(d, src, n);
    for (uint64_t i = 0; i < n && d == CK_F32 && kind >= 1 && kind <= 4; i++) {
        double u = (double)(rnd() % 20001) - 10000.0;
        f[i] = kind == 1 ? (rnd() % 97 == 0 ? rnd_value() : (float)(u * 1e-4 + 3.0))
             : kind == 2 ? (float)(u * 1e33)
             : kind == 3 ? (float)(u * 1e-38)
                         : (float)(1e6 + u * 1e-3);
    }
    if (kind == 5)
        for (uint64_t i = 1; i < n; i++) memcpy(src + i * eb, src, eb);
    if (kind == 6)
        for (uint64_t i = 2; i < n; i++) memcpy(src + i * eb, src + (i % 2) * eb, eb);
    if (kind >= 5 && d == CK_BOOL)
        for (uint64_t i = 0; i < n; i++) src[i] &= 1;
}

static void test_stats(void)
{
    static const ck_dtype dts[] = {CK_F32, CK_BF16, CK_F16, CK_F8_E4M3, CK_F8_E5M2, CK_F8_E8M0,
                                   CK_I8, CK_U8, CK_BOOL, CK_U16, CK_I16};
    /* around the chunk (1024), the lanes (16) and the per-task run (64 chunks) */
    static const uint64_t sizes[] = {0, 1, 2, 15, 17, 1023, 1024, 1025, 65535, 65537, 100000, 300001};
    int bad = 0, cases = 0;
    for (size_t k = 0; k < sizeof dts / sizeof *dts; k++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (int kind = 0; kind <= 6; kind++) {
                ck_dtype d = dts[k];
                uint64_t n = sizes[s];
                if ((kind >= 1 && kind <= 4 && d != CK_F32) || (kind >= 5 && n < 1024)) continue;
                size_t eb = ck_dtype_info(d)->bits / 8;
                uint8_t *src = malloc(n * eb + 1);
                float *x = malloc(n * 4 + 4);
                stats_values(d, kind, src, n);
                for (uint64_t i = 0; i < n; i++) x[i] = stats_decode(d, src, i);
                /* plain long-double two-pass, for accuracy, and the exact counts and bins */
                uint64_t nan = 0, inf = 0, zero = 0, fin = 0;
                float mn = INFINITY, mx = -INFINITY;
                long double sum = 0, sum_abs = 0, m2 = 0;
                for (uint64_t i = 0; i < n; i++) {
                    if (isnan(x[i])) nan++;
                    else if (isinf(x[i])) inf++;
                    else {
                        fin++;
                        sum += x[i];
                        sum_abs += fabsl((long double)x[i]);
                        if (x[i] < mn) mn = x[i];
                        if (x[i] > mx) mx = x[i];
                    }
                    if (x[i] == 0) zero++;
                }
                long double mean = fin ? sum / fin : 0;
                for (uint64_t i = 0; i < n; i++)
                    if (isfinite(x[i])) m2 += ((long double)x[i] - mean) * ((long double)x[i] - mean);
                double sd = fin ? (double)sqrtl(m2 / fin) : 0;
                double lo = fin ? mn : 0, range = fin ? (double)mx - (double)mn : 0;
                uint64_t hist[CK_HIST_BINS] = {0};
                for (uint64_t i = 0; i < n; i++)
                    if (isfinite(x[i])) { /* floor((x - min) * 64 / (max - min)), in double, clamped */
                        double b = range > 0 ? ((double)x[i] - lo) * 64 / range : 0;
                        hist[b >= 63 ? 63 : b > 0 ? (int)b : 0]++;
                    }
                ck_stats def;
                stats_definition(d, x, n, &def);
                /* the definition is accurate: float lanes hold 16 values, so a few 1e-6 at most */
                double tol_mean = 1e-5 * (double)(fin ? sum_abs / fin : 0), tol_sd = 1e-5 * sd + 1e-7 * tol_mean;
                if (fabs(def.mean - (double)mean) > tol_mean || fabs(def.std - sd) > tol_sd) {
                    if (bad++ < 5)
                        fprintf(stderr, "  stats definition %s n=%llu kind=%d: mean %.17g/%.17Lg std %.17g/%.17g\n",
                                ck_dtype_name(d), (unsigned long long)n, kind, def.mean, mean, def.std, sd);
                }
                for (int t = 0; t < NT; t++)
                    for (int pieces = 0; pieces < 4; pieces++) {
                        if (pieces == 3 && n > 100000) continue;
                        bool want_hist = (t + pieces) % 2 == 0;
                        ck_stats st;
                        cases++;
                        if (run_stats(be[t], d, src, n, pieces, want_hist, &st)) { bad++; continue; }
                        int ok = st.count == n && st.t.nan == nan && st.t.inf == inf && st.t.zero == zero &&
                                 st.t.finite == fin && (fin == 0 || (st.t.min == (mn == 0 ? 0.0f : mn) && st.t.max == (mx == 0 ? 0.0f : mx))) &&
                                 st.pass == 3 && !memcmp(&st.mean, &def.mean, sizeof st.mean) &&
                                 !memcmp(&st.std, &def.std, sizeof st.std);
                        if (want_hist && memcmp(st.t.hist, hist, sizeof hist)) ok = 0;
                        if (!want_hist)
                            for (int b = 0; b < CK_HIST_BINS; b++) ok &= st.t.hist[b] == 0;
                        if (!ok && bad++ < 5)
                            fprintf(stderr, "  stats %s n=%llu kind=%d threads=%d pieces=%d hist=%d: mean %.17g/%.17g std %.17g/%.17g\n",
                                    ck_dtype_name(d), (unsigned long long)n, kind, thread_counts[t], pieces, want_hist,
                                    st.mean, def.mean, st.std, def.std);
                    }
                free(src);
                free(x);
            }
    CHECK(cases > 1000 && bad == 0);
}

/* E4M3 codes for one case: 0 random; 1 weights (small magnitudes, some zeros, rare NaN); 2 the
 * extremes (+-448, +-0, NaN, the smallest subnormals); 3 only NaN; 4 one code repeated. */
static void e4m3_codes(int kind, uint8_t *c, uint64_t n)
{
    static const uint8_t ext[] = {0x7E, 0xFE, 0x00, 0x80, 0x7F, 0xFF, 0x01, 0x81, 0x7D, 0xFD};
    uint8_t one = (uint8_t)rnd();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = rnd();
        c[i] = kind == 0 ? (uint8_t)r
             : kind == 1 ? (r % 211 == 0 ? 0x7F : r % 17 == 0 ? 0 : (uint8_t)(0x20 + r % 0x28) | (uint8_t)(r >> 32 & 0x80))
             : kind == 2 ? ext[r % sizeof ext]
             : kind == 3 ? (r & 1 ? 0x7F : 0xFF)
                         : one;
    }
}

/* The E4M3 kernels (dispatched and portable) against ck_stats_sums_exact: the same sums, counts,
 * min and max; and the exact moments against long double. */
static void test_stats_e4m3_exact(void)
{
    enum { CHUNKS = 37 };
    uint64_t n = CHUNKS * CK_STATS_CHUNK;
    uint8_t *c = malloc(n);
    float *x = malloc(n * sizeof *x);
    int bad = 0;
    for (int kind = 0; kind <= 4; kind++)
        for (int rep = 0; rep < 3; rep++) {
            e4m3_codes(kind, c, n);
            for (uint64_t i = 0; i < n; i++) x[i] = ck_e4m3_to_f32(c[i]);
            ck_exact_sums want = {0, 0}, got[2] = {{0, 0}, {0, 0}};
            ck_tally tw, tg[2];
            memset(&tw, 0, sizeof tw);
            tw.min = INFINITY, tw.max = -INFINITY;
            tg[0] = tg[1] = tw;
            for (int k = 0; k < CHUNKS; k++) ck_stats_sums_exact(x + k * CK_STATS_CHUNK, CK_STATS_CHUNK, &tw, &want);
            /* the dispatched kernel over the whole run; the portable one in two runs */
            ck_cpu_e4m3_chunks(c, CHUNKS, &got[0], &tg[0]);
            ck_cpu_e4m3_chunks_portable(c, 5, &got[1], &tg[1]);
            ck_cpu_e4m3_chunks_portable(c + 5 * CK_STATS_CHUNK, CHUNKS - 5, &got[1], &tg[1]);
            for (int v = 0; v < 2; v++) {
                int ok = got[v].sum == want.sum && got[v].sq == want.sq && tg[v].nan == tw.nan && tg[v].inf == 0 &&
                         tg[v].zero == tw.zero && tg[v].finite == tw.finite && tg[v].min == tw.min &&
                         tg[v].max == tw.max;
                if (!ok && bad++ < 5) fprintf(stderr, "  e4m3 kernel %d kind %d: differs from the definition\n", v, kind);
            }
            /* the reduction's mean and std are the exact ones, rounded */
            ck_stats st;
            ck_error err;
            CHECK(be[1]->ops->stats(be[1], CK_F8_E4M3, c, n, (ck_stats_init(&st, false), &st), &err) == 0);
            ck_stats_finish(&st);
            long double s = 0, m2 = 0, mean;
            uint64_t f = 0;
            for (uint64_t i = 0; i < n; i++)
                if (!isnan(x[i])) s += x[i], f++;
            mean = f ? s / f : 0;
            for (uint64_t i = 0; i < n; i++)
                if (!isnan(x[i])) m2 += (x[i] - mean) * (x[i] - mean);
            long double sd = f ? sqrtl(m2 / f) : 0;
            if (st.t.finite != f || fabsl(st.mean - mean) > 1e-15L * fabsl(mean) || fabsl(st.std - sd) > 1e-15L * sd)
                if (bad++ < 5)
                    fprintf(stderr, "  e4m3 kind %d: mean %.17g/%.17Lg std %.17g/%.17Lg\n", kind, st.mean, mean, st.std, sd);
        }
    fprintf(stderr, "  (E4M3 statistics kernel: %s)\n", ck_cpu_e4m3_chunks_vector() ? "AVX-512 VBMI" : "portable");
    /* a reduction begun with E4M3 values takes no F32 ones, and the other way round */
    ck_stats st;
    ck_error err;
    float f[3] = {1, 2, 3};
    ck_stats_init(&st, false);
    CHECK(be[0]->ops->stats(be[0], CK_F8_E4M3, c, 5, &st, &err) == 0);
    CHECK(be[0]->ops->stats(be[0], CK_F32, f, 3, &st, &err) == -1 && err.code == CK_E_USAGE);
    CHECK(be[0]->ops->stats(be[0], CK_F32, f, 0, &st, &err) == 0);
    ck_stats_init(&st, false);
    CHECK(be[0]->ops->stats(be[0], CK_F32, f, 3, &st, &err) == 0);
    CHECK(be[0]->ops->stats(be[0], CK_F8_E4M3, c, 5, &st, &err) == -1 && err.code == CK_E_USAGE);
    CHECK(be[0]->ops->stats(be[0], CK_BF16, f, 2, &st, &err) == 0);
    free(c);
    free(x);
    CHECK(bad == 0);
}

/* The same with the portable fast paths, where the CPU would take the AVX-512 ones. */
static void test_stats_portable(void)
{
    fprintf(stderr, "  (AVX-512 statistics kernels %s)\n", ck_cpu_stats_avx512() ? "turned off here" : "absent anyway");
    ck_cpu_stats_allow_avx512(false);
    test_stats();
    ck_cpu_stats_allow_avx512(true);
}

/* One f32 stored as dtype d (BF16/F16 rounded by the codec, F32 as is). */
static void ck_cpu_dtypes_from_f32(ck_dtype d, const float *v, uint8_t *dst)
{
    uint16_t h;
    if (d == CK_F32) memcpy(dst, v, 4);
    else {
        h = d == CK_BF16 ? ck_f32_to_bf16(*v) : ck_f32_to_f16(*v);
        memcpy(dst, &h, 2);
    }
}

/* The back end's decoders of the 8-bit floats give the codec's bits for every code. */
static void test_decode_every_code(void)
{
    static const ck_dtype dts[] = {CK_F8_E4M3, CK_F8_E5M2};
    uint8_t codes[256];
    float out[256];
    for (int i = 0; i < 256; i++) codes[i] = (uint8_t)i;
    for (size_t k = 0; k < sizeof dts / sizeof *dts; k++) {
        ck_error err;
        CHECK(be[0]->ops->cast(be[0], dts[k], codes, CK_F32, out, 256, &err) == 0);
        int bad = 0;
        for (int i = 0; i < 256; i++) {
            float want = dts[k] == CK_F8_E4M3 ? ck_e4m3_to_f32((uint8_t)i) : ck_e5m2_to_f32((uint8_t)i);
            bad += ck_f32_bits(out[i]) != ck_f32_bits(want);
        }
        CHECK(bad == 0);
    }
}

/* BF16 -> F8 casts on every BF16 code, against the codec (the vector paths are separate loops). */
static void test_cast_bf16_every_code(void)
{
    uint16_t *codes = malloc(65536 * sizeof *codes);
    uint8_t *out = malloc(65536 + 1);
    for (uint32_t i = 0; i < 65536; i++) codes[i] = (uint16_t)i;
    static const ck_dtype to[] = {CK_F8_E4M3, CK_F8_E5M2};
    for (size_t k = 0; k < 2; k++)
        for (int t = 0; t < NT; t++) {
            ck_error err;
            int bad = 0;
            /* odd length and offset too: the vector loops' heads and tails */
            CHECK(be[t]->ops->cast(be[t], CK_BF16, codes + 1, to[k], out, 65535, &err) == 0);
            for (uint32_t i = 1; i < 65536; i++) {
                float f = ck_bf16_to_f32((uint16_t)i);
                uint8_t want = to[k] == CK_F8_E4M3 ? ck_f32_to_e4m3(f) : ck_f32_to_e5m2(f);
                bad += out[i - 1] != want;
            }
            CHECK(bad == 0);
        }
    free(codes);
    free(out);
}

/* Streamed reductions (stats_stream): each task reads its own pieces through a callback. */
typedef struct {
    const uint8_t *src;
    size_t eb;
    uint64_t fail_at;   /* a read covering this element fails (UINT64_MAX: none) */
    uint64_t out;       /* elements handed out and not yet done */
} mem_stream;

/* Even pieces are copied into the scratch buffer, odd ones handed out in place (both kinds of
 * source); every piece handed out must come back through `done`, once. */
static int mem_get(void *ctx, uint64_t first, uint64_t count, void *scratch, const void **data, ck_error *err)
{
    mem_stream *m = ctx;
    if (m->fail_at >= first && m->fail_at < first + count)
        return ck_error_set(err, CK_E_IO, "mem", "t", (int64_t)(first * m->eb), "read failed");
    if (first / 1024 % 2) {
        *data = m->src + first * m->eb;
    } else {
        memcpy(scratch, m->src + first * m->eb, (size_t)(count * m->eb));
        *data = scratch;
    }
    __atomic_add_fetch(&m->out, count, __ATOMIC_RELAXED);
    return 0;
}

static void mem_done(void *ctx, uint64_t first, uint64_t count)
{
    mem_stream *m = ctx;
    (void)first;
    __atomic_sub_fetch(&m->out, count, __ATOMIC_RELAXED);
}

static void test_stats_stream(void)
{
    static const ck_dtype dts[] = {CK_F32, CK_BF16, CK_F16, CK_F8_E4M3, CK_U8};
    static const uint64_t sizes[] = {0, 1, 1023, 1024, 65536 + 17, 300001};
    int bad = 0;
    for (size_t k = 0; k < sizeof dts / sizeof *dts; k++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (int kind = 0; kind <= 1; kind++) {
                ck_dtype d = dts[k];
                uint64_t n = sizes[s];
                size_t eb = ck_dtype_info(d)->bits / 8;
                uint8_t *src = malloc(n * eb + 1);
                stats_values(d, d == CK_F32 ? kind : 0, src, n);
                for (int t = 0; t < NT; t++) {
                    bool hist = (t + kind) % 2;
                    ck_stats a, b;
                    ck_error err;
                    mem_stream ms = {src, eb, UINT64_MAX, 0};
                    ck_elem_source es = {mem_get, mem_done, &ms, 0};
                    if (run_stats(be[t], d, src, n, 0, hist, &a)) { bad++; continue; }
                    ck_stats_init(&b, hist);
                    if (be[t]->ops->stats_stream(be[t], d, &es, n, &b, &err)) { bad++; continue; }
                    if (ms.out != 0) bad++;
                    /* the same bits as the in-memory reduction */
                    if (b.pass != 3 || b.count != n || memcmp(&a.mean, &b.mean, sizeof a.mean) ||
                        memcmp(&a.std, &b.std, sizeof a.std) || memcmp(&a.t, &b.t, sizeof a.t))
                        if (bad++ < 5)
                            fprintf(stderr, "  stats_stream %s n=%llu threads=%d differs\n", ck_dtype_name(d),
                                    (unsigned long long)n, thread_counts[t]);
                }
                free(src);
            }
    CHECK(bad == 0);
    /* a failed read: an error, naming the offset of the first failing piece whatever the threads */
    uint64_t n = 1u << 20;
    float *f = malloc(n * sizeof *f);
    for (uint64_t i = 0; i < n; i++) f[i] = (float)i;
    int64_t first_offset = -1;
    for (int t = 0; t < NT; t++) {
        mem_stream ms = {(const uint8_t *)f, 4, 700000, 0};
        ck_elem_source es = {mem_get, mem_done, &ms, 0};
        ck_stats st;
        ck_error err;
        ck_stats_init(&st, false);
        CHECK(be[t]->ops->stats_stream(be[t], CK_F32, &es, n, &st, &err) == -1 && err.code == CK_E_IO &&
              err.offset <= 700000 * 4 && err.offset % 4096 == 0);
        if (t == 0) first_offset = err.offset;
        CHECK(err.offset == first_offset); /* the same piece's error, whatever the threads */
        /* not fresh: refused */
        ck_stats_init(&st, false);
        CHECK(be[t]->ops->stats(be[t], CK_F32, f, 5, &st, &err) == 0);
        CHECK(be[t]->ops->stats_stream(be[t], CK_F32, &es, n, &st, &err) == -1 && err.code == CK_E_USAGE);
    }
    free(f);
}

static void test_stats_modes(void)
{
    ck_error err;
    ck_stats st;
    uint16_t h[3] = {0x3F80, 0x4000, 0x3F80};
    /* no histogram: pass 2 is not wanted; its calls are accepted and change nothing */
    ck_stats_init(&st, false);
    CHECK(!ck_stats_wants_pass2(&st));
    CHECK(be[1]->ops->stats(be[1], CK_BF16, h, 3, &st, &err) == 0);
    ck_stats_begin_pass2(&st);
    CHECK(be[1]->ops->stats(be[1], CK_BF16, h, 3, &st, &err) == 0);
    ck_stats_finish(&st);
    CHECK(st.count == 3 && st.t.finite == 3 && st.t.min == 1 && st.t.max == 2 && st.t.hist[0] == 0);
    CHECK(fabs(st.mean - 4.0 / 3) < 1e-15 && fabs(st.std - sqrt(2.0 / 9)) < 1e-7 * sqrt(2.0 / 9)); /* squares in float */
    /* finished: refused */
    CHECK(be[1]->ops->stats(be[1], CK_BF16, h, 3, &st, &err) == -1 && err.code == CK_E_USAGE);
    /* with the histogram: two passes; a reduction may mix dtypes (all values are f32 inside) */
    float f[2] = {1, 2};
    ck_stats_init(&st, true);
    CHECK(ck_stats_wants_pass2(&st));
    CHECK(be[1]->ops->stats(be[1], CK_BF16, h, 3, &st, &err) == 0);
    CHECK(be[1]->ops->stats(be[1], CK_F32, f, 2, &st, &err) == 0);
    ck_stats_begin_pass2(&st);
    CHECK(be[1]->ops->stats(be[1], CK_BF16, h, 3, &st, &err) == 0);
    CHECK(be[1]->ops->stats(be[1], CK_F32, f, 2, &st, &err) == 0);
    ck_stats_finish(&st);
    CHECK(st.count == 5 && st.t.hist[0] == 3 && st.t.hist[CK_HIST_BINS - 1] == 2 && fabs(st.mean - 1.4) < 1e-15);
    /* a value exactly on a bin edge: (0.125 + 448) * 64 / 478 = 60 exactly (64 / 478 rounded
     * first gave 59) */
    float edge[3] = {-448, 30, 0.125f};
    ck_stats_init(&st, true);
    CHECK(be[1]->ops->stats(be[1], CK_F32, edge, 3, &st, &err) == 0);
    ck_stats_begin_pass2(&st);
    CHECK(be[1]->ops->stats(be[1], CK_F32, edge, 3, &st, &err) == 0);
    ck_stats_finish(&st);
    CHECK(st.t.hist[0] == 1 && st.t.hist[60] == 1 && st.t.hist[63] == 1);
    /* counts only: the counts of the full reduction, for every thread count, in memory and
     * streamed; the rest NaN. Random bits (every chunk has specials), and ordinary values with
     * zeros, NaN and Inf in a few chunks only (the others are told by their extremes alone). */
    static const ck_dtype cdt[] = {CK_BF16, CK_F32, CK_F16};
    for (size_t k = 0; k < 3; k++)
        for (int kind = 0; kind <= 1; kind++) {
            ck_dtype d = cdt[k];
            uint64_t n = 300001;
            size_t eb = ck_dtype_info(d)->bits / 8;
            uint8_t *b = malloc(n * eb);
            fill_random(d, b, n);
            if (kind == 1)
                for (uint64_t i = 0; i < n; i++) {
                    float v = (float)((rnd() % 1000) + 1) * (rnd() & 1 ? 1e-3f : -1e-3f);
                    if (i % 50000 == 7) v = 0;
                    if (i % 70000 == 9) v = NAN;
                    if (i == 123456) v = -INFINITY;
                    ck_cpu_dtypes_from_f32(d, &v, b + i * eb);
                }
            ck_stats full;
            CHECK(run_stats(be[0], d, b, n, 0, false, &full) == 0);
            for (int t = 0; t < NT; t++)
                for (int streamed = 0; streamed <= 1; streamed++) {
                    ck_stats c;
                    ck_stats_init(&c, false);
                    c.counts_only = true;
                    mem_stream ms = {b, eb, UINT64_MAX, 0};
                    ck_elem_source es = {mem_get, mem_done, &ms, 0};
                    if (streamed) CHECK(be[t]->ops->stats_stream(be[t], d, &es, n, &c, &err) == 0);
                    else {
                        CHECK(be[t]->ops->stats(be[t], d, b, n, &c, &err) == 0);
                        ck_stats_finish(&c);
                    }
                    CHECK(c.count == n && c.t.nan == full.t.nan && c.t.inf == full.t.inf && c.t.zero == full.t.zero &&
                          c.t.finite == full.t.finite && full.t.nan > 0);
                    if (kind == 1) CHECK(full.t.zero == 6 && full.t.nan == 5 && full.t.inf == 1);
                    CHECK(isnan(c.mean) && isnan(c.std) && isnan(c.t.min));
                }
            free(b);
        }
    /* unsupported dtypes: a clear refusal */
    ck_stats_init(&st, false);
    CHECK(be[0]->ops->stats(be[0], CK_I64, h, 1, &st, &err) == -1 && err.code == CK_E_UNSUPPORTED);
    /* no call at all (an empty tensor), and finish without begin_pass2: zeros */
    ck_stats_init(&st, true);
    ck_stats_finish(&st);
    CHECK(st.count == 0 && st.mean == 0 && st.std == 0 && st.t.finite == 0 && st.pass == 3);
}

/* The content hash (kernels/hash.h) from its definition: XXH3-64 of the little-endian digests of
 * 1 MiB blocks; streamed in random pieces, through the block op, and for two members. */
static uint64_t hash_definition(const uint8_t *const *members, const size_t *lens, int n)
{
    size_t nd = 0, cap = 64;
    uint8_t *list = malloc(cap * 8);
    for (int m = 0; m < n; m++)
        for (size_t off = 0; off < lens[m]; off += CK_HASH_BLOCK) {
            size_t k = lens[m] - off < CK_HASH_BLOCK ? lens[m] - off : CK_HASH_BLOCK;
            uint64_t d = XXH3_64bits(members[m] + off, k);
            if (nd == cap) list = realloc(list, (cap *= 2) * 8);
            for (int i = 0; i < 8; i++) list[nd * 8 + i] = (uint8_t)(d >> (8 * i));
            nd++;
        }
    uint64_t h = XXH3_64bits(list, nd * 8);
    free(list);
    return h;
}

static void test_hash(void)
{
    static const size_t sizes[] = {0, 1, 10000, CK_HASH_BLOCK, CK_HASH_BLOCK + 1, 3 * CK_HASH_BLOCK + 12345};
    size_t big = 3 * CK_HASH_BLOCK + 12345;
    uint8_t *buf = malloc(big), *buf2 = malloc(big);
    fill_random(CK_U8, buf, big);
    fill_random(CK_U8, buf2, big);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        const uint8_t *one[1] = {buf};
        uint64_t want = hash_definition(one, &n, 1);
        CHECK_EQ_U64(ck_hash_bytes(buf, n), want);
        ck_hash *h = ck_hash_new();
        CHECK(h != NULL);
        if (!h) break;
        for (size_t i = 0; i < n;) { /* random pieces, across block boundaries */
            size_t k = 1 + rnd_upto(700000);
            if (k > n - i) k = n - i;
            ck_hash_update(h, buf + i, k);
            i += k;
        }
        CHECK_EQ_U64(ck_hash_digest(h), want);
        ck_hash_free(h);
        /* the back ends' block op, then the list */
        for (int t = 0; t < NT; t++) {
            uint64_t d[8];
            ck_error err;
            CHECK(be[t]->ops->hash_blocks(be[t], buf, n, d, &err) == 0);
            ck_hash *hb = ck_hash_new();
            ck_hash_add_blocks(hb, d, (n + CK_HASH_BLOCK - 1) / CK_HASH_BLOCK);
            CHECK_EQ_U64(ck_hash_digest(hb), want);
            ck_hash_free(hb);
        }
        /* two members: blocks count from each member's start */
        const uint8_t *two[2] = {buf, buf2};
        size_t lens[2] = {n, 5 + n / 3};
        ck_hash *h2 = ck_hash_new();
        ck_hash_update(h2, buf, n);
        ck_hash_end_member(h2);
        ck_hash_update(h2, buf2, lens[1]);
        CHECK_EQ_U64(ck_hash_digest(h2), hash_definition(two, lens, 2));
        ck_hash_free(h2);
    }
    CHECK_EQ_U64(ck_hash_bytes("", 0), 0x2D06800538D394C2ull); /* no blocks: XXH3-64 of the empty list */
    free(buf);
    free(buf2);
}

static void test_backend_selection(void)
{
    ck_backend_kind k;
    CHECK(ck_backend_kind_parse("auto", &k) && k == CK_BACKEND_AUTO);
    CHECK(ck_backend_kind_parse("cpu", &k) && k == CK_BACKEND_CPU);
    CHECK(!ck_backend_kind_parse("gpu", &k));
    char why[256];
    ck_error err;
    ck_backend *b = ck_backend_create(CK_BACKEND_CPU, 2, why, &err);
    CHECK(b && !strcmp(b->ops->name, "cpu") && b->threads == 2);
    CHECK(!strncmp(why, "cpu", 3));
    ck_backend_destroy(b);
    b = ck_backend_create(CK_BACKEND_AUTO, 1, why, &err);
    CHECK(b != NULL && strlen(why) > 0);
    ck_backend_destroy(b);
    if (!ck_backend_cuda_available(NULL)) {
        CHECK(ck_backend_create(CK_BACKEND_CUDA, 1, why, &err) == NULL && err.code == CK_E_UNSUPPORTED);
    }
}

int main(void)
{
    rng = 0x243F6A8885A308D3ull;
    ck_error err;
    for (int t = 0; t < NT; t++) {
        be[t] = ck_backend_cpu_create(thread_counts[t], &err);
        if (!be[t]) { fprintf(stderr, "cannot create the CPU back end: %s\n", err.msg); return 1; }
    }
    RUN_TEST("kernels", test_transpose);
    RUN_TEST("kernels", test_cast_every_pair);
    RUN_TEST("kernels", test_dequant_fp4);
    RUN_TEST("kernels", test_dequant_fp8);
    RUN_TEST("kernels", test_stats);
    RUN_TEST("kernels", test_stats_portable);
    RUN_TEST("kernels", test_stats_e4m3_exact);
    RUN_TEST("kernels", test_decode_every_code);
    RUN_TEST("kernels", test_cast_bf16_every_code);
    RUN_TEST("kernels", test_stats_stream);
    RUN_TEST("kernels", test_stats_modes);
    RUN_TEST("kernels", test_hash);
    RUN_TEST("kernels", test_backend_selection);
    for (int t = 0; t < NT; t++) ck_backend_destroy(be[t]);
    TEST_EXIT();
}
