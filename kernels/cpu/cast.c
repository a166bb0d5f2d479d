/* Casts between F32, F16, BF16, F8_E4M3 and F8_E5M2: decode to f32, encode to the target, through
 * the per-dtype table (ck_cpu_dtypes). Going through f32 never double-rounds: every source value
 * is exact in f32, so the one rounding is the encoder's. Pieces of BLOCK elements keep the f32
 * staging buffer in L1; tasks of TASK elements spread the work over the pool.
 *
 * The compute-bound encoders (F32 -> F16/F8, BF16 -> F8) run as fused loops over the codec's
 * element functions instead, with AVX-512 clones (see FUSED below); BF16 -> F8_E4M3 runs the same
 * rounding on 16-bit lanes, checked against the codec on every BF16 code first (bf16_e4m3_16).
 *
 * F16 to 8-bit casts (F16 -> F8_E4M3/F8_E5M2) go through a 64 Ki-entry table instead,
 * made once by running that same decode and encode over every 16-bit code, so it agrees with
 * them by construction. */
#include <pthread.h>
#include <string.h>

#include "kernels/codec.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/simd.h"

#define BLOCK 1024
#define TASK (64 * 1024)

typedef struct {
    const uint8_t *src;
    uint8_t *dst;
    uint64_t n;
    size_t sbytes, dbytes;
    const ck_cpu_dtype *from, *to;
    bool from_f32, to_f32;
    const uint8_t *lut16;        /* 16-bit -> 8-bit: the table, else NULL */
    void (*direct)(const void *src, void *dst, size_t n); /* a fused loop, else NULL */
} cast_job;

/* ---- fused loops for the encoders that are compute-bound ----
 * Each is the codec's own element function in a loop (the very arithmetic the per-dtype table
 * runs), with no f32 staging, compiled for wider vectors where the CPU has them. */
#define FUSED(name, stype, dtype, expr)                                            \
    CK_VEC_CLONES_WIDE static void name(const void *src, void *dst, size_t n)      \
    {                                                                              \
        const stype *s = src;                                                      \
        dtype *d = dst;                                                            \
        for (size_t i = 0; i < n; i++) d[i] = expr;                                \
    }
FUSED(f32_f16, float, uint16_t, ck_f32_to_f16(s[i]))
FUSED(f32_e4m3, float, uint8_t, ck_f32_to_e4m3(s[i]))
FUSED(f32_e5m2, float, uint8_t, ck_f32_to_e5m2(s[i]))
FUSED(bf16_e4m3, uint16_t, uint8_t, ck_f32_to_e4m3(ck_bf16_to_f32(s[i])))
FUSED(bf16_e5m2, uint16_t, uint8_t, ck_f32_to_e5m2(ck_bf16_to_f32(s[i])))

/* ---- BF16 -> F8_E4M3 on 16-bit lanes ----
 * The fused loop above runs ck_f32_to_e4m3 on 32-bit lanes, which GCC vectorizes 64 elements at a
 * time with register spills: about one element per cycle. The rounding fits in 16 bits, though:
 * a BF16 is 1 sign, 8 exponent and 7 mantissa bits, and E4M3 keeps 3 of the 7. So this loop does
 * the same rounding on 16-bit lanes, 32 elements per 64-byte vector, about 3x faster. It is the
 * codec's rule written for this one input type, not a second definition: bf16_e4m3_pick runs it
 * on all 65536 BF16 codes against the fused codec loop before its first use, and it is used only
 * if every byte agrees (otherwise that loop runs instead).
 *
 * With m = |h| (exponent field e = m >> 7), in the codec's terms:
 *   - m >= 0x3C80 (2^-6, E4M3's smallest normal, and up): the exponent is rebiased from 127 to 7
 *     and the mantissa rounded from 7 bits to 3, to nearest even; a carry into the exponent is the
 *     next binade, as in ck_round_mag. Codes past 0x7E (|x| > 464, Inf, NaN) become 0x7F, the NaN;
 *   - below: the E4M3 subnormal code is (0x80 | mantissa) * 2^(e - 125), to nearest even: shifted
 *     left by k = e - 117 (0..3, for e <= 120) and rounded to nearest even >> 8; e < 117 (below
 *     2^-10, half the smallest subnormal) gives 0;
 *   - the sign is copied.
 * No vector compares and no variable shifts: where a 64-byte vector is wider than the target's
 * (the AVX2 and default clones) GCC splits arithmetic into native vectors but does compares
 * element by element, and AVX2 has no 16-bit variable shift. Selects use masks made from the top
 * bit of a difference instead (in the lanes a select keeps, each difference is within +-2^15). */
