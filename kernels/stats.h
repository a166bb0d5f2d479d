/* Tensor statistics with a fixed reduction order, shared by every back end.
 *
 * Pass 1, always, one read of the data: count, NaN/Inf/zero counts, min and max of the finite
 * values, their mean and standard deviation. Pass 2, only for a reduction started with a
 * histogram: 64 bins over [min, max] (the range must be known first). So `check --deep` and
 * `stats` read every byte once; the browser, which draws the histogram, reads twice.
 *
 * Why results never depend on the thread count, the back end or how the caller cuts the data:
 * the elements are cut into chunks of CK_STATS_CHUNK counted from the first element of the
 * tensor, and each chunk is reduced on its own, in two sweeps over its decoded values (which sit
 * in cache, so the data are still read once). Lane k of CK_STATS_LANES takes elements k, k + 64,
 * k + 128, ... in order; a non-finite value adds +0; lanes are widened to double and folded
 * pairwise (ck_fold_lanes):
 *   1. with c the chunk's first finite value, the lanes add x - c in float: P;
 *      m = c + P / n (double; n: the chunk's finite values), mf = (float)m, S = n * c + P;
 *   2. with d = x - mf in float, the lanes add d * d: Q;
 *      M2 = max(0, Q - n * (m - mf)^2)  (sum (x - mf)^2 = M2 + n (m - mf)^2).
 * Shifting by a value of the chunk keeps the float sums small (a tensor's values sit within a few
 * std of each other), and a float lane holds 16 of them, so S and M2 are good to a few parts in
 * 10^7 even where |mean| >> std (numpy's float32 mean is coarser). Where float could overflow or
 * lose squares to subnormals, that is when the chunk's largest finite magnitude is outside
 * [2^-30, 2^56) (and not 0), the chunk is reduced in double lanes instead: S = sum of x,
 * M2 = sum of (x - S / n)^2.
 * F8_E4M3 tensors are the exception, reduced exactly: every E4M3 value is k * 2^-9 with an integer
 * |k| <= 448 * 512, so the sums over the whole tensor of k and of k^2 are exact in integers (64 and
 * 128 bits), whatever the order of the adds and however the data are cut; mean = sum(k) / n * 2^-9,
 * M2 = (n * sum(k^2) - sum(k)^2) / n * 2^-18 with the numerator exact, rounded to double once.
 * That is more accurate than the float lanes, and cheaper for one-byte codes: a back end may add
 * the units of the codes from tables, in any order, and needs no per-chunk merge.
 * Chunks are merged in chunk order (ck_stats_merge_chunk): the S values by a Neumaier sum, which
 * gives the mean, and M2 by Chan's pairwise update. Counts, min, max and histogram bins are exact,
 * so their merge order does not matter. A back end may take calls of any length: the values of
 * the chunk left open by one call wait in the ck_stats for the next (or for the end of pass 1).
 *
 * Sequence: ck_stats_init, pass-1 calls of the back end's stats op, ck_stats_begin_pass2, pass-2
 * calls if ck_stats_wants_pass2 (others are accepted and do nothing), ck_stats_finish. */
#ifndef CK_STATS_H
#define CK_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "inspect/dtype.h"
#include "kernels/codec.h"

#define CK_HIST_BINS 64
#define CK_STATS_CHUNK 1024
#define CK_STATS_LANES 64
#define CK_STATS_FLOAT_MIN 0x1p-30f /* largest magnitudes of a chunk reduced in float lanes */
#define CK_STATS_FLOAT_MAX 0x1p56f

/* What one stretch of elements contributes, apart from the moments: exact, merge in any order. */
typedef struct {
    uint64_t nan, inf, zero, finite;
    float min, max;                  /* over finite values; +Inf / -Inf when there are none */
    uint64_t hist[CK_HIST_BINS];     /* pass 2 only */
} ck_tally;

/* One chunk's moments: its finite values' count, sum S and squared deviations M2 about S / n. */
typedef struct {
    uint64_t n;
    double sum, m2;
} ck_chunk_moments;

typedef struct {
    int pass;                        /* 1, 2, or 3 when finished */
    bool histogram;                  /* pass 2 bins the values */
    bool counts_only;                /* set after init: only the counts are wanted (back ends may skip
                                      * min, max and moments; finish leaves them NaN) */
    bool exact;                      /* F8_E4M3 data, reduced exactly (set by ck_stats_take_dtype): */
    int64_t exact_sum;               /* sum of k over the finite values (|.| < 2^58 for 2^40 values) */
    unsigned __int128 exact_sq;      /* sum of k^2 */
    uint64_t count;                  /* elements seen by pass 1 */
    ck_tally t;
    /* the merged chunks (ck_stats_merge_chunk) */
    uint64_t merged;                 /* finite values merged so far */
    double run_mean, m2;             /* Chan */
    double sum, sum_comp;            /* Neumaier */
    /* set between the passes */
    double mean, lo, range;          /* histogram: bin = (x - lo) * 64 / range, clamped to [0, 63] */
    /* set by ck_stats_finish */
    double std;                      /* population standard deviation (numpy's ddof=0) */
    /* the open chunk: decoded values waiting for the rest of their chunk */
    unsigned nopen;
    float open[CK_STATS_CHUNK];
} ck_stats;

