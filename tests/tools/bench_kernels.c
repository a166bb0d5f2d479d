/* bench_kernels: each CPU kernel's throughput, and its ratio to memcpy measured in the same run
 * with the same thread count (default 2, the figure issue 3 sets targets for).
 *   bench_kernels [--threads N] [--mib M]
 * GB/s counts bytes read plus bytes written (memcpy of S bytes moves 2S), so ratios compare like
 * with like; statistics only read: once, or twice with the histogram, each read counted. Best of
 * 5 runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/backend.h"
#include "kernels/codec.h"
#include "kernels/cpu/pool.h"
#include "kernels/hash.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    const uint8_t *src;
    uint8_t *dst;
    size_t bytes, parts;
} copy_job;

static void copy_task(void *ctx, size_t t)
{
    copy_job *j = ctx;
    size_t per = (j->bytes + j->parts - 1) / j->parts, a = t * per, b = a + per < j->bytes ? a + per : j->bytes;
    if (a < b) memcpy(j->dst + a, j->src + a, b - a);
}

typedef struct {
    ck_backend *be;
    ck_pool *pool;
    uint8_t *a, *b;   /* two big buffers */
    float *f;         /* decoded output */
    size_t bytes;
} bench;

static volatile uint64_t sink;

#define TIME_BEST(var, stmt)                          \
    do {                                              \
        var = 1e30;                                   \
        for (int rep_ = 0; rep_ < 5; rep_++) {        \
            double t0_ = now();                       \
            stmt;                                     \
            double dt_ = now() - t0_;                 \
            if (dt_ < var) var = dt_;                 \
        }                                             \
    } while (0)

/* The memcpy reference, measured again after every kernel: this VM's memory bandwidth moves by
 * a factor of 2 over seconds (memcpy alone reads 40 or 90 GB/s from one run to the next), so each
 * ratio is taken against the faster of the copies timed just before and just after its kernel,
 * never against a figure from another moment. The copy goes from `a` into the tail of `f`, which
 * no kernel reads. */
static double memcpy_gbs;
static copy_job reference_copy;
static ck_pool *reference_pool;

static double time_memcpy(void)
{
    double t;
    TIME_BEST(t, ck_pool_run(reference_pool, reference_copy.parts, copy_task, &reference_copy));
    return 2.0 * reference_copy.bytes / t / 1e9;
}

static void report(const char *name, double moved, double secs)
{
    double gbs = moved / secs / 1e9, after = time_memcpy(), ref = after > memcpy_gbs ? after : memcpy_gbs;
    printf("%-34s %8.2f GB/s  %5.0f%% of memcpy (%.0f GB/s)\n", name, gbs, 100 * gbs / ref, ref);
    memcpy_gbs = after;
}

/* A whole reduction, as tensor_eval drives it: one pass, or two with the histogram. */
static void run_stats(bench *B, ck_dtype d, const void *src, uint64_t n, bool histogram)
{
    static ck_stats st;
    ck_error err;
    ck_stats_init(&st, histogram);
    B->be->ops->stats(B->be, d, src, n, &st, &err);
    ck_stats_begin_pass2(&st);
    if (ck_stats_wants_pass2(&st)) B->be->ops->stats(B->be, d, src, n, &st, &err);
    ck_stats_finish(&st);
    sink += st.t.finite;
}

/* Compare, pair permutes, quantizers (kernels/ops.h) and the BLAS product, on B->a's F32 weights. */
static void bench_ops(bench *B)
{
    double t;
    ck_error err;
    uint64_t n32 = B->bytes / 4, n16 = B->bytes / 2;
    const float *fa = (const float *)(const void *)B->a;
    ck_compare cmp;
    TIME_BEST(t, (ck_compare_init(&cmp), B->be->ops->compare(B->be, fa, fa + n32 / 2, n32 / 2, &cmp, &err),
                  ck_compare_finish(&cmp), sink += (uint64_t)cmp.count));
    report("compare F32 (cosine, rel. error)", (double)(n32 / 2) * 8, t);
    TIME_BEST(t, B->be->ops->permute_pairs(B->be, CK_BF16, B->a, B->b, 1, n16, 1, CK_PAIRS_SPLIT, &err));
    report("permute BF16 gate/up, last dim", 2.0 * B->bytes, t);
    TIME_BEST(t, B->be->ops->permute_pairs(B->be, CK_BF16, B->a, B->b, n16 / 4096 / 128, 128, 4096, CK_PAIRS_SPLIT, &err));
    report("permute BF16 RoPE rows (d=128)", 2.0 * (n16 / 4096 / 128) * 128 * 4096 * 2, t);
    uint64_t cols = 2880, rows = n32 / cols, n = rows * cols;
    TIME_BEST(t, B->be->ops->quant_mxfp4(B->be, fa, B->b, B->b + n / 2, rows, cols, &err));
    report("quantize F32 -> MXFP4", n * (4 + 0.5 + 1.0 / 32), t);
    float g = 0;
    TIME_BEST(t, (g = 0, B->be->ops->quant_nvfp4(B->be, fa, B->b, B->b + n / 2, &g, rows, cols, &err)));
    report("quantize F32 -> NVFP4 (+ amax)", n * (8 + 0.5 + 1.0 / 16), t);
    float *sc = (float *)(void *)(B->b + n);
    TIME_BEST(t, B->be->ops->quant_fp8(B->be, CK_F8_E4M3, fa, B->b, sc, rows, cols, 128, 128, true, &err));
    report("quantize F32 -> FP8 128x128", n * (8 + 1.0), t);
    TIME_BEST(t, B->be->ops->quant_fp8(B->be, CK_F8_E4M3, fa, B->b, sc, rows, cols, rows, cols, true, &err));
    report("quantize F32 -> FP8 per tensor", n * (8 + 1.0), t);
    /* the forward probe's kind of product: a few hundred rows against a 2880-wide weight */
    uint64_t m = 256, k = 2880, nn = 2880;
    TIME_BEST(t, B->be->ops->matmul(B->be, fa, fa + m * k, B->f, m, nn, k, &err));
    printf("%-34s %8.2f GFLOP/s\n", "matmul 256x2880 . (2880x2880)^T", 2.0 * m * nn * k / t / 1e9);
}

