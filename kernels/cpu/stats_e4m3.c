/* Statistics of F8_E4M3 codes, straight from the bytes (kernels/stats.h: ck_stats_sums_exact).
 *
 * Every E4M3 value is k * 2^-9 with an integer |k| <= 229376, so the moments need only the integer
 * sums of k and k^2, which are exact in any order. Decoding to float and reducing float lanes cost about
 * as much per element as for any other dtype, 4 times the budget of a one-byte element. Here the
 * codes are never decoded: the magnitudes' k (3 bytes) and k^2 (5 bytes) come from 128-entry byte
 * tables, one byte plane at a time, and dot-product instructions add each plane's bytes into 32-bit
 * lanes (with +1 or -1 for the sign, for k). With AVX-512 VBMI (a 128-byte table lookup over 64
 * lanes) and VNNI (u8 x s8 products added 4 at a time) a chunk of 1024 codes is about 400
 * instructions; the portable loop below computes the same integers elsewhere.
 *
 * Intrinsics, unlike the rest of the CPU back end (kernels/cpu/simd.h): the compiler's vector
 * extensions have no spelling it lowers to a two-register byte permute or to VPDPBUSD. The AVX-512
 * function is chosen at run time (not by ifunc, so the sanitizer builds run it too).
 *
 * min and max: a code's order key (positive codes 0x80 | magnitude, negative 0x7F - magnitude) is
 * monotone in its value, so an unsigned byte min/max of the keys, NaN codes (0x7F, 0xFF) left out,
 * gives the extreme codes; they are decoded once per call. */
#include <pthread.h>
#include <string.h>

#include "kernels/codec.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/simd.h"

#define NAN_MAG 0x7Fu
#define K_PLANES 3  /* bytes of |k| < 2^18 */
#define KK_PLANES 5 /* bytes of k^2 < 2^36 */

/* The byte planes of |k| and k^2 by magnitude (code & 0x7F; NaN: 0), from the codec. */
static uint8_t planes[K_PLANES + KK_PLANES][128];
static pthread_once_t planes_once = PTHREAD_ONCE_INIT;

static void build_planes(void)
{
    for (unsigned a = 0; a < 128; a++) {
        int64_t k = a == NAN_MAG ? 0 : ck_stats_e4m3_units(ck_e4m3_to_f32((uint8_t)a)), kk = k * k;
        for (int b = 0; b < K_PLANES; b++) planes[b][a] = (uint8_t)(k >> (8 * b));
        for (int b = 0; b < KK_PLANES; b++) planes[K_PLANES + b][a] = (uint8_t)(kk >> (8 * b));
    }
}

static inline uint8_t key_code(uint8_t key) { return key & 0x80 ? (uint8_t)(key ^ 0x80) : (uint8_t)(key ^ 0xFF); }

/* Counts, min and max of a run whose finite codes had the order keys [kmin, kmax]. */
static void tally_run(ck_tally *t, uint64_t nan, uint64_t zero, uint64_t fin, uint8_t kmin, uint8_t kmax)
{
    ck_tally_add(t, nan, 0, zero, fin, ck_e4m3_to_f32(key_code(kmin)), ck_e4m3_to_f32(key_code(kmax)));
}

/* ---- portable: the same integers, in lane loops the compiler vectorizes --------------------- */

#define L 64
CK_VEC_CLONES_WIDE void ck_cpu_e4m3_chunks_portable(const uint8_t *codes, uint64_t nchunks, ck_exact_sums *e,
                                                     ck_tally *t)
{
    uint64_t nan_all = 0, zero_all = 0;
    int64_t sum = 0, sq = 0; /* locals: e may share a cache line with another task's sums */
    uint8_t kmin = 0xFF, kmax = 0;
    for (uint64_t c = 0; c < nchunks; c++) {
        const uint8_t *x = codes + c * CK_STATS_CHUNK;
        int32_t s[L];
        int64_t ss[L];
        uint8_t nan[L], zero[L], lo[L], hi[L];
        for (int l = 0; l < L; l++) s[l] = 0, ss[l] = 0, nan[l] = zero[l] = 0, lo[l] = 0xFF, hi[l] = 0;
        for (unsigned i = 0; i < CK_STATS_CHUNK; i += L)
            for (int l = 0; l < L; l++) {
                uint8_t code = x[i + l], a = code & 0x7F, ex = a >> 3, mant = a & 7;
                bool isnan = a == NAN_MAG;
                int32_t k = ex ? (int32_t)(8 | mant) << (ex - 1) : mant;
                k = isnan ? 0 : code & 0x80 ? -k : k;
                s[l] += k;
                ss[l] += (int64_t)k * k;
                nan[l] += isnan;
                zero[l] += a == 0;
                uint8_t key = code & 0x80 ? (uint8_t)(code ^ 0xFF) : (uint8_t)(code ^ 0x80);
                lo[l] = !isnan && key < lo[l] ? key : lo[l];
                hi[l] = !isnan && key > hi[l] ? key : hi[l];
            }
        for (int l = 0; l < L; l++) {
            sum += s[l], sq += ss[l], nan_all += nan[l], zero_all += zero[l];
            kmin = lo[l] < kmin ? lo[l] : kmin;
            kmax = hi[l] > kmax ? hi[l] : kmax;
        }
    }
    e->sum += sum, e->sq += sq;
    tally_run(t, nan_all, zero_all, nchunks * CK_STATS_CHUNK - nan_all, kmin, kmax);
}
#undef L

/* ---- AVX-512 VBMI + VNNI --------------------------------------------------------------------- */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define T_VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi,avx512vnni,popcnt")))

T_VBMI static int64_t sum_lanes_u32(__m512i v) /* 16 unsigned 32-bit lanes, without overflow */
{
    __m512i lo = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(v));
    __m512i hi = _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(v, 1));
    return _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

