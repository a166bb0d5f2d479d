/* Statistics on the CPU (see kernels/stats.h for the reduction order that makes the result
 * independent of the thread count and of how the caller cuts the tensor into pieces).
 *
 * 8- and 16-bit types: counting mode, below. F32 (any other type would be decoded to f32 first):
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

/* Pass 1 over n elements starting at lane 0 (n a multiple of 8), for a run in which every value is
 * finite, the common case: no masking, just min/max, zeros, and the same lane sums. Returns false,
 * having changed nothing, if a value was not finite (the caller then runs pass1_groups). */
CK_VEC_CLONES static bool pass1_groups_finite(const float *x, uint64_t n, double *lanes, ck_tally *t)
{
    ck_v4f64 s0, s1;
    memcpy(&s0, lanes, sizeof s0);
    memcpy(&s1, lanes + 4, sizeof s1);
    ck_v4f32 mn0 = {t->min, t->min, t->min, t->min}, mn1 = mn0, mx0 = {t->max, t->max, t->max, t->max}, mx1 = mx0;
    ck_v4i32 zero = {0}, bad = {0};
    for (uint64_t i = 0; i < n; i += 8) {
        ck_v4u32 u0, u1;
        memcpy(&u0, x + i, 16);
        memcpy(&u1, x + i + 4, 16);
        ck_v4u32 a0 = u0 & 0x7FFFFFFFu, a1 = u1 & 0x7FFFFFFFu;
        bad |= (ck_v4i32)(a0 >= 0x7F800000u) | (ck_v4i32)(a1 >= 0x7F800000u);
        zero -= (ck_v4i32)(a0 == 0u);
        zero -= (ck_v4i32)(a1 == 0u);
        ck_v4f32 v0 = (ck_v4f32)u0, v1 = (ck_v4f32)u1;
        ck_v4i32 l0 = v0 < mn0, l1 = v1 < mn1, g0 = v0 > mx0, g1 = v1 > mx1;
        mn0 = (ck_v4f32)(((ck_v4i32)v0 & l0) | ((ck_v4i32)mn0 & ~l0));
        mn1 = (ck_v4f32)(((ck_v4i32)v1 & l1) | ((ck_v4i32)mn1 & ~l1));
        mx0 = (ck_v4f32)(((ck_v4i32)v0 & g0) | ((ck_v4i32)mx0 & ~g0));
        mx1 = (ck_v4f32)(((ck_v4i32)v1 & g1) | ((ck_v4i32)mx1 & ~g1));
        s0 += __builtin_convertvector(v0, ck_v4f64);
        s1 += __builtin_convertvector(v1, ck_v4f64);
    }
    if (bad[0] | bad[1] | bad[2] | bad[3]) return false;
    memcpy(lanes, &s0, sizeof s0);
    memcpy(lanes + 4, &s1, sizeof s1);
    float mn = t->min, mx = t->max;
    for (int k = 0; k < 4; k++) {
        mn = mn0[k] < mn ? mn0[k] : mn;
        mn = mn1[k] < mn ? mn1[k] : mn;
        mx = mx0[k] > mx ? mx0[k] : mx;
        mx = mx1[k] > mx ? mx1[k] : mx;
        t->zero += (uint64_t)zero[k];
    }
    t->finite += n;
    t->min = mn;
    t->max = mx;
    return true;
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
        /* runs of 512: after a run with a non-finite value, the rest of the piece goes masked */
        bool fast = true;
        for (uint64_t g = 0; g < groups; g += 512) {
            uint64_t m = groups - g < 512 ? groups - g : 512;
            if (!fast || !(fast = pass1_groups_finite(x + head + g, m, lanes, t))) pass1_groups(x + head + g, m, lanes, t);
        }
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

/* ---- counting mode (kernels/stats.h): 8- and 16-bit codes ---------------------------------------
 * Each pool thread counts its tasks' codes into its own table of 65536 uint32 (one increment per
 * element; 8-bit codes are counted in pairs, two consecutive bytes as one 16-bit code, which
 * halves the increments, and split when merging), at most COUNT_SEGMENT elements per pool run so
 * that no count can wrap. The tables are then added into the reduction's uint64 table, a range
 * of codes per task, and zeroed again. Small calls count straight into the reduction's table on
 * the calling thread. Counts are exact, so none of this can change a result. */

#define COUNT_TASK ((uint64_t)1 << 18)    /* elements per pool task (even) */
#define COUNT_SMALL ((uint64_t)1 << 16)   /* below: no pool, no scratch */
#define COUNT_SEGMENT ((uint64_t)1 << 31) /* elements per pool run */
#define MERGE_CODES 4096                  /* 16-bit codes per merge task: one word of the touched bitmap */
#define NMERGE (65536 / MERGE_CODES)

typedef struct {
    const uint8_t *src;
    uint64_t n;                           /* elements (for 8-bit codes: even) */
    unsigned width;                       /* bytes per code: 1 or 2 */
    uint32_t *const *scratch;             /* [thread][65536] */
    int nscratch;
    ck_stats *st;
    uint64_t (*pairs)[256];               /* 8-bit: per merge task, the split pair counts */
} count_job;

/* n 16-bit codes (any alignment, little-endian) into t. */
static void count16(const uint8_t *p, uint64_t n, uint32_t *t)
{
    uint64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint64_t u;
        memcpy(&u, p + 2 * i, 8);
        t[u & 0xFFFF]++;
        t[(u >> 16) & 0xFFFF]++;
        t[(u >> 32) & 0xFFFF]++;
        t[u >> 48]++;
    }
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        t[h]++;
    }
}