int main(int argc, char **argv)
{
    int threads = 2;
    size_t mib = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mib")) mib = (size_t)atol(argv[i + 1]);
    }
    ck_error err;
    bench B = {.bytes = mib << 20};
    B.be = ck_backend_cpu_create(threads, &err);
    B.pool = ck_pool_create(threads);
    /* cache-line aligned, as ckdoc's own tensor buffers are */
    B.a = aligned_alloc(64, B.bytes);
    B.b = aligned_alloc(64, B.bytes * 2);
    B.f = aligned_alloc(64, B.bytes * 8);
    if (!B.be || !B.pool || !B.a || !B.b || !B.f) { fprintf(stderr, "bench_kernels: setup failed\n"); return 2; }
    /* realistic weights: small normal-ish values, as F32 in `a` */
    uint64_t s = 88172645463325252ull;
    float *fa = (float *)(void *)B.a;
    for (size_t i = 0; i < B.bytes / 4; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        fa[i] = ((float)(s % 20001) - 10000.0f) * 1e-5f;
    }
    memset(B.b, 0, B.bytes * 2);
    memset(B.f, 0, B.bytes * 8);
    printf("bench_kernels: %zu MiB inputs, cpu back end with %d threads\n", mib, threads);

    double t;
    reference_copy = (copy_job){B.a, (uint8_t *)B.f + B.bytes * 7, B.bytes, (size_t)threads};
    reference_pool = B.pool;
    memcpy_gbs = time_memcpy();
    printf("%-34s %8.2f GB/s  (reference; measured again after each kernel, the faster of the\n"
           "%-34s                 copies before and after it is the ratio's base, in parentheses)\n",
           "memcpy", memcpy_gbs, "");

    uint64_t n32 = B.bytes / 4, side = (uint64_t)sqrt((double)n32);
    TIME_BEST(t, B.be->ops->transpose(B.be, CK_F32, B.a, B.b, 1, side, n32 / side, &err));
    report("transpose F32 (square)", 2.0 * side * (n32 / side) * 4, t);
    uint64_t n16 = B.bytes / 2, s16 = (uint64_t)sqrt((double)n16);
    TIME_BEST(t, B.be->ops->transpose(B.be, CK_BF16, B.a, B.b, 1, s16, n16 / s16, &err));
    report("transpose BF16 (square)", 2.0 * s16 * (n16 / s16) * 2, t);
    TIME_BEST(t, B.be->ops->transpose(B.be, CK_BF16, B.a, B.b, 32, 2880, n16 / 32 / 2880, &err));
    report("transpose BF16 [32,2880,K]", 2.0 * 32 * 2880 * (n16 / 32 / 2880) * 2, t);
    /* power-of-two sides, the usual case in checkpoints (hidden 4096, 7168 x 2048 FP8 experts...)
     * and the hard one: output rows a multiple of 4 KiB apart share cache sets */
    uint64_t p2 = 1;
    while (p2 * p2 * 4 <= n16) p2 *= 2; /* [p2, 2 p2] or [p2, p2] fills at most the buffer */
    uint64_t p2c = p2 * p2 * 2 <= n16 ? 2 * p2 : p2;
    TIME_BEST(t, B.be->ops->transpose(B.be, CK_BF16, B.a, B.b, 1, p2, p2c, &err));
    char name[64];
    snprintf(name, sizeof name, "transpose BF16 [%llu,%llu]", (unsigned long long)p2, (unsigned long long)p2c);
    report(name, 2.0 * p2 * p2c * 2, t);
    uint64_t n8 = B.bytes, q2 = 1;
    while (q2 * q2 * 4 <= n8) q2 *= 2;
    uint64_t q2c = q2 * q2 * 2 <= n8 ? 2 * q2 : q2;
    TIME_BEST(t, B.be->ops->transpose(B.be, CK_F8_E4M3, B.a, B.b, 1, q2, q2c, &err));
    snprintf(name, sizeof name, "transpose F8_E4M3 [%llu,%llu]", (unsigned long long)q2, (unsigned long long)q2c);
    report(name, 2.0 * q2 * q2c, t);
    uint64_t n4 = B.bytes * 2, s4 = (uint64_t)sqrt((double)n4) & ~1ull;
    TIME_BEST(t, B.be->ops->transpose(B.be, CK_F4, B.a, B.b, 1, s4, (n4 / s4) & ~1ull, &err));
    report("transpose F4 (packed, square)", 2.0 * s4 * ((n4 / s4) & ~1ull) / 2, t);

    TIME_BEST(t, B.be->ops->cast(B.be, CK_F32, B.a, CK_BF16, B.b, n32, &err));
    report("cast F32 -> BF16", n32 * 6.0, t);
    /* BF16 source for the next ones: the cast's own output */
    B.be->ops->cast(B.be, CK_F32, B.a, CK_BF16, B.b, n32, &err);
    TIME_BEST(t, B.be->ops->cast(B.be, CK_BF16, B.b, CK_F32, B.f, n32, &err));
    report("cast BF16 -> F32", n32 * 6.0, t);
    TIME_BEST(t, B.be->ops->cast(B.be, CK_BF16, B.b, CK_F8_E4M3, B.f, n32, &err));
    report("cast BF16 -> F8_E4M3", n32 * 3.0, t);
    TIME_BEST(t, B.be->ops->cast(B.be, CK_F32, B.a, CK_F16, B.b, n32, &err));
    report("cast F32 -> F16", n32 * 6.0, t);
    TIME_BEST(t, B.be->ops->cast(B.be, CK_F32, B.a, CK_F8_E4M3, B.b, n32, &err));
    report("cast F32 -> F8_E4M3", n32 * 5.0, t);

    /* dequantization: B.a's bytes as codes, plausible scales in B.b */
    uint64_t cols = 2880, rows = B.bytes / 4 / cols; /* f32 output the size of the input buffer */
    memset(B.b, 120, rows * cols / 16 + 1);
    TIME_BEST(t, B.be->ops->dequant_mxfp4(B.be, B.a, B.b, B.f, rows, cols, &err));
    report("dequant MXFP4 -> F32", rows * cols * (0.5 + 1.0 / 32 + 4), t);
    memset(B.b, 0x38, rows * cols / 16 + 1);
    TIME_BEST(t, B.be->ops->dequant_nvfp4(B.be, B.a, B.b, 0.5f, B.f, rows, cols, &err));
    report("dequant NVFP4 -> F32", rows * cols * (0.5 + 1.0 / 16 + 4), t);
    float *sc = (float *)(void *)B.b;
    for (size_t i = 0; i < (rows / 128 + 1) * (cols / 128 + 1); i++) sc[i] = 0.01f;
    uint64_t r8 = B.bytes / 4 / cols;
    TIME_BEST(t, B.be->ops->dequant_fp8(B.be, CK_F8_E4M3, B.a, sc, B.f, 0, r8, cols, 128, 128, &err));
    report("dequant FP8 128x128 -> F32", r8 * cols * 5.0, t);

    TIME_BEST(t, run_stats(&B, CK_F32, B.a, n32, false));
    report("stats F32", (double)B.bytes, t);
    /* 64 MiB of each in B.b: the F32 weights cast, repeated */
    for (int k = 0; k < 2; k++) B.be->ops->cast(B.be, CK_F32, fa, CK_BF16, B.b + k * n32 * 2, n32, &err);
    for (int k = 0; k < 4; k++) B.be->ops->cast(B.be, CK_F32, fa, CK_F8_E4M3, B.b + B.bytes + k * n32, n32, &err);
    TIME_BEST(t, run_stats(&B, CK_BF16, B.b, n32 * 2, false));
    report("stats BF16", (double)B.bytes, t);
    TIME_BEST(t, run_stats(&B, CK_F8_E4M3, B.b + B.bytes, n32 * 4, false));
    report("stats F8_E4M3", (double)B.bytes, t);
    TIME_BEST(t, run_stats(&B, CK_BF16, B.b, n32 * 2, true));
    report("stats BF16 + histogram (2 reads)", 2.0 * B.bytes, t);
    /* the content hash as ckdoc computes it: block digests on the pool, then the digest list */
    uint64_t *digests = malloc((B.bytes / CK_HASH_BLOCK + 1) * sizeof *digests);
    TIME_BEST(t, (B.be->ops->hash_blocks(B.be, B.a, B.bytes, digests, &err),
                  sink += ck_hash_block(digests, (B.bytes + CK_HASH_BLOCK - 1) / CK_HASH_BLOCK * 8)));
    report("hash (XXH3 of 1 MiB blocks)", (double)B.bytes, t);
    TIME_BEST(t, sink += ck_hash_block(B.a, B.bytes));
    printf("%-34s %8.2f GB/s  (for comparison: one XXH3 stream)\n", "XXH3-64, 1 thread", B.bytes / t / 1e9);
    free(digests);

    bench_ops(&B);

    ck_backend_destroy(B.be);
    ck_pool_destroy(B.pool);
    free(B.a), free(B.b), free(B.f);
    return 0;
}
