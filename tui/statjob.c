/* The statistics worker. The logical tensor (ck_tgroup_find: the entry, or a quantized weight
 * with its scales) is decoded to f32 a window of rows at a time by ck_teval_decode, and each
 * window is fed to the back end's two-pass reduction (kernels/stats.h). That reduction's result
 * does not depend on how the values are split into calls, so the numbers equal those of
 * ck_teval_stats, which is what `ckdoc stats` prints; decoding here rather than calling
 * ck_teval_stats in one piece is what gives progress and a cancel point every window. */
#include "statjob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/backend.h"

static void *worker(void *arg)
{
    ck_statjob *j = arg;
    const ck_tgroup *g = &j->g;
    ck_error err;
    memset(&err, 0, sizeof err);
    ck_backend *be = ck_backend_cpu_create(j->threads, &err);
    ck_teval *ev = be ? ck_teval_new(j->ck, be, j->threads, &err) : NULL;
    const ck_backend *red = ev ? ck_teval_reducer(ev) : NULL;
    uint64_t rows = g->rows, cols = g->cols ? g->cols : 1, n = g->rows * g->cols;
    uint64_t step = cols >= CK_STATJOB_STEP ? 1 : CK_STATJOB_STEP / cols; /* rows per window */
    float *buf = NULL;
    uint8_t *bounce = NULL;
    double (*sum)[CK_HEAT_COLS] = calloc(CK_HEAT_ROWS, sizeof *sum);
    uint64_t (*cnt)[CK_HEAT_COLS] = calloc(CK_HEAT_ROWS, sizeof *cnt);
    int result = CK_JOB_FAILED;
    if (!ev || !sum || !cnt) {
        snprintf(j->error, sizeof j->error, "%s", err.msg[0] ? err.msg : "out of memory");
        goto out;
    }
    if (cols > CK_EVAL_WINDOW) {
        snprintf(j->error, sizeof j->error, "rows of %llu values are too long to decode", (unsigned long long)cols);
        goto out;
    }
    if (!(buf = malloc((size_t)(step * cols) * sizeof *buf))) {
        snprintf(j->error, sizeof j->error, "out of memory");
        goto out;
    }
    size_t esize = ck_dtype_info(g->m[0]->dtype)->bits / 8;
    const uint8_t *raw = NULL;
    if (!j->grouped) { /* mapped by ck_statjob_start: this only reads the mapping's address */
        ck_st_file *st = &j->ck->shards[g->m[0]->shard].st;
        long ti = ck_st_find(st, g->m[0]->name);
        raw = ti >= 0 ? ck_st_data(st, (size_t)ti, &err) : NULL;
        if (!raw || !esize || !(bounce = malloc((size_t)(step * cols * esize)))) {
            snprintf(j->error, sizeof j->error, "%s", !raw ? "the tensor is not in its shard" : "out of memory");
            goto out;
        }
    }
    j->heat_rows = rows < CK_HEAT_ROWS ? (int)rows : CK_HEAT_ROWS;
    j->heat_cols = cols < CK_HEAT_COLS ? (int)cols : CK_HEAT_COLS;
    ck_stats_init(&j->st, true); /* the browser draws the histogram: two passes */
    for (int pass = 1; pass <= 2; pass++) {
        if (pass == 2) ck_stats_begin_pass2(&j->st);
        for (uint64_t r0 = 0; n && r0 < rows; r0 += step) {
            if (atomic_load(&j->cancel)) { result = CK_JOB_CANCELLED; goto out; }
            uint64_t k = rows - r0 < step ? rows - r0 : step;
            /* A plain tensor is reduced in its stored dtype, as `ckdoc stats` does; its values
             * are decoded only for the heatmap. A group is reduced as decoded f32. */
            bool decode = j->grouped || pass == 1;
            int rc = decode ? ck_teval_decode(ev, g, r0, k, buf, &err) : 0;
            if (!rc && j->grouped) rc = red->ops->stats((ck_backend *)red, CK_F32, buf, k * cols, &j->st, &err);
            if (!rc && !j->grouped) {
                const uint8_t *src = raw + r0 * cols * esize;
                if ((uintptr_t)src % esize) src = memcpy(bounce, src, (size_t)(k * cols * esize));
                rc = red->ops->stats((ck_backend *)red, g->m[0]->dtype, src, k * cols, &j->st, &err);
            }
            if (rc < 0) {
                snprintf(j->error, sizeof j->error, "%s", err.msg);
                goto out;
            }
            if (pass == 1)
                for (uint64_t r = 0; r < k; r++) {
                    int hr = (int)((r0 + r) * (uint64_t)j->heat_rows / rows);
                    const float *row = buf + r * cols;
                    for (uint64_t c = 0; c < cols; c++) {
                        int hc = (int)(c * (uint64_t)j->heat_cols / cols);
                        float v = row[c];
                        if (v == v && v - v == 0) sum[hr][hc] += v < 0 ? -v : v, cnt[hr][hc]++;
                    }
                }
            atomic_fetch_add(&j->done, k * cols);
        }
    }
    ck_stats_finish(&j->st);
    j->heat_max = 0;
    for (int r = 0; r < j->heat_rows; r++)
        for (int c = 0; c < j->heat_cols; c++) {
            j->heat[r][c] = cnt[r][c] ? sum[r][c] / (double)cnt[r][c] : 0;
            if (j->heat[r][c] > j->heat_max) j->heat_max = j->heat[r][c];
        }
    result = CK_JOB_DONE;
out:
    free(buf);
    free(bounce);
    free(sum);
    free(cnt);
    ck_teval_free(ev);
    if (be) ck_backend_destroy(be);
    atomic_store(&j->state, result);
    return NULL;
}

