#include "kernels/stats.h"

#include <math.h>
#include <stdlib.h>
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

/* ---- counting mode ---------------------------------------------------------------------------- */

bool ck_stats_counting_dtype(ck_dtype d)
{
    switch (d) {
    case CK_BF16: case CK_F16: case CK_F8_E4M3: case CK_F8_E5M2: case CK_F8_E8M0:
    case CK_BOOL: case CK_U8: case CK_I8: case CK_U16: case CK_I16:
        return true;
    default:
        return false;
    }
}

bool ck_stats_wants_pass2(const ck_stats *s) { return s->mode != CK_STATS_COUNT; }

int ck_stats_set_mode(ck_stats *s, ck_dtype d)
{
    if (s->mode == CK_STATS_UNSET) {
        if (!ck_stats_counting_dtype(d)) {
            s->mode = CK_STATS_FLOAT;
            return 0;
        }
        /* Uninitialised: blocks are zeroed when first used (ck_stats_block), so a small tensor
         * pays for the codes it has, not for 2^16. */
        s->codes = (uint64_t *)malloc(((size_t)1 << ck_dtype_info(d)->bits) * sizeof *s->codes);
        if (!s->codes) return -1;
        s->mode = CK_STATS_COUNT;
        s->dtype = d;
        return 0;
    }
    return s->mode == CK_STATS_COUNT && d != s->dtype ? -2 : 0;
}

void ck_stats_release(ck_stats *s)
{
    free(s->codes);
    s->codes = NULL;
}

/* The value of a code, as the CPU back end's decoders give it (kernels/codec.h; integers exact). */
static float code_value(ck_dtype d, uint32_t c)
{
    switch (d) {
    case CK_BF16: return ck_bf16_to_f32((uint16_t)c);
    case CK_F16: return ck_f16_to_f32((uint16_t)c);
    case CK_F8_E4M3: return ck_e4m3_to_f32((uint8_t)c);
    case CK_F8_E5M2: return ck_e5m2_to_f32((uint8_t)c);
    case CK_F8_E8M0: return ck_e8m0_to_f32((uint8_t)c);
    case CK_I8: return (float)(int8_t)(uint8_t)c;
    case CK_I16: return (float)(int16_t)(uint16_t)c;
    default: return (float)c; /* BOOL, U8, U16 */
    }
}

/* Runs the statements for every code with a non-zero count `k` and value `v`, in ascending code order. */
#define FOR_EACH_CODE(s, ...)                                                                    \
    do {                                                                                         \
        unsigned nblocks_ = (1u << ck_dtype_info((s)->dtype)->bits) / CK_STATS_BLOCK;            \
        for (unsigned b_ = 0; b_ < nblocks_; b_++) {                                             \
            if (!((s)->touched[b_ / 64] >> (b_ % 64) & 1)) continue;                              \
            const uint64_t *blk_ = (s)->codes + (size_t)b_ * CK_STATS_BLOCK;                     \
            for (unsigned i_ = 0; i_ < CK_STATS_BLOCK; i_++) {                                   \
                uint64_t k = blk_[i_];                                                           \
                if (!k) continue;                                                                \
                float v = code_value((s)->dtype, b_ * CK_STATS_BLOCK + i_);                      \
                __VA_ARGS__;                                                                     \
            }                                                                                    \
        }                                                                                        \
    } while (0)

static void count_finish_pass1(ck_stats *s)
{
    ck_tally *t = &s->t;
    double sum = 0, comp = 0;
    if (s->codes)
        FOR_EACH_CODE(s, {
            uint32_t a = ck_f32_bits(v) & 0x7FFFFFFFu;
            if (a > 0x7F800000u) {
                t->nan += k;
            } else if (a == 0x7F800000u) {
                t->inf += k;
            } else {
                t->finite += k;
                t->zero += a == 0 ? k : 0;
                t->min = v < t->min ? v : t->min;
                t->max = v > t->max ? v : t->max;
                ck_neumaier_add(&sum, &comp, (double)k * (double)v);
            }
        });
    s->count = s->s1.pos;
    s->mean = t->finite ? (sum + comp) / (double)t->finite : 0.0;
}

static void count_pass2(ck_stats *s)
{
    double m2 = 0, comp = 0;
    if (s->codes)
        FOR_EACH_CODE(s, {
            if (!ck_f32_finite(v)) continue;
            double d = (double)v - s->mean;
            ck_neumaier_add(&m2, &comp, (double)k * (d * d));
            double b = ((double)v - s->lo) * s->scale;
            s->t.hist[b >= CK_HIST_BINS - 1 ? CK_HIST_BINS - 1 : b > 0 ? (int)b : 0] += k;
        });
    /* finish reads the pass-2 sum like a chunked one with no open chunk */
    memset(&s->s2, 0, sizeof s->s2);
    s->s2.total = m2;
    s->s2.comp = comp;
}

/* ---- both modes --------------------------------------------------------------------------------- */

void ck_stats_begin_pass2(ck_stats *s)
{
    if (s->mode == CK_STATS_UNSET) s->mode = CK_STATS_FLOAT;
    if (s->mode == CK_STATS_COUNT) {
        count_finish_pass1(s);
    } else {
        s->count = s->s1.pos;
        s->mean = s->t.finite ? chunked_sum_value(&s->s1) / (double)s->t.finite : 0.0;
    }
    s->lo = s->t.finite ? s->t.min : 0.0;
    double range = s->t.finite ? (double)s->t.max - (double)s->t.min : 0.0;
    s->scale = range > 0 ? CK_HIST_BINS / range : 0.0;
    if (s->mode == CK_STATS_COUNT) count_pass2(s);
    s->pass = 2;
}

void ck_stats_finish(ck_stats *s)
{
    double m2 = chunked_sum_value(&s->s2);
    s->std = s->t.finite ? sqrt(m2 / (double)s->t.finite) : 0.0;
    /* -0 and +0 compare equal, so which one min/max kept would depend on the order: report +0. */
    if (s->t.min == 0) s->t.min = 0.0f;
    if (s->t.max == 0) s->t.max = 0.0f;
    ck_stats_release(s);
    s->pass = 3;
}
