/* Tensor statistics with a fixed reduction order, shared by every back end.
 *
 * A tensor is reduced in two passes over its elements (decoded to f32):
 *   pass 1: count, NaN/Inf/zero counts, min and max of the finite values, and their sum;
 *   pass 2: sum of squared deviations from the mean, and a 64-bin histogram over [min, max].
 * (Two passes because a one-pass variance loses digits when |mean| >> std, and the histogram needs
 * the range first.)
 *
 * Why results never depend on the thread count, the back end or how the caller splits the data:
 * the element sequence is cut into fixed chunks of CK_STATS_CHUNK elements counted from the first
 * element of the tensor. Inside a chunk, element i goes to lane i % 8 (plain double adds, in
 * element order); a chunk's value is the lanes folded pairwise; chunk values are added in chunk
 * order with Neumaier compensation. Counts, min, max and histogram bins are exact, so their
 * merge order does not matter. A back end may process calls of any length: ck_stats keeps the
 * open chunk's lanes between calls.
 *
 * Counting mode, for the element types of 8 and 16 bits (BF16, F16, F8_E4M3, F8_E5M2, F8_E8M0,
 * U8, I8, U16, I16, BOOL): pass 1 only counts how often each code occurs (a table of 2^bits
 * uint64 counts; counts are exact, so back ends merge per-thread tables in any order), and
 * ck_stats_begin_pass2 computes every statistic from the table, walking the codes in ascending
 * order: the counts, min and max; the sum of count * value (Neumaier, in double); the mean; the
 * squared deviations count * (value - mean)^2 (Neumaier, in double) and the histogram, with the
 * very formulas of the two-pass path. Pass 2 reads nothing (ck_stats_wants_pass2 says false; pass-2
 * calls are accepted and do nothing). The results are a function of the multiset of codes alone,
 * so they cannot depend on threads, splits or back ends. The mode is fixed by the dtype of the
 * first pass-1 call; later calls of that reduction must use the same dtype. */
#ifndef CK_STATS_H
#define CK_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "inspect/dtype.h"
#include "kernels/codec.h"

#define CK_HIST_BINS 64
#define CK_STATS_CHUNK 4096
#define CK_STATS_LANES 8
#define CK_STATS_BLOCK 64                            /* codes per block of the count table */
#define CK_STATS_BLOCK_WORDS (65536 / CK_STATS_BLOCK / 64)  /* words of the touched-block bitmap */

enum { CK_STATS_UNSET, CK_STATS_FLOAT, CK_STATS_COUNT };

/* What one stretch of elements contributes, apart from sums: exact, merge in any order. */
typedef struct {
    uint64_t nan, inf, zero, finite;
    float min, max;                  /* over finite values; +Inf / -Inf when there are none */
    uint64_t hist[CK_HIST_BINS];     /* pass 2 only */
} ck_tally;

typedef struct {
    uint64_t pos;                    /* elements consumed by this pass so far */
    double lanes[CK_STATS_LANES];    /* the open chunk */
    double total, comp;              /* Neumaier sum of the closed chunks */
} ck_chunked_sum;

typedef struct {
    int pass;                        /* 1, 2, or 3 when finished */
    uint64_t count;                  /* elements seen in pass 1 */
    ck_tally t;
    ck_chunked_sum s1, s2;
    /* set between the passes */
    double mean, lo, scale;          /* histogram: bin = (x - lo) * scale, clamped to [0, 63] */
    /* set by ck_stats_finish */
    double std;                      /* population standard deviation (numpy's ddof=0) */
    /* counting mode */
    int mode;                        /* CK_STATS_UNSET until the first pass-1 call */
    ck_dtype dtype;                  /* CK_STATS_COUNT: the element type */
    uint64_t *codes;                 /* CK_STATS_COUNT: 2^bits counts (heap; freed by finish) */
    uint64_t touched[CK_STATS_BLOCK_WORDS]; /* bit b: codes[64b .. 64b+63] are valid (else all 0) */
} ck_stats;

void ck_stats_init(ck_stats *s);
void ck_stats_begin_pass2(ck_stats *s); /* closes pass 1: mean, histogram range (counting: everything) */
void ck_stats_finish(ck_stats *s);      /* also frees the count table */
/* Frees the count table of a reduction abandoned before ck_stats_finish (idempotent). */
void ck_stats_release(ck_stats *s);

/* Whether a reduction of `d` uses counting mode (8- and 16-bit types with a decoder). */
bool ck_stats_counting_dtype(ck_dtype d);
/* Whether pass 2 needs the data again: false in counting mode. Callers may skip pass 2's reads. */
bool ck_stats_wants_pass2(const ck_stats *s);
/* For back ends, at each pass-1 call: fix the mode on the first one (allocating the count table),
 * and check that a counting reduction keeps its dtype. Returns 0, -1 for out of memory, -2 for a
 * dtype that differs from the counting reduction's. */