T_VBMI static uint8_t min_bytes(__m512i v)
{
    uint8_t b[64], r = 0xFF;
    _mm512_storeu_si512(b, v);
    for (int i = 0; i < 64; i++) r = b[i] < r ? b[i] : r;
    return r;
}

T_VBMI static uint8_t max_bytes(__m512i v)
{
    uint8_t b[64], r = 0;
    _mm512_storeu_si512(b, v);
    for (int i = 0; i < 64; i++) r = b[i] > r ? b[i] : r;
    return r;
}

T_VBMI static void chunks_vbmi(const uint8_t *codes, uint64_t nchunks, ck_exact_sums *e, ck_tally *t)
{
    __m512i tab[K_PLANES + KK_PLANES][2];
    for (int p = 0; p < K_PLANES + KK_PLANES; p++) {
        tab[p][0] = _mm512_loadu_si512(planes[p]);
        tab[p][1] = _mm512_loadu_si512(planes[p] + 64);
    }
    const __m512i mag = _mm512_set1_epi8(0x7F), one = _mm512_set1_epi8(1), minus = _mm512_set1_epi8(-1);
    const __m512i pos_key = _mm512_set1_epi8((char)0x80);
    __m512i kmin = minus, kmax = _mm512_setzero_si512();
    uint64_t nan_all = 0, zero_all = 0;
    int64_t sum = 0, sq = 0; /* locals: e may share a cache line with another task's sums */
    for (uint64_t c = 0; c < nchunks; c++) {
        const uint8_t *x = codes + c * CK_STATS_CHUNK;
        __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, q0 = s0, q1 = s0, q2 = s0, q3 = s0, q4 = s0;
        uint64_t nan = 0, zero = 0;
        for (unsigned i = 0; i < CK_STATS_CHUNK; i += 64) {
            __m512i code = _mm512_loadu_si512(x + i), a = _mm512_and_si512(code, mag);
            __mmask64 neg = _mm512_movepi8_mask(code), isnan = _mm512_cmpeq_epi8_mask(a, mag);
            nan += (uint64_t)__builtin_popcountll(isnan);
            zero += (uint64_t)__builtin_popcountll(_mm512_testn_epi8_mask(code, mag));
            __m512i key = _mm512_xor_si512(code, _mm512_mask_blend_epi8(neg, pos_key, minus));
            kmin = _mm512_mask_min_epu8(kmin, ~isnan, kmin, key);
            kmax = _mm512_mask_max_epu8(kmax, ~isnan, kmax, key);
            __m512i sign = _mm512_mask_blend_epi8(neg, one, minus);
            s0 = _mm512_dpbusd_epi32(s0, _mm512_permutex2var_epi8(tab[0][0], a, tab[0][1]), sign);
            s1 = _mm512_dpbusd_epi32(s1, _mm512_permutex2var_epi8(tab[1][0], a, tab[1][1]), sign);
            s2 = _mm512_dpbusd_epi32(s2, _mm512_permutex2var_epi8(tab[2][0], a, tab[2][1]), sign);
            q0 = _mm512_dpbusd_epi32(q0, _mm512_permutex2var_epi8(tab[3][0], a, tab[3][1]), one);
            q1 = _mm512_dpbusd_epi32(q1, _mm512_permutex2var_epi8(tab[4][0], a, tab[4][1]), one);
            q2 = _mm512_dpbusd_epi32(q2, _mm512_permutex2var_epi8(tab[5][0], a, tab[5][1]), one);
            q3 = _mm512_dpbusd_epi32(q3, _mm512_permutex2var_epi8(tab[6][0], a, tab[6][1]), one);
            q4 = _mm512_dpbusd_epi32(q4, _mm512_permutex2var_epi8(tab[7][0], a, tab[7][1]), one);
        }
        /* A lane's plane sums are at most 16 * 4 * 255; recombined: sum(k) of its 64 codes
         * (|.| < 2^24) and the low and high parts of sum(k^2) (< 2^31, unsigned). */
        __m512i sk = _mm512_add_epi32(s0, _mm512_add_epi32(_mm512_slli_epi32(s1, 8), _mm512_slli_epi32(s2, 16)));
        __m512i qa = _mm512_add_epi32(q0, _mm512_add_epi32(_mm512_slli_epi32(q1, 8), _mm512_slli_epi32(q2, 16)));
        __m512i qb = _mm512_add_epi32(q3, _mm512_slli_epi32(q4, 8));
        sum += _mm512_reduce_add_epi32(sk); /* |.| < 2^28 */
        sq += sum_lanes_u32(qa) + (sum_lanes_u32(qb) << 24);
        nan_all += nan;
        zero_all += zero;
    }
    e->sum += sum, e->sq += sq;
    tally_run(t, nan_all, zero_all, nchunks * CK_STATS_CHUNK - nan_all, min_bytes(kmin), max_bytes(kmax));
}

static bool have_vbmi(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi") &&
           __builtin_cpu_supports("avx512vnni");
}
#endif

static void (*chosen)(const uint8_t *, uint64_t, ck_exact_sums *, ck_tally *);
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
    pthread_once(&planes_once, build_planes);
    chosen = ck_cpu_e4m3_chunks_portable;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (have_vbmi()) chosen = chunks_vbmi;
#endif
}

bool ck_cpu_e4m3_chunks_vector(void)
{
    pthread_once(&choose_once, choose);
    return chosen != ck_cpu_e4m3_chunks_portable;
}

void ck_cpu_e4m3_chunks(const uint8_t *codes, uint64_t nchunks, ck_exact_sums *e, ck_tally *t)
{
    pthread_once(&choose_once, choose);
    chosen(codes, nchunks, e, t);
}
