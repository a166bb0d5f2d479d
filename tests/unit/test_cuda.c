/* The CUDA back end against the CPU back end, bit for bit: transposes (every element width and
 * packed F4), casts (every pair), the three dequantizations, compare, pair permutes, the three
 * quantizers and statistics, on random shapes including odd and tiny ones; the matrix product to
 * rounding. Without a device (or without CUDA compiled in) every case prints "SKIP: ..." and
 * nothing counts as a pass, except test_stats_lanes: the statistics kernel's steps run on the host
 * (ck_cuda_stats_emulate) against the definition, which needs CUDA compiled in but no device. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#ifdef CK_HAVE_CUDA
#include "kernels/cuda/backend_cuda.h"
#endif
#include "tests/check.h"

static ck_backend *cpu, *gpu;

static uint64_t rng = 0x13198A2E03707344ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void fill(void *p, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++) ((uint8_t *)p)[i] = (uint8_t)rnd();
}

static void fill_f32(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)ldexp((double)(rnd() % 100000) / 1e5 - 0.5, (int)(rnd() % 40) - 20);
    if (n > 3) p[0] = NAN, p[1] = INFINITY, p[2] = -0.0f;
}

/* Compare outputs as bytes: every op here promises bit-identical results. */
static int run_pair(const char *what, int (*op)(ck_backend *, void *, void *), void *ctx, void *out_cpu,
                    void *out_gpu, size_t bytes)
{
    memset(out_cpu, 0x11, bytes);
    memset(out_gpu, 0x22, bytes);
    if (op(cpu, ctx, out_cpu) || op(gpu, ctx, out_gpu)) {
        fprintf(stderr, "  %s: op failed\n", what);
        return 0;
    }
    if (memcmp(out_cpu, out_gpu, bytes)) {
        fprintf(stderr, "  %s: CUDA differs from CPU\n", what);
        return 0;
    }
    return 1;
}

typedef struct {
    ck_dtype d, to;
    const void *src, *sc;
    const float *fsc;
    uint64_t b, r, c, n, br, bc;
    float g;
} job;

static int op_transpose(ck_backend *be, void *ctx, void *out)
{
    job *j = ctx;
    ck_error err;
    return be->ops->transpose(be, j->d, j->src, out, j->b, j->r, j->c, &err);
}

static int op_cast(ck_backend *be, void *ctx, void *out)
{
    job *j = ctx;
    ck_error err;
    return be->ops->cast(be, j->d, j->src, j->to, out, j->n, &err);
}

static int op_mxfp4(ck_backend *be, void *ctx, void *out)
{
    job *j = ctx;
    ck_error err;
    return be->ops->dequant_mxfp4(be, j->src, j->sc, out, j->r, j->c, &err);
}

static int op_nvfp4(ck_backend *be, void *ctx, void *out)
{
    job *j = ctx;
    ck_error err;
    return be->ops->dequant_nvfp4(be, j->src, j->sc, j->g, out, j->r, j->c, &err);
}

static int op_fp8(ck_backend *be, void *ctx, void *out)
{
    job *j = ctx;
    ck_error err;
    return be->ops->dequant_fp8(be, j->d, j->src, j->fsc, out, 0, j->r, j->c, j->br, j->bc, &err);
}

static void test_transpose(void)
{
    static const ck_dtype dts[] = {CK_U8, CK_BF16, CK_F32, CK_I64, CK_F4};
    int bad = 0;
    for (size_t k = 0; k < sizeof dts / sizeof *dts; k++)
        for (int it = 0; it < 20; it++) {
            job j = {.d = dts[k], .b = 1 + rnd() % 3, .r = 1 + rnd() % (it < 5 ? 4 : 300), .c = 1 + rnd() % (it < 5 ? 4 : 300)};
            if (it == 0) j.b = j.r = j.c = 1;
            if (dts[k] == CK_F4 && j.b * j.r * j.c % 2) j.c++;
            size_t bytes = (size_t)(j.b * j.r * j.c * ck_dtype_info(j.d)->bits / 8);
            void *src = malloc(bytes), *a = malloc(bytes), *b = malloc(bytes);
            fill(src, bytes);
            j.src = src;
            bad += !run_pair("transpose", op_transpose, &j, a, b, bytes);
            free(src), free(a), free(b);
        }
    CHECK(bad == 0);
}

