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

static void close_open(ck_stats *s)
{
    if (!s->nopen) return;
    ck_chunk_moments m;
    ck_stats_chunk(s->open, s->nopen, &s->t, &m);
    ck_stats_merge_chunk(s, &m);
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
