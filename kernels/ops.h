/* Compare, permute, quantize and matrix-product ops of the back ends (issue 3): their public types,
 * the host functions around them, and the per-element arithmetic that the CPU and CUDA back ends
 * share (CK_HOST_DEVICE, as kernels/codec.h), so both compute the same bits. docs/kernels.md has the
 * definitions and the determinism rules.
 *
 * Compare (a against a reference b, both F32, n pairs, fed in pieces of any size):
 *   the pair sequence is cut into chunks of CK_CMP_CHUNK pairs counted from the first pair; inside a
 *   chunk, pair i goes to lane i % CK_CMP_LANES (plain double adds, in pair order); a chunk's value is
 *   its lanes folded pairwise; chunk values are added in chunk order with Neumaier compensation. So
 *   results depend neither on the thread count, nor on the back end, nor on how the caller splits
 *   the data. Pairs where a or b is NaN or Inf are counted, not summed. */
#ifndef CK_OPS_H
#define CK_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "inspect/dtype.h"
#include "inspect/error.h"
#include "kernels/codec.h"

#define CK_CMP_CHUNK 4096
#define CK_CMP_LANES 8

/* Double and float arithmetic rounded as written: the device would otherwise contract a * b + c
 * into an FMA (the CPU kernels are built with -ffp-contract=off for the same reason). */
#ifdef __CUDA_ARCH__
#define CK_DADD(a, b) __dadd_rn((a), (b))
#define CK_DMUL(a, b) __dmul_rn((a), (b))
#define CK_FMUL(a, b) __fmul_rn((a), (b))
#define CK_FDIV(a, b) __fdiv_rn((a), (b))
#else
#define CK_DADD(a, b) ((a) + (b))
#define CK_DMUL(a, b) ((a) * (b))
#define CK_FMUL(a, b) ((a) * (b))
#define CK_FDIV(a, b) ((a) / (b))
#endif

/* ---- compare ------------------------------------------------------------------------------ */

enum { CK_CMP_DOT, CK_CMP_AA, CK_CMP_BB, CK_CMP_DD, CK_CMP_SUMS };

/* What a stretch of pairs contributes besides the sums; exact, merged in any order. */
typedef struct {
    uint64_t nonfinite;    /* pairs where a or b is NaN or +-Inf (left out of every sum and of max_abs) */
    uint64_t mismatch;     /* of those, pairs whose a and b are not the same special (NaN vs NaN, Inf vs same Inf) */
    double max_abs;        /* max |a - b| over the other pairs */
} ck_cmp_tally;

typedef struct {
    uint64_t count;        /* pairs seen */
    ck_cmp_tally t;
    double lanes[CK_CMP_SUMS][CK_CMP_LANES];            /* the open chunk */
    double total[CK_CMP_SUMS], comp[CK_CMP_SUMS];       /* Neumaier sums of the closed chunks */
    /* set by ck_compare_finish */
    bool finished;
    double dot, norm_a, norm_b, norm_diff; /* sqrt of the sums of squares */
    double cosine;         /* dot / (|a| |b|); 1 when both are all zero, 0 when exactly one is */
    double rel_err;        /* |a - b| / |b|; 0 when both are all zero, +Inf when only b is */
    double max_abs;        /* max |a - b| over finite pairs */
} ck_compare;

#ifdef __cplusplus
extern "C" {
#endif
void ck_compare_init(ck_compare *c);
/* Closes the open chunk and computes the results (idempotent). */
void ck_compare_finish(ck_compare *c);
/* Back ends: add one chunk's folded sums (a chunk closed in order). */
void ck_compare_close_chunk(ck_compare *c, const double sums[CK_CMP_SUMS]);
void ck_cmp_tally_merge(ck_cmp_tally *into, const ck_cmp_tally *t);
#ifdef __cplusplus
}
#endif

/* One pair into one lane's four sums, the counts and the running max (the CPU runs it over 8
 * lanes at once, the device one lane per thread: the same operations in the same order). */
