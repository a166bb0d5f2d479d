/* Batched transpose of the last two dims, [B, R, C] -> [B, C, R], cache-blocked with register
 * tiles.
 *
 * The unit of work is a block of 64 x 64 bytes (64/w rows by 64/w columns of w-byte elements): its
 * source rows are first copied, one whole cache line each, into a small aligned buffer (so source
 * rows that alias in the L1 sets, as power-of-two row lengths do, are each fetched once), then the
 * buffer is transposed in V x V register tiles (V = 16/w: one 16-byte vector per tile row, log2(V)
 * rounds of interleaves) and stored so that each destination cache line is written whole, in
 * consecutive stores. Edges that do not fill a block are moved element by element.
 *
 * Work is cut into tasks of (batch, row block, group of column blocks); each task writes a disjoint
 * set of output bytes, so any thread count gives the same bytes. Packed 4-bit types, R and C even,
 * reduce to byte transposes: rows 2m and 2m+1 give, byte for byte, the even output rows' byte
 * (low nibbles) and the odd output rows' byte (high nibbles); see NIB_KERNEL. 8-bit elements use
 * the same wide-vector layout (BYTE_KERNEL) where the CPU has AVX2 or AVX-512.
 *
 * Large outputs go past the caches (stream_output): where the output rows are a multiple of 4 KiB
 * apart, as power-of-two shapes are, every line that a column of blocks writes falls in one cache
 * set, and plain stores thrashed it. */
#include <stdint.h>
#include <string.h>

#include "kernels/cpu/cpu.h"
#include "kernels/cpu/simd.h"

#define LINE 64            /* bytes: one cache line, and a block's side in bytes */
#define PF 8               /* prefetch source rows this many blocks ahead, in task order (and the next block's output lines) */
#define TILE 512           /* elements: a task's rows and columns */
#define STREAM_MIN_BYTES ((uint64_t)4 << 20) /* outputs this large are stored past the caches */

typedef struct {
    const uint8_t *src;
    uint8_t *dst;
    uint64_t rows, cols;         /* F4: elements */
    uint64_t row_blocks, col_groups;
    bool stream;                 /* whole-line blocks stored past the caches (ck_stream16) */
} tp_job;

/* A task's batch, row tile and column tile (tasks go column tile fastest). */
static inline void task_tile(const tp_job *j, size_t task, uint64_t *b, uint64_t *row_tile, uint64_t *col_tile)
{
    uint64_t per_b = j->row_blocks * j->col_groups;
    *b = task / per_b;
    *row_tile = task % per_b / j->col_groups;
    *col_tile = task % j->col_groups;
}

/* ---- register tiles: V vectors in, V vectors out, transposed ------------------------------ */

/* One round interleaves row i with row i + V/2 (low halves into row 2i, high halves into 2i+1).
 * Writing an element's row and column numbers as one bit string (row bits, then column bits), a
 * round rotates that string left by one bit, so log2(V) rounds swap row and column: a transpose. */
#define UNPAREN(...) __VA_ARGS__
#define TR_ROUNDS(vt, V, LOG2V, r, LO, HI)                      \
    do {                                                        \
        for (int s_ = 0; s_ < (LOG2V); s_++) {                  \
            vt n_[V];                                           \
            for (int i_ = 0; i_ < (V) / 2; i_++) {              \
                n_[2 * i_] = CK_SHUF(vt, r[i_], r[i_ + (V) / 2], UNPAREN LO); \
                n_[2 * i_ + 1] = CK_SHUF(vt, r[i_], r[i_ + (V) / 2], UNPAREN HI); \
            }                                                   \
            for (int i_ = 0; i_ < (V); i_++) r[i_] = n_[i_];    \
        }                                                       \
    } while (0)

static inline void tr_u8(ck_v16u8 *r)
{
    TR_ROUNDS(ck_v16u8, 16, 4, r, (0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23),
              (8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31));
}
static inline void tr_u16(ck_v8u16 *r) { TR_ROUNDS(ck_v8u16, 8, 3, r, (0, 8, 1, 9, 2, 10, 3, 11), (4, 12, 5, 13, 6, 14, 7, 15)); }
static inline void tr_u32(ck_v4u32 *r) { TR_ROUNDS(ck_v4u32, 4, 2, r, (0, 4, 1, 5), (2, 6, 3, 7)); }
static inline void tr_u64(ck_v2u64 *r) { TR_ROUNDS(ck_v2u64, 2, 1, r, (0, 2), (1, 3)); }