#define TOP16(x) ((ck_v32u16){0} - ((x) >> 15))   /* all ones where the lane's top bit is set */
#define RNE16(x, s) (((x) + (uint16_t)((1u << ((s) - 1)) - 1u) + (((x) >> (s)) & 1)) >> (s))

CK_VEC_CLONES_WIDE static void bf16_e4m3_16(const void *src, void *dst, size_t n)
{
    const uint16_t *s = src;
    uint8_t *d = dst;
    size_t i = 0, whole = n - n % 32;
    for (; i < whole; i += 32) {
        ck_v32u16 h, m, c, k, sig, q, sub;
        memcpy(&h, s + i, sizeof h);
        m = h & 0x7FFF;
        c = RNE16(m - (120 << 7), 4);                    /* normal */
        c += (0x7F - c) & TOP16(0x7F - c);               /* past 0x7F: 0x7F */
        k = (m >> 7) - 117;                              /* subnormal */
        sig = (m & 0x7F) | 0x80;
        sig += sig & ((ck_v32u16){0} - (k & 1));         /* sig << k, in two steps */
        sig += (sig * 3) & ((ck_v32u16){0} - ((k >> 1) & 1));
        q = RNE16(sig, 8) & ~TOP16(k);                   /* e < 117: 0 */
        sub = TOP16(m - 0x3C80);
        ck_v32u8 out = __builtin_convertvector(((h >> 8) & 0x80) | (q & sub) | (c & ~sub), ck_v32u8);
        memcpy(d + i, &out, sizeof out);
    }
    for (; i < n; i++) d[i] = ck_f32_to_e4m3(ck_bf16_to_f32(s[i]));
}

static bool bf16_e4m3_16_ok;
static pthread_once_t bf16_e4m3_once = PTHREAD_ONCE_INIT;

/* Every BF16 code through both loops, in the clone this CPU runs; the 16-bit one only if equal. */
static void bf16_e4m3_pick(void)
{
    uint16_t codes[1024];
    uint8_t fast[1024], ref[1024];
    for (uint32_t c0 = 0; c0 < 65536; c0 += 1024) {
        for (uint32_t k = 0; k < 1024; k++) codes[k] = (uint16_t)(c0 + k);
        bf16_e4m3_16(codes, fast, 1024);
        bf16_e4m3(codes, ref, 1024);
        if (memcmp(fast, ref, sizeof fast)) return;
    }
    bf16_e4m3_16_ok = true;
}

static void (*direct_for(ck_dtype from, ck_dtype to))(const void *, void *, size_t)
{
    if (from == CK_F32 && to == CK_F16) return f32_f16;
    if (from == CK_F32 && to == CK_F8_E4M3) return f32_e4m3;
    if (from == CK_F32 && to == CK_F8_E5M2) return f32_e5m2;
    if (from == CK_BF16 && to == CK_F8_E4M3) {
        pthread_once(&bf16_e4m3_once, bf16_e4m3_pick);
        return bf16_e4m3_16_ok ? bf16_e4m3_16 : bf16_e4m3;
    }
    if (from == CK_BF16 && to == CK_F8_E5M2) return bf16_e5m2;
    return NULL;
}

/* ---- 16-bit -> 8-bit tables ---- */

