/* Deterministic tensor data. Every value comes from a splitmix64 stream seeded by the tensor's
 * seed, and only exact arithmetic (integer bits, ldexp, rint) turns it into bytes: no libm
 * transcendental is involved, so two machines produce the same bytes. Float encodings are driven
 * by the dtype traits table (exponent and mantissa bits, inf/NaN rules), not by a dtype switch. */
#include "builder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { uint64_t s; } rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 random bits. */
static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1p-53; }

/* Irwin-Hall(4), rescaled to mean 0 and variance 1: bell-shaped, bounded by ±2·sqrt(3), and
 * exact (a Box-Muller would bring log/cos, whose last bits differ between libms). */
static double rng_normalish(rng *r)
{
    double s = rng_unit(r) + rng_unit(r) + rng_unit(r) + rng_unit(r);
    return (s - 2.0) * 1.7320508075688772;
}

static void random_bytes(uint64_t seed, uint8_t *out, size_t n)
{
    rng r = {seed};
    for (size_t i = 0; i < n; i += 8) {
        uint64_t x = rng_next(&r);
        for (size_t k = 0; k < 8 && i + k < n; k++) out[i + k] = (uint8_t)(x >> (8 * k));
    }
}

/* E8M0 exponents 116..124: block scales 2^-11 .. 2^-3, so E2M1 values (at most 6) dequantize to
 * weights below 0.75, as real MXFP4 experts do. */
static void e8m0_bytes(uint64_t seed, uint8_t *out, size_t n)
{
    rng r = {seed};
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(116 + rng_next(&r) % 9);
}

void ckg_encode_float(ck_dtype dtype, double v, uint8_t *out)
{
    const ck_dtype_traits *tr = ck_dtype_info(dtype);
    unsigned e = tr->exp_bits, m = tr->man_bits, nbytes = tr->bits / 8;
    int64_t bias = ((int64_t)1 << (e - 1)) - 1;
    /* Largest finite code: IEEE-like formats stop below the all-ones exponent (infinity); the
     * "fn" formats (E4M3) use that exponent too, all but the all-ones mantissa (NaN). */
    uint64_t all_exp = ((uint64_t)1 << e) - 1;
    uint64_t max_mag = tr->has_inf ? (all_exp << m) - 1 : (all_exp << m) | (((uint64_t)1 << m) - 2);
    uint64_t sign = signbit(v) ? 1 : 0, mag = 0;
    double a = fabs(v);
    if (isnan(a)) a = 0;
    if (a != 0) {
        int ex;
        frexp(a, &ex);
        int64_t E = ex - 1;
        if (E < 1 - bias) E = 1 - bias; /* subnormal: the quantum stays 2^(1-bias-m) */
        double q = rint(ldexp(a, (int)((int64_t)m - E))); /* round half to even */
        /* Normal: q in [2^m, 2^(m+1)] and a carry into the exponent is just the sum. Subnormal:
         * E + bias == 1, so this is q itself with a zero exponent field. */
        int64_t code = ((E + bias) << m) + (int64_t)q - ((int64_t)1 << m);
        mag = code < 0 ? 0 : (uint64_t)code;
        if (mag > max_mag) mag = max_mag;
    }
    uint64_t bits = (sign << (e + m)) | mag;
    for (unsigned k = 0; k < nbytes; k++) out[k] = (uint8_t)(bits >> (8 * k));
}

static const double e2m1_value[16] = {0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6};

/* BF16 [E, K, rows] from MXFP4 blocks [E, rows, K/32, 16] and scales [E, rows, K/32], generated
 * with the seeds those tensors use: the BF16 fixture then holds exactly the weights of the MXFP4
 * one, in the HF BF16 orientation (layouts.md §4.5). An E2M1 value times 2^(s-127) has two
 * significant bits, so it is exact in BF16. */