static void test_cast(void)
{
    static const ck_dtype dts[] = {CK_F32, CK_F16, CK_BF16, CK_F8_E4M3, CK_F8_E5M2};
    int bad = 0;
    for (size_t x = 0; x < 5; x++)
        for (size_t y = 0; y < 5; y++) {
            job j = {.d = dts[x], .to = dts[y], .n = 1 + rnd() % 300000};
            size_t sb = ck_dtype_info(j.d)->bits / 8, db = ck_dtype_info(j.to)->bits / 8;
            void *src = malloc(j.n * sb), *a = malloc(j.n * db), *b = malloc(j.n * db);
            if (j.d == CK_F32 && rnd() % 2) fill_f32(src, j.n);
            else fill(src, j.n * sb);
            j.src = src;
            bad += !run_pair("cast", op_cast, &j, a, b, j.n * db);
            free(src), free(a), free(b);
        }
    CHECK(bad == 0);
}

static void test_dequant(void)
{
    int bad = 0;
    for (int it = 0; it < 20; it++) {
        job j = {.r = 1 + rnd() % 200, .c = 2 * (1 + rnd() % 200), .g = (float)(rnd() % 1000) / 7.0f};
        size_t n = j.r * j.c;
        uint8_t *q = malloc(n), *sc = malloc(n);
        float *a = malloc(n * 4), *b = malloc(n * 4), *fsc = malloc(n * 4);
        fill(q, n);
        fill(sc, n);
        fill_f32(fsc, n);
        j.src = q;
        j.sc = sc;
        j.fsc = fsc;
        bad += !run_pair("mxfp4", op_mxfp4, &j, a, b, n * 4);
        bad += !run_pair("nvfp4", op_nvfp4, &j, a, b, n * 4);
        j.d = it % 2 ? CK_F8_E5M2 : CK_F8_E4M3;
        j.br = it % 3 ? 128 : j.r;
        j.bc = it % 3 ? 128 : j.c;
        bad += !run_pair("fp8", op_fp8, &j, a, b, n * 4);
        free(q), free(sc), free(a), free(b), free(fsc);
    }
    CHECK(bad == 0);
}

/* ---- compare, permutes, quantization, matrix product (kernels/ops.h) ---- */

static void test_compare(void)
{
    int bad = 0;
    for (int it = 0; it < 12; it++) {
        uint64_t n = it < 4 ? 1 + rnd() % 5000 : 1 + rnd() % 400000;
        float *a = malloc(n * 4), *b = malloc(n * 4);
        fill_f32(a, n);
        for (uint64_t i = 0; i < n; i++) b[i] = a[i] * (1.0f + (float)((double)(rnd() % 1000) * 1e-6));
        ck_compare x, y;
        ck_compare_init(&x);
        ck_compare_init(&y);
        ck_error err;
        /* in pieces, so the open chunk crosses calls on both */
        for (uint64_t i = 0; i < n;) {
            uint64_t k = 1 + rnd() % 100000;
            if (k > n - i) k = n - i;
            if (cpu->ops->compare(cpu, a + i, b + i, k, &x, &err) || gpu->ops->compare(gpu, a + i, b + i, k, &y, &err)) bad++;
            i += k;
        }
        ck_compare_finish(&x);
        ck_compare_finish(&y);
        if (memcmp(&x.cosine, &y.cosine, 8) || memcmp(&x.rel_err, &y.rel_err, 8) || memcmp(&x.max_abs, &y.max_abs, 8) ||
            memcmp(&x.dot, &y.dot, 8) || x.t.nonfinite != y.t.nonfinite || x.t.mismatch != y.t.mismatch) {
            fprintf(stderr, "  compare n=%llu: CUDA differs from CPU (cos %.17g vs %.17g)\n", (unsigned long long)n,
                    y.cosine, x.cosine);
            bad++;
        }
        free(a), free(b);
    }
    CHECK(bad == 0);
}

static int op_pairs(ck_backend *be, void *ctx, void *out)
{
    job *j = ctx;
    ck_error err;
    return be->ops->permute_pairs(be, j->d, j->src, out, j->b, j->r, j->c, (ck_pairs_dir)j->n, &err);
}