/* Transpose a block buffer buf[B][LINE] (B = LINE / w rows of LINE bytes) into dst: output row j
 * (j < B) starts at dst + j * dstep and receives LINE bytes. Tiles are visited output row group
 * by output row group, so each output line is filled by consecutive stores. */
#define BLOCK_FN(name, vt, V, trf)                                                      \
    static inline void name(const uint8_t (*buf)[LINE], uint8_t *dst, size_t dstep, bool stream) \
    {                                                                                   \
        for (int cj = 0; cj < LINE / 16; cj++)     /* output rows cj*V .. cj*V+V-1 */   \
            for (int ri = 0; ri < LINE / 16; ri++) { /* their bytes ri*16 .. ri*16+15 */ \
                vt t[V];                                                                \
                for (int k = 0; k < (V); k++) memcpy(&t[k], buf[ri * (V) + k] + cj * 16, 16); \
                trf(t);                                                                 \
                for (int k = 0; k < (V); k++) {                                         \
                    uint8_t *o_ = dst + (size_t)(cj * (V) + k) * dstep + ri * 16;        \
                    if (stream) ck_stream16(o_, (ck_v16u8)t[k]);                         \
                    else memcpy(o_, &t[k], 16);                                         \
                }                                                                       \
            }                                                                           \
    }
BLOCK_FN(block_u8, ck_v16u8, 16, tr_u8)
BLOCK_FN(block_u16, ck_v8u16, 8, tr_u16)
BLOCK_FN(block_u32, ck_v4u32, 4, tr_u32)
BLOCK_FN(block_u64, ck_v2u64, 2, tr_u64)

/* ---- whole-byte elements ---------------------------------------------------------------- */

/* A task is a tile of TILE x TILE elements: its source and destination rows then touch at most
 * 2 * TILE pages, which stay in the (second-level) TLB while the tile's blocks are done. Compiled
 * for AVX2 too where the CPU has it: the three-operand forms save the register copies that the
 * interleave rounds need with SSE2 (same bytes either way: only moves). */
#define TP_KERNEL(name, type, blockf)                                                               \
    CK_VEC_CLONES static void name(void *ctx, size_t task)                                                      \
    {                                                                                               \
        enum { W = sizeof(type), B = LINE / sizeof(type) };                                         \
        const tp_job *j = ctx;                                                                      \
        uint64_t R = j->rows, C = j->cols, b, rt, ct;                                               \
        task_tile(j, task, &b, &rt, &ct);                                                           \
        const type *s = (const type *)j->src + b * R * C;                                           \
        type *d = (type *)j->dst + b * R * C;                                                       \
        uint64_t r0 = rt * TILE, r1 = r0 + TILE < R ? r0 + TILE : R;                                \
        uint64_t c0 = ct * TILE, c1 = c0 + TILE < C ? c0 + TILE : C;                                \
        uint64_t rfull = r0 + (r1 - r0) / B * B, cfull = c0 + (c1 - c0) / B * B;                    \
        _Alignas(LINE) uint8_t buf[B][LINE];                                                        \
        for (uint64_t r = r0; r < rfull; r += B)                                                    \
            for (uint64_t c = c0; c < cfull; c += B) {                                              \
                /* the block PF ahead in this task's order, wrapping into the next block row */     \
                uint64_t pc = c + PF * B, pr = r;                                                   \
                if (pc >= cfull) pc = c0 + (pc - cfull), pr = r + B;                                \
                bool pf = pr < rfull && pc < cfull;                                                 \
                for (int k = 0; k < B; k++) {                                                       \
                    memcpy(buf[k], s + (r + k) * C + c, LINE);                                      \
                    if (pf) __builtin_prefetch(s + (pr + k) * C + pc);                              \
                }                                                                                   \
                uint64_t nc = c + B, nr = r;                                                        \
                if (nc >= cfull) nc = c0, nr = r + B;                                               \
                if (nr < rfull)                                                                     \
                    for (int k = 0; k < B; k++) __builtin_prefetch(d + (nc + k) * R + nr, 1);       \
                blockf((const uint8_t (*)[LINE])buf, (uint8_t *)(d + c * R + r), R * W, j->stream); \
            }                                                                                       \
        for (uint64_t c = cfull; c < c1; c++) /* the right edge, then the bottom one */             \
            for (uint64_t r = r0; r < rfull; r++) d[c * R + r] = s[r * C + c];                      \
        for (uint64_t r = rfull; r < r1; r++)                                                       \
            for (uint64_t c = c0; c < c1; c++) d[c * R + r] = s[r * C + c];                         \
        if (j->stream) ck_stream_fence();                                                           \
    }

