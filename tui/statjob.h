/* Value statistics of one tensor, computed on a worker thread so the UI keeps answering keys:
 * min/max/mean/std, NaN/Inf/zero counts, the 64-bin histogram of kernels/stats.h, and a coarse
 * heatmap of the matrix (mean |x| per cell). The tensor is read through kernels/tensor_eval.h, so
 * a quantized weight is grouped with its scales and dequantized (MXFP4, NVFP4, FP8) and the
 * numbers are those `ckdoc stats` prints for the same group. Progress is readable at any time;
 * cancel stops the worker at the next window of rows. No curses here. */
#ifndef CK_TUI_STATJOB_H
#define CK_TUI_STATJOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "inspect/checkpoint.h"
#include "kernels/stats.h"
#include "kernels/tensor_eval.h"

#define CK_HEAT_ROWS 12
#define CK_HEAT_COLS 48
/* Values decoded per step of the worker: the grain of progress and of cancellation. */
#define CK_STATJOB_STEP ((uint64_t)1 << 20)

typedef enum { CK_JOB_IDLE, CK_JOB_RUNNING, CK_JOB_DONE, CK_JOB_FAILED, CK_JOB_CANCELLED } ck_job_state;

typedef struct {
    /* input */
    ck_checkpoint *ck;
    long entry;
    ck_tgroup g;                   /* the logical tensor: the entry alone, or its quantized group */
    bool grouped;                  /* g is a quantized group (values are dequantized) */
    int threads;                   /* CPU threads for decoding and reducing */
    /* shared with the worker */
    pthread_t thread;
    bool started;
    atomic_int state;
    atomic_int cancel;
    atomic_uint_fast64_t done, total; /* values processed, over both passes */
    /* results, valid once state is DONE */
    ck_stats st;
    int heat_rows, heat_cols;
    double heat[CK_HEAT_ROWS][CK_HEAT_COLS]; /* mean |x| */
    double heat_max;
    char error[512];
} ck_statjob;

/* Start on catalog entry `entry` (any previous job is cancelled and joined first). Returns 0, or
 * -1 with j->error set and state FAILED when the data cannot be reached or decoded. */
int ck_statjob_start(ck_statjob *j, ck_checkpoint *ck, long entry);
/* Ask the worker to stop and wait for it. */
void ck_statjob_stop(ck_statjob *j);
ck_job_state ck_statjob_state(const ck_statjob *j);
/* 0..1 */
double ck_statjob_progress(const ck_statjob *j);
/* "BF16", or "U8 blocks + U8 scales, MXFP4 dequantized": what the numbers are of. */
void ck_statjob_describe(const ck_statjob *j, char *buf, size_t size);

#endif
