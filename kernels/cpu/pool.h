/* A small fixed pool of worker threads. ck_pool_run hands out task indices 0..n-1 to the workers
 * and the calling thread, and returns when all are done. Which thread runs which task is left to
 * chance, so callers must make every task write only its own outputs; reductions then combine
 * those outputs in task order, which is what keeps results independent of the thread count.
 * A task may itself run a job on the same pool: that job runs inline, on the task's thread. */
#ifndef CK_POOL_H
#define CK_POOL_H

#include <stddef.h>

typedef struct ck_pool ck_pool;
typedef void (*ck_task_fn)(void *ctx, size_t task);
/* The same, told which thread runs it: 0 (the caller) .. threads-1, for per-thread scratch. */
typedef void (*ck_task_fn_w)(void *ctx, size_t task, int worker);

/* `threads` counts the caller: 1 starts no worker. Returns NULL if threads cannot be made. */
ck_pool *ck_pool_create(int threads);
int ck_pool_threads(const ck_pool *p);
void ck_pool_run(ck_pool *p, size_t ntasks, ck_task_fn fn, void *ctx);
void ck_pool_run_w(ck_pool *p, size_t ntasks, ck_task_fn_w fn, void *ctx);
void ck_pool_destroy(ck_pool *p);

/* Online cores, at least 1. */
int ck_online_cores(void);

#endif