#define CK_CMP_PAIR(av, bv, DOT, AA, BB, DD, NONFIN, MISMATCH, MX)                              \
    do {                                                                                        \
        float fa_ = (av), fb_ = (bv);                                                           \
        uint32_t ua_ = ck_f32_bits(fa_), ub_ = ck_f32_bits(fb_);                                \
        /* bitwise & and |, not && and ||: no branches, so the CPU loop vectorizes */         \
        int fin_ = ((ua_ & 0x7F800000u) != 0x7F800000u) & ((ub_ & 0x7F800000u) != 0x7F800000u); \
        int nans_ = ((ua_ & 0x7FFFFFFFu) > 0x7F800000u) & ((ub_ & 0x7FFFFFFFu) > 0x7F800000u);  \
        (NONFIN) += (unsigned)!fin_;                                                            \
        (MISMATCH) += (unsigned)(!fin_ & !nans_ & (ua_ != ub_));                                \
        uint32_t keep_ = 0u - (uint32_t)fin_; /* a special pair adds +0 */                      \
        double x_ = ck_bits_f32(ua_ & keep_), y_ = ck_bits_f32(ub_ & keep_);                    \
        double d_ = x_ - y_;                                                                    \
        (DOT) = CK_DADD((DOT), CK_DMUL(x_, y_));                                                \
        (AA) = CK_DADD((AA), CK_DMUL(x_, x_));                                                  \
        (BB) = CK_DADD((BB), CK_DMUL(y_, y_));                                                  \
        (DD) = CK_DADD((DD), CK_DMUL(d_, d_));                                                  \
        double ad_ = d_ < 0 ? -d_ : d_;                                                         \
        (MX) = ad_ > (MX) ? ad_ : (MX);                                                         \
    } while (0)

CK_HOST_DEVICE static inline double ck_cmp_fold(const double *l)
{
    return CK_DADD(CK_DADD(CK_DADD(l[0], l[1]), CK_DADD(l[2], l[3])), CK_DADD(CK_DADD(l[4], l[5]), CK_DADD(l[6], l[7])));
}

/* n pairs starting at in-chunk offset `off` into the lanes (all of them in one chunk). */
CK_HOST_DEVICE static inline void ck_cmp_run(const float *a, const float *b, uint64_t n, unsigned off,
                                             double lanes[CK_CMP_SUMS][CK_CMP_LANES], ck_cmp_tally *t)
{
    double dot[CK_CMP_LANES], aa[CK_CMP_LANES], bb[CK_CMP_LANES], dd[CK_CMP_LANES];
    for (int k = 0; k < CK_CMP_LANES; k++) {
        dot[k] = lanes[CK_CMP_DOT][k];
        aa[k] = lanes[CK_CMP_AA][k];
        bb[k] = lanes[CK_CMP_BB][k];
        dd[k] = lanes[CK_CMP_DD][k];
    }
    uint64_t nonfinite = 0, mismatch = 0;
    double mx[CK_CMP_LANES]; /* per lane, so that the loop vectorizes; a max is exact in any order */
    for (int k = 0; k < CK_CMP_LANES; k++) mx[k] = t->max_abs;
#define CK_CMP_BODY(i, lane) CK_CMP_PAIR(a[i], b[i], dot[lane], aa[lane], bb[lane], dd[lane], nonfinite, mismatch, mx[lane])
    uint64_t i = 0, whole = off == 0 ? n / CK_CMP_LANES * CK_CMP_LANES : 0;
    for (; i < whole; i += CK_CMP_LANES) /* the same order, with constant lane numbers */
        for (int k = 0; k < CK_CMP_LANES; k++) CK_CMP_BODY(i + k, k);
    for (; i < n; i++) CK_CMP_BODY(i, (off + i) & (CK_CMP_LANES - 1));
#undef CK_CMP_BODY
    for (int k = 0; k < CK_CMP_LANES; k++) {
        lanes[CK_CMP_DOT][k] = dot[k];
        lanes[CK_CMP_AA][k] = aa[k];
        lanes[CK_CMP_BB][k] = bb[k];
        lanes[CK_CMP_DD][k] = dd[k];
    }
    t->nonfinite += nonfinite;
    t->mismatch += mismatch;
    for (int k = 0; k < CK_CMP_LANES; k++) t->max_abs = mx[k] > t->max_abs ? mx[k] : t->max_abs;
}

/* ---- permutes ----------------------------------------------------------------------------- */

