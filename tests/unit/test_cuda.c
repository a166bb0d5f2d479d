/* The CUDA back end against the CPU back end, bit for bit: transposes (every element width and
 * packed F4), casts (every pair), the three dequantizations, compare, pair permutes and the three
 * quantizers, on random shapes including odd and tiny ones; the matrix product to rounding. Without a device (or without CUDA compiled in) every case prints "SKIP: ..." and
 * nothing counts as a pass. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
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

int main(void)
{
    char why[256];
    ck_error err;
    if (!ck_backend_cuda_available(why)) {
        printf("SKIP: cuda/test_transpose: %s\nSKIP: cuda/test_cast: %s\nSKIP: cuda/test_dequant: %s\n", why, why, why);
        printf("SKIP: cuda/test_compare: %s\nSKIP: cuda/test_permute: %s\nSKIP: cuda/test_quant: %s\n", why, why, why);
        printf("SKIP: cuda/test_matmul: %s\n", why);
        return 0;
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
    ck_backend_destroy(gpu);
    ck_backend_destroy(cpu);
    TEST_EXIT();
}
