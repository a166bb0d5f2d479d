#include "kernels/cpu/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    ck_pool *pool;
    int id;                   /* 1.. threads-1; the caller of ck_pool_run is 0 */
} worker_arg;

struct ck_pool {
    int threads;
    pthread_t *workers;
    worker_arg *args;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long generation; /* bumped once per ck_pool_run; workers wait for a new one */
    bool quit;
    /* the job in flight */
    ck_task_fn fn;            /* one of fn, fnw */
    ck_task_fn_w fnw;
    void *ctx;
    size_t ntasks;
    atomic_size_t next;
    int busy;                 /* workers still inside the current job */
};

/* The pool whose task this thread is running, and as which worker: a task that runs a job of its
 * own on the same pool (a streamed reduction's source dequantizing its piece) runs it inline. */
static _Thread_local const ck_pool *running_in;
static _Thread_local int running_as;

static void drain(ck_pool *p, int id)
{
    running_in = p;
    running_as = id;
    for (;;) {
        size_t t = atomic_fetch_add(&p->next, 1);
        if (t >= p->ntasks) break;
        if (p->fn) p->fn(p->ctx, t);
        else p->fnw(p->ctx, t, id);
    }
    running_in = NULL;
}

static void *worker(void *arg)
{
    ck_pool *p = ((worker_arg *)arg)->pool;
    int id = ((worker_arg *)arg)->id;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        drain(p, id);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

ck_pool *ck_pool_create(int threads)
{
    if (threads < 1) threads = 1;
    ck_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    if (threads > 1) {
        p->workers = calloc((size_t)threads - 1, sizeof *p->workers);
        p->args = calloc((size_t)threads - 1, sizeof *p->args);
        if (!p->workers || !p->args) {
            p->threads = 1; /* nothing started yet */
            free(p->args);
            p->args = NULL;
            ck_pool_destroy(p);
            return NULL;
        }
        for (int i = 0; i < threads - 1; i++) {
            p->args[i] = (worker_arg){p, i + 1};
            if (pthread_create(&p->workers[i], NULL, worker, &p->args[i]) != 0) {
                p->threads = i + 1; /* destroy joins only the ones that started */
                ck_pool_destroy(p);
                return NULL;
            }
        }
    }
    return p;
}

int ck_pool_threads(const ck_pool *p) { return p->threads; }

static void run(ck_pool *p, size_t ntasks, ck_task_fn fn, ck_task_fn_w fnw, void *ctx)
{
    if (ntasks == 0) return;
    /* Not worth waking anyone for a single task (and the tiny tensors of a checkpoint are many);
     * and from inside one of this pool's tasks, the other workers are busy with the outer job. */
    bool nested = running_in == p;
    if (p->threads == 1 || ntasks == 1 || nested) {
        int id = nested ? running_as : 0;
        for (size_t t = 0; t < ntasks; t++) {
            if (fn) fn(ctx, t);
            else fnw(ctx, t, id);
        }
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->fnw = fnw;
    p->ctx = ctx;
    p->ntasks = ntasks;
    atomic_store(&p->next, 0);
    p->busy = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    drain(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void ck_pool_run(ck_pool *p, size_t ntasks, ck_task_fn fn, void *ctx) { run(p, ntasks, fn, NULL, ctx); }

void ck_pool_run_w(ck_pool *p, size_t ntasks, ck_task_fn_w fn, void *ctx) { run(p, ntasks, NULL, fn, ctx); }

void ck_pool_destroy(ck_pool *p)
{
    if (!p) return;
    if (p->workers) {
        pthread_mutex_lock(&p->mu);
        p->quit = true;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < p->threads - 1; i++) pthread_join(p->workers[i], NULL);
        free(p->workers);
    }
    free(p->args);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p);
}

int ck_online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
