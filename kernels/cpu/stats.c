/* Statistics on the CPU (see kernels/stats.h for the reduction order that makes the result
 * independent of the thread count and of how the caller cuts the tensor into pieces).
 *
 * One call: a head that finishes the chunk left open by the previous call, then whole chunks
 * (in parallel: each task reduces a run of chunks and keeps one value per chunk, which are
 * then added in chunk order), then a tail that stays open for the next call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu.h"
#include "kernels/cpu/simd.h"

#define CHUNKS_PER_TASK 16

typedef struct {
    const uint8_t *src;
    size_t ebytes;                 /* bytes per element; 0 for packed F4 (handled by the head/tail only) */
    void (*to_f32)(const void *, float *, size_t);
    const ck_stats *st;
    uint64_t nchunks;
    double *chunk_vals;            /* one per chunk */
    ck_tally *tallies;             /* one per task */
} st_job;

/* ---- vectorized passes: the order of kernels/stats.h, 8 lanes at a time ------------------------
 * Element i of a chunk goes to lane i % 8, in element order, so a group of 8 elements starting at
 * lane 0 adds one element to each lane: vector lanes are the reduction lanes, and the sums are the
 * same plain double adds as ck_stats_pass1_run / ck_stats_pass2_run, which do the elements before
 * the first such group and after the last. Counts, min and max are kept per lane and folded at the
 * end (exact). */

typedef struct { ck_v4f32 lo, hi; } v8f;

/* Pass 1 over n elements starting at lane 0 (n a multiple of 8). */
CK_VEC_CLONES static void pass1_groups(const float *x, uint64_t n, double *lanes, ck_tally *t)
{
    ck_v4f64 s0, s1;
    memcpy(&s0, lanes, sizeof s0);
    memcpy(&s1, lanes + 4, sizeof s1);
    const ck_v4f32 pinf = {INFINITY, INFINITY, INFINITY, INFINITY};
    ck_v4f32 mn0 = {t->min, t->min, t->min, t->min}, mn1 = mn0, mx0 = {t->max, t->max, t->max, t->max}, mx1 = mx0;
    ck_v4i32 nan = {0}, inf = {0}, zero = {0}, fin = {0};
    (void)pinf;
    for (uint64_t i = 0; i < n; i += 8) {
        ck_v4u32 u0, u1;
        memcpy(&u0, x + i, 16);
        memcpy(&u1, x + i + 4, 16);
#define P1_HALF(u, mn, mx, sacc)                                                     \
        do {                                                                         \
            ck_v4u32 a = u & 0x7FFFFFFFu;                                            \
            ck_v4i32 f = (ck_v4i32)(a < 0x7F800000u);                                \
            nan -= (ck_v4i32)(a > 0x7F800000u);                                      \
            inf -= (ck_v4i32)(a == 0x7F800000u);                                     \
            zero -= (ck_v4i32)(a == 0u);                                             \
            fin -= f;                                                                \
            ck_v4u32 fu = (ck_v4u32)f, vb = u & fu; /* non-finite -> +0 */           \
            ck_v4f32 v = (ck_v4f32)vb;                                               \
            ck_v4u32 lt = (ck_v4u32)(v < mn) & fu, gt = (ck_v4u32)(v > mx) & fu;     \
            mn = (ck_v4f32)((vb & lt) | ((ck_v4u32)mn & ~lt));                       \
            mx = (ck_v4f32)((vb & gt) | ((ck_v4u32)mx & ~gt));                       \
            sacc += __builtin_convertvector(v, ck_v4f64);                            \
        } while (0)
        P1_HALF(u0, mn0, mx0, s0);
        P1_HALF(u1, mn1, mx1, s1);
#undef P1_HALF
    }
    memcpy(lanes, &s0, sizeof s0);
    memcpy(lanes + 4, &s1, sizeof s1);
    float mn = t->min, mx = t->max;
    for (int k = 0; k < 4; k++) {
        mn = mn0[k] < mn ? mn0[k] : mn;
        mn = mn1[k] < mn ? mn1[k] : mn;
        mx = mx0[k] > mx ? mx0[k] : mx;
        mx = mx1[k] > mx ? mx1[k] : mx;
        t->nan += (uint64_t)nan[k];
        t->inf += (uint64_t)inf[k];
        t->zero += (uint64_t)zero[k];
        t->finite += (uint64_t)fin[k];
    }
    t->min = mn;
    t->max = mx;
}

