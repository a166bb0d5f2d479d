/* Statistics on the CPU (kernels/stats.h defines the reduction; this file computes the same bits
 * faster).
 *
 * Pass 1, one call: values that complete the chunk left open by the previous call go through
 * the open chunk; then whole chunks, in parallel (each task decodes a run of chunks into an L1
 * buffer and reduces each chunk there, keeping one ck_chunk_moments per chunk, which are then
 * merged in chunk order); the values after the last whole chunk open the next one.
 * Pass 2 (histograms only): bins are exact counts, so tasks count any stretch of elements. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu.h"
#include "kernels/cpu/simd.h"

#define CHUNKS_PER_TASK 64 /* of F32; as many bytes for the other dtypes */
#define STREAM_TASK_CHUNKS 256 /* streamed: each task's read is one pread of up to 1 MiB (F32) */
#define PREFETCH_AHEAD 4


typedef struct {
    const uint8_t *src;            /* in memory; NULL when streamed */
    ck_dtype dtype;
    size_t ebytes;
    void (*to_f32)(const void *, float *, size_t); /* NULL: F32, read in place */
    uint64_t nchunks;              /* pass 1: whole chunks; pass 2: elements / CK_STATS_CHUNK, rounded up */
    uint64_t n;                    /* pass 2: elements */
    ck_chunk_moments *moments;     /* pass 1: one per chunk */
    ck_exact_sums *sums;           /* pass 1 of an exact reduction (E4M3): one per task, no moments */
    ck_tally *tallies;             /* one per task */
    double lo, range;              /* pass 2 */
    /* streamed: each task reads its elements into its worker's buffer */
    const ck_elem_source *read;    /* NULL: in memory */
    uint64_t first;                /* the stream's element at chunk 0 of this job */
    uint8_t **wbuf;                /* per worker, task_chunks chunks */
    uint64_t task_chunks;          /* chunks per task */
    bool counts_only;              /* pass 1 counts, no moments, min or max */
    bool avx512;                   /* the fast paths of stats_avx512.c */
    /* pass 1: a task's results go into `st` as soon as they and all before them are done, merged
     * by whichever thread finishes a task and finds the merge free, so that the serial merge (in
     * chunk order; 7 ns a chunk, a tenth of a BF16 reduction) overlaps the other workers' tasks;
     * the rest after the run. After a failed read `st` is left half-merged: the caller drops it. */
    ck_stats *st;
    pthread_mutex_t merge_mu;
    size_t ntasks, merged;         /* tasks merged so far */
    atomic_uchar *ready;           /* per task: its results are complete */
    pthread_mutex_t mu;            /* guards the failure below */
    size_t failed_task;            /* the lowest task whose read failed (SIZE_MAX: none) */
    ck_error failure;
} st_job;

/* A task's elements [c0 * CK_STATS_CHUNK, c0 * CK_STATS_CHUNK + n): in memory, or from the
 * source (task_done after use). NULL if the read failed (recorded in the job: the lowest task's error wins, so
 * the message does not depend on thread timing). */
static void task_done(st_job *j, uint64_t c0, uint64_t n)
{
    if (j->read && j->read->done) j->read->done(j->read->ctx, j->first + c0 * CK_STATS_CHUNK, n);
}