static void test_permute(void)
{
    static const ck_dtype dts[] = {CK_U8, CK_BF16, CK_F32, CK_I64, CK_F4};
    int bad = 0;
    for (size_t k = 0; k < sizeof dts / sizeof *dts; k++)
        for (int it = 0; it < 16; it++) {
            job j = {.d = dts[k], .b = 1 + rnd() % 5, .r = 2 * (1 + rnd() % 100), .c = it % 2 ? 1 : 1 + rnd() % 300,
                     .n = (uint64_t)(it / 2 % 2)};
            if (dts[k] == CK_F4 && j.c % 2) j.c++;
            size_t bytes = (size_t)(j.b * j.r * j.c * ck_dtype_info(j.d)->bits / 8);
            void *src = malloc(bytes), *a = malloc(bytes), *b = malloc(bytes);
            fill(src, bytes);
            j.src = src;
            bad += !run_pair("permute_pairs", op_pairs, &j, a, b, bytes);
            free(src), free(a), free(b);
        }
    CHECK(bad == 0);
}

static void test_quant(void)
{
    int bad = 0;
    for (int it = 0; it < 16; it++) {
        uint64_t rows = 1 + rnd() % 300, cols = 2 * (1 + rnd() % 400), n = rows * cols;
        float *x = malloc(n * 4), *s1 = malloc(n * 4), *s2 = malloc(n * 4);
        uint8_t *q1 = malloc(n), *q2 = malloc(n), *c1 = malloc(n), *c2 = malloc(n);
        fill_f32(x, n);
        ck_error err;
        /* MXFP4 */
        if (cpu->ops->quant_mxfp4(cpu, x, q1, c1, rows, cols, &err) || gpu->ops->quant_mxfp4(gpu, x, q2, c2, rows, cols, &err) ||
            memcmp(q1, q2, n / 2) || memcmp(c1, c2, rows * ((cols + 31) / 32)))
            bad++, fprintf(stderr, "  quant MXFP4: CUDA differs from CPU\n");
        /* NVFP4, global computed and given */
        float g1 = 0, g2 = 0;
        if (cpu->ops->quant_nvfp4(cpu, x, q1, c1, &g1, rows, cols, &err) || gpu->ops->quant_nvfp4(gpu, x, q2, c2, &g2, rows, cols, &err) ||
            memcmp(&g1, &g2, 4) || memcmp(q1, q2, n / 2) || memcmp(c1, c2, rows * ((cols + 15) / 16)))
            bad++, fprintf(stderr, "  quant NVFP4: CUDA differs from CPU\n");
        /* FP8, per tensor and 128x128 */
        ck_dtype d = it % 2 ? CK_F8_E5M2 : CK_F8_E4M3;
        uint64_t br = it % 3 ? 128 : rows, bc = it % 3 ? 128 : cols, nsc = (rows + br - 1) / br * ((cols + bc - 1) / bc);
        if (cpu->ops->quant_fp8(cpu, d, x, q1, s1, rows, cols, br, bc, true, &err) ||
            gpu->ops->quant_fp8(gpu, d, x, q2, s2, rows, cols, br, bc, true, &err) || memcmp(q1, q2, n) || memcmp(s1, s2, nsc * 4))
            bad++, fprintf(stderr, "  quant FP8: CUDA differs from CPU\n");
        if (gpu->ops->quant_fp8(gpu, d, x, q2, s1, rows, cols, br, bc, false, &err) || memcmp(q1, q2, n))
            bad++, fprintf(stderr, "  quant FP8 (given scales): CUDA differs from CPU\n");
        free(x), free(s1), free(s2), free(q1), free(q2), free(c1), free(c2);
    }
    CHECK(bad == 0);
}

static void test_matmul(void)
{
    int bad = 0;
    for (int it = 0; it < 10; it++) {
        uint64_t m = 1 + rnd() % 300, n = 1 + rnd() % 300, k = 1 + rnd() % 500;
        float *a = malloc(m * k * 4), *b = malloc(n * k * 4), *c1 = malloc(m * n * 4), *c2 = malloc(m * n * 4);
        for (uint64_t i = 0; i < m * k; i++) a[i] = (float)((double)(rnd() % 2001) / 1000.0 - 1.0);
        for (uint64_t i = 0; i < n * k; i++) b[i] = (float)((double)(rnd() % 2001) / 1000.0 - 1.0);
        ck_error err;
        if (cpu->ops->matmul(cpu, a, b, c1, m, n, k, &err) || gpu->ops->matmul(gpu, a, b, c2, m, n, k, &err)) bad++;
        for (uint64_t i = 0; i < m * n; i++)
            if (!(fabs((double)c1[i] - c2[i]) <= 1e-5 * (double)k)) {
                bad++;
                break;
            }
        free(a), free(b), free(c1), free(c2);
    }
    CHECK(bad == 0);
}

