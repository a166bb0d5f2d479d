/* The CUDA back end against the CPU back end, bit for bit: transposes (every element width and
 * packed F4), casts (every pair), and the three dequantizations, on random shapes including odd
 * and tiny ones. Without a device (or without CUDA compiled in) every case prints "SKIP: ..." and
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

int main(void)
{
    char why[256];
    ck_error err;
    if (!ck_backend_cuda_available(why)) {
        printf("SKIP: cuda/test_transpose: %s\nSKIP: cuda/test_cast: %s\nSKIP: cuda/test_dequant: %s\n", why, why, why);
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
    ck_backend_destroy(gpu);
    ck_backend_destroy(cpu);
    TEST_EXIT();
}
