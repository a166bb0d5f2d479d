#include "kernels/preader.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SLOT_EMPTY, SLOT_FULL, SLOT_ERROR };

#define MAX_HELPERS 7

/* One window read by several threads: part i of `parts` is read by helper i - 1, part 0 by the
 * reading thread itself (copying out of the page cache runs at one core's memcpy speed, below
 * what the reduction takes in). */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t job;                 /* bumped for each window */
    int fd;
    uint8_t *dst;
    uint64_t off;
    size_t n;
    int parts, finished;
    int error;                    /* first failed part: errnum + 1 (0: none) */
    uint64_t error_at;
    bool quit;
} split_read;

struct ck_preader {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool quit;
    int nhelpers;
    pthread_t helpers[MAX_HELPERS];
    split_read split;
    size_t capacity, window;     /* the buffers' size; this range's window */
    uint8_t *buf[2];
    /* the range: written by start under the lock; `gen` tells the reader a read is stale */
    uint64_t gen;
    int fd;
    uint64_t offset, len;
    char path[512], key[512];
    /* the two slots */
    int state[2];
    size_t fill[2];
    int error[2];                 /* errno, or 0 for a file shorter than its header says */
    uint64_t error_at[2];         /* file offset of the failed read */
    int read_slot, give_slot, held;
    uint64_t read_pos, give_pos;  /* bytes of the range read / handed out */
};

/* Read exactly n bytes at off; returns 0, or -1 with *errnum (0: end of file). */
static int read_full(int fd, uint8_t *dst, size_t n, uint64_t off, int *errnum, uint64_t *at)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, dst + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            *errnum = k < 0 ? errno : 0;
            *at = off + got;
            return -1;
        }
        got += (size_t)k;
    }
    return 0;
}

/* Part `i` of the current split job: 4 KiB-aligned cut points, so each part is whole pages. */
static void part_range(const split_read *j, int i, uint64_t *off, size_t *n)
{
    uint64_t per = (j->n / (uint64_t)j->parts + 4095) / 4096 * 4096;
    uint64_t a = per * (uint64_t)i < j->n ? per * (uint64_t)i : j->n, b = a + per < j->n ? a + per : j->n;
    *off = a;
    *n = (size_t)(b - a);
}

static void part_done(split_read *j, int rc, int errnum, uint64_t at)
{
    pthread_mutex_lock(&j->mu);
    if (rc && !j->error) {
        j->error = errnum + 1;
        j->error_at = at;
    }
    j->finished++;
    pthread_cond_broadcast(&j->done);
    pthread_mutex_unlock(&j->mu);
}

typedef struct {
    split_read *j;
    int part;
} helper_arg;

static void *helper_main(void *arg)
{
    helper_arg *h = arg;
    split_read *j = h->j;
    uint64_t seen = 0;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->quit && (j->job == seen || h->part >= j->parts)) {
            if (j->job != seen) seen = j->job; /* a job with fewer parts than helpers */
            pthread_cond_wait(&j->go, &j->mu);
        }
        if (j->quit) break;
        seen = j->job;
        uint64_t off;
        size_t n;
        part_range(j, h->part, &off, &n);
        int fd = j->fd, errnum = 0;
        uint8_t *dst = j->dst;
        uint64_t base = j->off, at = 0;
        pthread_mutex_unlock(&j->mu);
        int rc = n ? read_full(fd, dst + off, n, base + off, &errnum, &at) : 0;
        part_done(j, rc, errnum, at);
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    free(h);
    return NULL;
}

/* Read a window with the helpers: 0, or -1 with the first failure's errnum and offset. */
static int read_split(ck_preader *r, int fd, uint8_t *dst, size_t n, uint64_t off, int *errnum, uint64_t *at)
{
    split_read *j = &r->split;
    int parts = 1 + r->nhelpers;
    if (n < ((size_t)1 << 20) * (size_t)parts) parts = 1; /* small: not worth waking anyone */
    if (parts == 1) return read_full(fd, dst, n, off, errnum, at);
    pthread_mutex_lock(&j->mu);
    j->job++;
    j->fd = fd, j->dst = dst, j->off = off, j->n = n, j->parts = parts;
    j->finished = 0, j->error = 0;
    pthread_cond_broadcast(&j->go);
    pthread_mutex_unlock(&j->mu);
    uint64_t poff, a = 0;
    size_t pn;
    part_range(j, 0, &poff, &pn);
    int e = 0, rc = read_full(fd, dst + poff, pn, off + poff, &e, &a);
    part_done(j, rc, e, a);
    pthread_mutex_lock(&j->mu);
    while (j->finished < parts) pthread_cond_wait(&j->done, &j->mu);
    rc = j->error ? -1 : 0;
    *errnum = j->error ? j->error - 1 : 0;
    *at = j->error_at;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

static void *reader_main(void *arg)
{
    ck_preader *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->quit && !(r->read_pos < r->len && r->state[r->read_slot] == SLOT_EMPTY))
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->quit) break;
        uint64_t gen = r->gen, pos = r->read_pos;
        int slot = r->read_slot, fd = r->fd, errnum = 0;
        size_t n = r->len - pos < r->window ? (size_t)(r->len - pos) : r->window;
        uint64_t file_off = r->offset + pos, at = 0;
        pthread_mutex_unlock(&r->mu);
        /* only this thread writes the buffers, and the slot is not handed out while empty */
        int rc = read_split(r, fd, r->buf[slot], n, file_off, &errnum, &at);
        pthread_mutex_lock(&r->mu);
        if (gen != r->gen) continue; /* a new range started meanwhile: this read is dropped */
        r->fill[slot] = n;
        r->state[slot] = rc ? SLOT_ERROR : SLOT_FULL;
        r->error[slot] = errnum;
        r->error_at[slot] = at;
        r->read_slot ^= 1;
        r->read_pos = rc ? r->len : pos + n; /* after an error, nothing more is read */
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void stop_helpers(ck_preader *r)
{
    pthread_mutex_lock(&r->split.mu);
    r->split.quit = true;
    pthread_cond_broadcast(&r->split.go);
    pthread_mutex_unlock(&r->split.mu);
    for (int i = 0; i < r->nhelpers; i++) pthread_join(r->helpers[i], NULL);
    pthread_mutex_destroy(&r->split.mu);
    pthread_cond_destroy(&r->split.go);
    pthread_cond_destroy(&r->split.done);
}

