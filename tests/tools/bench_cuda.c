/* bench_cuda: the CUDA back end's kernels on the GPU, against a device-to-device copy measured in
 * the same run (issue 3: "GB/s against a device-to-device copy"), and each op end to end (host
 * buffers in and out, PCIe included) against the pinned copies to and from the device.
 *   bench_cuda [--mib M]     (default 256)
 * Device GB/s counts bytes read plus bytes written by the kernels, as bench_kernels does on the
 * CPU; a copy of S bytes moves 2S. The kernels' time is the device time between an op's upload
 * and its download (CUDA events, ck_cuda_set_timing), best of 5. Statistics stream through two
 * streams of their own and are timed end to end only. Without CUDA or without a device it says so
 * and exits 0: the CPU bench is the reference everywhere. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/backend.h"
#include "kernels/codec.h"
#include "kernels/stats.h"
#ifdef CK_HAVE_CUDA
#include "kernels/cuda/backend_cuda.h"
#endif

#ifndef CK_HAVE_CUDA
int main(void)
{
    puts("bench_cuda: skipped: the CUDA back end was not built (no nvcc)");
    return 0;
}
#else

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double d2d_gbs, h2d_gbs, d2h_gbs;
static ck_backend *be;

/* Best of 5 (after one warm-up call that also sizes the device buffers): device seconds and wall
 * seconds. */
