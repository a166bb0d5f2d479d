/* Pair permutes on the CPU (kernels/ops.h): [outer, n, inner] with its rows (inner elements, rb
 * bytes) split from interleaved pairs into halves, or joined back. Rows of 1, 2, 4, 8 or 16 bytes
 * (an element-wise interleave along the last dim, the common case) go through typed loops the
 * compiler vectorizes; longer rows are copied whole. Tasks are runs of pairs of one outer index;
 * each writes its own output bytes, so any thread count gives the same bytes. */
#include <stdint.h>
#include <string.h>

#include "kernels/cpu/cpu.h"

#define TASK_BYTES (64 * 1024)

typedef struct {
    const uint8_t *src;
    uint8_t *dst;
    uint64_t half, rb;           /* pairs per outer index, bytes per row */
    uint64_t kper, tasks_per_o;  /* pairs per task */
    ck_pairs_dir dir;
    bool aligned;                /* src and dst aligned for the typed loops */
} pp_job;

typedef struct {
    uint64_t w[2];
} u128;

/* Pairs [k0, k1) of one outer slice: s and d point at the slice. */
#define PP_TYPED(name, T)                                                                     \
    static void name(const uint8_t *s8, uint8_t *d8, uint64_t half, uint64_t k0, uint64_t k1, \
                     ck_pairs_dir dir)                                                        \
    {                                                                                         \
        const T *s = (const T *)(const void *)s8;                                             \
        T *d = (T *)(void *)d8;                                                               \
        if (dir == CK_PAIRS_SPLIT)                                                            \
            for (uint64_t k = k0; k < k1; k++) {                                              \
                d[k] = s[2 * k];                                                              \
                d[half + k] = s[2 * k + 1];                                                   \
            }                                                                                 \
        else                                                                                  \
            for (uint64_t k = k0; k < k1; k++) {                                              \
                d[2 * k] = s[k];                                                              \
                d[2 * k + 1] = s[half + k];                                                   \
            }                                                                                 \
    }
PP_TYPED(pp_u8, uint8_t)
PP_TYPED(pp_u16, uint16_t)
PP_TYPED(pp_u32, uint32_t)
PP_TYPED(pp_u64, uint64_t)
PP_TYPED(pp_u128, u128)

static void pp_rows(const uint8_t *s, uint8_t *d, uint64_t half, uint64_t rb, uint64_t k0, uint64_t k1,
                    ck_pairs_dir dir)
{
    for (uint64_t k = k0; k < k1; k++) {
        uint64_t a = 2 * k, b = 2 * k + 1, x = k, y = half + k; /* interleaved rows a, b; halves rows x, y */
        if (dir == CK_PAIRS_SPLIT) {
            memcpy(d + x * rb, s + a * rb, rb);
            memcpy(d + y * rb, s + b * rb, rb);
        } else {
            memcpy(d + a * rb, s + x * rb, rb);
            memcpy(d + b * rb, s + y * rb, rb);
        }
    }
}

static void pp_task(void *ctx, size_t task)
{
    const pp_job *j = ctx;
    uint64_t o = task / j->tasks_per_o, k0 = task % j->tasks_per_o * j->kper;
    uint64_t k1 = k0 + j->kper < j->half ? k0 + j->kper : j->half;
    uint64_t slice = 2 * j->half * j->rb;
    const uint8_t *s = j->src + o * slice;
    uint8_t *d = j->dst + o * slice;
    switch (j->aligned ? j->rb : 0) {
    case 1: pp_u8(s, d, j->half, k0, k1, j->dir); break;
    case 2: pp_u16(s, d, j->half, k0, k1, j->dir); break;
    case 4: pp_u32(s, d, j->half, k0, k1, j->dir); break;
    case 8: pp_u64(s, d, j->half, k0, k1, j->dir); break;
    case 16: pp_u128(s, d, j->half, k0, k1, j->dir); break;
    default: pp_rows(s, d, j->half, j->rb, k0, k1, j->dir);
    }
}

bool ck_cpu_permute_supports(ck_dtype dtype)
{
    unsigned bits = ck_dtype_info(dtype)->bits;
    return bits && (bits % 8 == 0 || bits == 4);
}

int ck_cpu_permute_pairs(ck_backend *be, ck_dtype dtype, const void *src, void *dst, uint64_t outer, uint64_t n,
                         uint64_t inner, ck_pairs_dir dir, ck_error *err)
{
    if (!ck_cpu_permute_supports(dtype))
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "permute: no kernel for %s", ck_dtype_name(dtype));
    uint64_t rb, total;
    if (ck_permute_args(dtype, outer, n, inner, dir, &rb, &total, err) < 0) return -1;
    if (total == 0) return 0;
    pp_job j = {src, dst, n / 2, rb, 0, 0, dir, false};
    uint64_t align = j.rb > 8 ? 8 : j.rb;
    j.aligned = (((uintptr_t)src | (uintptr_t)dst) & (align - 1)) == 0;
    j.kper = TASK_BYTES / (2 * j.rb);
    if (j.kper == 0) j.kper = 1;
    j.tasks_per_o = (j.half + j.kper - 1) / j.kper;
    ck_pool_run(ck_cpu_pool(be), (size_t)(outer * j.tasks_per_o), pp_task, &j);
    return 0;
}
