/* Statistics on the CPU (see kernels/stats.h for the reduction order that makes the result
 * independent of the thread count and of how the caller cuts the tensor into pieces).
 *
 * One call: a head that finishes the chunk left open by the previous call, then whole chunks
 * (in parallel: each task reduces a run of chunks and keeps one value per chunk, which are
 * then added in chunk order), then a tail that stays open for the next call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu.h"

#define CHUNKS_PER_TASK 16

typedef struct {
    const uint8_t *src;
    size_t ebytes;                 /* bytes per element; 0 for packed F4 (handled by the head/tail only) */
    void (*to_f32)(const void *, float *, size_t);
    const ck_stats *st;
    uint64_t nchunks;
    double *chunk_vals;            /* one per chunk */
    ck_tally *tallies;             /* one per task */
} st_job;

/* Reduce n <= CK_STATS_CHUNK elements at in-chunk offset `off` into lanes and a tally. */
static void reduce_piece(const st_job *j, const ck_stats *st, const uint8_t *src, uint64_t n, unsigned off,
                         double *lanes, ck_tally *t)
{
    float tmp[CK_STATS_CHUNK];
    const float *x;
    if (j->to_f32) {
        j->to_f32(src, tmp, (size_t)n);
        x = tmp;
    } else {
        x = (const float *)(const void *)src;
    }
    if (st->pass == 1) ck_stats_pass1_run(x, n, off, lanes, t);
    else ck_stats_pass2_run(x, n, off, st->mean, st->lo, st->scale, lanes, t);
}

static void tally_init(ck_tally *t)
{
    memset(t, 0, sizeof *t);
    t->min = INFINITY;
    t->max = -INFINITY;
}

static void tally_merge(ck_tally *into, const ck_tally *t)
{
    into->nan += t->nan;
    into->inf += t->inf;
    into->zero += t->zero;
    into->finite += t->finite;
    if (t->min < into->min) into->min = t->min;
    if (t->max > into->max) into->max = t->max;
    for (int b = 0; b < CK_HIST_BINS; b++) into->hist[b] += t->hist[b];
}

static void chunks_task(void *ctx, size_t task)
{
    const st_job *j = ctx;
    uint64_t c0 = (uint64_t)task * CHUNKS_PER_TASK, c1 = c0 + CHUNKS_PER_TASK < j->nchunks ? c0 + CHUNKS_PER_TASK : j->nchunks;
    ck_tally *t = &j->tallies[task];
    tally_init(t);
    for (uint64_t c = c0; c < c1; c++) {
        double lanes[CK_STATS_LANES] = {0};
        reduce_piece(j, j->st, j->src + c * CK_STATS_CHUNK * j->ebytes, CK_STATS_CHUNK, 0, lanes, t);
        j->chunk_vals[c] = ck_lanes_fold(lanes);
    }
}

int ck_cpu_stats(ck_backend *be, ck_dtype dtype, const void *src, uint64_t n, ck_stats *st, ck_error *err)
{
    const ck_cpu_dtype *cd = &ck_cpu_dtypes[dtype];
    unsigned bits = ck_dtype_info(dtype)->bits;
    if (!cd->to_f32 || bits % 8)
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "stats: %s is not supported", ck_dtype_name(dtype));
    if (st->pass != 1 && st->pass != 2)
        return ck_error_set(err, CK_E_USAGE, NULL, NULL, -1, "stats: the reduction is finished");
    st_job j = {.src = src, .ebytes = bits / 8, .to_f32 = dtype == CK_F32 ? NULL : cd->to_f32, .st = st};
    ck_chunked_sum *cs = st->pass == 1 ? &st->s1 : &st->s2;
    ck_tally head;
    tally_init(&head);
    uint64_t done = 0;
    unsigned off = (unsigned)(cs->pos % CK_STATS_CHUNK);
    if (off) { /* finish the open chunk */
        uint64_t k = n < CK_STATS_CHUNK - off ? n : CK_STATS_CHUNK - off;
        reduce_piece(&j, st, j.src, k, off, cs->lanes, &head);
        done = k;
        if (off + k == CK_STATS_CHUNK) ck_chunked_sum_close(cs);
    }
    j.src += done * j.ebytes;
    j.nchunks = (n - done) / CK_STATS_CHUNK;
    if (j.nchunks) {
        size_t ntasks = (size_t)((j.nchunks + CHUNKS_PER_TASK - 1) / CHUNKS_PER_TASK);
        j.chunk_vals = malloc(j.nchunks * sizeof *j.chunk_vals);
        j.tallies = malloc(ntasks * sizeof *j.tallies);
        if (!j.chunk_vals || !j.tallies) {
            free(j.chunk_vals);
            free(j.tallies);
            return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "stats: out of memory");
        }
        ck_pool_run(ck_cpu_pool(be), ntasks, chunks_task, &j);
        for (uint64_t c = 0; c < j.nchunks; c++) ck_neumaier_add(&cs->total, &cs->comp, j.chunk_vals[c]);
        for (size_t t = 0; t < ntasks; t++) tally_merge(&head, &j.tallies[t]);
        free(j.chunk_vals);
        free(j.tallies);
        done += j.nchunks * CK_STATS_CHUNK;
    }
    if (done < n) /* the tail opens a chunk that the next call (or the end of the pass) closes */
        reduce_piece(&j, st, (const uint8_t *)src + done * j.ebytes, n - done, 0, cs->lanes, &head);
    cs->pos += n;
    if (st->pass == 1) {
        tally_merge(&st->t, &head);
    } else {
        for (int b = 0; b < CK_HIST_BINS; b++) st->t.hist[b] += head.hist[b];
    }
    return 0;
}
