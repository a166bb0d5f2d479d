/* The statistics worker. Values are decoded to f32 one chunk at a time with the CPU back end's
 * cast, then fed to the back end's two-pass reduction, so the numbers are those `ckdoc stats`
 * gives for a plain tensor. Quantized data are reduced as stored (codes, not dequantized values),
 * and the pane says so. */
#include "statjob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"

#define CHUNK ((uint64_t)1 << 20)

static void *worker(void *arg)
{
    ck_statjob *j = arg;
    const ck_entry *e = &j->ck->entries[j->entry];
    ck_error err;
    ck_backend *be = ck_backend_cpu_create(1, &err);
    float *buf = malloc(CHUNK * sizeof *buf);
    double (*sum)[CK_HEAT_COLS] = calloc(CK_HEAT_ROWS, sizeof *sum);
    uint64_t (*cnt)[CK_HEAT_COLS] = calloc(CK_HEAT_ROWS, sizeof *cnt);
    int result = CK_JOB_FAILED;
    if (!be || !buf || !sum || !cnt) {
        snprintf(j->error, sizeof j->error, "%s", be ? "out of memory" : err.msg);
        goto out;
    }
    if (!be->ops->supports(be, CK_OP_CAST, e->dtype)) {
        snprintf(j->error, sizeof j->error, "values of dtype %s cannot be decoded", ck_dtype_name(e->dtype));
        goto out;
    }
    uint64_t n = e->numel, cols = e->ndim >= 1 ? e->shape[e->ndim - 1] : 1;
    if (cols == 0) cols = 1;
    uint64_t rows = n / cols ? n / cols : 1;
    j->heat_rows = rows < CK_HEAT_ROWS ? (int)rows : CK_HEAT_ROWS;
    j->heat_cols = cols < CK_HEAT_COLS ? (int)cols : CK_HEAT_COLS;
    size_t esize = ck_dtype_info(e->dtype)->bits / 8;
    ck_stats_init(&j->st);
    for (int pass = 1; pass <= 2; pass++) {
        if (pass == 2) ck_stats_begin_pass2(&j->st);
        for (uint64_t i = 0; i < n; i += CHUNK) {
            if (atomic_load(&j->cancel)) { result = CK_JOB_CANCELLED; goto out; }
            uint64_t k = n - i < CHUNK ? n - i : CHUNK;
            if (be->ops->cast(be, e->dtype, j->data + i * esize, CK_F32, buf, k, &err) < 0 ||
                be->ops->stats(be, CK_F32, buf, k, &j->st, &err) < 0) {
                snprintf(j->error, sizeof j->error, "%s", err.msg);
                goto out;
            }
            if (pass == 1)
                for (uint64_t q = 0; q < k; q++) {
                    uint64_t g = i + q, r = g / cols, c = g % cols;
                    int hr = (int)(r * (uint64_t)j->heat_rows / rows), hc = (int)(c * (uint64_t)j->heat_cols / cols);
                    float v = buf[q];
                    if (v == v && v - v == 0) sum[hr][hc] += v < 0 ? -v : v, cnt[hr][hc]++;
                }
            atomic_fetch_add(&j->done, k);
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
    free(sum);
    free(cnt);
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

int ck_statjob_start(ck_statjob *j, ck_checkpoint *ck, long entry)
{
    ck_statjob_stop(j);
    memset(j, 0, sizeof *j);
    j->ck = ck, j->entry = entry;
    atomic_store(&j->state, CK_JOB_FAILED);
    const ck_entry *e = &ck->entries[entry];
    ck_error err;
    if (!e->has_header || e->shard >= ck->n_shards || !ck->shards[e->shard].ok) {
        snprintf(j->error, sizeof j->error, "the data of this tensor cannot be read (no usable shard)");
        return -1;
    }
    if (ck_dtype_info(e->dtype)->bits % 8) {
        snprintf(j->error, sizeof j->error, "%s packs several values per byte: read it through its group (ckdoc stats)", ck_dtype_name(e->dtype));
        return -1;
    }
    /* Map here, on the UI thread: the shard's lazy mmap is not thread-safe. */
    ck_st_file *st = &ck->shards[e->shard].st;
    if (!ck_st_data(st, 0, &err)) {
        snprintf(j->error, sizeof j->error, "%s", err.msg);
        return -1;
    }
    j->data = (const uint8_t *)st->map + e->file_offset;
    atomic_store(&j->total, 2 * e->numel);
    atomic_store(&j->state, CK_JOB_RUNNING);
    if (pthread_create(&j->thread, NULL, worker, j) != 0) {
        atomic_store(&j->state, CK_JOB_FAILED);
        snprintf(j->error, sizeof j->error, "cannot start a thread");
        return -1;
    }
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
    return t ? (double)d / (double)t : 0;
}