static const uint8_t *task_data(st_job *j, size_t task, uint64_t c0, uint64_t n, int worker)
{
    if (!j->read) return j->src + c0 * CK_STATS_CHUNK * j->ebytes;
    ck_error e;
    const void *data;
    if (!j->read->get(j->read->ctx, j->first + c0 * CK_STATS_CHUNK, n, j->wbuf[worker], &data, &e)) return data;
    pthread_mutex_lock(&j->mu);
    if (task < j->failed_task) {
        j->failed_task = task;
        j->failure = e;
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* One whole chunk, in the lanes of kernels/stats.h, so the adds are those of ck_stats_chunk in the
 * same order. Written as loops over the 64 lanes, which the compiler turns into four 16-wide
 * accumulators (four independent add chains) with single min/max instructions: better code
 * than the same written with vector types. Sweep 1 reads the values as stored (F32, or BF16
 * widened on the fly and kept in the L1 buffer for sweep 2). The fast path returns false,
 * having changed nothing, for a chunk it does not take (a non-finite value, or magnitudes
 * outside float's range); ck_stats_chunk reduces the buffer then. This is the portable path:
 * where the CPU has AVX-512, stats_avx512.c's written-out version computes the same bits 1.3-1.6
 * times faster. */
#define L CK_STATS_LANES
typedef float v16f __attribute__((vector_size(64)));

/* After sweep 1: the checks, then sweep 2 over x (the chunk as f32). */
static inline __attribute__((always_inline)) bool sweep2(const float *p, const float *mn, const float *mx,
                                                          const uint32_t *amin, const float *x, ck_tally *t,
                                                          ck_chunk_moments *m)
{
    float lo = mn[0], hi = mx[0];
    uint32_t small = amin[0];
    double pl = ck_fold_lanes(p);
    for (int k = 0; k < L; k++) {
        lo = mn[k] < lo ? mn[k] : lo;
        hi = mx[k] > hi ? mx[k] : hi;
        small = amin[k] < small ? amin[k] : small;
    }
    /* A NaN or an infinity makes the shifted sums NaN or infinite (c itself may be one) */
    if (pl - pl != 0 || !ck_stats_float_ok(-lo > hi ? -lo : hi)) return false;
    float mf = ck_stats_mf(CK_STATS_CHUNK, x[0], pl), ql[L];
    /* vector locals: as arrays indexed in a loop, the accumulators went through memory */
    v16f q0 = {0}, q1 = {0}, q2 = {0}, q3 = {0}, vm = {0};
    vm += mf;
    for (unsigned i = 0; i < CK_STATS_CHUNK; i += L) {
        v16f v0, v1, v2, v3;
        memcpy(&v0, x + i, sizeof v0);
        memcpy(&v1, x + i + 16, sizeof v1);
        memcpy(&v2, x + i + 32, sizeof v2);
        memcpy(&v3, x + i + 48, sizeof v3);
        v0 -= vm, v1 -= vm, v2 -= vm, v3 -= vm;
        q0 += v0 * v0, q1 += v1 * v1, q2 += v2 * v2, q3 += v3 * v3;
    }
    memcpy(ql, &q0, 64), memcpy(ql + 16, &q1, 64), memcpy(ql + 32, &q2, 64), memcpy(ql + 48, &q3, 64);
    ck_stats_shifted(m, CK_STATS_CHUNK, x[0], pl, ck_fold_lanes(ql));
    uint32_t nz = 0;
    if (small == 0) /* there are zeros (rare in weights): count them */
        for (unsigned i = 0; i < CK_STATS_CHUNK; i++) nz += (ck_f32_bits(x[i]) & 0x7FFFFFFFu) == 0;
    ck_tally_add(t, 0, 0, nz, CK_STATS_CHUNK, lo, hi);
    return true;
}

/* Sweep 1's state and step: lane sums of x - c, lane min/max, and the smallest magnitude's bits
 * (0 when there are zeros). Non-finite values are caught by the sums, not here: this is the
 * part that runs on every element, so it does the least. */
#define SWEEP1_DECL(first)                                          \
    float c = (first), p[L], mn[L], mx[L];                          \
    uint32_t amin[L];                                               \
    for (int k = 0; k < L; k++) {                                   \
        p[k] = 0;                                                   \
        mn[k] = INFINITY;                                           \
        mx[k] = -INFINITY;                                          \
        amin[k] = UINT32_MAX;                                       \
    }

#define SWEEP1_STEP(k, v, bits)                                     \
    do {                                                            \
        uint32_t a_ = (bits) & 0x7FFFFFFFu;                         \
        amin[k] = a_ < amin[k] ? a_ : amin[k];                      \
        mn[k] = (v) < mn[k] ? (v) : mn[k];                          \
        mx[k] = (v) > mx[k] ? (v) : mx[k];                          \
        p[k] += (v) - c;                                            \
    } while (0)

CK_VEC_CLONES_WIDE static bool chunk_fast_f32(const float *x, ck_tally *t, ck_chunk_moments *m)
{
    SWEEP1_DECL(x[0]);
    for (unsigned i = 0; i < CK_STATS_CHUNK; i += L)
        for (int k = 0; k < L; k++) {
            float v = x[i + k];
            SWEEP1_STEP(k, v, ck_f32_bits(v));
        }
    return sweep2(p, mn, mx, amin, x, t, m);
}

/* BF16: each value is the high half of its f32. Fills buf whatever it returns. */
CK_VEC_CLONES_WIDE static bool chunk_fast_bf16(const uint16_t *src, float *buf, ck_tally *t, ck_chunk_moments *m)
{
    SWEEP1_DECL(ck_bits_f32((uint32_t)src[0] << 16));
    for (unsigned i = 0; i < CK_STATS_CHUNK; i += L)
        for (int k = 0; k < L; k++) {
            uint32_t u = (uint32_t)src[i + k] << 16;
            float v = ck_bits_f32(u);
            buf[i + k] = v;
            SWEEP1_STEP(k, v, u);
        }
    return sweep2(p, mn, mx, amin, buf, t, m);
}
/* The chunks the fast path leaves (non-finite values, or magnitudes outside float's range: a
 * corrupt tensor, or random bits) reduced by the definition (ck_stats_chunk), written as lane
 * loops the compiler vectorizes; without this, a tensor full of NaN read 20 times slower. */
CK_VEC_CLONES_WIDE static void chunk_masked(const float *x, ck_tally *t, ck_chunk_moments *m)
{
    unsigned first = 0;
    while (first < CK_STATS_CHUNK && !ck_f32_finite(x[first])) first++;
    float c = first < CK_STATS_CHUNK ? x[first] : 0, p[L], mn[L], mx[L];
    double sd[L];
    uint32_t nan[L], inf[L], zero[L], fin[L];
    for (int k = 0; k < L; k++) {
        p[k] = 0, sd[k] = 0, mn[k] = INFINITY, mx[k] = -INFINITY;
        nan[k] = inf[k] = zero[k] = fin[k] = 0;
    }
    for (unsigned i = 0; i < CK_STATS_CHUNK; i += L)
        for (int k = 0; k < L; k++) {
            float v = x[i + k];
            uint32_t a = ck_f32_bits(v) & 0x7FFFFFFFu;
            bool f = a < 0x7F800000u;
            nan[k] += a > 0x7F800000u;
            inf[k] += a == 0x7F800000u;
            zero[k] += a == 0;
            fin[k] += f;
            float dv = v - c, lov = f ? v : INFINITY, hiv = f ? v : -INFINITY;
            p[k] += f ? dv : 0.0f;
            mn[k] = lov < mn[k] ? lov : mn[k];
            mx[k] = hiv > mx[k] ? hiv : mx[k];
        }
    uint64_t n = 0;
    float lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < L; k++) {
        t->nan += nan[k];
        t->inf += inf[k];
        t->zero += zero[k];
        n += fin[k];
        lo = mn[k] < lo ? mn[k] : lo;
        hi = mx[k] > hi ? mx[k] : hi;
    }
    t->finite += n;
    m->n = n;
    m->sum = m->m2 = 0;
    if (!n) return;
    t->min = lo < t->min ? lo : t->min;
    t->max = hi > t->max ? hi : t->max;
    if (ck_stats_float_ok(-lo > hi ? -lo : hi)) {
        double pl = ck_fold_lanes(p);
        float mf = ck_stats_mf(n, c, pl), q[L];
        for (int k = 0; k < L; k++) q[k] = 0;
        for (unsigned i = 0; i < CK_STATS_CHUNK; i += L)
            for (int k = 0; k < L; k++) {
                float d = ck_f32_finite(x[i + k]) ? x[i + k] - mf : 0.0f;
                q[k] += d * d;
            }
        ck_stats_shifted(m, n, c, pl, ck_fold_lanes(q));
        return;
    }
    /* double lanes: over the values with the non-finite ones zeroed, and a 0/1 mask that zeroes
     * their deviations (the same adds as the definition's, in a form the compiler vectorizes) */
    float xm[CK_STATS_CHUNK], fm[CK_STATS_CHUNK];
    for (unsigned i = 0; i < CK_STATS_CHUNK; i++) {
        bool f = (ck_f32_bits(x[i]) & 0x7FFFFFFFu) < 0x7F800000u;
        xm[i] = f ? x[i] : 0.0f;
        fm[i] = f ? 1.0f : 0.0f;
    }
    double q[L];
    for (unsigned i = 0; i < CK_STATS_CHUNK; i += L)
        for (int k = 0; k < L; k++) sd[k] += (double)xm[i + k];
    m->sum = ck_fold_lanes_d(sd);
    double mean = m->sum / (double)n;
    for (int k = 0; k < L; k++) q[k] = 0;
    for (unsigned i = 0; i < CK_STATS_CHUNK; i += L)
        for (int k = 0; k < L; k++) {
            double d = ((double)xm[i + k] - mean) * (double)fm[i + k];
            q[k] += d * d;
        }
    m->m2 = ck_fold_lanes_d(q);
}
#undef L

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

/* n values at p as f32: in place for F32, else decoded into buf. */
static const float *chunk_values(const st_job *j, const uint8_t *p, uint64_t n, float *buf)
{
    if (!j->to_f32) return (const float *)(const void *)p;
    j->to_f32(p, buf, (size_t)n);
    return buf;
}

/* Counts only (a reduction with counts_only). A chunk with neither zeros nor non-finite values, the
 * usual case, is told apart by the smallest and largest magnitudes alone, computed on the stored
 * bits (BF16 in 16-bit lanes, twice as many per instruction, and without decoding); only the
 * others are counted value by value. */
CK_VEC_CLONES_WIDE static bool plain_chunk_bf16(const uint16_t *h)
{
    uint16_t lo = 0xFFFF, hi = 0;
    for (unsigned i = 0; i < CK_STATS_CHUNK; i++) {
        uint16_t a = h[i] & 0x7FFFu;
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
    }
    return lo != 0 && hi < 0x7F80u;
}

CK_VEC_CLONES_WIDE static bool plain_chunk_f32(const float *x)
{
    uint32_t lo = UINT32_MAX, hi = 0;
    for (unsigned i = 0; i < CK_STATS_CHUNK; i++) {
        uint32_t a = ck_f32_bits(x[i]) & 0x7FFFFFFFu;
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
    }
    return lo != 0 && hi < 0x7F800000u;
}

/* NaN, Inf, zeros and finite values of n values, one by one. */
CK_VEC_CLONES_WIDE static void count_values(const float *x, unsigned n, ck_tally *t)
{
    uint32_t nan = 0, inf = 0, zero = 0, fin = 0;
    for (unsigned i = 0; i < n; i++) {
        uint32_t a = ck_f32_bits(x[i]) & 0x7FFFFFFFu;
        nan += a > 0x7F800000u;
        inf += a == 0x7F800000u;
        zero += a == 0;
        fin += a < 0x7F800000u;
    }
    t->nan += nan;
    t->inf += inf;
    t->zero += zero;
    t->finite += fin;
}

/* Under merge_mu: the tasks complete from the next unmerged one on, in order. */
static void merge_ready(st_job *j)
{
    while (j->merged < j->ntasks && atomic_load_explicit(&j->ready[j->merged], memory_order_acquire)) {
        size_t t = j->merged++;
        uint64_t c0 = (uint64_t)t * j->task_chunks, c1 = c0 + j->task_chunks < j->nchunks ? c0 + j->task_chunks : j->nchunks;
        for (uint64_t c = c0; j->moments && c < c1; c++) ck_stats_merge_chunk(j->st, &j->moments[c]);
        if (j->sums) ck_stats_add_exact(j->st, &j->sums[t]);
        tally_merge(&j->st->t, &j->tallies[t]);
    }
}

static void task_finished(st_job *j, size_t task)
{
    atomic_store_explicit(&j->ready[task], 1, memory_order_release);
    if (pthread_mutex_trylock(&j->merge_mu)) return; /* another thread is merging: it or the end will */
    merge_ready(j);
    pthread_mutex_unlock(&j->merge_mu);
}

static void moments_task(void *ctx, size_t task, int worker)
{
    st_job *j = ctx;
    uint64_t c0 = (uint64_t)task * j->task_chunks, c1 = c0 + j->task_chunks < j->nchunks ? c0 + j->task_chunks : j->nchunks;
    ck_tally *t = &j->tallies[task];
    tally_init(t);
    size_t cbytes = CK_STATS_CHUNK * j->ebytes;
    const uint8_t *base = task_data(j, task, c0, (c1 - c0) * CK_STATS_CHUNK, worker);
    if (!base) return;
    if (j->sums) { /* E4M3, exact, from the codes (stats_e4m3.c); counts_only or not */
        j->sums[task] = (ck_exact_sums){0, 0};
        ck_cpu_e4m3_chunks(base, c1 - c0, &j->sums[task], t);
        task_done(j, c0, (c1 - c0) * CK_STATS_CHUNK);
        task_finished(j, task);
        return;
    }
    _Alignas(64) float buf[CK_STATS_CHUNK];
    for (uint64_t c = c0; c < c1; c++) {
        ck_chunk_moments *m = &j->moments[c];
        const uint8_t *p = base + (c - c0) * cbytes;
        /* Each chunk is read then computed on; the hardware prefetcher alone left the reads of
         * the next chunks waiting on memory. PREFETCH_AHEAD chunks ahead, within the task. */
        if (c + PREFETCH_AHEAD < c1)
            for (size_t o = 0; o < cbytes; o += 64) __builtin_prefetch(p + PREFETCH_AHEAD * cbytes + o);
        if (j->counts_only) {
            m->n = 0; /* no moments to merge */
            bool plain = j->dtype == CK_BF16 ? plain_chunk_bf16((const uint16_t *)(const void *)p)
                       : j->dtype == CK_F32  ? plain_chunk_f32((const float *)(const void *)p)
                                             : false;
            if (plain) t->finite += CK_STATS_CHUNK;
            else count_values(chunk_values(j, p, CK_STATS_CHUNK, buf), CK_STATS_CHUNK, t);
            continue;
        }
        if (j->dtype == CK_BF16) {
            const uint16_t *h = (const uint16_t *)(const void *)p;
            if (!(j->avx512 ? ck_cpu_chunk_bf16_avx512(h, buf, t, m) : chunk_fast_bf16(h, buf, t, m)))
                chunk_masked(buf, t, m);
            continue;
        }
        const float *x = chunk_values(j, p, CK_STATS_CHUNK, buf);
        if (!(j->avx512 ? ck_cpu_chunk_f32_avx512(x, t, m) : chunk_fast_f32(x, t, m))) chunk_masked(x, t, m);
    }
    task_done(j, c0, (c1 - c0) * CK_STATS_CHUNK);
    task_finished(j, task);
}

/* Bins of n values (n a multiple of 4): computed 4 at a time in double, then counted into 4
 * sub-histograms so that runs of one bin do not chain every increment on the last. Bin
 * CK_HIST_BINS collects the non-finite values, dropped. The arithmetic is ck_stats_bin's. */
CK_VEC_CLONES_WIDE static void bins_groups(const float *x, unsigned n, double lo, double range, uint32_t h[4][CK_HIST_BINS + 1])
{
    if (!(range > 0)) { /* one value: every finite one in bin 0 */
        for (unsigned i = 0; i < n; i++) h[i % 4][ck_f32_finite(x[i]) ? 0 : CK_HIST_BINS]++;
        return;
    }
    const ck_v4f64 vlo = {lo, lo, lo, lo}, vrange = {range, range, range, range};
    const ck_v4f64 top = {CK_HIST_BINS - 1, CK_HIST_BINS - 1, CK_HIST_BINS - 1, CK_HIST_BINS - 1};
    int32_t bins[CK_STATS_CHUNK];
    for (unsigned i = 0; i < n; i += 4) {
        ck_v4u32 u;
        memcpy(&u, x + i, sizeof u);
        ck_v4i32 f = (ck_v4i32)((u & 0x7FFFFFFFu) < 0x7F800000u);
        ck_v4f64 b = (__builtin_convertvector((ck_v4f32)(u & (ck_v4u32)f), ck_v4f64) - vlo) * CK_HIST_BINS / vrange;
        ck_v4i64 big = (ck_v4i64)(b >= top);
        b = (ck_v4f64)(((ck_v4i64)top & big) | ((ck_v4i64)b & ~big));
        b = (ck_v4f64)((ck_v4i64)b & (ck_v4i64)(b > 0));
        ck_v4i32 bi = __builtin_convertvector(b, ck_v4i32);
        bi = (bi & f) | (CK_HIST_BINS & ~f);
        memcpy(bins + i, &bi, sizeof bi);
    }
    for (unsigned i = 0; i < n; i += 4)
        for (int k = 0; k < 4; k++) h[k][bins[i + k]]++;
}

static void hist_task(void *ctx, size_t task, int worker)
{
    st_job *j = ctx;
    ck_tally *t = &j->tallies[task];
    tally_init(t);
    uint64_t c0 = (uint64_t)task * j->task_chunks, c1 = c0 + j->task_chunks < j->nchunks ? c0 + j->task_chunks : j->nchunks;
    uint64_t end = c1 * CK_STATS_CHUNK < j->n ? c1 * CK_STATS_CHUNK : j->n;
    const uint8_t *base = task_data(j, task, c0, end - c0 * CK_STATS_CHUNK, worker);
    if (!base) return;
    uint32_t h[4][CK_HIST_BINS + 1];
    memset(h, 0, sizeof h);
    _Alignas(64) float buf[CK_STATS_CHUNK];
    for (uint64_t c = c0; c < c1; c++) {
        uint64_t first = c * CK_STATS_CHUNK, n = j->n - first < CK_STATS_CHUNK ? j->n - first : CK_STATS_CHUNK;
        const float *x = chunk_values(j, base + (c - c0) * CK_STATS_CHUNK * j->ebytes, n, buf);
        unsigned groups = (unsigned)n / 4 * 4;
        bins_groups(x, groups, j->lo, j->range, h);
        for (unsigned i = groups; i < n; i++)
            if (ck_f32_finite(x[i])) t->hist[ck_stats_bin(x[i], j->lo, j->range)]++;
    }
    for (int b = 0; b < CK_HIST_BINS; b++) t->hist[b] += (uint64_t)h[0][b] + h[1][b] + h[2][b] + h[3][b];
    task_done(j, c0, end - c0 * CK_STATS_CHUNK);
}

static void free_results(st_job *j)
{
    free(j->tallies);
    free(j->moments);
    free(j->sums);
    free(j->ready);
    j->tallies = NULL, j->moments = NULL, j->sums = NULL, j->ready = NULL;
}

/* Pass 1 (moments) or pass 2 in ntasks tasks; the results are left in j until merge_results or
 * free_results. */
static int run_tasks(ck_backend *be, st_job *j, size_t ntasks, bool moments, ck_error *err)
{
    bool exact = moments && ck_stats_dtype_exact(j->dtype);
    j->tallies = malloc(ntasks * sizeof *j->tallies);
    if (moments) j->ready = calloc(ntasks, sizeof *j->ready);
    if (moments && exact) j->sums = malloc(ntasks * sizeof *j->sums);
    if (moments && !exact) j->moments = malloc(j->nchunks * sizeof *j->moments);
    j->ntasks = ntasks;
    j->merged = 0;
    if (!j->tallies || (moments && (!j->ready || (!j->sums && !j->moments)))) {
        free_results(j);
        return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "stats: out of memory");
    }
    ck_pool_run_w(ck_cpu_pool(be), ntasks, moments ? moments_task : hist_task, j);
    if (j->failed_task != SIZE_MAX) {
        *err = j->failure;
        free_results(j);
        return -1;
    }
    return 0;
}

/* Pass 1's results that the tasks left unmerged into the reduction: chunk moments in chunk order
 * (or exact sums), counts, min and max; then freed. */
static void merge_results(st_job *j, ck_stats *st)
{
    pthread_mutex_lock(&j->merge_mu);
    merge_ready(j); /* every task is done now */
    pthread_mutex_unlock(&j->merge_mu);
    st->count += j->nchunks * CK_STATS_CHUNK;
    free_results(j);
}

/* Pass 2: the histogram of n values. */
static int histogram(ck_backend *be, st_job *j, uint64_t n, ck_stats *st, ck_error *err)
{
    j->n = n;
    j->nchunks = (n + CK_STATS_CHUNK - 1) / CK_STATS_CHUNK;
    j->lo = st->lo;
    j->range = st->range;
    size_t ntasks = (size_t)((j->nchunks + j->task_chunks - 1) / j->task_chunks);
    if (!ntasks) return 0;
    if (run_tasks(be, j, ntasks, false, err)) return -1;
    for (size_t t = 0; t < ntasks; t++)
        for (int b = 0; b < CK_HIST_BINS; b++) st->t.hist[b] += j->tallies[t].hist[b];
    free_results(j);
    return 0;
}

/* Pass 1: n values at j->src, k of them into the open chunk (see the top of the file). */
static int moments(ck_backend *be, st_job *j, uint64_t n, ck_stats *st, ck_error *err)
{
    _Alignas(64) float buf[CK_STATS_CHUNK];
    uint64_t done = 0;
    while (st->nopen && done < n) { /* complete the open chunk */
        uint64_t k = n - done < CK_STATS_CHUNK - st->nopen ? n - done : CK_STATS_CHUNK - st->nopen;
        done += ck_stats_feed_open(st, chunk_values(j, j->src + done * j->ebytes, k, buf), k);
    }
    j->src += done * j->ebytes;
    j->nchunks = (n - done) / CK_STATS_CHUNK;
    if (j->nchunks) {
        size_t ntasks = (size_t)((j->nchunks + j->task_chunks - 1) / j->task_chunks);
        if (run_tasks(be, j, ntasks, true, err)) return -1;
        merge_results(j, st);
        done += j->nchunks * CK_STATS_CHUNK;
    }
    uint64_t rest = n - done; /* fewer than a chunk: they open the next one */
    if (rest) ck_stats_feed_open(st, chunk_values(j, j->src + j->nchunks * CK_STATS_CHUNK * j->ebytes, rest, buf), rest);
    return 0;
}

static atomic_bool avx512_allowed = true;

void ck_cpu_stats_allow_avx512(bool allow) { atomic_store(&avx512_allowed, allow); }

static bool have_avx512;
static pthread_once_t avx512_once = PTHREAD_ONCE_INIT;

static void detect_avx512(void) { have_avx512 = ck_cpu_stats_avx512(); }

static bool use_avx512(void)
{
    pthread_once(&avx512_once, detect_avx512);
    return have_avx512 && atomic_load(&avx512_allowed);
}

static int mixed_kinds(ck_dtype dtype, ck_error *err)
{
    return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1,
                        "stats: %s values in a reduction begun with another kind (E4M3 chunks are reduced exactly)",
                        ck_dtype_name(dtype));
}