/* Start a reduction; `histogram` asks for the 64 bins (and so for a second pass). */
void ck_stats_init(ck_stats *s, bool histogram);
void ck_stats_begin_pass2(ck_stats *s); /* closes pass 1: mean, std, histogram range */
void ck_stats_finish(ck_stats *s);
/* Whether pass 2 needs the data: only for a histogram. Callers skip pass 2's reads otherwise. */
bool ck_stats_wants_pass2(const ck_stats *s);
/* Whether a dtype is reduced exactly in integers (ck_stats_sums_exact). */
static inline bool ck_stats_dtype_exact(ck_dtype d) { return d == CK_F8_E4M3; }
/* Back ends call this with the dtype of each pass-1 call that brings values: the first one decides
 * how the values are reduced. False for a dtype of the other kind after that (one reduction, one
 * tensor: a caller's mistake). */
bool ck_stats_take_dtype(ck_stats *s, ck_dtype d);
/* Exact sums of a stretch of at most 2^27 E4M3 values (so that both fit int64), in units of 2^-9. */
typedef struct {
    int64_t sum, sq;
} ck_exact_sums;
/* Add a stretch's exact sums (any order). */
void ck_stats_add_exact(ck_stats *s, const ck_exact_sums *e);
/* Merge the next chunk's moments, in chunk order. */
void ck_stats_merge_chunk(ck_stats *s, const ck_chunk_moments *m);
/* Pass 1 for back ends: append decoded values to the open chunk, reducing it when it fills.
 * Returns how many of the n values it took (it stops at the end of the chunk). */
uint64_t ck_stats_feed_open(ck_stats *s, const float *x, uint64_t n);

/* ---- per-element arithmetic, shared by the CPU and CUDA back ends -------------------------- */

CK_HOST_DEVICE static inline double ck_fold16(const double *l)
{
    return (((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))) +
           (((l[8] + l[9]) + (l[10] + l[11])) + ((l[12] + l[13]) + (l[14] + l[15])));
}

/* The CK_STATS_LANES float lanes, widened: lanes k, k + 16, k + 32, k + 48 pairwise, then those
 * 16 values by ck_fold16. */
CK_HOST_DEVICE static inline double ck_fold_lanes(const float *l)
{
    double d[16];
    for (int k = 0; k < 16; k++) d[k] = ((double)l[k] + (double)l[k + 16]) + ((double)l[k + 32] + (double)l[k + 48]);
    return ck_fold16(d);
}

CK_HOST_DEVICE static inline double ck_fold_lanes_d(const double *l)
{
    double d[16];
    for (int k = 0; k < 16; k++) d[k] = (l[k] + l[k + 16]) + (l[k + 32] + l[k + 48]);
    return ck_fold16(d);
}

CK_HOST_DEVICE static inline void ck_neumaier_add(double *total, double *comp, double v)
{
    double t = *total + v;
    if ((*total >= 0 ? *total : -*total) >= (v >= 0 ? v : -v)) *comp += (*total - t) + v;
    else *comp += (v - t) + *total;
    *total = t;
}

CK_HOST_DEVICE static inline bool ck_f32_finite(float x) { return (ck_f32_bits(x) & 0x7F800000u) != 0x7F800000u; }

/* Whether a chunk whose largest finite magnitude is `big` is reduced in float lanes. */
CK_HOST_DEVICE static inline bool ck_stats_float_ok(float big)
{
    return big == 0 || (big >= CK_STATS_FLOAT_MIN && big < CK_STATS_FLOAT_MAX);
}

/* A chunk's moments from its sums about c (step 1) and mf (step 2). */
CK_HOST_DEVICE static inline void ck_stats_shifted(ck_chunk_moments *m, uint64_t n, float c, double p, double q)
{
    double mean = (double)c + p / (double)n, e = mean - (double)(float)mean, m2 = q - (double)n * (e * e);
    m->n = n;
    m->sum = (double)n * (double)c + p;
    m->m2 = m2 > 0 ? m2 : 0.0;
}

/* Step 2's shift. */
CK_HOST_DEVICE static inline float ck_stats_mf(uint64_t n, float c, double p) { return (float)((double)c + p / (double)n); }