ck_preader *ck_preader_new(size_t window, int readers, ck_error *err)
{
    ck_preader *r = calloc(1, sizeof *r);
    if (!r) {
        ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "out of memory");
        return NULL;
    }
    r->capacity = r->window = (window + 63) / 64 * 64;
    r->held = -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    pthread_mutex_init(&r->split.mu, NULL);
    pthread_cond_init(&r->split.go, NULL);
    pthread_cond_init(&r->split.done, NULL);
    for (int i = 1; i < readers && r->nhelpers < MAX_HELPERS; i++) {
        helper_arg *h = malloc(sizeof *h);
        if (!h) break;
        *h = (helper_arg){&r->split, i};
        if (pthread_create(&r->helpers[r->nhelpers], NULL, helper_main, h)) {
            free(h);
            break;
        }
        r->nhelpers++;
    }
    for (int i = 0; i < 2; i++)
        if (posix_memalign((void **)&r->buf[i], 64, r->capacity)) r->buf[i] = NULL;
    if (!r->buf[0] || !r->buf[1] || pthread_create(&r->thread, NULL, reader_main, r)) {
        stop_helpers(r);
        free(r->buf[0]);
        free(r->buf[1]);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        free(r);
        ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "cannot start the reading thread");
        return NULL;
    }
    return r;
}

void ck_preader_free(ck_preader *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->quit = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    stop_helpers(r);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->buf[0]);
    free(r->buf[1]);
    free(r);
}

void ck_preader_start(ck_preader *r, int fd, uint64_t offset, uint64_t len, size_t window, const char *path,
                      const char *key)
{
    /* read-ahead from the disk too, when the data are not cached yet */
    if (len) posix_fadvise(fd, (off_t)offset, (off_t)len, POSIX_FADV_SEQUENTIAL);
    pthread_mutex_lock(&r->mu);
    r->gen++;
    r->window = window && window <= r->capacity ? window : r->capacity;
    r->fd = fd;
    r->offset = offset;
    r->len = len;
    snprintf(r->path, sizeof r->path, "%s", path ? path : "");
    snprintf(r->key, sizeof r->key, "%s", key ? key : "");
    r->state[0] = r->state[1] = SLOT_EMPTY;
    r->read_slot = r->give_slot = 0;
    r->held = -1;
    r->read_pos = r->give_pos = 0;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

int ck_preader_next(ck_preader *r, const uint8_t **p, size_t *n, ck_error *err)
{
    *p = NULL;
    *n = 0;
    pthread_mutex_lock(&r->mu);
    if (r->held >= 0) { /* the caller is done with the last window: the reader may refill it */
        r->state[r->held] = SLOT_EMPTY;
        r->held = -1;
        pthread_cond_broadcast(&r->cv);
    }
    if (r->give_pos >= r->len) {
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    int slot = r->give_slot;
    while (r->state[slot] == SLOT_EMPTY) pthread_cond_wait(&r->cv, &r->mu);
    if (r->state[slot] == SLOT_ERROR) {
        int e = r->error[slot];
        ck_error_set(err, CK_E_IO, r->path, r->key[0] ? r->key : NULL, (int64_t)r->error_at[slot], "%s",
                     e ? strerror(e) : "the file ends before the tensor's data do");
        r->give_pos = r->len;
        r->state[slot] = SLOT_EMPTY;
        pthread_mutex_unlock(&r->mu);
        return -1;
    }
    r->held = slot;
    r->give_slot ^= 1;
    r->give_pos += r->fill[slot];
    *n = r->fill[slot];
    *p = r->buf[slot];
    pthread_mutex_unlock(&r->mu);
    return 1;
}