TP_KERNEL(tp_u8, uint8_t, block_u8)
TP_KERNEL(tp_u16, uint16_t, block_u16)
TP_KERNEL(tp_u32, uint32_t, block_u32)
TP_KERNEL(tp_u64, uint64_t, block_u64)

/* ---- packed 4-bit, R and C both even ---------------------------------------------------- */

/* Source rows 2m, 2m+1 hold bytes a, b at byte column k (elements 2k, 2k+1). Output row 2k takes
 * elements (2m, 2k) and (2m+1, 2k): byte m of it is (a & 0xF) | b << 4; output row 2k+1 takes
 * (a >> 4) | (b & 0xF0). So with E[m][k] and O[m][k] those bytes, output row 2k is row k of E's
 * transpose and output row 2k+1 row k of O's: two byte transposes of [R/2, C/2] matrices. A task
 * is TILE row pairs by TILE byte columns; a block is LINE row pairs by LINE byte columns, whose E
 * and O bytes are made into two buffers and then transposed, as in TP_KERNEL.
 *
 * The kernel is written once for W-byte vectors of NL = W / 16 lanes of 16 bytes, and built for
 * 16, 32 (AVX2) and 64 (AVX-512) bytes. x86 interleaves work inside each 16-byte lane, so a wide
 * vector transposes NL independent 16 x 16 tiles at once (TR_ROUNDS, unchanged). The buffers are
 * laid out for that: buf[h][g][k] holds in lane L the bytes 16h..16h+15 of row pair
 * 16 (NL g + L) + k. After the transpose of the 16 vectors buf[h][g][0..15], vector j is the
 * output row 16h + j, bytes 16 NL g .. 16 NL g + W - 1: one store, a whole line when W = 64.
 * The nibble step makes that layout by transposing NL x NL blocks of 16-byte lanes across the
 * vectors of NL row pairs (LANE_ROUNDS). The arithmetic is the same bit operations at every width,
 * so every width writes the same bytes. */

/* In-lane interleave indices: lane pairs (o + i, o + n + i), i < 8: bytes o.. of a, then b. */
#define IL(o, n) o, o + n, o + 1, o + 1 + n, o + 2, o + 2 + n, o + 3, o + 3 + n, o + 4, o + 4 + n, \
                 o + 5, o + 5 + n, o + 6, o + 6 + n, o + 7, o + 7 + n

/* Transpose V x V 16-byte lanes held in V vectors (lane j of vector i becomes lane i of vector j),
 * as log2(V) rounds that split each pair of vectors into its even and its odd lanes: TR_ROUNDS run
 * backwards (its interleave rotates the index bits one way, this split the other; log2(V) rounds
 * of either swap them). On x86 each split of 64-byte vectors is one vshufi64x2. */
#define LANE_ROUNDS(vt, ut, V, LOG2V, r, EVEN, ODD)                                     \
    do {                                                                                \
        for (int s_ = 0; s_ < (LOG2V); s_++) {                                          \
            vt n_[V];                                                                   \
            for (int i_ = 0; i_ < (V) / 2; i_++) {                                      \
                n_[i_] = (vt)CK_SHUF(ut, (ut)r[2 * i_], (ut)r[2 * i_ + 1], UNPAREN EVEN); \
                n_[i_ + (V) / 2] = (vt)CK_SHUF(ut, (ut)r[2 * i_], (ut)r[2 * i_ + 1], UNPAREN ODD); \
            }                                                                           \
            for (int i_ = 0; i_ < (V); i_++) r[i_] = n_[i_];                            \
        }                                                                               \
    } while (0)