/* A stretch's counts, and min and max of its fin finite values (none: min and max unused). */
CK_HOST_DEVICE static inline void ck_tally_add(ck_tally *t, uint64_t nan, uint64_t inf, uint64_t zero, uint64_t fin,
                                               float min, float max)
{
    t->nan += nan;
    t->inf += inf;
    t->zero += zero;
    t->finite += fin;
    if (fin) {
        t->min = min < t->min ? min : t->min;
        t->max = max > t->max ? max : t->max;
    }
}

/* The definition of one chunk's reduction (n <= CK_STATS_CHUNK values): its counts, min and max
 * into t, its moments into m. Vectorized back ends must give the same bits. */
CK_HOST_DEVICE static inline void ck_stats_chunk(const float *x, unsigned n, ck_tally *t, ck_chunk_moments *m)
{
    uint64_t nan = 0, inf = 0, zero = 0, fin = 0;
    float c = 0, cmn = 0, cmx = 0, p[CK_STATS_LANES] = {0};
    for (unsigned i = 0; i < n; i++) {
        float v = x[i];
        uint32_t a = ck_f32_bits(v) & 0x7FFFFFFFu;
        bool f = a < 0x7F800000u;
        nan += a > 0x7F800000u;
        inf += a == 0x7F800000u;
        zero += a == 0;
        if (f && fin == 0) c = v;
        p[i % CK_STATS_LANES] += f ? v - c : 0.0f;
        if (!f) continue;
        cmn = fin == 0 || v < cmn ? v : cmn;
        cmx = fin == 0 || v > cmx ? v : cmx;
        fin++;
    }
    ck_tally_add(t, nan, inf, zero, fin, cmn, cmx);
    m->n = fin;
    m->sum = m->m2 = 0;
    if (!fin) return;
    if (ck_stats_float_ok(-cmn > cmx ? -cmn : cmx)) {
        double pl = ck_fold_lanes(p);
        float mf = ck_stats_mf(fin, c, pl), ql[CK_STATS_LANES] = {0};
        for (unsigned i = 0; i < n; i++) {
            float d = ck_f32_finite(x[i]) ? x[i] - mf : 0.0f;
            ql[i % CK_STATS_LANES] += d * d;
        }
        ck_stats_shifted(m, fin, c, pl, ck_fold_lanes(ql));
        return;
    }
    double sd[CK_STATS_LANES] = {0}, q[CK_STATS_LANES] = {0};
    for (unsigned i = 0; i < n; i++) sd[i % CK_STATS_LANES] += ck_f32_finite(x[i]) ? (double)x[i] : 0.0;
    m->sum = ck_fold_lanes_d(sd);
    double mean = m->sum / (double)fin;
    for (unsigned i = 0; i < n; i++) {
        double d = ck_f32_finite(x[i]) ? (double)x[i] - mean : 0.0;
        q[i % CK_STATS_LANES] += d * d;
    }
    m->m2 = ck_fold_lanes_d(q);
}

/* An E4M3 value in units of 2^-9: exact, for the finite values of an E4M3 code (|x| <= 448). */
CK_HOST_DEVICE static inline int32_t ck_stats_e4m3_units(float x) { return (int32_t)(x * 512.0f); }

/* The definition of an exact stretch (at most 2^27 decoded F8_E4M3 values): ck_stats_chunk's
 * counts, min and max into t; the sums of k and k^2 added to e. */
CK_HOST_DEVICE static inline void ck_stats_sums_exact(const float *x, unsigned n, ck_tally *t, ck_exact_sums *e)
{
    uint64_t nan = 0, inf = 0, zero = 0, fin = 0;
    float cmn = 0, cmx = 0;
    for (unsigned i = 0; i < n; i++) {
        float v = x[i];
        uint32_t a = ck_f32_bits(v) & 0x7FFFFFFFu;
        nan += a > 0x7F800000u;
        inf += a == 0x7F800000u;
        zero += a == 0;
        if (a >= 0x7F800000u) continue;
        int64_t k = ck_stats_e4m3_units(v);
        e->sum += k;
        e->sq += k * k;
        cmn = fin == 0 || v < cmn ? v : cmn;
        cmx = fin == 0 || v > cmx ? v : cmx;
        fin++;
    }
    ck_tally_add(t, nan, inf, zero, fin, cmn, cmx);
}

/* The histogram bin of a finite value (pass 2): floor((x - lo) * 64 / range), in double and in
 * that order (64 / range rounded first put values lying exactly on a bin edge one bin low). */
CK_HOST_DEVICE static inline int ck_stats_bin(float v, double lo, double range)
{
    double b = range > 0 ? ((double)v - lo) * CK_HIST_BINS / range : 0.0;
    return b >= CK_HIST_BINS - 1 ? CK_HIST_BINS - 1 : b > 0 ? (int)b : 0;
}

#endif
