/* Batched transpose of the last two dims, [B, R, C] -> [B, C, R], cache-blocked.
 *
 * Work is cut into tasks of (batch, row tile, group of column tiles); each task writes a disjoint
 * set of output bytes, so any thread count gives the same bytes. Kernels are picked by element
 * width from a table; packed 4-bit types have their own kernels (nibbles cannot be moved with
 * loads and stores of whole elements). */
#include <string.h>

#include "kernels/cpu/cpu.h"

#define TILE 32          /* 32x32 elements: up to 8 KiB for 8-byte elements, well inside L1 */
#define COL_TILES 8      /* column tiles per task */

typedef struct {
    const uint8_t *src;
    uint8_t *dst;
    uint64_t rows, cols;
    uint64_t row_tiles, col_groups;
} tp_job;

#define TP_KERNEL(name, type)                                                                    \
    static void name(void *ctx, size_t task)                                                     \
    {                                                                                            \
        const tp_job *j = ctx;                                                                   \
        uint64_t per_b = j->row_tiles * j->col_groups;                                           \
        uint64_t b = task / per_b, rt = task % per_b / j->col_groups, cg = task % j->col_groups; \
        const type *s = (const type *)j->src + b * j->rows * j->cols;                           \
        type *d = (type *)j->dst + b * j->rows * j->cols;                                       \
        uint64_t r0 = rt * TILE, r1 = r0 + TILE < j->rows ? r0 + TILE : j->rows;                 \
        uint64_t cend = (cg + 1) * TILE * COL_TILES;                                             \
        if (cend > j->cols) cend = j->cols;                                                      \
        for (uint64_t c0 = cg * TILE * COL_TILES; c0 < cend; c0 += TILE) {                       \
            uint64_t c1 = c0 + TILE < cend ? c0 + TILE : cend;                                   \
            for (uint64_t c = c0; c < c1; c++) { /* writes run along an output row */            \
                type *dr = d + c * j->rows;                                                      \
                const type *sc = s + c;                                                          \
                for (uint64_t r = r0; r < r1; r++) dr[r] = sc[r * j->cols];                      \
            }                                                                                    \
        }                                                                                        \
    }

TP_KERNEL(tp_u8, uint8_t)
TP_KERNEL(tp_u16, uint16_t)
TP_KERNEL(tp_u32, uint32_t)
TP_KERNEL(tp_u64, uint64_t)

/* 4-bit, R and C both even: the matrix is a grid of 2x2 nibble blocks, each two input bytes
 * (rows r, r+1 at columns c, c+1) and two output bytes (rows c, c+1 at columns r, r+1). */
static void tp_nib_even(void *ctx, size_t task)
{
    const tp_job *j = ctx;
    uint64_t per_b = j->row_tiles * j->col_groups;
    uint64_t b = task / per_b, rt = task % per_b / j->col_groups, cg = task % j->col_groups;
    uint64_t R = j->rows, C = j->cols, half = R * C / 2;
    const uint8_t *s = j->src + b * half;
    uint8_t *d = j->dst + b * half;
    /* tiles count byte pairs: TILE row pairs by TILE column pairs */
    uint64_t r0 = rt * TILE * 2, r1 = r0 + TILE * 2 < R ? r0 + TILE * 2 : R;
    uint64_t cend = (cg + 1) * TILE * COL_TILES * 2;
    if (cend > C) cend = C;
    for (uint64_t c0 = cg * TILE * COL_TILES * 2; c0 < cend; c0 += TILE * 2) {
        uint64_t c1 = c0 + TILE * 2 < cend ? c0 + TILE * 2 : cend;
        for (uint64_t r = r0; r < r1; r += 2)
            for (uint64_t c = c0; c < c1; c += 2) {
                uint8_t a = s[(r * C + c) / 2], bb = s[((r + 1) * C + c) / 2];
                d[(c * R + r) / 2] = (uint8_t)((a & 0x0F) | (bb << 4));
                d[((c + 1) * R + r) / 2] = (uint8_t)((a >> 4) | (bb & 0xF0));
            }
    }
}

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
            tp_job j = {src, dst, rows, cols, (rows / 2 + TILE - 1) / TILE,
                        (cols / 2 + TILE * COL_TILES - 1) / (TILE * COL_TILES)};
            ck_pool_run(pool, batch * j.row_tiles * j.col_groups, tp_nib_even, &j);
        } else {
            nib_job j = {src, dst, batch, rows, cols, n / 2};
            ck_pool_run(pool, (n / 2 + NIB_BYTES_PER_TASK - 1) / NIB_BYTES_PER_TASK, tp_nib_any, &j);
        }
        return 0;
    }
    ck_task_fn fn = kernel_for(bits);
    if (!fn)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "transpose: no CPU kernel for %s",
                            ck_dtype_name(dtype));
    if (rows == 1 || cols == 1) { /* a vector's transpose is itself */
        memcpy(dst, src, n * (bits / 8));
        return 0;
    }
    tp_job j = {src, dst, rows, cols, (rows + TILE - 1) / TILE, (cols + TILE * COL_TILES - 1) / (TILE * COL_TILES)};
    ck_pool_run(pool, batch * j.row_tiles * j.col_groups, fn, &j);
    return 0;
}