#define TIME_OP(dev_s, wall_s, stmt)                                           \
    do {                                                                       \
        ck_error err_;                                                         \
        if ((stmt) != 0) {                                                     \
            fprintf(stderr, "bench_cuda: %s: %s\n", #stmt, err_.msg);          \
            exit(1);                                                           \
        }                                                                      \
        dev_s = wall_s = 1e30;                                                 \
        for (int rep_ = 0; rep_ < 5; rep_++) {                                 \
            ck_cuda_take_device_ms(be);                                        \
            double t0_ = now();                                                \
            if ((stmt) != 0) {                                                 \
                fprintf(stderr, "bench_cuda: %s: %s\n", #stmt, err_.msg);      \
                exit(1);                                                       \
            }                                                                  \
            double w_ = now() - t0_, d_ = ck_cuda_take_device_ms(be) * 1e-3;   \
            if (d_ < dev_s) dev_s = d_;                                        \
            if (w_ < wall_s) wall_s = w_;                                      \
        }                                                                      \
    } while (0)
#define ERR (&err_)

/* in_bytes read and out_bytes written by the op; its kernels moved both on the device. */
static void report(const char *name, double in_bytes, double out_bytes, double dev_s, double wall_s)
{
    double dev = (in_bytes + out_bytes) / dev_s / 1e9;
    /* end to end: the time the transfers alone would take, over the op's time */
    double transfers = in_bytes / (h2d_gbs * 1e9) + out_bytes / (d2h_gbs * 1e9);
    printf("%-34s %8.1f GB/s %5.0f%% of d2d copy | end to end %6.2f ms, %4.0f%% of PCIe copies\n", name, dev,
           100 * dev / d2d_gbs, wall_s * 1e3, 100 * transfers / wall_s);
}

static void report_stats(const char *name, double bytes, double wall_s)
{
    printf("%-34s %40s end to end %6.2f ms, %4.0f%% of the upload\n", name, "", wall_s * 1e3,
           100 * bytes / (h2d_gbs * 1e9) / wall_s);
}

static int run_stats(ck_dtype d, const void *src, uint64_t n, ck_error *err)
{
    ck_stats st;
    ck_stats_init(&st, false);
    if (be->ops->stats(be, d, src, n, &st, err)) return -1;
    ck_stats_finish(&st);
    return 0;
}

int main(int argc, char **argv)
{
    size_t mib = 256;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--mib")) mib = (size_t)atol(argv[i + 1]);
    char why[256];
    if (!ck_cuda_available(why, sizeof why)) {
        printf("bench_cuda: skipped: %s\n", why);
        return 0;
    }
    ck_error err;
    be = ck_cuda_backend_create(1, &err);
    if (!be || ck_cuda_set_timing(be, true, &err)) {
        fprintf(stderr, "bench_cuda: %s\n", err.msg);
        return 1;
    }
    size_t bytes = mib << 20;
    uint8_t *a = aligned_alloc(64, bytes), *b = aligned_alloc(64, bytes * 4);
    if (!a || !b) {
        fprintf(stderr, "bench_cuda: out of memory\n");
        return 1;
    }
    uint64_t s = 88172645463325252ull;
    float *fa = (float *)(void *)a;
    for (size_t i = 0; i < bytes / 4; i++) { /* realistic weights, as bench_kernels */
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        fa[i] = ((float)(s % 20001) - 10000.0f) * 1e-5f;
    }
    memset(b, 0, bytes * 4);
    if (ck_cuda_copy_rates(bytes, 5, &d2d_gbs, &h2d_gbs, &d2h_gbs, &err)) {
        fprintf(stderr, "bench_cuda: %s\n", err.msg);
        return 1;
    }
    time_t t = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t));
    printf("bench_cuda: %s, %s, %zu MiB inputs\n", date, be->device, mib);
    printf("%-34s %8.1f GB/s  (reference: read + write)\n", "device-to-device copy", d2d_gbs);
    printf("%-34s %8.1f GB/s  (pinned), device to host %.1f GB/s\n", "host to device copy", h2d_gbs, d2h_gbs);

    double dev, wall;
    uint64_t n32 = bytes / 4, side = (uint64_t)sqrt((double)n32), n16 = bytes / 2, s16 = (uint64_t)sqrt((double)n16);
    TIME_OP(dev, wall, be->ops->transpose(be, CK_F32, a, b, 1, side, n32 / side, ERR));
    report("transpose F32 (square)", side * (n32 / side) * 4.0, side * (n32 / side) * 4.0, dev, wall);
    TIME_OP(dev, wall, be->ops->transpose(be, CK_BF16, a, b, 1, s16, n16 / s16, ERR));
    report("transpose BF16 (square)", s16 * (n16 / s16) * 2.0, s16 * (n16 / s16) * 2.0, dev, wall);
    TIME_OP(dev, wall, be->ops->transpose(be, CK_BF16, a, b, 1, 4096, n16 / 4096, ERR));
    report("transpose BF16 [4096,K]", n16 / 4096 * 4096 * 2.0, n16 / 4096 * 4096 * 2.0, dev, wall);
    TIME_OP(dev, wall, be->ops->transpose(be, CK_F8_E4M3, a, b, 1, 8192, bytes / 8192, ERR));
    report("transpose F8_E4M3 [8192,K]", bytes / 8192 * 8192.0, bytes / 8192 * 8192.0, dev, wall);

    TIME_OP(dev, wall, be->ops->cast(be, CK_F32, a, CK_BF16, b, n32, ERR));
    report("cast F32 -> BF16", n32 * 4.0, n32 * 2.0, dev, wall);
    be->ops->cast(be, CK_F32, a, CK_BF16, b, n32, &err); /* BF16 source for the next ones */
    TIME_OP(dev, wall, be->ops->cast(be, CK_BF16, b, CK_F32, b + bytes, n32, ERR));
    report("cast BF16 -> F32", n32 * 2.0, n32 * 4.0, dev, wall);
    TIME_OP(dev, wall, be->ops->cast(be, CK_BF16, b, CK_F8_E4M3, b + bytes, n32, ERR));
    report("cast BF16 -> F8_E4M3", n32 * 2.0, n32 * 1.0, dev, wall);
    TIME_OP(dev, wall, be->ops->cast(be, CK_F32, a, CK_F16, b + bytes, n32, ERR));
    report("cast F32 -> F16", n32 * 4.0, n32 * 2.0, dev, wall);
    TIME_OP(dev, wall, be->ops->cast(be, CK_F32, a, CK_F8_E4M3, b + bytes, n32, ERR));
    report("cast F32 -> F8_E4M3", n32 * 4.0, n32 * 1.0, dev, wall);

    /* dequantization: codes from `a` (any bytes are valid codes), finite scales */
    uint64_t cols = 2880, rows = bytes / 4 / cols; /* F32 output fills at most `bytes` */
    uint8_t *sc = b + bytes * 3;
    for (uint64_t i = 0; i < rows * (cols / 32); i++) sc[i] = (uint8_t)(120 + i % 16); /* e8m0 */
    TIME_OP(dev, wall, be->ops->dequant_mxfp4(be, a, sc, (float *)(void *)b, rows, cols, ERR));
    report("dequant MXFP4 -> F32", rows * cols / 2.0 + rows * cols / 32.0, rows * cols * 4.0, dev, wall);
    for (uint64_t i = 0; i < rows * (cols / 16); i++) sc[i] = 0x38; /* e4m3 1.0 */
    TIME_OP(dev, wall, be->ops->dequant_nvfp4(be, a, sc, 0.5f, (float *)(void *)b, rows, cols, ERR));
    report("dequant NVFP4 -> F32", rows * cols / 2.0 + rows * cols / 16.0, rows * cols * 4.0, dev, wall);
    uint64_t r8 = bytes / 4 / cols;
    float *fsc = (float *)(void *)(b + bytes * 3);
    for (uint64_t i = 0; i < ((r8 + 127) / 128) * ((cols + 127) / 128); i++) fsc[i] = 0.5f;
    be->ops->cast(be, CK_F32, a, CK_F8_E4M3, b + bytes * 2, r8 * cols, &err); /* finite codes */
    TIME_OP(dev, wall, be->ops->dequant_fp8(be, CK_F8_E4M3, b + bytes * 2, fsc, (float *)(void *)b, 0, r8, cols, 128, 128, ERR));
    report("dequant FP8 128x128 -> F32", r8 * cols * 1.0, r8 * cols * 4.0, dev, wall);

    be->ops->cast(be, CK_F32, a, CK_BF16, b, n32, &err);
    be->ops->cast(be, CK_F32, a, CK_F8_E4M3, b + bytes, n32, &err);
    TIME_OP(dev, wall, run_stats(CK_F32, a, n32, ERR));
    report_stats("stats F32", (double)bytes, wall);
    TIME_OP(dev, wall, run_stats(CK_BF16, b, n16 / 2, ERR));
    report_stats("stats BF16", (double)bytes / 2, wall);
    TIME_OP(dev, wall, run_stats(CK_F8_E4M3, b + bytes, n32, ERR));
    report_stats("stats F8_E4M3", (double)n32, wall);
    (void)dev;

    printf("\ntargets (issue 3, as on the CPU): transpose and cast >= 50%% of the device copy\n");
    ck_backend_destroy(be);
    free(a);
    free(b);
    return 0;
}
#endif
