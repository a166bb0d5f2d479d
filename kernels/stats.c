#include "kernels/stats.h"

#include <math.h>
#include <string.h>

void ck_stats_init(ck_stats *s)
{
    memset(s, 0, sizeof *s);
    s->pass = 1;
    s->t.min = INFINITY;
    s->t.max = -INFINITY;
}

void ck_chunked_sum_close(ck_chunked_sum *cs)
{
    ck_neumaier_add(&cs->total, &cs->comp, ck_lanes_fold(cs->lanes));
    memset(cs->lanes, 0, sizeof cs->lanes);
}

static double chunked_sum_value(ck_chunked_sum *cs)
{
    /* The last chunk may be partial; it is closed here, exactly as a full one would be. */
    if (cs->pos % CK_STATS_CHUNK) ck_chunked_sum_close(cs);
    return cs->total + cs->comp;
}

void ck_stats_begin_pass2(ck_stats *s)
{
    s->count = s->s1.pos;
    s->mean = s->t.finite ? chunked_sum_value(&s->s1) / (double)s->t.finite : 0.0;
    s->lo = s->t.finite ? s->t.min : 0.0;
    double range = s->t.finite ? (double)s->t.max - (double)s->t.min : 0.0;
    s->scale = range > 0 ? CK_HIST_BINS / range : 0.0;
    s->pass = 2;
}

void ck_stats_finish(ck_stats *s)
{
    double m2 = chunked_sum_value(&s->s2);
    s->std = s->t.finite ? sqrt(m2 / (double)s->t.finite) : 0.0;
    /* -0 and +0 compare equal, so which one min/max kept would depend on the order: report +0. */
    if (s->t.min == 0) s->t.min = 0.0f;
    if (s->t.max == 0) s->t.max = 0.0f;
    s->pass = 3;
}