/* ---- statistics (kernels/stats.h) ---- */

/* Every dtype the CPU back end reduces; the CUDA back end takes the same ones. */
static const ck_dtype stat_dtypes[] = {CK_F32, CK_BF16, CK_F16, CK_F8_E4M3, CK_F8_E5M2, CK_F8_E8M0,
                                       CK_BOOL, CK_U8, CK_I8, CK_U16, CK_I16};
#define NSTAT_DTYPES (sizeof stat_dtypes / sizeof *stat_dtypes)
#define STAT_KINDS 12

#ifdef CK_HAVE_CUDA
static float stat_decode(ck_dtype d, const uint8_t *src, uint64_t i)
{
    uint16_t h;
    float f;
    switch (d) {
    case CK_F32: memcpy(&f, src + 4 * i, 4); return f;
    case CK_BF16: memcpy(&h, src + 2 * i, 2); return ck_bf16_to_f32(h);
    case CK_F16: memcpy(&h, src + 2 * i, 2); return ck_f16_to_f32(h);
    case CK_F8_E4M3: return ck_e4m3_to_f32(src[i]);
    case CK_F8_E5M2: return ck_e5m2_to_f32(src[i]);
    case CK_F8_E8M0: return ck_e8m0_to_f32(src[i]);
    case CK_I8: return (float)(int8_t)src[i];
    case CK_U16: memcpy(&h, src + 2 * i, 2); return (float)h;
    case CK_I16: memcpy(&h, src + 2 * i, 2); return (float)(int16_t)h;
    default: return (float)src[i]; /* BOOL, U8 */
    }
}
#endif

static float stat_special(void)
{
    static const float sp[] = {NAN, -NAN, INFINITY, -INFINITY};
    return sp[rnd() % 4];
}

/* n values of one kind, for F32, BF16 and F16 (encoded from f32; other dtypes get random bytes):
 * 0 random bits; 1 weights around 3 with a few NaN and Inf; 2 huge magnitudes (double lanes),
 * with specials; 3 tiny ones (double lanes); 4 far from zero with a small spread; 5 runs of
 * non-finite values, so a chunk's first finite value sits anywhere; 6 only NaN and Inf; 7 zeros of
 * both signs among small values; 8 one value; 9 magnitudes on both sides of the float lanes'
 * limits (2^-30, 2^56); 10 FLT_MAX and its neighbours with specials; 11 F16 subnormals and
 * limits. */
static void stat_values(ck_dtype d, int kind, uint8_t *src, uint64_t n)
{
    size_t eb = ck_dtype_info(d)->bits / 8;
    if (d != CK_F32 && d != CK_BF16 && d != CK_F16) {
        fill(src, n * eb);
        if (kind == 8)
            for (uint64_t i = 1; i < n; i++) memcpy(src + i * eb, src, eb);
        return;
    }
    uint64_t run = 0;
    float one = (float)ldexp((double)(rnd() % 1000 + 1), (int)(rnd() % 20) - 10);
    for (uint64_t i = 0; i < n; i++) {
        double u = (double)(rnd() % 20001) - 10000.0;
        uint64_t r = rnd();
        float x;
        switch (kind) {
        case 0: x = ck_bits_f32((uint32_t)r); break;
        case 1: x = r % 97 == 0 ? stat_special() : (float)(u * 1e-4 + 3.0); break;
        case 2: x = r % 61 == 0 ? stat_special() : (float)(u * 1e33); break;
        case 3: x = (float)(u * 1e-38); break;
        case 4: x = (float)(1e6 + u * 1e-3); break;
        case 5:
            if (run == 0) run = r % 3 ? r % 700 : 0;
            x = run ? (run--, stat_special()) : (float)(u * 1e-2);
            break;
        case 6: x = stat_special(); break;
        case 7: x = r % 3 == 0 ? 0.0f : r % 3 == 1 ? -0.0f : (float)(u * 1e-3); break;
        case 8: x = one; break;
        case 9: {
            static const float lim[] = {0x1p-30f, 0x1.fffffep-31f, 0x1p56f, 0x1.fffffep55f, -0x1p56f, -0x1p-30f};
            x = r % 5 == 0 ? lim[(r >> 8) % 6] : (float)(u * 1e-9);
            break;
        }
        case 10: x = r % 7 == 0 ? stat_special() : r % 2 ? 3.4028235e38f : -3.4028233e38f; break;
        default: x = (float)ldexp(u, -34 + (int)(r % 20)); break;
        }
        if (d == CK_F32) memcpy(src + 4 * i, &x, 4);
        else {
            uint16_t h = d == CK_BF16 ? ck_f32_to_bf16(x) : ck_f32_to_f16(x);
            if (kind == 0) h = (uint16_t)r; /* raw bits, NaN payloads included */
            memcpy(src + 2 * i, &h, 2);
        }
    }
}

