#include "kernels/stats.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

void ck_stats_init(ck_stats *s, bool histogram)
{
    memset(s, 0, offsetof(ck_stats, open)); /* the open chunk's values are written before read */
    s->pass = 1;
    s->histogram = histogram;
    s->t.min = INFINITY;
    s->t.max = -INFINITY;
}

bool ck_stats_wants_pass2(const ck_stats *s) { return s->histogram; }

void ck_stats_merge_chunk(ck_stats *s, const ck_chunk_moments *m)
{
    if (!m->n) return;
    ck_neumaier_add(&s->sum, &s->sum_comp, m->sum);
    double nb = (double)m->n, mean_b = m->sum / nb;
    if (!s->merged) {
        s->run_mean = mean_b;
        s->m2 = m->m2;
    } else {
        double na = (double)s->merged, n = na + nb, delta = mean_b - s->run_mean;
        s->run_mean += delta * (nb / n);
        s->m2 += m->m2 + delta * delta * (na * nb / n);
    }
    s->merged += m->n;
}

bool ck_stats_take_dtype(ck_stats *s, ck_dtype d)
{
    bool exact = ck_stats_dtype_exact(d);
    if (s->count || s->nopen) return s->exact == exact;
    s->exact = exact;
    return true;
}

void ck_stats_add_exact(ck_stats *s, const ck_exact_sums *e)
{
    s->exact_sum += e->sum;
    s->exact_sq += (unsigned __int128)e->sq;
}

/* Mean and M2 of the exact sums: n * sq - sum^2 >= 0 (Cauchy-Schwarz), exact in 128 bits for up
 * to 2^40 values (n * sq < 2^116). */
static void exact_moments(ck_stats *s)
{
    uint64_t n = s->t.finite;
    if (!n) return;
    unsigned __int128 mag = (unsigned __int128)(s->exact_sum < 0 ? -s->exact_sum : s->exact_sum);
    s->mean = (double)s->exact_sum / (double)n * 0x1p-9;
    s->m2 = (double)((unsigned __int128)n * s->exact_sq - mag * mag) / (double)n * 0x1p-18;
}

static void close_open(ck_stats *s)
{
    if (!s->nopen) return;
    ck_chunk_moments m;
    if (s->exact) {
        ck_exact_sums e = {0, 0};
        ck_stats_sums_exact(s->open, s->nopen, &s->t, &e);
        ck_stats_add_exact(s, &e);
    } else {
        ck_stats_chunk(s->open, s->nopen, &s->t, &m);
        ck_stats_merge_chunk(s, &m);
    }
    s->nopen = 0;
}

uint64_t ck_stats_feed_open(ck_stats *s, const float *x, uint64_t n)
{
    uint64_t k = CK_STATS_CHUNK - s->nopen < n ? CK_STATS_CHUNK - s->nopen : n;
    memcpy(s->open + s->nopen, x, (size_t)k * sizeof *x);
    s->nopen += (unsigned)k;
    s->count += k;
    if (s->nopen == CK_STATS_CHUNK) close_open(s);
    return k;
}

void ck_stats_begin_pass2(ck_stats *s)
{
    if (s->pass != 1) return;
    close_open(s); /* the last chunk, partial, reduced like any other */
    s->mean = s->t.finite ? (s->sum + s->sum_comp) / (double)s->t.finite : 0.0;
    if (s->exact) exact_moments(s);
    s->lo = s->t.finite ? s->t.min : 0.0;
    s->range = s->t.finite ? (double)s->t.max - (double)s->t.min : 0.0;
    s->pass = 2;
}

void ck_stats_finish(ck_stats *s)
{
    if (s->pass == 1) ck_stats_begin_pass2(s);
    s->std = s->t.finite ? sqrt(s->m2 / (double)s->t.finite) : 0.0;
    if (s->counts_only) s->mean = s->std = NAN, s->t.min = s->t.max = NAN;
    /* -0 and +0 compare equal, so which one min/max kept would depend on the order: report +0. */
    if (s->t.min == 0) s->t.min = 0.0f;
    if (s->t.max == 0) s->t.max = 0.0f;
    s->pass = 3;
}