/* Pass 2 over n elements starting at lane 0 (n a multiple of 8, at most CK_STATS_CHUNK). Bins
 * are computed 4 at a time (bin CK_HIST_BINS: not finite, dropped), then counted into 8
 * sub-histograms so that runs of one bin do not chain every increment on the last. */
CK_VEC_CLONES static void pass2_groups(const float *x, uint64_t n, double mean, double lo, double scale,
                                       double *lanes, ck_tally *t)
{
    ck_v4f64 s0, s1;
    memcpy(&s0, lanes, sizeof s0);
    memcpy(&s1, lanes + 4, sizeof s1);
    const ck_v4f64 vmean = {mean, mean, mean, mean}, vlo = {lo, lo, lo, lo}, vscale = {scale, scale, scale, scale};
    const ck_v4f64 top = {CK_HIST_BINS - 1, CK_HIST_BINS - 1, CK_HIST_BINS - 1, CK_HIST_BINS - 1};
    int32_t bins[CK_STATS_CHUNK];
    for (uint64_t i = 0; i < n; i += 8) {
        ck_v4u32 u0, u1;
        memcpy(&u0, x + i, 16);
        memcpy(&u1, x + i + 4, 16);
#define P2_HALF(u, sacc, off)                                                                 \
        do {                                                                                  \
            ck_v4i32 f = (ck_v4i32)((u & 0x7FFFFFFFu) < 0x7F800000u);                         \
            ck_v4f64 xd = __builtin_convertvector((ck_v4f32)(u & (ck_v4u32)f), ck_v4f64);     \
            ck_v4i64 f64 = __builtin_convertvector(f, ck_v4i64);                              \
            ck_v4f64 d = (ck_v4f64)((ck_v4i64)(xd - vmean) & f64);                            \
            sacc += d * d;                                                                    \
            ck_v4f64 b = (xd - vlo) * vscale;                                                 \
            ck_v4i64 big = (ck_v4i64)(b >= top);                                              \
            b = (ck_v4f64)(((ck_v4i64)top & big) | ((ck_v4i64)b & ~big));                     \
            ck_v4i64 pos = (ck_v4i64)(b > 0);                                                 \
            b = (ck_v4f64)((ck_v4i64)b & pos);                                                \
            ck_v4i32 bi = __builtin_convertvector(b, ck_v4i32);                               \
            bi = (bi & f) | (CK_HIST_BINS & ~f);                                              \
            memcpy(bins + i + (off), &bi, 16);                                                \
        } while (0)
        P2_HALF(u0, s0, 0);
        P2_HALF(u1, s1, 4);
#undef P2_HALF
    }
    memcpy(lanes, &s0, sizeof s0);
    memcpy(lanes + 4, &s1, sizeof s1);
    uint32_t h[8][CK_HIST_BINS + 1];
    memset(h, 0, sizeof h);
    for (uint64_t i = 0; i < n; i += 8)
        for (int k = 0; k < 8; k++) h[k][bins[i + k]]++;
    for (int b = 0; b < CK_HIST_BINS; b++)
        t->hist[b] += (uint64_t)h[0][b] + h[1][b] + h[2][b] + h[3][b] + h[4][b] + h[5][b] + h[6][b] + h[7][b];
}

/* Reduce n <= CK_STATS_CHUNK elements at in-chunk offset `off` into lanes and a tally. */
static void reduce_piece(const st_job *j, const ck_stats *st, const uint8_t *src, uint64_t n, unsigned off,
                         double *lanes, ck_tally *t)
{
    _Alignas(64) float tmp[CK_STATS_CHUNK];
    const float *x;
    if (j->to_f32) {
        j->to_f32(src, tmp, (size_t)n);
        x = tmp;
    } else {
        x = (const float *)(const void *)src;
    }
    /* scalar up to lane 0, 8-element groups, scalar tail */
    uint64_t head = (CK_STATS_LANES - off % CK_STATS_LANES) % CK_STATS_LANES;
    if (head > n) head = n;
    uint64_t groups = (n - head) / CK_STATS_LANES * CK_STATS_LANES;
    if (st->pass == 1) {
        ck_stats_pass1_run(x, head, off, lanes, t);
        pass1_groups(x + head, groups, lanes, t);
        ck_stats_pass1_run(x + head + groups, n - head - groups, 0, lanes, t);
    } else {
        ck_stats_pass2_run(x, head, off, st->mean, st->lo, st->scale, lanes, t);
        pass2_groups(x + head, groups, st->mean, st->lo, st->scale, lanes, t);
        ck_stats_pass2_run(x + head + groups, n - head - groups, 0, st->mean, st->lo, st->scale, lanes, t);
    }
}