#ifdef CK_HAVE_CUDA
static void test_stats_lanes(void)
{
    /* 63 chunks: 16 blocks of 4, the last one short */
    enum { CHUNKS = 63 };
    uint64_t n = CHUNKS * CK_STATS_CHUNK;
    uint8_t *src = malloc(n * 4);
    float *x = malloc(n * 4);
    ck_chunk_moments m[CHUNKS];
    int bad = 0, cases = 0;
    ck_tally tu;
    memset(&tu, 0, sizeof tu);
    CHECK(ck_cuda_stats_emulate(CK_I64, NULL, 0, NULL, NULL, &tu) == -1);
    for (size_t k = 0; k < NSTAT_DTYPES; k++)
        for (int kind = 0; kind < STAT_KINDS; kind++) {
            ck_dtype d = stat_dtypes[k];
            stat_values(d, kind, src, n);
            for (uint64_t i = 0; i < n; i++) x[i] = stat_decode(d, src, i);
            ck_stats ref, got;
            ck_exact_sums exact_ref = {0, 0}, exact_got = {0, 0};
            ck_stats_init(&ref, false);
            ck_stats_init(&got, false);
            if (ck_cuda_stats_emulate(d, src, CHUNKS, m, &exact_got, &got.t)) {
                bad++;
                continue;
            }
            for (int c = 0; c < CHUNKS; c++) {
                ck_chunk_moments mr = {0, 0, 0};
                if (ck_stats_dtype_exact(d)) { /* sums for the whole run; each chunk's finite count */
                    uint64_t fin0 = ref.t.finite;
                    ck_stats_sums_exact(x + c * CK_STATS_CHUNK, CK_STATS_CHUNK, &ref.t, &exact_ref);
                    mr.n = ref.t.finite - fin0;
                } else {
                    ck_stats_chunk(x + c * CK_STATS_CHUNK, CK_STATS_CHUNK, &ref.t, &mr);
                }
                cases++;
                if (memcmp(&mr, &m[c], sizeof mr)) {
                    if (bad++ < 5)
                        fprintf(stderr, "  stats lanes %s kind %d chunk %d: n %llu/%llu sum %.17g/%.17g m2 %.17g/%.17g\n",
                                ck_dtype_name(d), kind, c, (unsigned long long)m[c].n, (unsigned long long)mr.n, m[c].sum,
                                mr.sum, m[c].m2, mr.m2);
                }
            }
            if (exact_got.sum != exact_ref.sum || exact_got.sq != exact_ref.sq)
                if (bad++ < 5) fprintf(stderr, "  stats lanes %s kind %d: exact sums differ\n", ck_dtype_name(d), kind);
            /* min and max may differ in the sign of a zero (ck_stats_finish reports +0) */
            if (got.t.nan != ref.t.nan || got.t.inf != ref.t.inf || got.t.zero != ref.t.zero ||
                got.t.finite != ref.t.finite || !(got.t.min == ref.t.min) || !(got.t.max == ref.t.max))
                if (bad++ < 5)
                    fprintf(stderr, "  stats lanes %s kind %d: counts or min/max differ\n", ck_dtype_name(d), kind);
        }
    free(src);
    free(x);
    CHECK(cases == (int)(NSTAT_DTYPES * STAT_KINDS * CHUNKS) && bad == 0);
}
#endif