static void count_task(void *ctx, size_t task, int worker)
{
    const count_job *j = ctx;
    uint64_t i0 = (uint64_t)task * COUNT_TASK, i1 = i0 + COUNT_TASK < j->n ? i0 + COUNT_TASK : j->n;
    count16(j->src + i0 * j->width, (i1 - i0) * j->width / 2, j->scratch[worker]);
}

/* Whether a block of scratch counts is all zero (then it is neither read further nor written, so
 * untouched scratch pages stay unmapped). */
static bool block_zero(const uint32_t *t)
{
    uint32_t nz = 0;
    for (int i = 0; i < CK_STATS_BLOCK; i++) nz |= t[i];
    return nz == 0;
}

/* 16-bit: add every thread's counts of codes [task * MERGE_CODES, ...) into the reduction's
 * table, and zero them. */
static void merge16_task(void *ctx, size_t task)
{
    const count_job *j = ctx;
    for (uint32_t c0 = (uint32_t)task * MERGE_CODES; c0 < (uint32_t)(task + 1) * MERGE_CODES; c0 += CK_STATS_BLOCK) {
        uint64_t acc[CK_STATS_BLOCK] = {0};
        bool any = false;
        for (int w = 0; w < j->nscratch; w++) {
            uint32_t *t = j->scratch[w] + c0;
            if (block_zero(t)) continue;
            for (int i = 0; i < CK_STATS_BLOCK; i++) acc[i] += t[i];
            memset(t, 0, CK_STATS_BLOCK * sizeof *t);
            any = true;
        }
        if (!any) continue;
        uint64_t *dst = ck_stats_block(j->st, c0 / CK_STATS_BLOCK); /* this task's own bitmap word */
        for (int i = 0; i < CK_STATS_BLOCK; i++) dst[i] += acc[i];
    }
}

/* 8-bit: split the pair counts [task * MERGE_CODES, ...) of every thread into per-byte counts. */
static void merge8_task(void *ctx, size_t task)
{
    const count_job *j = ctx;
    uint64_t *acc = j->pairs[task];
    memset(acc, 0, 256 * sizeof *acc);
    for (uint32_t c0 = (uint32_t)task * MERGE_CODES; c0 < (uint32_t)(task + 1) * MERGE_CODES; c0 += CK_STATS_BLOCK)
        for (int w = 0; w < j->nscratch; w++) {
            uint32_t *t = j->scratch[w] + c0;
            if (block_zero(t)) continue;
            for (uint32_t i = 0; i < CK_STATS_BLOCK; i++) {
                acc[(c0 + i) & 0xFF] += t[i];
                acc[(c0 + i) >> 8] += t[i];
            }
            memset(t, 0, CK_STATS_BLOCK * sizeof *t);
        }
}