/* Pair permutes of a tensor seen as [outer, n, inner] (n even; a "row" is `inner` elements):
 *   CK_PAIRS_SPLIT: interleaved -> halves: dst[o][k] = src[o][2k], dst[o][n/2 + k] = src[o][2k + 1];
 *   CK_PAIRS_JOIN:  the inverse, halves -> interleaved.
 * RoPE q/k rows (layouts.md 3.4): HF row h*d + p*(d/2) + i = Meta row h*d + 2i + p, so Meta -> HF is
 * SPLIT with [heads, head_dim, cols] and HF -> Meta is JOIN. GPT-OSS gate_up (even = gate, odd = up)
 * -> [gate; up] is SPLIT along that dim, and back is JOIN. */
typedef enum { CK_PAIRS_SPLIT, CK_PAIRS_JOIN } ck_pairs_dir;

typedef enum {
    CK_ROPE_META_TO_HF, /* interleaved (Meta, torchtitan ComplexRoPE) -> rotate-half (HF): export */
    CK_ROPE_HF_TO_META, /* rotate-half -> interleaved: import */
} ck_rope_dir;

typedef struct ck_backend ck_backend;
#ifdef __cplusplus
extern "C" {
#endif
/* The RoPE q/k row permutation of a [heads * head_dim, cols] weight (cols = 1: a bias), through the
 * back end's permute_pairs. head_dim must be even. */
int ck_rope_permute(ck_backend *be, ck_dtype dtype, const void *src, void *dst, uint64_t heads, uint64_t head_dim,
                    uint64_t cols, ck_rope_dir dir, ck_error *err);
/* Gate/up along dimension `dim` of a tensor of shape[ndim]: to_concat: interleaved (even = gate,
 * odd = up) -> [gate; up]; else the inverse. shape[dim] must be even. */
int ck_gate_up_permute(ck_backend *be, ck_dtype dtype, const void *src, void *dst, const uint64_t *shape, int ndim,
                       int dim, bool to_concat, ck_error *err);
/* The argument checks every back end's permute_pairs makes (one copy, so they refuse alike):
 * 0 with *row_bytes (bytes per [inner] row) and *total (elements), or -1 with err set. */
int ck_permute_args(ck_dtype dtype, uint64_t outer, uint64_t n, uint64_t inner, ck_pairs_dir dir,
                    uint64_t *row_bytes, uint64_t *total, ck_error *err);
/* The shape checks every back end's quantize and dequantize ops make: `even` for packed FP4 rows. */
int ck_quant_args(const char *op, uint64_t rows, uint64_t cols, bool even, ck_error *err);
#ifdef __cplusplus
}
#endif

/* ---- quantization: scale rules (layouts.md 6.2-6.4) ----------------------------------------- */

#define CK_NVFP4_GLOBAL_DIV 2688.0f /* 6 * 448 */

/* MXFP4 (ModelOpt): exponent ceil(log2(amax / 6)) with amax / 6 rounded to f32, computed exactly
 * (ModelOpt's f32 log2 can land one below for huge amax; here 6 * 2^e >= amax always holds),
 * clamped at -127; returns the E8M0 byte e + 127. `amax` is the block's largest finite magnitude. */
CK_HOST_DEVICE static inline uint8_t ck_mxfp4_scale_code(float amax)
{
    uint32_t u = ck_f32_bits(CK_FDIV(amax, 6.0f));
    int e;
    if (u >= 0x800000u) e = (int)(u >> 23) - 127 + ((u & 0x7FFFFFu) != 0);
    else if (u > 1u) e = 32 - ck_clz32(u - 1u) - 149; /* subnormal u * 2^-149: ceil(log2 u) - 149 */
    else e = u ? -149 : -127;
    e = e < -127 ? -127 : e;
    return (uint8_t)(e + 127);
}

/* 2^(127 - code): the exact reciprocal of an E8M0 scale (codes 0..253, as ck_mxfp4_scale_code gives). */
CK_HOST_DEVICE static inline float ck_e8m0_inverse(uint8_t code) { return ck_bits_f32((uint32_t)(254 - code) << 23); }

/* NVFP4 (ModelOpt): global scale amax / (6 * 448) in f32; 1 when that is zero (an all-zero tensor). */
CK_HOST_DEVICE static inline float ck_nvfp4_global(float amax)
{
    float g = CK_FDIV(amax, CK_NVFP4_GLOBAL_DIV);
    return g > 0 ? g : 1.0f;
}