/* Feed n elements: in one call (pieces 0), in random pieces of up to 40 (1), 300000 (2) or 20M (3). */
static int stats_run(ck_backend *b, ck_dtype d, const uint8_t *src, uint64_t n, int pieces, bool hist, ck_stats *st,
                     uint64_t seed)
{
    static const uint64_t most[] = {0, 40, 300000, 20000000};
    size_t eb = ck_dtype_info(d)->bits / 8;
    uint64_t keep = rng;
    ck_error err;
    rng = seed; /* the same pieces on both back ends */
    ck_stats_init(st, hist);
    for (int pass = 1; pass <= 2; pass++) {
        if (pass == 2) ck_stats_begin_pass2(st);
        if (pass == 2 && !ck_stats_wants_pass2(st)) break;
        uint64_t i = 0;
        do {
            uint64_t k = pieces && n ? 1 + rnd() % (n - i < most[pieces] ? n - i : most[pieces]) : n - i;
            if (b->ops->stats(b, d, src + i * eb, k, st, &err)) {
                fprintf(stderr, "  stats on %s failed: %s\n", b->ops->name, err.msg);
                rng = keep;
                return -1;
            }
            i += k;
        } while (i < n);
    }
    ck_stats_finish(st);
    rng = keep;
    return 0;
}

static bool stats_same(const ck_stats *a, const ck_stats *b)
{
    return a->pass == b->pass && a->count == b->count && a->t.nan == b->t.nan && a->t.inf == b->t.inf &&
           a->t.zero == b->t.zero && a->t.finite == b->t.finite && !memcmp(&a->t.min, &b->t.min, sizeof a->t.min) &&
           !memcmp(&a->t.max, &b->t.max, sizeof a->t.max) && !memcmp(&a->mean, &b->mean, sizeof a->mean) &&
           !memcmp(&a->std, &b->std, sizeof a->std) && !memcmp(a->t.hist, b->t.hist, sizeof a->t.hist);
}

static void test_stats(void)
{
    /* around the chunk (1024) and a block of 4 chunks; then several of the 4 MiB pieces (1M F32
     * elements, 2M BF16/F16), both slots in use, and a random size */
    static const uint64_t sizes[] = {0, 1, 1023, 1024, 1025, 4096 + 3, 65537, 300001, 4194304, 8388608 + 1025, 0};
    int bad = 0, cases = 0;
    for (size_t k = 0; k < NSTAT_DTYPES; k++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            ck_dtype d = stat_dtypes[k];
            bool main3 = d == CK_F32 || d == CK_BF16 || d == CK_F16;
            uint64_t n = s + 1 < sizeof sizes / sizeof *sizes ? sizes[s] : 1 + rnd() % 12000000; /* last: random */
            if (!main3 && n > 300001) n = 1 + rnd() % 20000000; /* 1 and 2 bytes: pieces of 4M and 2M */
            size_t eb = ck_dtype_info(d)->bits / 8;
            uint8_t *src = malloc(n * eb + 1);
            for (int kind = 0; kind < (main3 ? STAT_KINDS : 2); kind++) {
                if (n > 300001 && kind % 3 != (int)(s % 3)) continue; /* big sizes: a third of the kinds */
                stat_values(d, kind, src, n);
                for (int pieces = 0; pieces < 4; pieces++) {
                    if (pieces == 1 && n > 100000) continue;
                    bool hist = (kind + pieces + (int)s) % 2 == 0;
                    uint64_t seed = rnd() | 1;
                    ck_stats a, b;
                    cases++;
                    if (stats_run(cpu, d, src, n, pieces, hist, &a, seed) || stats_run(gpu, d, src, n, pieces, hist, &b, seed)) {
                        bad++;
                        continue;
                    }
                    if (!stats_same(&a, &b) && bad++ < 5)
                        fprintf(stderr, "  stats %s n=%llu kind=%d pieces=%d hist=%d: CUDA differs from CPU "
                                "(mean %.17g/%.17g std %.17g/%.17g finite %llu/%llu)\n",
                                ck_dtype_name(d), (unsigned long long)n, kind, pieces, hist, b.mean, a.mean, b.std, a.std,
                                (unsigned long long)b.t.finite, (unsigned long long)a.t.finite);
                }
            }
            free(src);
        }
    CHECK(cases > 300 && bad == 0);
}