static void count_small(unsigned width, const uint8_t *src, uint64_t n, ck_stats *st)
{
    for (uint64_t i = 0; i < n; i++) {
        uint32_t c = src[i * width];
        if (width == 2) c |= (uint32_t)src[i * 2 + 1] << 8;
        ck_stats_block(st, c / CK_STATS_BLOCK)[c % CK_STATS_BLOCK]++;
    }
}

static int count_codes(ck_backend *be, unsigned width, const uint8_t *src, uint64_t n, ck_stats *st, ck_error *err)
{
    if (n < COUNT_SMALL) {
        count_small(width, src, n, st);
        return 0;
    }
    ck_cpu *cpu = be->impl;
    if (!cpu->count_scratch) {
        cpu->count_scratch = calloc((size_t)cpu->threads, sizeof *cpu->count_scratch);
        if (!cpu->count_scratch) return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "stats: out of memory");
    }
    for (int w = 0; w < cpu->threads; w++)
        if (!cpu->count_scratch[w] && !(cpu->count_scratch[w] = calloc(65536, sizeof(uint32_t))))
            return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "stats: out of memory");
    uint64_t pairs[NMERGE][256];
    count_job j = {.width = width, .scratch = cpu->count_scratch, .nscratch = cpu->threads, .st = st, .pairs = pairs};
    ck_pool *pool = ck_cpu_pool(be);
    if (width == 1 && n % 2) count_small(1, src + --n, 1, st); /* pairs: the odd one out on its own */
    for (uint64_t done = 0; done < n; done += j.n) {
        j.src = src + done * width;
        j.n = n - done < COUNT_SEGMENT ? n - done : COUNT_SEGMENT;
        ck_pool_run_w(pool, (size_t)((j.n + COUNT_TASK - 1) / COUNT_TASK), count_task, &j);
        ck_pool_run(pool, NMERGE, width == 2 ? merge16_task : merge8_task, &j);
        if (width == 1)
            for (int b = 0; b < 256 / CK_STATS_BLOCK; b++) {
                uint64_t *dst = ck_stats_block(st, (unsigned)b);
                for (int k = 0; k < NMERGE; k++)
                    for (int i = 0; i < CK_STATS_BLOCK; i++) dst[i] += pairs[k][b * CK_STATS_BLOCK + i];
            }
    }
    return 0;
}

int ck_cpu_stats(ck_backend *be, ck_dtype dtype, const void *src, uint64_t n, ck_stats *st, ck_error *err)
{
    const ck_cpu_dtype *cd = &ck_cpu_dtypes[dtype];
    unsigned bits = ck_dtype_info(dtype)->bits;
    if (!cd->to_f32 || bits % 8)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "stats: %s is not supported", ck_dtype_name(dtype));
    if (st->pass != 1 && st->pass != 2)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "stats: the reduction is finished");
    if (st->pass == 1) {
        int m = ck_stats_set_mode(st, dtype);
        if (m == -1) return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "stats: out of memory");
        if (m == -2)
            return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "stats: %s data fed to a reduction of %s",
                                ck_dtype_name(dtype), ck_dtype_name(st->dtype));
    }
    if (st->mode == CK_STATS_COUNT) {
        if (dtype != st->dtype)
            return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "stats: %s data fed to a reduction of %s",
                                ck_dtype_name(dtype), ck_dtype_name(st->dtype));
        if (st->pass == 2) return 0; /* everything came from the counts */
        if (count_codes(be, bits / 8, src, n, st, err)) return -1;
        st->s1.pos += n;
        return 0;
    }
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