/* Edges of a task that do not fill a block, one 2x2 nibble block at a time: the right edge, then
 * the bottom one. noipa: the wide kernels end with this call, and GCC (12) leaves out the
 * vzeroupper before a call to a function that IPA register allocation shows not to touch vector
 * registers, yet assumes them clean after it. Without noipa the kernels return with dirty upper
 * halves, and the SSE code that runs next in the thread is slowed (the 16-byte kernel 4x, here). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noipa))
#endif
static void nib_edges(const uint8_t *s, uint8_t *d, uint64_t sbytes, uint64_t dbytes, uint64_t p0, uint64_t pfull,
                      uint64_t p1, uint64_t k0, uint64_t kfull, uint64_t k1, bool streamed)
{
    if (streamed) ck_stream_fence();
    for (uint64_t k = kfull; k < k1; k++)
        for (uint64_t p = p0; p < pfull; p++) {
            uint8_t a = s[2 * p * sbytes + k], bb = s[(2 * p + 1) * sbytes + k];
            d[2 * k * dbytes + p] = (uint8_t)((a & 0x0F) | (bb << 4));
            d[(2 * k + 1) * dbytes + p] = (uint8_t)((a >> 4) | (bb & 0xF0));
        }
    for (uint64_t p = pfull; p < p1; p++)
        for (uint64_t k = k0; k < k1; k++) {
            uint8_t a = s[2 * p * sbytes + k], bb = s[(2 * p + 1) * sbytes + k];
            d[2 * k * dbytes + p] = (uint8_t)((a & 0x0F) | (bb << 4));
            d[(2 * k + 1) * dbytes + p] = (uint8_t)((a >> 4) | (bb & 0xF0));
        }
}

/* The bytes of a task that no block covers: the right edge, then the bottom one (noipa: see
 * nib_edges). Only the wide byte kernels below use it. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((noipa))
static void byte_edges(const uint8_t *s, uint8_t *d, uint64_t R, uint64_t C, uint64_t p0, uint64_t pfull, uint64_t p1,
                       uint64_t k0, uint64_t kfull, uint64_t k1, bool streamed)
{
    if (streamed) ck_stream_fence();
    for (uint64_t c = kfull; c < k1; c++)
        for (uint64_t r = p0; r < pfull; r++) d[c * R + r] = s[r * C + c];
    for (uint64_t r = pfull; r < p1; r++)
        for (uint64_t c = k0; c < k1; c++) d[c * R + r] = s[r * C + c];
}
#endif

/* One block's E (or O) buffer, transposed into the output rows 2k' (or 2k'+1) for k' = k.., bytes
 * p..: consecutive k' are 2 rows apart, hence the step. Output row groups in order, so that each
 * output line is filled by consecutive stores. */
#define NIB_STORE_FN(name, attr, vt, NL, LO, HI, STREAMF)                                  \
    attr static inline void name(const vt (*buf)[4 / (NL)][16], uint8_t *dst, size_t dstep, bool stream) \
    {                                                                                      \
        /* a vector store, not memcpy: with 16 AVX2 registers t[] lives on the stack, and GCC  \
         * copies a memcpy from there in 16-byte pieces, each reload stalling on the wide store */ \
        typedef vt vt_unaligned __attribute__((aligned(1)));                               \
        for (int h = 0; h < 4; h++)                                                        \
            for (int g = 0; g < 4 / (NL); g++) {                                           \
                vt t[16];                                                                  \
                for (int k = 0; k < 16; k++) t[k] = buf[h][g][k];                          \
                TR_ROUNDS(vt, 16, 4, t, LO, HI);                                           \
                for (int k = 0; k < 16; k++) {                                             \
                    uint8_t *o_ = dst + (size_t)(16 * h + k) * dstep + 16 * (NL) * g;      \
                    if (stream) STREAMF(o_, t[k]);                                         \
                    else *(vt_unaligned *)o_ = t[k];                                       \
                }                                                                          \
            }                                                                              \
    }

/* The E and O bytes of row pairs 16 (NL g + L) + k, L < NL (W bytes of each at byte column W hv
 * of the block), into the buffers' layout. */
