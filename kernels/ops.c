/* The host side of kernels/ops.h: a comparison's chunk merge and results, and the RoPE and gate/up
 * permutes expressed as the back end's pair permute. */
#include <math.h>
#include <string.h>

#include "kernels/backend.h"

void ck_compare_init(ck_compare *c) { memset(c, 0, sizeof *c); }

static void neumaier_add(double *total, double *comp, double v)
{
    double t = *total + v;
    if (fabs(*total) >= fabs(v)) *comp += (*total - t) + v;
    else *comp += (v - t) + *total;
    *total = t;
}

void ck_compare_close_chunk(ck_compare *c, const double sums[CK_CMP_SUMS])
{
    for (int q = 0; q < CK_CMP_SUMS; q++) neumaier_add(&c->total[q], &c->comp[q], sums[q]);
}

void ck_cmp_tally_merge(ck_cmp_tally *into, const ck_cmp_tally *t)
{
    into->nonfinite += t->nonfinite;
    into->mismatch += t->mismatch;
    if (t->max_abs > into->max_abs) into->max_abs = t->max_abs;
}

void ck_compare_finish(ck_compare *c)
{
    if (c->finished) return;
    if (c->count % CK_CMP_CHUNK) {
        double sums[CK_CMP_SUMS];
        for (int q = 0; q < CK_CMP_SUMS; q++) sums[q] = ck_cmp_fold(c->lanes[q]);
        ck_compare_close_chunk(c, sums);
        memset(c->lanes, 0, sizeof c->lanes);
    }
    double s[CK_CMP_SUMS];
    for (int q = 0; q < CK_CMP_SUMS; q++) s[q] = c->total[q] + c->comp[q];
    c->dot = s[CK_CMP_DOT];
    c->norm_a = sqrt(s[CK_CMP_AA]);
    c->norm_b = sqrt(s[CK_CMP_BB]);
    c->norm_diff = sqrt(s[CK_CMP_DD]);
    c->max_abs = c->t.max_abs;
    if (c->norm_a > 0 && c->norm_b > 0) {
        double cs = c->dot / (c->norm_a * c->norm_b);
        c->cosine = cs > 1 ? 1 : cs < -1 ? -1 : cs;
    } else {
        c->cosine = c->norm_a == c->norm_b ? 1 : 0; /* both all zero: identical */
    }
    c->rel_err = c->norm_b > 0 ? c->norm_diff / c->norm_b : c->norm_diff > 0 ? INFINITY : 0;
    c->finished = true;
}

int ck_rope_permute(ck_backend *be, ck_dtype dtype, const void *src, void *dst, uint64_t heads, uint64_t head_dim,
                    uint64_t cols, ck_rope_dir dir, ck_error *err)
{
    if (head_dim % 2)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "RoPE permute: head_dim %llu is odd",
                            (unsigned long long)head_dim);
    return be->ops->permute_pairs(be, dtype, src, dst, heads, head_dim, cols,
                                  dir == CK_ROPE_META_TO_HF ? CK_PAIRS_SPLIT : CK_PAIRS_JOIN, err);
}

int ck_gate_up_permute(ck_backend *be, ck_dtype dtype, const void *src, void *dst, const uint64_t *shape, int ndim,
                       int dim, bool to_concat, ck_error *err)
{
    if (dim < 0 || dim >= ndim)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "gate/up permute: dim %d of a %d-d tensor", dim, ndim);
    uint64_t outer = 1, inner = 1;
    for (int i = 0; i < dim; i++)
        if (__builtin_mul_overflow(outer, shape[i], &outer))
            return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "gate/up permute: shape overflows");
    for (int i = dim + 1; i < ndim; i++)
        if (__builtin_mul_overflow(inner, shape[i], &inner))
            return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "gate/up permute: shape overflows");
    return be->ops->permute_pairs(be, dtype, src, dst, outer, shape[dim], inner,
                                  to_concat ? CK_PAIRS_SPLIT : CK_PAIRS_JOIN, err);
}

int ck_permute_args(ck_dtype dtype, uint64_t outer, uint64_t n, uint64_t inner, ck_pairs_dir dir,
                    uint64_t *row_bytes, uint64_t *total, ck_error *err)
{
    if (dir != CK_PAIRS_SPLIT && dir != CK_PAIRS_JOIN)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "permute: unknown direction %d", (int)dir);
    if (n % 2)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "permute: the paired dim has odd size %llu",
                            (unsigned long long)n);
    unsigned bits = ck_dtype_info(dtype)->bits;
    uint64_t t, rbits;
    if (__builtin_mul_overflow(outer, n, &t) || __builtin_mul_overflow(t, inner, &t) || t > UINT64_MAX / 64 ||
        __builtin_mul_overflow(inner, (uint64_t)bits, &rbits))
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "permute: shape overflows");
    if (rbits % 8)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "permute: rows of %llu %s elements are not whole bytes",
                            (unsigned long long)inner, ck_dtype_name(dtype));
    *row_bytes = rbits / 8;
    *total = t;
    return 0;
}

int ck_quant_args(const char *op, uint64_t rows, uint64_t cols, bool even, ck_error *err)
{
    if (even && cols % 2)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "%s: %llu columns: packed FP4 rows need an even count",
                            op, (unsigned long long)cols);
    uint64_t n;
    if (__builtin_mul_overflow(rows, cols, &n) || n > UINT64_MAX / 8)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "%s: shape overflows", op);
    return 0;
}