static void tally_init(ck_tally *t)
{
    memset(t, 0, sizeof *t);
    t->min = INFINITY;
    t->max = -INFINITY;
}

static void tally_merge(ck_tally *into, const ck_tally *t)
{
    into->nan += t->nan;
    into->inf += t->inf;
    into->zero += t->zero;
    into->finite += t->finite;
    if (t->min < into->min) into->min = t->min;
    if (t->max > into->max) into->max = t->max;
    for (int b = 0; b < CK_HIST_BINS; b++) into->hist[b] += t->hist[b];
}

static void chunks_task(void *ctx, size_t task)
{
    const st_job *j = ctx;
    uint64_t c0 = (uint64_t)task * CHUNKS_PER_TASK, c1 = c0 + CHUNKS_PER_TASK < j->nchunks ? c0 + CHUNKS_PER_TASK : j->nchunks;
    ck_tally *t = &j->tallies[task];
    tally_init(t);
    for (uint64_t c = c0; c < c1; c++) {
        double lanes[CK_STATS_LANES] = {0};
        reduce_piece(j, j->st, j->src + c * CK_STATS_CHUNK * j->ebytes, CK_STATS_CHUNK, 0, lanes, t);
        j->chunk_vals[c] = ck_lanes_fold(lanes);
    }
}

int ck_cpu_stats(ck_backend *be, ck_dtype dtype, const void *src, uint64_t n, ck_stats *st, ck_error *err)
{
    const ck_cpu_dtype *cd = &ck_cpu_dtypes[dtype];
    unsigned bits = ck_dtype_info(dtype)->bits;
    if (!cd->to_f32 || bits % 8)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "stats: %s is not supported", ck_dtype_name(dtype));
    if (st->pass != 1 && st->pass != 2)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "stats: the reduction is finished");
    st_job j = {.src = src, .ebytes = bits / 8, .to_f32 = dtype == CK_F32 ? NULL : cd->to_f32, .st = st};
    ck_chunked_sum *cs = st->pass == 1 ? &st->s1 : &st->s2;
    ck_tally head;
    tally_init(&head);
    uint64_t done = 0;
    unsigned off = (unsigned)(cs->pos % CK_STATS_CHUNK);
    if (off) { /* finish the open chunk */
        uint64_t k = n < CK_STATS_CHUNK - off ? n : CK_STATS_CHUNK - off;
        reduce_piece(&j, st, j.src, k, off, cs->lanes, &head);
        done = k;
        if (off + k == CK_STATS_CHUNK) ck_chunked_sum_close(cs);
    }
    j.src += done * j.ebytes;
    j.nchunks = (n - done) / CK_STATS_CHUNK;
    if (j.nchunks) {
        size_t ntasks = (size_t)((j.nchunks + CHUNKS_PER_TASK - 1) / CHUNKS_PER_TASK);
        j.chunk_vals = malloc(j.nchunks * sizeof *j.chunk_vals);
        j.tallies = malloc(ntasks * sizeof *j.tallies);
        if (!j.chunk_vals || !j.tallies) {
            free(j.chunk_vals);
            free(j.tallies);
            return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "stats: out of memory");
        }
        ck_pool_run(ck_cpu_pool(be), ntasks, chunks_task, &j);
        for (uint64_t c = 0; c < j.nchunks; c++) ck_neumaier_add(&cs->total, &cs->comp, j.chunk_vals[c]);
        for (size_t t = 0; t < ntasks; t++) tally_merge(&head, &j.tallies[t]);
        free(j.chunk_vals);
        free(j.tallies);
        done += j.nchunks * CK_STATS_CHUNK;
    }
    if (done < n) /* the tail opens a chunk that the next call (or the end of the pass) closes */
        reduce_piece(&j, st, (const uint8_t *)src + done * j.ebytes, n - done, 0, cs->lanes, &head);
    cs->pos += n;
    if (st->pass == 1) {
        tally_merge(&st->t, &head);
    } else {
        for (int b = 0; b < CK_HIST_BINS; b++) st->t.hist[b] += head.hist[b];
    }
    return 0;
}