/* NVFP4 block scale: block_amax / (6 * global) in f32, a zero replaced by 1, clamped to
 * [2^-9, 448], rounded to F8_E4M3 (nearest even). */
CK_HOST_DEVICE static inline uint8_t ck_nvfp4_scale_code(float block_amax, float global)
{
    float s = CK_FDIV(block_amax, CK_FMUL(6.0f, global));
    s = s == 0.0f ? 1.0f : s;
    s = s < 0x1p-9f ? 0x1p-9f : s > 448.0f ? 448.0f : s;
    return ck_f32_to_e4m3(s);
}

/* FP8 scale: amax / fmax (448 for E4M3, 57344 for E5M2) in f32; 1 when that is zero. */
CK_HOST_DEVICE static inline float ck_fp8_scale(float amax, float fmax)
{
    float s = CK_FDIV(amax, fmax);
    return s > 0 ? s : 1.0f;
}

/* One FP8 element: x / scale in f32, saturated to +-fmax (NaN stays NaN), then encoded. */
CK_HOST_DEVICE static inline uint8_t ck_fp8_quant(float x, float scale, float fmax, bool e4m3)
{
    float v = CK_FDIV(x, scale);
    v = v > fmax ? fmax : v < -fmax ? -fmax : v;
    return e4m3 ? ck_f32_to_e4m3(v) : ck_f32_to_e5m2(v);
}

/* |x| as f32 bits when x is finite, else 0 (amax over finite values; non-negative floats order as
 * their bits, which lets the device take maxima with integer atomics). */
CK_HOST_DEVICE static inline uint32_t ck_abs_bits_finite(float x)
{
    uint32_t a = ck_f32_bits(x) & 0x7FFFFFFFu;
    return a < 0x7F800000u ? a : 0u;
}

CK_HOST_DEVICE static inline bool ck_f32_isnan(float x) { return (ck_f32_bits(x) & 0x7FFFFFFFu) > 0x7F800000u; }

/* Encode one FP4 block (n <= 32 elements, n even) of an MXFP4 row: returns the scale byte; a block
 * with a NaN gets the NaN scale 0xFF (E2M1 has no NaN), its codes as if the NaN were absent. */
CK_HOST_DEVICE static inline uint8_t ck_mxfp4_block(const float *x, unsigned n, uint8_t *codes)
{
    uint32_t amax = 0;
    bool nan = false;
    for (unsigned i = 0; i < n; i++) {
        uint32_t a = ck_abs_bits_finite(x[i]);
        amax = a > amax ? a : amax;
        nan |= ck_f32_isnan(x[i]);
    }
    uint8_t sc = ck_mxfp4_scale_code(ck_bits_f32(amax));
    float inv = ck_e8m0_inverse(sc);
    uint8_t q[32];
    for (unsigned i = 0; i < n; i++) q[i] = ck_f32_to_e2m1(CK_FMUL(x[i], inv));
    for (unsigned i = 0; i < n; i += 2) codes[i / 2] = (uint8_t)(q[i] | q[i + 1] << 4);
    return nan ? 0xFFu : sc;
}

/* Encode one NVFP4 block (n <= 16, n even): returns the F8_E4M3 scale byte (0x7F, NaN, for a block
 * with a NaN). Elements are x / (float(scale) * global), in f32, rounded to E2M1 (nearest even,
 * saturating at 6). */
CK_HOST_DEVICE static inline uint8_t ck_nvfp4_block(const float *x, unsigned n, float global, uint8_t *codes)
{
    uint32_t amax = 0;
    bool nan = false;
    for (unsigned i = 0; i < n; i++) {
        uint32_t a = ck_abs_bits_finite(x[i]);
        amax = a > amax ? a : amax;
        nan |= ck_f32_isnan(x[i]);
    }
    uint8_t sc = ck_nvfp4_scale_code(ck_bits_f32(amax), global);
    float div = CK_FMUL(ck_e4m3_to_f32(sc), global);
    uint8_t q[16];
    for (unsigned i = 0; i < n; i++) q[i] = ck_f32_to_e2m1(CK_FDIV(x[i], div));
    for (unsigned i = 0; i < n; i += 2) codes[i / 2] = (uint8_t)(q[i] | q[i + 1] << 4);
    return nan ? 0x7Fu : sc;
}

#endif