#define NIB_MAKE_FN(name, attr, vt, ut, NL, LOG2NL, EVEN, ODD)                              \
    attr static inline void name(const uint8_t *s, uint64_t sbytes, int g, int k, int hv,     \
                                 vt (*be)[4 / (NL)][16], vt (*bo)[4 / (NL)][16])               \
    {                                                                                       \
        vt e[NL], o[NL];                                                                    \
        for (int L = 0; L < (NL); L++) {                                                    \
            const uint8_t *ra = s + 2 * (uint64_t)(16 * ((NL) * g + L) + k) * sbytes + sizeof(vt) * hv; \
            vt a, b;                                                                        \
            memcpy(&a, ra, sizeof a);                                                       \
            memcpy(&b, ra + sbytes, sizeof b);                                              \
            e[L] = (a & 0x0F) | (b << 4), o[L] = (a >> 4) | (b & 0xF0);                     \
        }                                                                                   \
        LANE_ROUNDS(vt, ut, NL, LOG2NL, e, EVEN, ODD);                                      \
        LANE_ROUNDS(vt, ut, NL, LOG2NL, o, EVEN, ODD);                                      \
        for (int L = 0; L < (NL); L++) be[(NL) * hv + L][g][k] = e[L], bo[(NL) * hv + L][g][k] = o[L]; \
    }

/* Source prefetch distance in blocks: 4 blocks of 8 KB, the 32 KB that TP_KERNEL's PF blocks of
 * 4 KB are. Issued row by row as the nibble step reads the same rows of its block, rather than in
 * one burst of 128 lines per block (about 6% faster here, single-threaded). */
#define NIB_PF 4

#define NIB_KERNEL(name, attr, vt, makef, storef, NL)                                              \
    attr static void name(void *ctx, size_t task)                                                  \
    {                                                                                              \
        const tp_job *j = ctx;                                                                     \
        uint64_t R = j->rows, C = j->cols, b, rb, cg;                                              \
        task_tile(j, task, &b, &rb, &cg);                                                          \
        uint64_t half = R * C / 2, sbytes = C / 2, dbytes = R / 2; /* bytes per source / output row */ \
        const uint8_t *s = j->src + b * half;                                                      \
        uint8_t *d = j->dst + b * half;                                                            \
        uint64_t p0 = rb * TILE, p1 = p0 + TILE < R / 2 ? p0 + TILE : R / 2;   /* row pairs */    \
        uint64_t k0 = cg * TILE, k1 = k0 + TILE < sbytes ? k0 + TILE : sbytes; /* byte columns */ \
        uint64_t pfull = p0 + (p1 - p0) / LINE * LINE, kfull = k0 + (k1 - k0) / LINE * LINE;      \
        vt be[4][4 / (NL)][16], bo[4][4 / (NL)][16];                                               \
        for (uint64_t p = p0; p < pfull; p += LINE)                                                \
            for (uint64_t k = k0; k < kfull; k += LINE) {                                          \
                uint64_t pk = k + NIB_PF * LINE, pp = p; /* the block NIB_PF ahead, wrapping as in TP_KERNEL */ \
                if (pk >= kfull) pk = k0 + (pk - kfull), pp = p + LINE;                            \
                const uint8_t *sb = s + 2 * p * sbytes + k;                                        \
                const uint8_t *pb = pp < pfull && pk < kfull ? s + 2 * pp * sbytes + pk : NULL;    \
                for (int g = 0; g < 4 / (NL); g++)                                                 \
                    for (int kk = 0; kk < 16; kk++) {                                              \
                        for (int L = 0; pb && L < (NL); L++) { /* the rows this step reads, there */ \
                            const uint8_t *q = pb + 2 * (uint64_t)(16 * ((NL) * g + L) + kk) * sbytes; \
                            __builtin_prefetch(q);                                                 \
                            __builtin_prefetch(q + sbytes);                                        \
                        }                                                                          \
                        for (int hv = 0; hv < 4 / (NL); hv++) makef(sb, sbytes, g, kk, hv, be, bo); \
                    }                                                                              \
                storef((const vt (*)[4 / (NL)][16])be, d + 2 * k * dbytes + p, 2 * dbytes, j->stream); \
                storef((const vt (*)[4 / (NL)][16])bo, d + (2 * k + 1) * dbytes + p, 2 * dbytes, j->stream); \
            }                                                                                      \
        nib_edges(s, d, sbytes, dbytes, p0, pfull, p1, k0, kfull, k1, j->stream);                  \
    }

/* 16 bytes: every CPU (one lane: LANE_ROUNDS does nothing). Only the 64-byte build stores past
 * the caches (a store there is a whole line); the others store plainly either way. */