static int fill_mxfp4_t(const ckg_tensor *t, uint8_t *out, ck_error *err)
{
    if (t->ndim != 3 || t->shape[1] % 32 != 0)
        return ck_error_set(err, CK_E_USAGE, "", t->name, -1, "MXFP4-derived fill needs [E, K, rows], K %% 32 == 0");
    uint64_t E = t->shape[0], K = t->shape[1], rows = t->shape[2];
    size_t nblk = (size_t)(E * rows * K / 2), nscl = (size_t)(E * rows * K / 32);
    uint8_t *blocks = malloc(nblk), *scales = malloc(nscl);
    if (!blocks || !scales) {
        free(blocks);
        free(scales);
        return ck_error_set(err, CK_E_NOMEM, "", t->name, -1, "out of memory");
    }
    random_bytes(t->aux_seed[0], blocks, nblk);
    e8m0_bytes(t->aux_seed[1], scales, nscl);
    size_t es = ck_dtype_info(t->dtype)->bits / 8;
    for (uint64_t e = 0; e < E; e++)
        for (uint64_t r = 0; r < rows; r++)
            for (uint64_t k = 0; k < K; k++) {
                uint64_t row = e * rows + r;
                uint8_t byte = blocks[row * (K / 2) + k / 2];
                unsigned code = (k & 1) ? byte >> 4 : byte & 15; /* low nibble = even element */
                double v = ldexp(e2m1_value[code], (int)scales[row * (K / 32) + k / 32] - 127);
                ckg_encode_float(t->dtype, v, out + ((e * K + k) * rows + r) * es);
            }
    free(blocks);
    free(scales);
    return 0;
}

/* Fill `n` elements of `t`'s dtype, in the order the shape (pre-transpose) lists them. */
static int fill_plain(const ckg_tensor *t, uint8_t *out, uint64_t n, uint64_t nbytes, ck_error *err)
{
    const ck_dtype_traits *tr = ck_dtype_info(t->dtype);
    bool encodable = tr->kind == CK_KIND_FLOAT && !tr->is_quant_scale && tr->bits % 8 == 0;
    rng r = {t->seed};
    size_t es = tr->bits / 8;
    switch (t->fill) {
    case CKG_FILL_ZERO:
        memset(out, 0, (size_t)nbytes);
        return 0;
    case CKG_FILL_BYTES:
        random_bytes(t->seed, out, (size_t)nbytes);
        return 0;
    case CKG_FILL_E8M0:
        e8m0_bytes(t->seed, out, (size_t)nbytes);
        return 0;
    case CKG_FILL_MXFP4_T:
        return fill_mxfp4_t(t, out, err);
    case CKG_FILL_WEIGHT:
    case CKG_FILL_NORM:
    case CKG_FILL_POS:
        break;
    }
    if (!encodable) {
        /* Integer weights are random bytes; booleans must be 0 or 1. */
        random_bytes(t->seed, out, (size_t)nbytes);
        if (tr->kind == CK_KIND_BOOL)
            for (uint64_t i = 0; i < nbytes; i++) out[i] &= 1;
        return 0;
    }
    for (uint64_t i = 0; i < n; i++) {
        double v;
        if (t->fill == CKG_FILL_NORM) v = 1.0 + 0.05 * (2 * rng_unit(&r) - 1);
        else if (t->fill == CKG_FILL_POS) v = t->std * (1 + 0.5 * rng_unit(&r));
        else v = t->std * rng_normalish(&r);
        ckg_encode_float(t->dtype, v, out + i * es);
    }
    return 0;
}

int ckg_fill_tensor(const ckg_tensor *t, uint8_t *out, ck_error *err)
{
    uint64_t n, nbytes;
    if (ck_tensor_size(t->dtype, t->shape, t->ndim, &n, &nbytes) != 0)
        return ck_error_set(err, CK_E_USAGE, "", t->name, -1, "bad fixture tensor size");
    if (!t->transposed) return fill_plain(t, out, n, nbytes, err);

    /* Make the data for the shape before the transpose, then swap the last two dims. */
    size_t es = ck_dtype_info(t->dtype)->bits / 8;
    if (t->ndim < 2 || es == 0 || ck_dtype_info(t->dtype)->bits % 8 != 0)
        return ck_error_set(err, CK_E_USAGE, "", t->name, -1, "cannot transpose this fixture tensor");
    ckg_tensor orig = *t;
    uint64_t a = t->shape[t->ndim - 2], b = t->shape[t->ndim - 1];
    orig.shape[t->ndim - 2] = b;
    orig.shape[t->ndim - 1] = a;
    orig.transposed = false;
    uint8_t *tmp = malloc(nbytes ? (size_t)nbytes : 1);
    if (!tmp) return ck_error_set(err, CK_E_NOMEM, "", t->name, -1, "out of memory");
    if (fill_plain(&orig, tmp, n, nbytes, err) != 0) {
        free(tmp);
        return -1;
    }
    uint64_t mats = (a != 0 && b != 0) ? n / (a * b) : 0;
    for (uint64_t k = 0; k < mats; k++) {
        const uint8_t *src = tmp + k * a * b * es;
        uint8_t *dst = out + k * a * b * es;
        for (uint64_t i = 0; i < a; i++)
            for (uint64_t j = 0; j < b; j++) memcpy(dst + (i * b + j) * es, src + (j * a + i) * es, es);
    }
    free(tmp);
    return 0;
}