static void test_stats_api(void)
{
    /* the same dtypes as the CPU back end */
    for (int d = 0; d < CK_DTYPE_COUNT; d++)
        CHECK(gpu->ops->supports(gpu, CK_OP_STATS, (ck_dtype)d) == cpu->ops->supports(cpu, CK_OP_STATS, (ck_dtype)d));
    ck_error err;
    ck_stats a, b;
    uint16_t h[3] = {0x3F80, 0x4000, 0x3F80};
    int64_t i64 = 1;
    ck_stats_init(&b, false);
    CHECK(gpu->ops->stats(gpu, CK_I64, &i64, 1, &b, &err) == -1 && err.code == CK_E_UNSUPPORTED);
    CHECK(gpu->ops->stats(gpu, CK_F4, h, 2, &b, &err) == -1 && err.code == CK_E_UNSUPPORTED);
    /* one reduction over several dtypes, the open chunk crossing calls, then a finished one refused */
    uint64_t n = 5000;
    float *f = malloc(n * 4);
    uint16_t *bf = malloc(n * 2);
    stat_values(CK_F32, 1, (uint8_t *)f, n);
    stat_values(CK_BF16, 2, (uint8_t *)bf, n);
    for (int hist = 0; hist <= 1; hist++) {
        ck_backend *bes[2] = {cpu, gpu};
        ck_stats *st[2] = {&a, &b};
        for (int k = 0; k < 2; k++) {
            ck_stats_init(st[k], hist);
            for (int pass = 1; pass <= 2; pass++) {
                if (pass == 2) ck_stats_begin_pass2(st[k]);
                CHECK(bes[k]->ops->stats(bes[k], CK_BF16, h, 3, st[k], &err) == 0);
                CHECK(bes[k]->ops->stats(bes[k], CK_F32, f, n, st[k], &err) == 0);
                CHECK(bes[k]->ops->stats(bes[k], CK_BF16, bf, n, st[k], &err) == 0);
            }
            ck_stats_finish(st[k]);
        }
        CHECK(stats_same(&a, &b) && b.count == 2 * n + 3);
        CHECK(gpu->ops->stats(gpu, CK_F32, f, n, &b, &err) == -1 && err.code == CK_E_USAGE);
    }
    free(f);
    free(bf);
}

int main(void)
{
    char why[256];
    ck_error err;
#ifdef CK_HAVE_CUDA
    RUN_TEST("cuda", test_stats_lanes); /* no device needed */
#else
    printf("SKIP: cuda/test_stats_lanes: CUDA is not compiled in\n");
#endif
    if (!ck_backend_cuda_available(why)) {
        printf("SKIP: cuda/test_transpose: %s\nSKIP: cuda/test_cast: %s\nSKIP: cuda/test_dequant: %s\n", why, why, why);
        printf("SKIP: cuda/test_compare: %s\nSKIP: cuda/test_permute: %s\nSKIP: cuda/test_quant: %s\n", why, why, why);
        printf("SKIP: cuda/test_matmul: %s\nSKIP: cuda/test_stats: %s\nSKIP: cuda/test_stats_api: %s\n", why, why, why);
        TEST_EXIT();
    }
    cpu = ck_backend_cpu_create(0, &err);
    gpu = ck_backend_create(CK_BACKEND_CUDA, 0, why, &err);
    if (!cpu || !gpu) {
        printf("FAIL: cuda/setup: %s\n", err.msg);
        return 1;
    }
    printf("# %s\n", why);
    RUN_TEST("cuda", test_transpose);
    RUN_TEST("cuda", test_cast);
    RUN_TEST("cuda", test_dequant);
    RUN_TEST("cuda", test_compare);
    RUN_TEST("cuda", test_permute);
    RUN_TEST("cuda", test_quant);
    RUN_TEST("cuda", test_matmul);
    RUN_TEST("cuda", test_stats);
    RUN_TEST("cuda", test_stats_api);
    ck_backend_destroy(gpu);
    ck_backend_destroy(cpu);
    TEST_EXIT();
}