#define PLAIN_STORE(p, v) (*(vt_unaligned *)(p) = (v))
NIB_STORE_FN(nib_store16, , ck_v16u8, 1, (IL(0, 16)), (IL(8, 16)), PLAIN_STORE)
NIB_MAKE_FN(nib_make16, , ck_v16u8, ck_v2u64, 1, 0, (0, 1), (2, 3))
NIB_KERNEL(tp_nib16, , ck_v16u8, nib_make16, nib_store16, 1)

/* 32 and 64 bytes, each compiled for its own target and picked at run time: target_clones cannot
 * do this, since it compiles one body for every target, and a 32- or 64-byte shuffle built for a
 * CPU without such vectors becomes a byte-by-byte loop. Not a resolver, so the sanitizers are fine
 * (and check these paths too). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NIB_WIDE 1
#define T_AVX2 __attribute__((target("avx2")))
#define T_AVX512 __attribute__((target("arch=x86-64-v4")))
NIB_STORE_FN(nib_store32, T_AVX2, ck_v32u8, 2, (IL(0, 32), IL(16, 32)), (IL(8, 32), IL(24, 32)), PLAIN_STORE)
NIB_MAKE_FN(nib_make32, T_AVX2, ck_v32u8, ck_v4u64, 2, 1, (0, 1, 4, 5), (2, 3, 6, 7))
NIB_KERNEL(tp_nib32, T_AVX2, ck_v32u8, nib_make32, nib_store32, 2)
typedef long long v8di_t __attribute__((vector_size(64)));
#define STREAM64(p, v) __builtin_ia32_movntdq512((v8di_t *)(void *)(p), (v8di_t)(v))
NIB_STORE_FN(nib_store64, T_AVX512, ck_v64u8, 4, (IL(0, 64), IL(16, 64), IL(32, 64), IL(48, 64)),
             (IL(8, 64), IL(24, 64), IL(40, 64), IL(56, 64)), STREAM64)
NIB_MAKE_FN(nib_make64, T_AVX512, ck_v64u8, ck_v8u64, 4, 2, (0, 1, 4, 5, 8, 9, 12, 13), (2, 3, 6, 7, 10, 11, 14, 15))
NIB_KERNEL(tp_nib64, T_AVX512, ck_v64u8, nib_make64, nib_store64, 4)

/* ---- 8-bit elements in wide vectors: the nibble kernels' layout and stores, without the nibble
 * step. TP_KERNEL's 16 x 16 byte tiles write 16 output lines a quarter at a time; these write
 * each output line of a block with one 64-byte store (two 32-byte ones), which is what lets
 * power-of-two shapes run (every output line of a column of blocks shares one cache set there).
 * A block is 64 source rows by 64 byte columns. */
#define BYTE_MAKE_FN(name, attr, vt, ut, NL, LOG2NL, EVEN, ODD)                                     \
    attr static inline void name(const uint8_t *s, uint64_t sbytes, int g, int k, int hv,          \
                                 vt (*bb)[4 / (NL)][16])                                            \
    {                                                                                               \
        vt e[NL];                                                                                   \
        for (int L = 0; L < (NL); L++)                                                              \
            memcpy(&e[L], s + (uint64_t)(16 * ((NL) * g + L) + k) * sbytes + sizeof(vt) * hv, sizeof(vt)); \
        LANE_ROUNDS(vt, ut, NL, LOG2NL, e, EVEN, ODD);                                              \
        for (int L = 0; L < (NL); L++) bb[(NL) * hv + L][g][k] = e[L];                              \
    }

