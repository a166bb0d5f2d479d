/* Compare on the CPU: cosine, relative error and max |a - b| of two F32 sequences, in double with
 * the fixed chunk order of kernels/ops.h. Whole chunks go to the pool in groups; each chunk's
 * folded sums land in its own slot and are merged in chunk order, so the thread count never
 * changes a bit. */
#include <string.h>

#include "kernels/cpu/cpu.h"
#include "kernels/cpu/simd.h"

#define GROUP 16         /* chunks per task: 64 Ki pairs */
#define BATCH 1024       /* chunks per pool run: the slots below */

typedef struct {
    const float *a, *b;
    uint64_t chunks;
    double (*sums)[CK_CMP_SUMS];
    ck_cmp_tally tally[BATCH / GROUP];
} cmp_job;

CK_VEC_CLONES_WIDE static void cmp_task(void *ctx, size_t task)
{
    cmp_job *j = ctx;
    ck_cmp_tally t = {0};
    uint64_t c0 = (uint64_t)task * GROUP, c1 = c0 + GROUP < j->chunks ? c0 + GROUP : j->chunks;
    for (uint64_t c = c0; c < c1; c++) {
        double lanes[CK_CMP_SUMS][CK_CMP_LANES] = {{0}};
        ck_cmp_run(j->a + c * CK_CMP_CHUNK, j->b + c * CK_CMP_CHUNK, CK_CMP_CHUNK, 0, lanes, &t);
        for (int q = 0; q < CK_CMP_SUMS; q++) j->sums[c][q] = ck_cmp_fold(lanes[q]);
    }
    j->tally[task] = t;
}

/* Pairs inside the open chunk (never crossing its end). */
static void cmp_open(ck_compare *acc, const float *a, const float *b, uint64_t k)
{
    ck_cmp_run(a, b, k, (unsigned)(acc->count % CK_CMP_CHUNK), acc->lanes, &acc->t);
    acc->count += k;
    if (acc->count % CK_CMP_CHUNK == 0) {
        double sums[CK_CMP_SUMS];
        for (int q = 0; q < CK_CMP_SUMS; q++) sums[q] = ck_cmp_fold(acc->lanes[q]);
        ck_compare_close_chunk(acc, sums);
        memset(acc->lanes, 0, sizeof acc->lanes);
    }
}

int ck_cpu_compare(ck_backend *be, const float *a, const float *b, uint64_t n, ck_compare *acc, ck_error *err)
{
    if (acc->finished)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "compare: the comparison is already finished");
    uint64_t i = 0;
    if (acc->count % CK_CMP_CHUNK && n) { /* complete the open chunk first */
        uint64_t room = CK_CMP_CHUNK - acc->count % CK_CMP_CHUNK, k = n < room ? n : room;
        cmp_open(acc, a, b, k);
        i = k;
    }
    double sums[BATCH][CK_CMP_SUMS]; /* 32 KiB */
    while (n - i >= CK_CMP_CHUNK) {
        uint64_t chunks = (n - i) / CK_CMP_CHUNK;
        if (chunks > BATCH) chunks = BATCH;
        cmp_job j = {.a = a + i, .b = b + i, .chunks = chunks, .sums = sums};
        size_t tasks = (size_t)((chunks + GROUP - 1) / GROUP);
        ck_pool_run(ck_cpu_pool(be), tasks, cmp_task, &j);
        for (uint64_t c = 0; c < chunks; c++) ck_compare_close_chunk(acc, sums[c]);
        for (size_t t = 0; t < tasks; t++) ck_cmp_tally_merge(&acc->t, &j.tally[t]);
        acc->count += chunks * CK_CMP_CHUNK;
        i += chunks * CK_CMP_CHUNK;
    }
    if (i < n) cmp_open(acc, a + i, b + i, n - i);
    return 0;
}
