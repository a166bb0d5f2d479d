/* The float-lane chunk reduction of kernels/stats.h (ck_stats_chunk) for F32 and BF16 chunks, with
 * AVX-512 written out: the same adds in the same lanes and order as kernels/cpu/stats.c's portable
 * fast path, so the same bits, in fewer instructions per value:
 *   - zeros are told by a class test into a mask register (vfpclassps), counted by popcount, where
 *     the portable loop tracks the smallest magnitude (an and and a min per 16 values);
 *   - BF16 is widened by one two-register word permute per 16 values (zero words interleaved with
 *     the codes), where the compiler emitted a widening move, a lane extract and a shift.
 * The reduction is compute-bound at two threads (one thread: about 8 G values/s), so each
 * instruction saved per 16 values shows.
 *
 * Intrinsics, unlike the rest of the CPU back end (kernels/cpu/simd.h): the compiler's vector
 * extensions have no spelling for a class test into a mask. Chosen at run time by the caller
 * (ck_cpu_stats_avx512), so the sanitizer builds run it too. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kernels/cpu/cpu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,popcnt")))
#define L CK_STATS_LANES
#define ZERO_CLASS 0x06 /* vfpclassps: +0 | -0 */

/* Sweep 1 over 16 values v at lane group g: min, max, shifted sum, zeros. */
#define STEP1(g, v)                                                                     \
    do {                                                                                \
        mn[g] = _mm512_min_ps(v, mn[g]);                                                \
        mx[g] = _mm512_max_ps(v, mx[g]);                                                \
        p[g] = _mm512_add_ps(p[g], _mm512_sub_ps(v, c));                                \
        zeros += (unsigned)__builtin_popcount(_mm512_fpclass_ps_mask(v, ZERO_CLASS));   \
    } while (0)

/* After sweep 1 (x: the chunk's 1024 floats, in memory): ck_stats_chunk's checks, sweep 2, the
 * moments and the tally. False, having changed nothing, for a chunk the fast path does not take. */
T512 static bool finish(const __m512 *p, const __m512 *mn, const __m512 *mx, unsigned zeros, const float *x,
                        ck_tally *t, ck_chunk_moments *m)
{
    float lanes[L];
    for (int g = 0; g < 4; g++) _mm512_storeu_ps(lanes + 16 * g, p[g]);
    double pl = ck_fold_lanes(lanes);
    /* lane order does not matter for min and max; vminps keeps the second operand on equal
     * values, as `v < mn ? v : mn` does */
    float lo = _mm512_reduce_min_ps(_mm512_min_ps(_mm512_min_ps(mn[0], mn[1]), _mm512_min_ps(mn[2], mn[3])));
    float hi = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(mx[0], mx[1]), _mm512_max_ps(mx[2], mx[3])));
    /* a NaN or an infinity makes the shifted sums NaN or infinite (c itself may be one) */
    if (pl - pl != 0 || !ck_stats_float_ok(-lo > hi ? -lo : hi)) return false;
    __m512 mf = _mm512_set1_ps(ck_stats_mf(CK_STATS_CHUNK, x[0], pl)), q[4];
    for (int g = 0; g < 4; g++) q[g] = _mm512_setzero_ps();
    for (unsigned i = 0; i < CK_STATS_CHUNK; i += L)
        for (int g = 0; g < 4; g++) {
            __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16 * g), mf);
            q[g] = _mm512_add_ps(q[g], _mm512_mul_ps(d, d)); /* two roundings, as the definition */
        }
    for (int g = 0; g < 4; g++) _mm512_storeu_ps(lanes + 16 * g, q[g]);
    ck_stats_shifted(m, CK_STATS_CHUNK, x[0], pl, ck_fold_lanes(lanes));
    ck_tally_add(t, 0, 0, zeros, CK_STATS_CHUNK, lo, hi);
    return true;
}

#define SWEEP1_INIT(first)                                                              \
    __m512 c = _mm512_set1_ps(first), p[4], mn[4], mx[4];                               \
    unsigned zeros = 0;                                                                 \
    for (int g = 0; g < 4; g++) {                                                       \
        p[g] = _mm512_setzero_ps();                                                     \
        mn[g] = _mm512_set1_ps(__builtin_inff());                                       \
        mx[g] = _mm512_set1_ps(-__builtin_inff());                                      \
    }

T512 bool ck_cpu_chunk_f32_avx512(const float *x, ck_tally *t, ck_chunk_moments *m)
{
    SWEEP1_INIT(x[0]);
    for (unsigned i = 0; i < CK_STATS_CHUNK; i += L)
        for (int g = 0; g < 4; g++) {
            __m512 v = _mm512_loadu_ps(x + i + 16 * g);
            STEP1(g, v);
        }
    return finish(p, mn, mx, zeros, x, t, m);
}

/* buf: the chunk as floats, filled whatever the result (for the slow path). */
T512 bool ck_cpu_chunk_bf16_avx512(const uint16_t *src, float *buf, ck_tally *t, ck_chunk_moments *m)
{
    SWEEP1_INIT(ck_bits_f32((uint32_t)src[0] << 16));
    /* word 2j + 1 of the result is code j (+ 16 for the high half), word 2j zero */
    uint16_t lo_idx[32], hi_idx[32];
    for (int j = 0; j < 16; j++) {
        lo_idx[2 * j] = hi_idx[2 * j] = 0, lo_idx[2 * j + 1] = (uint16_t)(32 + j), hi_idx[2 * j + 1] = (uint16_t)(48 + j);
    }
    const __m512i lo = _mm512_loadu_si512(lo_idx), hi = _mm512_loadu_si512(hi_idx), zero = _mm512_setzero_si512();
    for (unsigned i = 0; i < CK_STATS_CHUNK; i += L)
        for (int h = 0; h < 2; h++) {
            __m512i a = _mm512_loadu_si512(src + i + 32 * h);
            __m512 v0 = _mm512_castsi512_ps(_mm512_permutex2var_epi16(zero, lo, a));
            __m512 v1 = _mm512_castsi512_ps(_mm512_permutex2var_epi16(zero, hi, a));
            _mm512_storeu_ps(buf + i + 32 * h, v0);
            _mm512_storeu_ps(buf + i + 32 * h + 16, v1);
            STEP1(2 * h, v0);
            STEP1(2 * h + 1, v1);
        }
    return finish(p, mn, mx, zeros, buf, t, m);
}

bool ck_cpu_stats_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
#else
bool ck_cpu_chunk_f32_avx512(const float *x, ck_tally *t, ck_chunk_moments *m)
{
    (void)x, (void)t, (void)m;
    return false;
}
bool ck_cpu_chunk_bf16_avx512(const uint16_t *src, float *buf, ck_tally *t, ck_chunk_moments *m)
{
    (void)src, (void)buf, (void)t, (void)m;
    return false;
}
bool ck_cpu_stats_avx512(void) { return false; }
#endif