int ck_cpu_stats(ck_backend *be, ck_dtype dtype, const void *src, uint64_t n, ck_stats *st, ck_error *err)
{
    const ck_cpu_dtype *cd = &ck_cpu_dtypes[dtype];
    unsigned bits = ck_dtype_info(dtype)->bits;
    if (!cd->to_f32 || bits % 8)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "stats: %s is not supported", ck_dtype_name(dtype));
    if (st->pass != 1 && st->pass != 2)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "stats: the reduction is finished");
    st_job j = {.src = src, .dtype = dtype, .ebytes = bits / 8, .to_f32 = dtype == CK_F32 ? NULL : cd->to_f32,
                .failed_task = SIZE_MAX, .task_chunks = CHUNKS_PER_TASK * 4 / (bits / 8), /* 256 KiB */
                .counts_only = st->counts_only, .st = st, .avx512 = use_avx512()};
    if (st->pass == 2) return st->histogram ? histogram(be, &j, n, st, err) : 0;
    if (n && !ck_stats_take_dtype(st, dtype)) return mixed_kinds(dtype, err);
    pthread_mutex_init(&j.merge_mu, NULL);
    int rc = moments(be, &j, n, st, err);
    pthread_mutex_destroy(&j.merge_mu);
    return rc;
}

/* ---- streamed: every pass of a whole tensor, each task reading its own elements ------------- */