enum { L_BF16_E4M3, L_BF16_E5M2, L_F16_E4M3, L_F16_E5M2, L_COUNT };
static uint8_t lut16[L_COUNT][65536];
static pthread_once_t lut16_once = PTHREAD_ONCE_INIT;

static int lut16_index(ck_dtype from, ck_dtype to)
{
    if (from != CK_BF16 && from != CK_F16) return -1;
    if (to != CK_F8_E4M3 && to != CK_F8_E5M2) return -1;
    return (from == CK_F16) * 2 + (to == CK_F8_E5M2);
}

static void lut16_build(void)
{
    static const ck_dtype froms[2] = {CK_BF16, CK_F16}, tos[2] = {CK_F8_E4M3, CK_F8_E5M2};
    uint16_t codes[1024];
    float tmp[1024];
    for (int f = 0; f < 2; f++)
        for (int t = 0; t < 2; t++)
            for (uint32_t c0 = 0; c0 < 65536; c0 += 1024) {
                for (uint32_t k = 0; k < 1024; k++) codes[k] = (uint16_t)(c0 + k);
                ck_cpu_dtypes[froms[f]].to_f32(codes, tmp, 1024);
                ck_cpu_dtypes[tos[t]].from_f32(tmp, lut16[f * 2 + t] + c0, 1024);
            }
}

static void cast_task(void *ctx, size_t task)
{
    const cast_job *j = ctx;
    uint64_t i0 = (uint64_t)task * TASK, i1 = i0 + TASK < j->n ? i0 + TASK : j->n;
    float tmp[BLOCK];
    if (j->direct) {
        j->direct(j->src + i0 * j->sbytes, j->dst + i0 * j->dbytes, (size_t)(i1 - i0));
        return;
    }
    if (j->lut16) {
        const uint16_t *s = (const uint16_t *)(const void *)j->src;
        for (uint64_t i = i0; i < i1; i++) j->dst[i] = j->lut16[s[i]];
        return;
    }
    for (uint64_t i = i0; i < i1; i += BLOCK) {
        size_t k = (size_t)(i1 - i < BLOCK ? i1 - i : BLOCK);
        const void *s = j->src + i * j->sbytes;
        void *d = j->dst + i * j->dbytes;
        if (j->from_f32) j->to->from_f32(s, d, k);
        else if (j->to_f32) j->from->to_f32(s, d, k);
        else {
            j->from->to_f32(s, tmp, k);
            j->to->from_f32(tmp, d, k);
        }
    }
}

bool ck_cpu_cast_supports(ck_dtype d)
{
    return ck_cpu_dtypes[d].to_f32 && ck_cpu_dtypes[d].from_f32;
}

int ck_cpu_cast(ck_backend *be, ck_dtype from, const void *src, ck_dtype to, void *dst, uint64_t n, ck_error *err)
{
    if (!ck_cpu_cast_supports(from) || !ck_cpu_cast_supports(to))
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "cast: %s -> %s is not supported",
                            ck_dtype_name(from), ck_dtype_name(to));
    size_t sb = ck_dtype_info(from)->bits / 8, db = ck_dtype_info(to)->bits / 8;
    if (n > UINT64_MAX / 8) return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "cast: count overflows");
    if (from == to) {
        memcpy(dst, src, (size_t)n * sb);
        return 0;
    }
    cast_job j = {src, dst, n, sb, db, &ck_cpu_dtypes[from], &ck_cpu_dtypes[to], from == CK_F32, to == CK_F32, NULL, direct_for(from, to)};
    int li = lut16_index(from, to);
    if (li >= 0 && !j.direct && n >= 65536) { /* worth building the tables (once per process) */
        pthread_once(&lut16_once, lut16_build);
        j.lut16 = lut16[li];
    }
    ck_pool_run(ck_cpu_pool(be), (size_t)((n + TASK - 1) / TASK), cast_task, &j);
    return 0;
}