#define BYTE_KERNEL(name, attr, vt, makef, storef, NL)                                              \
    attr static void name(void *ctx, size_t task)                                                   \
    {                                                                                               \
        const tp_job *j = ctx;                                                                      \
        uint64_t R = j->rows, C = j->cols, b, rb, cg;                                               \
        task_tile(j, task, &b, &rb, &cg);                                                           \
        const uint8_t *s = j->src + b * R * C;                                                      \
        uint8_t *d = j->dst + b * R * C;                                                            \
        uint64_t p0 = rb * TILE, p1 = p0 + TILE < R ? p0 + TILE : R; /* rows */                     \
        uint64_t k0 = cg * TILE, k1 = k0 + TILE < C ? k0 + TILE : C; /* columns */                  \
        uint64_t pfull = p0 + (p1 - p0) / LINE * LINE, kfull = k0 + (k1 - k0) / LINE * LINE;       \
        vt bb[4][4 / (NL)][16];                                                                     \
        for (uint64_t p = p0; p < pfull; p += LINE)                                                 \
            for (uint64_t k = k0; k < kfull; k += LINE) {                                           \
                uint64_t pk = k + PF * LINE, pp = p; /* the block PF ahead, as in TP_KERNEL */      \
                if (pk >= kfull) pk = k0 + (pk - kfull), pp = p + LINE;                             \
                const uint8_t *pb = pp < pfull && pk < kfull ? s + pp * C + pk : NULL;              \
                for (int g = 0; g < 4 / (NL); g++)                                                  \
                    for (int kk = 0; kk < 16; kk++) {                                               \
                        for (int L = 0; pb && L < (NL); L++)                                        \
                            __builtin_prefetch(pb + (uint64_t)(16 * ((NL) * g + L) + kk) * C);      \
                        for (int hv = 0; hv < 4 / (NL); hv++) makef(s + p * C + k, C, g, kk, hv, bb); \
                    }                                                                               \
                storef((const vt (*)[4 / (NL)][16])bb, d + k * R + p, R, j->stream);                \
            }                                                                                       \
        byte_edges(s, d, R, C, p0, pfull, p1, k0, kfull, k1, j->stream);                            \
    }
BYTE_MAKE_FN(byte_make32, T_AVX2, ck_v32u8, ck_v4u64, 2, 1, (0, 1, 4, 5), (2, 3, 6, 7))
BYTE_KERNEL(tp_byte32, T_AVX2, ck_v32u8, byte_make32, nib_store32, 2)
BYTE_MAKE_FN(byte_make64, T_AVX512, ck_v64u8, ck_v8u64, 4, 2, (0, 1, 4, 5, 8, 9, 12, 13), (2, 3, 6, 7, 10, 11, 14, 15))
BYTE_KERNEL(tp_byte64, T_AVX512, ck_v64u8, byte_make64, nib_store64, 4)
#endif

/* The widest build of a kernel that this CPU runs (64-, 32- or 16-byte vectors); *line_stores:
 * its stores are whole 64-byte lines. */
typedef struct {
    ck_task_fn w64, w32, w16;
} tp_widths;

static ck_task_fn widest(const tp_widths *k, bool *line_stores)
{
    *line_stores = false;
#ifdef NIB_WIDE
    if (__builtin_cpu_supports("x86-64-v4")) return *line_stores = true, k->w64;
    if (__builtin_cpu_supports("avx2")) return k->w32;
#endif
    return k->w16;
}

#ifdef NIB_WIDE
static const tp_widths byte_kernels = {tp_byte64, tp_byte32, tp_u8}, nib_kernels = {tp_nib64, tp_nib32, tp_nib16};
#else
static const tp_widths byte_kernels = {tp_u8, tp_u8, tp_u8}, nib_kernels = {tp_nib16, tp_nib16, tp_nib16};
#endif

/* 4-bit, any shape (odd R or C: output bytes straddle rows and batches). Each task owns a range
 * of output bytes in flat order and fetches both nibbles of each. Slower, but only odd shapes
 * come here. */
#define NIB_BYTES_PER_TASK 65536
typedef struct {
    const uint8_t *src;
    uint8_t *dst;
    uint64_t batch, rows, cols, total_bytes;
} nib_job;

static inline unsigned nib_get(const uint8_t *p, uint64_t i) { return (p[i >> 1] >> ((i & 1) * 4)) & 0xF; }

static void tp_nib_any(void *ctx, size_t task)
{
    const nib_job *j = ctx;
    uint64_t ob0 = (uint64_t)task * NIB_BYTES_PER_TASK, ob1 = ob0 + NIB_BYTES_PER_TASK;
    if (ob1 > j->total_bytes) ob1 = j->total_bytes;
    uint64_t R = j->rows, C = j->cols, per = R * C;
    /* output flat index o = b*C*R + c*R + r holds input b*R*C + r*C + c; walk o with counters */
    uint64_t o = ob0 * 2, b = o / per, c = o % per / R, r = o % R;
    for (uint64_t ob = ob0; ob < ob1; ob++) {
        unsigned v[2];
        for (int k = 0; k < 2; k++) {
            v[k] = nib_get(j->src, b * per + r * C + c);
            if (++r == R) { r = 0; if (++c == C) { c = 0; b++; } }
        }
        j->dst[ob] = (uint8_t)(v[0] | v[1] << 4);
    }
}