void ck_statjob_stop(ck_statjob *j)
{
    if (!j->started) return;
    atomic_store(&j->cancel, 1);
    pthread_join(j->thread, NULL);
    j->started = false;
}

static int fail(ck_statjob *j, const char *msg)
{
    snprintf(j->error, sizeof j->error, "%s", msg);
    atomic_store(&j->state, CK_JOB_FAILED);
    return -1;
}

int ck_statjob_start(ck_statjob *j, ck_checkpoint *ck, long entry)
{
    ck_statjob_stop(j);
    memset(j, 0, sizeof *j);
    j->ck = ck, j->entry = entry;
    atomic_store(&j->state, CK_JOB_FAILED);
    const ck_entry *e = &ck->entries[entry];
    if (!e->has_header) return fail(j, "the data of this tensor cannot be read (no usable shard)");
    j->grouped = ck_tgroup_find(ck, e, &j->g);
    ck_error err;
    /* Map every member's shard here, on the UI thread: a shard's lazy mmap is not thread-safe, and
     * the detail pane reads small tensors (scales) through the same mappings. */
    for (int k = 0; k < 3; k++) {
        const ck_entry *m = j->g.m[k];
        if (!m) continue;
        if (m->shard >= ck->n_shards || !ck->shards[m->shard].ok)
            return fail(j, "the data of this tensor cannot be read (no usable shard)");
        if (!ck_st_data(&ck->shards[m->shard].st, 0, &err)) return fail(j, err.msg);
    }
    if (!j->grouped) {
        const ck_dtype_traits *t = ck_dtype_info(e->dtype);
        ck_backend *probe = ck_backend_cpu_create(1, &err);
        bool ok = probe && probe->ops->supports(probe, CK_OP_STATS, e->dtype) && probe->ops->supports(probe, CK_OP_CAST, e->dtype);
        if (probe) ck_backend_destroy(probe);
        if (!ok) {
            char msg[300];
            if (t->bits % 8)
                snprintf(msg, sizeof msg, "%s packs several values per byte, and no scales were found beside it to decode it with",
                         ck_dtype_name(e->dtype));
            else
                snprintf(msg, sizeof msg, "values of dtype %s cannot be decoded (ckdoc stats shows none either)", ck_dtype_name(e->dtype));
            return fail(j, msg);
        }
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    j->threads = cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus;
    atomic_store(&j->total, 2 * j->g.rows * j->g.cols);
    atomic_store(&j->state, CK_JOB_RUNNING);
    if (pthread_create(&j->thread, NULL, worker, j) != 0) return fail(j, "cannot start a thread");
    j->started = true;
    return 0;
}

ck_job_state ck_statjob_state(const ck_statjob *j)
{
    return (ck_job_state)atomic_load(&j->state);
}

double ck_statjob_progress(const ck_statjob *j)
{
    uint64_t t = atomic_load(&j->total), d = atomic_load(&j->done);
    return t ? (double)d / (double)t : ck_statjob_state(j) == CK_JOB_DONE;
}

void ck_statjob_describe(const ck_statjob *j, char *buf, size_t size)
{
    static const char *const fmt[] = {"", "MXFP4", "NVFP4", "FP8"};
    const ck_tgroup *g = &j->g;
    if (!j->grouped || !g->m[0]) {
        snprintf(buf, size, "%s", g->m[0] ? ck_dtype_name(g->m[0]->dtype) : "?");
        return;
    }
    snprintf(buf, size, "%s dequantized (%s codes, %s scales%s%s)", fmt[g->fmt], ck_dtype_name(g->m[0]->dtype),
             g->m[1] ? ck_dtype_name(g->m[1]->dtype) : "?", g->m[2] ? ", global " : "",
             g->m[2] ? ck_dtype_name(g->m[2]->dtype) : "");
}