#define STREAM_SEGMENT_CHUNKS ((uint64_t)1 << 16) /* chunks per pool run: bounds the moments array */

static int stream_pass(ck_backend *be, st_job *j, uint64_t n, ck_stats *st, ck_error *err)
{
    uint64_t whole = st->pass == 1 ? n / CK_STATS_CHUNK : (n + CK_STATS_CHUNK - 1) / CK_STATS_CHUNK;
    for (uint64_t c = 0; c < whole; c += STREAM_SEGMENT_CHUNKS) {
        j->first = c * CK_STATS_CHUNK;
        j->nchunks = whole - c < STREAM_SEGMENT_CHUNKS ? whole - c : STREAM_SEGMENT_CHUNKS;
        j->n = n - j->first;
        size_t ntasks = (size_t)((j->nchunks + j->task_chunks - 1) / j->task_chunks);
        bool moments_pass = st->pass == 1;
        if (run_tasks(be, j, ntasks, moments_pass, err)) return -1;
        if (moments_pass) {
            merge_results(j, st);
        } else {
            for (size_t t = 0; t < ntasks; t++)
                for (int b = 0; b < CK_HIST_BINS; b++) st->t.hist[b] += j->tallies[t].hist[b];
            free_results(j);
        }
    }
    uint64_t rest = st->pass == 1 ? n % CK_STATS_CHUNK : 0; /* the last, partial chunk */
    if (rest) {
        _Alignas(64) float buf[CK_STATS_CHUNK];
        const void *data;
        if (j->read->get(j->read->ctx, n - rest, rest, j->wbuf[0], &data, err)) return -1;
        ck_stats_feed_open(st, chunk_values(j, data, rest, buf), rest);
        if (j->read->done) j->read->done(j->read->ctx, n - rest, rest);
    }
    return 0;
}