/* Whether an output of `bytes`, rows `row_bytes` apart, is stored past the caches: large (it would
 * not stay in them anyway), and in whole aligned lines (a partial line is read back from memory to
 * be merged: half the speed of plain stores, for a 16-byte aligned malloc block). The kernel must
 * also keep few lines open at a time, few enough for the write-combining buffers: TP_KERNEL's
 * blocks write V = 16 / w lines at once (8-bit ones, 16 lines, lost more than they gained), the
 * 64-byte byte and nibble kernels one whole line per store. Measured on 2 threads, 4 to 256 MiB:
 * 1.1 to 2.4 times faster, the most where the row stride is a multiple of 4 KiB (every output line
 * of a column of blocks then falls in one cache set: 4096 x 4096 BF16 went from 14 to 33 GB/s). */
static bool stream_output(const void *dst, uint64_t bytes, uint64_t row_bytes)
{
    return bytes >= STREAM_MIN_BYTES && (uintptr_t)dst % LINE == 0 && row_bytes % LINE == 0;
}

typedef struct {
    unsigned bits;
    ck_task_fn fn;
} tp_kernel;

static const tp_kernel kernels[] = {{8, tp_u8}, {16, tp_u16}, {32, tp_u32}, {64, tp_u64}};

static ck_task_fn kernel_for(unsigned bits)
{
    for (size_t i = 0; i < sizeof kernels / sizeof *kernels; i++)
        if (kernels[i].bits == bits) return kernels[i].fn;
    return NULL;
}

bool ck_cpu_transpose_supports(ck_dtype dtype)
{
    unsigned bits = ck_dtype_info(dtype)->bits;
    return bits == 4 || kernel_for(bits) != NULL;
}

int ck_cpu_transpose(ck_backend *be, ck_dtype dtype, const void *src, void *dst, uint64_t batch, uint64_t rows,
                     uint64_t cols, ck_error *err)
{
    unsigned bits = ck_dtype_info(dtype)->bits;
    uint64_t n;
    if (__builtin_mul_overflow(batch, rows, &n) || __builtin_mul_overflow(n, cols, &n) ||
        n > UINT64_MAX / 64)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "transpose: shape overflows");
    if (n == 0) return 0;
    ck_pool *pool = ck_cpu_pool(be);
    if (bits == 4) {
        if (n % 2)
            return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1,
                                "transpose: %s needs an even element count (got %llu)", ck_dtype_name(dtype),
                                (unsigned long long)n);
        if (rows % 2 == 0 && cols % 2 == 0) {
            tp_job j = {src, dst, rows, cols, (rows / 2 + TILE - 1) / TILE, (cols / 2 + TILE - 1) / TILE, false};
            bool lines;
            ck_task_fn fn = widest(&nib_kernels, &lines);
            j.stream = lines && stream_output(dst, n / 2, rows / 2);
            ck_pool_run(pool, batch * j.row_blocks * j.col_groups, fn, &j);
        } else {
            nib_job j = {src, dst, batch, rows, cols, n / 2};
            ck_pool_run(pool, (n / 2 + NIB_BYTES_PER_TASK - 1) / NIB_BYTES_PER_TASK, tp_nib_any, &j);
        }
        return 0;
    }
    bool lines = bits >= 16; /* TP_KERNEL: V = 16 / w lines at a time (below) */
    ck_task_fn fn = bits == 8 ? widest(&byte_kernels, &lines) : kernel_for(bits);
    if (!fn)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "transpose: no CPU kernel for %s",
                            ck_dtype_name(dtype));
    if (rows == 1 || cols == 1) { /* a vector's transpose is itself */
        memcpy(dst, src, n * (bits / 8));
        return 0;
    }
    tp_job j = {src, dst, rows, cols, (rows + TILE - 1) / TILE, (cols + TILE - 1) / TILE, false};
    j.stream = lines && stream_output(dst, n * (bits / 8), rows * (bits / 8));
    ck_pool_run(pool, batch * j.row_blocks * j.col_groups, fn, &j);
    return 0;
}