int ck_stats_set_mode(ck_stats *s, ck_dtype d);
/* Counting mode: the 64 counts of block b, zeroed and marked valid on first use. */
static inline uint64_t *ck_stats_block(ck_stats *s, unsigned b)
{
    uint64_t *p = s->codes + (size_t)b * CK_STATS_BLOCK, bit = 1ull << (b % 64);
    if (!(s->touched[b / 64] & bit)) {
        for (int i = 0; i < CK_STATS_BLOCK; i++) p[i] = 0;
        s->touched[b / 64] |= bit;
    }
    return p;
}

/* Add one chunk's folded value to a chunked sum, in chunk order. */
void ck_chunked_sum_close(ck_chunked_sum *cs);

/* ---- per-element arithmetic, shared by the CPU and CUDA back ends -------------------------- */

CK_HOST_DEVICE static inline double ck_lanes_fold(const double *l)
{
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

CK_HOST_DEVICE static inline void ck_neumaier_add(double *total, double *comp, double v)
{
    double t = *total + v;
    if ((*total >= 0 ? *total : -*total) >= (v >= 0 ? v : -v)) *comp += (*total - t) + v;
    else *comp += (v - t) + *total;
    *total = t;
}

CK_HOST_DEVICE static inline bool ck_f32_finite(float x) { return (ck_f32_bits(x) & 0x7F800000u) != 0x7F800000u; }

/* Pass 1 over n decoded values starting at in-chunk offset `off` (lanes: the open chunk).
 * Working copies live in locals: through the pointers the compiler would have to assume that a
 * store to the tally may change x[] (both hold floats) and reload every element. */
CK_HOST_DEVICE static inline void ck_stats_pass1_run(const float *x, uint64_t n, unsigned off, double *lanes, ck_tally *t)
{
    double l[CK_STATS_LANES];
    for (int k = 0; k < CK_STATS_LANES; k++) l[k] = lanes[k];
    uint64_t nan = 0, inf = 0, zero = 0, fin_n = 0;
    float mn = t->min, mx = t->max;
#define CK_PASS1_BODY(i, lane)                           \
    do {                                                 \
        float v = x[i];                                  \
        uint32_t a = ck_f32_bits(v) & 0x7FFFFFFFu;       \
        bool fin = a < 0x7F800000u;                      \
        nan += a > 0x7F800000u;                          \
        inf += a == 0x7F800000u;                         \
        zero += a == 0;                                  \
        fin_n += fin;                                    \
        mn = fin && v < mn ? v : mn;                     \
        mx = fin && v > mx ? v : mx;                     \
        l[lane] += fin ? (double)v : 0.0;                \
    } while (0)
    uint64_t i = 0;
    if (off == 0) /* the same order, with constant lane numbers the compiler keeps in registers */
        for (; i + CK_STATS_LANES <= n; i += CK_STATS_LANES)
            for (int k = 0; k < CK_STATS_LANES; k++) CK_PASS1_BODY(i + k, k);
    for (; i < n; i++) CK_PASS1_BODY(i, (off + i) & (CK_STATS_LANES - 1));
#undef CK_PASS1_BODY
    for (int k = 0; k < CK_STATS_LANES; k++) lanes[k] = l[k];
    t->nan += nan;
    t->inf += inf;
    t->zero += zero;
    t->finite += fin_n;
    t->min = mn;
    t->max = mx;
}

/* Pass 2: squared deviations into the lanes, and the histogram. */
CK_HOST_DEVICE static inline void ck_stats_pass2_run(const float *x, uint64_t n, unsigned off, double mean, double lo,
                                                     double scale, double *lanes, ck_tally *t)
{
    double l[CK_STATS_LANES];
    for (int k = 0; k < CK_STATS_LANES; k++) l[k] = lanes[k];
    /* Four sub-histograms: runs of equal bins would otherwise chain every increment on the last.
     * uint32_t counts: callers pass at most one chunk (CK_STATS_CHUNK elements) per call. */
    uint32_t h[4][CK_HIST_BINS] = {{0}};
#define CK_PASS2_BODY(i, lane)                                               \
    do {                                                                     \
        float v = x[i];                                                      \
        bool fin = ck_f32_finite(v);                                         \
        double d = fin ? (double)v - mean : 0.0;                             \
        l[lane] += d * d;                                                    \
        double b = fin ? ((double)v - lo) * scale : -1.0;                    \
        int bin = b >= CK_HIST_BINS - 1 ? CK_HIST_BINS - 1 : b > 0 ? (int)b : 0; \
        h[(lane) & 3][bin] += fin;                                           \
    } while (0)
    uint64_t i = 0;
    if (off == 0)
        for (; i + CK_STATS_LANES <= n; i += CK_STATS_LANES)
            for (int k = 0; k < CK_STATS_LANES; k++) CK_PASS2_BODY(i + k, k);
    for (; i < n; i++) CK_PASS2_BODY(i, (off + i) & (CK_STATS_LANES - 1));
#undef CK_PASS2_BODY
    for (int k = 0; k < CK_STATS_LANES; k++) lanes[k] = l[k];
    for (int b = 0; b < CK_HIST_BINS; b++) t->hist[b] += (uint64_t)h[0][b] + h[1][b] + h[2][b] + h[3][b];
}

#endif