int ck_cpu_stats_stream(ck_backend *be, ck_dtype dtype, const ck_elem_source *src, uint64_t n, ck_stats *st,
                        ck_error *err)
{
    const ck_cpu_dtype *cd = &ck_cpu_dtypes[dtype];
    unsigned bits = ck_dtype_info(dtype)->bits;
    if (!cd->to_f32 || bits % 8)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "stats: %s is not supported", ck_dtype_name(dtype));
    if (st->pass != 1 || st->count || st->nopen)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "stats: a streamed reduction must start fresh");
    ck_stats_take_dtype(st, dtype); /* a fresh reduction: takes any */
    ck_cpu *cpu = be->impl;
    st_job j = {.dtype = dtype, .ebytes = bits / 8, .to_f32 = dtype == CK_F32 ? NULL : cd->to_f32, .read = src,
                .failed_task = SIZE_MAX, .task_chunks = STREAM_TASK_CHUNKS, .counts_only = st->counts_only,
                .avx512 = use_avx512()};
    if (src->align) { /* tasks of a whole number of the source's units, at least STREAM_TASK_CHUNKS */
        uint64_t unit = src->align / CK_STATS_CHUNK;
        if (!unit || src->align % CK_STATS_CHUNK)
            return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "stats: pieces aligned to %llu elements",
                                (unsigned long long)src->align);
        j.task_chunks = (STREAM_TASK_CHUNKS + unit - 1) / unit * unit;
    }
    j.wbuf = calloc((size_t)cpu->threads, sizeof *j.wbuf);
    int rc = j.wbuf ? 0 : ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "stats: out of memory");
    for (int w = 0; !rc && w < cpu->threads; w++)
        if (posix_memalign((void **)&j.wbuf[w], 64, j.task_chunks * CK_STATS_CHUNK * j.ebytes))
            rc = ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "stats: out of memory");
    j.st = st;
    pthread_mutex_init(&j.mu, NULL);
    pthread_mutex_init(&j.merge_mu, NULL);
    if (!rc) rc = stream_pass(be, &j, n, st, err);
    if (!rc) {
        ck_stats_begin_pass2(st);
        if (ck_stats_wants_pass2(st)) {
            j.lo = st->lo;
            j.range = st->range;
            rc = stream_pass(be, &j, n, st, err);
        }
    }
    if (!rc) ck_stats_finish(st);
    pthread_mutex_destroy(&j.mu);
    pthread_mutex_destroy(&j.merge_mu);
    for (int w = 0; j.wbuf && w < cpu->threads; w++) free(j.wbuf[w]);
    free(j.wbuf);
    return rc;
}
