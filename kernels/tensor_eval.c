#include "kernels/tensor_eval.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/hash.h"
#include "kernels/preader.h"

const char *const ck_group_fmt_names[] = {[CK_GROUP_RAW] = "raw", [CK_GROUP_MXFP4] = "mxfp4", [CK_GROUP_NVFP4] = "nvfp4",
                                          [CK_GROUP_FP8] = "fp8"};

struct ck_teval {
    ck_checkpoint *ck;
    ck_backend *be, *red;      /* `red` reduces (the CPU when `be` cannot) */
    float *buf;                /* CK_EVAL_WINDOW decoded values */
    uint8_t *bounce;           /* aligned copy of a window whose source is misaligned */
    ck_preader *reader;        /* plain tensors' read-ahead, started on first use */
    long page;
};

#define READ_WINDOW ((size_t)8 << 20) /* bytes: a multiple of every element size, chunk and hash block */

/* ---- grouping ------------------------------------------------------------------------------- */

static const ck_entry *sibling(const ck_checkpoint *ck, const char *base, size_t base_len, const char *suffix)
{
    char name[1024];
    if (base_len + strlen(suffix) >= sizeof name) return NULL;
    memcpy(name, base, base_len);
    strcpy(name + base_len, suffix);
    const ck_entry *e = ck_checkpoint_find(ck, name);
    return e && e->has_header ? e : NULL;
}

static uint64_t prod(const uint64_t *s, int n)
{
    uint64_t p = 1;
    for (int i = 0; i < n; i++) p *= s[i];
    return p;
}

static bool is_e8m0_like(ck_dtype d) { return d == CK_U8 || d == CK_F8_E8M0; }

/* The FP8 scale block along a dimension of n elements with `blocks` scales. Shapes alone do not
 * say it when the edge block is partial (576 rows in 5 blocks: anything from 116 to 143), so the
 * usual sizes come first (128 x 128 in DeepSeek-V3 and every block-scaled FP8 release seen),
 * then the smallest size that fits; 0 when none does. */
static uint64_t fp8_block(uint64_t n, uint64_t blocks)
{
    static const uint64_t usual[] = {128, 64, 32, 256, 16};
    if (blocks == 1) return n;
    for (size_t i = 0; i < sizeof usual / sizeof *usual; i++)
        if ((n + usual[i] - 1) / usual[i] == blocks) return usual[i];
    uint64_t b = (n + blocks - 1) / blocks;
    return (n + b - 1) / b == blocks ? b : 0;
}

/* Decide what `e` heads: returns true and fills g for a quantized group whose shapes agree. */
static bool find_quant_group(const ck_checkpoint *ck, const ck_entry *e, ck_tgroup *g)
{
    memset(g, 0, sizeof *g);
    g->m[0] = e;
    const char *n = e->name;
    size_t len = e->name_len;
    if (e->ndim >= 1 && e->ndim <= CK_MAX_DIMS - 1 && len > 7 && !strcmp(n + len - 7, "_blocks") && e->dtype == CK_U8) {
        /* GPT-OSS: X_blocks [..., G, 16], X_scales [..., G] */
        const ck_entry *s = sibling(ck, n, len - 7, "_scales");
        if (!s || e->ndim < 2 || e->shape[e->ndim - 1] != 16 || s->ndim != e->ndim - 1 || !is_e8m0_like(s->dtype) ||
            memcmp(s->shape, e->shape, (size_t)s->ndim * sizeof *s->shape))
            return false;
        g->fmt = CK_GROUP_MXFP4;
        g->m[1] = s;
        g->rows = prod(e->shape, e->ndim - 2);
        g->cols = e->shape[e->ndim - 2] * 32;
        g->ndim = e->ndim - 1;
        memcpy(g->shape, e->shape, (size_t)g->ndim * sizeof *g->shape);
        g->shape[g->ndim - 1] = g->cols;
        return true;
    }
    if (e->ndim < 1) return false;
    const ck_entry *inv = sibling(ck, n, len, "_scale_inv"), *sc = sibling(ck, n, len, "_scale"),
                   *sc2 = sibling(ck, n, len, "_scale_2");
    uint64_t last = e->shape[e->ndim - 1], rows = prod(e->shape, e->ndim - 1);
    g->ndim = e->ndim;
    memcpy(g->shape, e->shape, (size_t)e->ndim * sizeof *e->shape);
    if (e->dtype == CK_U8 && sc && sc->ndim == e->ndim && prod(sc->shape, sc->ndim - 1) == rows) {
        uint64_t cols = last * 2, sl = sc->shape[sc->ndim - 1];
        if (sc->dtype == CK_F8_E4M3 && sc2 && sc2->numel == 1 && sc2->dtype == CK_F32 && sl == (cols + 15) / 16)
            g->fmt = CK_GROUP_NVFP4, g->m[2] = sc2;
        else if (is_e8m0_like(sc->dtype) && !sc2 && sl == (cols + 31) / 32)
            g->fmt = CK_GROUP_MXFP4;
        else return false;
        g->m[1] = sc;
        g->rows = rows;
        g->cols = cols;
        g->shape[g->ndim - 1] = cols;
        return true;
    }
    const ck_entry *s = inv ? inv : sc;
    if ((e->dtype == CK_F8_E4M3 || e->dtype == CK_F8_E5M2) && s && ck_dtype_is_float(s->dtype) && s->dtype != CK_F8_E8M0) {
        g->rows = rows;
        g->cols = last;
        if (s->numel == 1) {
            g->br = rows ? rows : 1;
            g->bc = last ? last : 1;
        } else if (s->ndim == 2 && s->shape[0] && s->shape[1] && rows && last) {
            g->br = fp8_block(rows, s->shape[0]);
            g->bc = fp8_block(last, s->shape[1]);
            if (!g->br || !g->bc) return false;
        } else {
            return false;
        }
        g->fmt = CK_GROUP_FP8;
        g->m[1] = s;
        return true;
    }
    return false;
}

bool ck_tgroup_find(const ck_checkpoint *ck, const ck_entry *e, ck_tgroup *g)
{
    if (find_quant_group(ck, e, g)) return true;
    memset(g, 0, sizeof *g);
    g->m[0] = e;
    g->ndim = e->ndim;
    memcpy(g->shape, e->shape, (size_t)e->ndim * sizeof *e->shape);
    g->cols = e->ndim ? e->shape[e->ndim - 1] : 1;
    g->rows = e->ndim ? prod(e->shape, e->ndim - 1) : 1;
    return false;
}

/* ---- data access -------------------------------------------------------------------------- */

static const uint8_t *entry_data(ck_teval *c, const ck_entry *e, ck_error *err)
{
    ck_shard *sh = &c->ck->shards[e->shard];
    if (!sh->ok) {
        ck_error_set(err, CK_E_IO, sh->st.path, e->name, -1, "shard could not be read");
        return NULL;
    }
    long i = ck_st_find(&sh->st, e->name);
    if (i < 0) {
        ck_error_set(err, CK_E_FORMAT, sh->st.path, e->name, -1, "tensor not found in its shard");
        return NULL;
    }
    const uint8_t *p = ck_st_data(&sh->st, (size_t)i, err);
    /* Streamed front to back: ask for read-ahead over this tensor (the mapping may have been
     * marked random by a caller that samples). */
    if (p && e->nbytes) {
        uintptr_t a = (uintptr_t)p & ~(uintptr_t)(c->page - 1);
        madvise((void *)a, (uintptr_t)p + e->nbytes - a, MADV_SEQUENTIAL);
    }
    return p;
}

/* Drop a window's pages from our mapping once read: the file stays cached by the kernel, but this
 * process never holds more than a window of it. */
static void release(ck_teval *c, const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(c->page - 1), b = (uintptr_t)p + len;
    if (len) madvise((void *)a, b - a, MADV_DONTNEED);
}

/* A window of raw elements, aligned for the element type (safetensors does not promise it). */
static const void *aligned_window(ck_teval *c, const uint8_t *p, size_t bytes, size_t align)
{
    if (align <= 1 || (uintptr_t)p % align == 0) return p;
    memcpy(c->bounce, p, bytes);
    return c->bounce;
}

/* Scales as aligned F32 (they may be stored F32, BF16 or F16, at any offset). */
static float *scales_f32(ck_teval *c, const ck_entry *s, const uint8_t *p, ck_error *err)
{
    float *out = malloc((s->numel ? s->numel : 1) * sizeof *out);
    uint8_t *tmp = malloc(s->nbytes ? s->nbytes : 1);
    if (!out || !tmp) {
        free(out);
        free(tmp);
        ck_error_set(err, CK_E_NOMEM, NULL, s->name, -1, "out of memory for scales");
        return NULL;
    }
    memcpy(tmp, p, s->nbytes);
    if (c->red->ops->cast(c->red, s->dtype, tmp, CK_F32, out, s->numel, err)) {
        free(out);
        out = NULL;
    }
    free(tmp);
    return out;
}

/* ---- hashing beside the reduction ------------------------------------------------------------- */

/* XXH3 is sequential: on the calling thread, the hash of a window (and the page faults of the
 * window's first touch, which it takes) was the serial part of every window, a third of the time
 * once counting statistics became fast. So a big window is hashed on a thread of its own while the
 * back end's pool reduces the same window; the hash still sees the windows in order, since each
 * is joined before the next starts. A one-thread reducer (--threads 1) hashes inline. */
#define HASH_ASYNC_MIN ((size_t)4 << 20)

typedef struct {
    ck_hash *h;
    const void *p;
    size_t len;
    pthread_t th;
    bool running;
} hash_job;

static void *hash_main(void *arg)
{
    hash_job *j = arg;
    ck_hash_update(j->h, j->p, j->len);
    return NULL;
}

static void hash_start(ck_teval *c, hash_job *j, ck_hash *h, const void *p, size_t len)
{
    *j = (hash_job){.h = h, .p = p, .len = len};
    if (len >= HASH_ASYNC_MIN && c->red->threads > 1 && pthread_create(&j->th, NULL, hash_main, j) == 0) {
        j->running = true;
        return;
    }
    ck_hash_update(h, p, len); /* small, one thread, or no thread to be had: inline */
}

static void hash_wait(hash_job *j)
{
    if (j->running) pthread_join(j->th, NULL);
    j->running = false;
}

/* A read-ahead window (READ_WINDOW bytes, a whole number of hash blocks, or the tensor's last
 * bytes): its block digests on a back end's workers, or else on the hash thread. */
static int hash_window(ck_teval *c, ck_hash *h, const uint8_t *w, size_t n, hash_job *hj, ck_error *err)
{
    ck_backend *hb = c->red->ops->hash_blocks ? c->red : c->be->ops->hash_blocks ? c->be : NULL;
    if (!hb) {
        hash_start(c, hj, h, w, n);
        return 0;
    }
    uint64_t digests[READ_WINDOW / CK_HASH_BLOCK];
    if (hb->ops->hash_blocks(hb, w, n, digests, err)) return -1;
    ck_hash_add_blocks(h, digests, (n + CK_HASH_BLOCK - 1) / CK_HASH_BLOCK);
    return 0;
}

/* ---- one item ------------------------------------------------------------------------------- */

/* Elements of a plain tensor read straight from its shard by the back end's workers, with
 * pread: copying costs less than mapping (the page tables of 256 MiB of 4 KiB pages took 25 ms to
 * build and 10 to drop, here) and no more when the page cache holds large folios (measured). */
typedef struct {
    const ck_shard *sh;
    const ck_entry *e;
    size_t ebytes;
    uint64_t *digests;    /* hashing: the digest of every whole hash block, by block */
} entry_source;

static int read_at(const ck_shard *sh, const ck_entry *e, uint64_t off, size_t len, void *dst, ck_error *err)
{
    for (size_t got = 0; got < len;) {
        ssize_t k = pread(sh->st.fd, (uint8_t *)dst + got, len - got, (off_t)(e->file_offset + off + got));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return ck_error_set(err, CK_E_IO, sh->st.path, e->name, (int64_t)(e->file_offset + off + got), "%s",
                                k < 0 ? strerror(errno) : "the file ends before the tensor's data do");
        got += (size_t)k;
    }
    return 0;
}

static int source_get(void *ctx, uint64_t first, uint64_t count, void *scratch, const void **data, ck_error *err)
{
    const entry_source *src = ctx;
    uint64_t off = first * src->ebytes, len = count * src->ebytes;
    if (read_at(src->sh, src->e, off, (size_t)len, scratch, err)) return -1;
    /* the whole hash blocks of the piece while they are in cache (pieces start on block bounds) */
    for (uint64_t b = 0; src->digests && b + CK_HASH_BLOCK <= len; b += CK_HASH_BLOCK)
        src->digests[(off + b) / CK_HASH_BLOCK] = ck_hash_block((const uint8_t *)scratch + b, CK_HASH_BLOCK);
    *data = scratch;
    return 0;
}

static int stats_raw(ck_teval *c, const ck_entry *e, unsigned flags, ck_tresult *r, ck_hash *h, ck_error *err)
{
    const ck_shard *sh = &c->ck->shards[e->shard];
    size_t eb = ck_dtype_info(e->dtype)->bits / 8;
    r->has_stats = c->red->ops->supports(c->red, CK_OP_STATS, e->dtype);
    if (!r->has_stats) r->why_no_stats = "no statistics for this dtype";
    if (!r->has_stats && !(flags & CK_EVAL_HASH)) return 0;
    if (!sh->ok) return ck_error_set(err, CK_E_IO, sh->st.path, e->name, -1, "shard could not be read");
    ck_stats_init(&r->st, flags & CK_EVAL_HISTOGRAM);
    r->st.counts_only = flags & CK_EVAL_COUNTS;
    if (r->has_stats && !(flags & CK_EVAL_HISTOGRAM) && c->red->ops->stats_stream) {
        /* One read, and nothing needs the bytes in order: the back end's workers fetch their own
         * pieces, and hash its blocks as they read them (the hash only needs the digests in order). */
        entry_source es = {sh, e, eb, NULL};
        uint64_t nblocks = (e->nbytes + CK_HASH_BLOCK - 1) / CK_HASH_BLOCK;
        if ((flags & CK_EVAL_HASH) && !(es.digests = malloc((nblocks ? nblocks : 1) * sizeof *es.digests)))
            return ck_error_set(err, CK_E_NOMEM, NULL, e->name, -1, "out of memory");
        posix_fadvise(sh->st.fd, (off_t)e->file_offset, (off_t)e->nbytes, POSIX_FADV_SEQUENTIAL);
        ck_elem_source src = {source_get, NULL, &es, es.digests ? CK_HASH_BLOCK / eb : 0};
        int rc = c->red->ops->stats_stream(c->red, e->dtype, &src, e->numel, &r->st, err);
        uint64_t tail = e->nbytes % CK_HASH_BLOCK; /* the last block, if partial, read apart */
        if (!rc && es.digests && tail) {
            uint8_t *buf = malloc((size_t)tail);
            rc = buf ? read_at(sh, e, e->nbytes - tail, (size_t)tail, buf, err)
                     : ck_error_set(err, CK_E_NOMEM, NULL, e->name, -1, "out of memory");
            if (!rc) es.digests[nblocks - 1] = ck_hash_block(buf, (size_t)tail);
            free(buf);
        }
        if (!rc && es.digests) ck_hash_add_blocks(h, es.digests, nblocks);
        free(es.digests);
        return rc;
    }
    if (!c->reader && !(c->reader = ck_preader_new(READ_WINDOW, c->red->threads, err))) return -1;
    for (int pass = 1; pass <= 2; pass++) {
        if (pass == 2) ck_stats_begin_pass2(&r->st);
        if (pass == 2 && (!r->has_stats || !ck_stats_wants_pass2(&r->st))) break;
        ck_preader_start(c->reader, sh->st.fd, e->file_offset, e->nbytes, 0, sh->st.path, e->name);
        const uint8_t *w;
        size_t n;
        int more;
        while ((more = ck_preader_next(c->reader, &w, &n, err)) > 0) {
            hash_job hj = {0};
            if (pass == 1 && (flags & CK_EVAL_HASH) && hash_window(c, h, w, n, &hj, err)) return -1;
            int rc = r->has_stats ? c->red->ops->stats(c->red, e->dtype, w, n / eb, &r->st, err) : 0;
            hash_wait(&hj);
            if (rc) return -1;
        }
        if (more < 0) return -1;
    }
    ck_stats_finish(&r->st);
    return 0;
}

/* A quantized group streamed by the back end's workers (check --deep): each piece's rows are
 * read with pread into a buffer of the worker's own, dequantized there by the back end (its job
 * runs inline on the worker) and reduced while in cache, where the windowed path below sends
 * every decoded value through memory. Pieces are runs of chunks, so a piece may begin or end
 * inside a row: then its whole rows are decoded into the worker's buffer and the piece is read
 * from there. */
typedef struct {
    ck_teval *c;
    const ck_tgroup *g;
    const uint8_t *scales;      /* MXFP4/NVFP4: mapped, row-major */
    const float *fsc;           /* FP8: the scales as f32 */
    float global;               /* NVFP4 */
    size_t code_row, scale_row;
    uint64_t *digests;          /* hashing: the digest of every whole hash block of the codes */
} group_source;

typedef struct {
    void *p;
    size_t cap;
} thread_buffer;

static pthread_key_t tbuf_key;
static pthread_once_t tbuf_once = PTHREAD_ONCE_INIT;

static void tbuf_free(void *v)
{
    thread_buffer *b = v;
    free(b->p);
    free(b);
}

static void tbuf_init(void) { pthread_key_create(&tbuf_key, tbuf_free); }

/* At least n bytes of this thread's buffer (kept for its next piece), or NULL. */
static void *tbuf_get(size_t n)
{
    pthread_once(&tbuf_once, tbuf_init);
    thread_buffer *b = pthread_getspecific(tbuf_key);
    if (!b) {
        if (!(b = calloc(1, sizeof *b))) return NULL;
        pthread_setspecific(tbuf_key, b);
    }
    if (b->cap < n) {
        free(b->p);
        b->cap = 0;
        if (posix_memalign(&b->p, 64, n)) return b->p = NULL;
        b->cap = n;
    }
    return b->p;
}

static int group_get(void *ctx, uint64_t first, uint64_t count, void *scratch, const void **data, ck_error *err)
{
    const group_source *gs = ctx;
    const ck_tgroup *g = gs->g;
    const ck_entry *e = g->m[0];
    const ck_shard *sh = &gs->c->ck->shards[e->shard];
    ck_backend *be = gs->c->be;
    uint64_t r0 = first / g->cols, r1 = (first + count + g->cols - 1) / g->cols, nr = r1 - r0;
    bool whole = first == r0 * g->cols && count == nr * g->cols;
    size_t codes = (size_t)(nr * gs->code_row), at = (codes + 63) / 64 * 64;
    uint8_t *tb = tbuf_get(at + (whole ? 0 : (size_t)(nr * g->cols) * sizeof(float)));
    if (!tb) return ck_error_set(err, CK_E_NOMEM, NULL, e->name, -1, "out of memory");
    if (read_at(sh, e, r0 * gs->code_row, codes, tb, err)) return -1;
    float *out = whole ? scratch : (float *)(void *)(tb + at); /* else the piece is read in place */
    int rc;
    if (g->fmt == CK_GROUP_MXFP4)
        rc = be->ops->dequant_mxfp4(be, tb, gs->scales + r0 * gs->scale_row, out, nr, g->cols, err);
    else if (g->fmt == CK_GROUP_NVFP4)
        rc = be->ops->dequant_nvfp4(be, tb, gs->scales + r0 * gs->scale_row, gs->global, out, nr, g->cols, err);
    else
        rc = be->ops->dequant_fp8(be, e->dtype, tb, gs->fsc, out, r0, nr, g->cols, g->br, g->bc, err);
    if (rc) return -1;
    /* the piece's whole hash blocks of codes (pieces start on block bounds) */
    uint64_t cb0 = first * gs->code_row / g->cols, cb1 = (first + count) * gs->code_row / g->cols;
    const uint8_t *pc = tb + (cb0 - r0 * gs->code_row);
    for (uint64_t b = 0; gs->digests && b + CK_HASH_BLOCK <= cb1 - cb0; b += CK_HASH_BLOCK)
        gs->digests[(cb0 + b) / CK_HASH_BLOCK] = ck_hash_block(pc + b, CK_HASH_BLOCK);
    *data = out + (first - r0 * g->cols);
    return 0;
}

/* Values per window of a quantized group: decoded f32 that stay in cache between the decoding
 * and the reduction (a 64 MiB window went to memory and back). */
#define GROUP_WINDOW ((uint64_t)1 << 20)

static int stats_group(ck_teval *c, const ck_tgroup *g, const uint8_t *const p[3], unsigned flags, ck_tresult *r,
                       ck_hash *h, ck_error *err)
{
    const ck_entry *e = g->m[0];
    const ck_shard *sh = &c->ck->shards[e->shard];
    size_t code_row = g->fmt == CK_GROUP_FP8 ? (size_t)g->cols : (size_t)g->cols / 2;
    size_t scale_row = g->fmt == CK_GROUP_MXFP4 ? (size_t)(g->cols + 31) / 32 : (size_t)(g->cols + 15) / 16;
    if (g->cols > CK_EVAL_WINDOW || code_row > READ_WINDOW) /* one row larger than a window */
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, e->name, -1, "rows of %" PRIu64 " elements are too long", g->cols);
    uint64_t wr = g->cols ? GROUP_WINDOW / g->cols : 1;
    if (wr == 0) wr = 1;
    if (!c->reader && !(c->reader = ck_preader_new(READ_WINDOW, c->red->threads, err))) return -1;
    float *fsc = NULL, global = 0;
    if (g->fmt == CK_GROUP_FP8 && !(fsc = scales_f32(c, g->m[1], p[1], err))) return -1;
    if (g->fmt == CK_GROUP_NVFP4) memcpy(&global, p[2], sizeof global);
    ck_stats_init(&r->st, flags & CK_EVAL_HISTOGRAM);
    r->st.counts_only = flags & CK_EVAL_COUNTS;
    r->has_stats = true;
    int rc = 0;
    if (!(flags & CK_EVAL_HISTOGRAM) && c->red == c->be && c->be->ops->stats_stream) {
        /* one read, and nothing needs the bytes in order: decoding, hashing and reducing share the
         * workers, and only the block digests are hashed in order */
        uint64_t nbytes = g->rows * code_row, nblocks = (nbytes + CK_HASH_BLOCK - 1) / CK_HASH_BLOCK;
        group_source gs = {c, g, p[1], fsc, global, code_row, scale_row, NULL};
        if ((flags & CK_EVAL_HASH) && !(gs.digests = malloc((nblocks ? nblocks : 1) * sizeof *gs.digests))) {
            free(fsc);
            return ck_error_set(err, CK_E_NOMEM, NULL, e->name, -1, "out of memory");
        }
        /* pieces of whole hash blocks of codes: 1 MiB of codes is 1 or 2 Mi values */
        ck_elem_source src = {group_get, NULL, &gs, gs.digests ? CK_HASH_BLOCK * g->cols / code_row : 0};
        posix_fadvise(sh->st.fd, (off_t)e->file_offset, (off_t)nbytes, POSIX_FADV_SEQUENTIAL);
        rc = c->be->ops->stats_stream(c->be, CK_F32, &src, g->rows * g->cols, &r->st, err);
        uint64_t tail = nbytes % CK_HASH_BLOCK; /* the last block, if partial, read apart */
        if (!rc && gs.digests && tail) {
            uint8_t *buf = malloc((size_t)tail);
            rc = buf ? read_at(sh, e, nbytes - tail, (size_t)tail, buf, err)
                     : ck_error_set(err, CK_E_NOMEM, NULL, e->name, -1, "out of memory");
            if (!rc) gs.digests[nblocks - 1] = ck_hash_block(buf, (size_t)tail);
            free(buf);
        }
        if (!rc && gs.digests) {
            ck_hash_add_blocks(h, gs.digests, nblocks);
            for (int i = 1; i < 3; i++)
                if (g->m[i]) {
                    ck_hash_end_member(h); /* each member's blocks count from its own start */
                    ck_hash_update(h, p[i], g->m[i]->nbytes);
                }
        }
        free(gs.digests);
        free(fsc);
        if (rc) ck_error_set(err, err->code, err->file[0] ? err->file : NULL, e->name, -1, "%s", err->msg);
        return rc;
    }
    for (int pass = 1; pass <= 2 && !rc; pass++) {
        if (pass == 2) ck_stats_begin_pass2(&r->st);
        if (pass == 2 && !ck_stats_wants_pass2(&r->st)) break; /* no histogram: one read */
        /* the codes (all but a few percent of the bytes) read ahead in whole rows; scales mapped */
        ck_preader_start(c->reader, sh->st.fd, e->file_offset, g->rows * code_row, wr * code_row, sh->st.path, e->name);
        for (uint64_t r0 = 0; r0 < g->rows && !rc; r0 += wr) {
            const uint8_t *q;
            size_t nq;
            if ((rc = ck_preader_next(c->reader, &q, &nq, err)) <= 0) {
                if (rc == 0) rc = ck_error_set(err, CK_E_IO, sh->st.path, e->name, -1, "the codes ended early");
                break;
            }
            rc = 0;
            uint64_t k = nq / code_row;
            hash_job hj = {0};
            if (pass == 1 && (flags & CK_EVAL_HASH)) hash_start(c, &hj, h, q, nq);
            if (g->fmt == CK_GROUP_MXFP4)
                rc = c->be->ops->dequant_mxfp4(c->be, q, p[1] + r0 * scale_row, c->buf, k, g->cols, err);
            else if (g->fmt == CK_GROUP_NVFP4)
                rc = c->be->ops->dequant_nvfp4(c->be, q, p[1] + r0 * scale_row, global, c->buf, k, g->cols, err);
            else
                rc = c->be->ops->dequant_fp8(c->be, e->dtype, q, fsc, c->buf, r0, k, g->cols, g->br, g->bc, err);
            if (!rc) rc = c->red->ops->stats(c->red, CK_F32, c->buf, k * g->cols, &r->st, err);
            hash_wait(&hj);
            if (g->fmt != CK_GROUP_FP8) release(c, p[1] + r0 * scale_row, k * scale_row);
        }
    }
    if (!rc) {
        ck_stats_finish(&r->st);
        for (int i = 1; i < 3 && (flags & CK_EVAL_HASH); i++)
            if (g->m[i]) {
                ck_hash_end_member(h); /* each member's blocks count from its own start */
                ck_hash_update(h, p[i], g->m[i]->nbytes);
            }
    }
    free(fsc);
    if (rc) ck_error_set(err, err->code, err->file[0] ? err->file : NULL, e->name, -1, "%s", err->msg);
    return rc;
}

/* ---- the public face ------------------------------------------------------------------------ */

ck_teval *ck_teval_new(ck_checkpoint *ck, ck_backend *be, int threads, ck_error *err)
{
    ck_teval *t = calloc(1, sizeof *t);
    if (!t) {
        ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "out of memory");
        return NULL;
    }
    t->ck = ck;
    t->be = be;
    t->page = sysconf(_SC_PAGESIZE);
    t->red = be->ops->supports(be, CK_OP_STATS, CK_F32) ? be : ck_backend_cpu_create(threads, err);
    t->buf = malloc(CK_EVAL_WINDOW * sizeof *t->buf);
    t->bounce = malloc(CK_EVAL_WINDOW * 8);
    if (!t->red || !t->buf || !t->bounce) {
        if (t->red || !err->msg[0]) ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "out of memory");
        ck_teval_free(t);
        return NULL;
    }
    return t;
}

void ck_teval_free(ck_teval *t)
{
    if (!t) return;
    if (t->red && t->red != t->be) ck_backend_destroy(t->red);
    ck_preader_free(t->reader);
    free(t->buf);
    free(t->bounce);
    free(t);
}

const ck_backend *ck_teval_reducer(const ck_teval *t) { return t->red; }

static int member_data(ck_teval *t, const ck_tgroup *g, const uint8_t *p[3], ck_error *err)
{
    for (int k = 0; k < 3; k++) {
        p[k] = NULL;
        if (g->m[k] && g->m[k]->nbytes && !(p[k] = entry_data(t, g->m[k], err))) return -1;
    }
    return 0;
}

int ck_teval_stats(ck_teval *t, const ck_tgroup *g, unsigned flags, ck_tresult *r, ck_error *err)
{
    memset(r, 0, sizeof *r);
    const ck_entry *e = g->m[0];
    ck_hash *h = ck_hash_new();
    if (!h) return ck_error_set(err, CK_E_NOMEM, NULL, e->name, -1, "out of memory");
    int rc = 0;
    if (g->fmt == CK_GROUP_RAW) {
        rc = stats_raw(t, e, flags, r, h, err);
    } else {
        const uint8_t *p[3];
        rc = member_data(t, g, p, err);
        if (!rc && e->numel) rc = stats_group(t, g, p, flags, r, h, err);
        else if (!rc) { /* empty: nothing to read */
            r->has_stats = true;
            ck_stats_init(&r->st, false);
            ck_stats_finish(&r->st);
        }
    }
    if (!rc && (flags & CK_EVAL_HASH)) r->hash = ck_hash_digest(h);
    ck_hash_free(h);
    return rc;
}

int ck_teval_decode(ck_teval *t, const ck_tgroup *g, uint64_t r0, uint64_t k, float *dst, ck_error *err)
{
    const ck_entry *e = g->m[0];
    if (r0 > g->rows || k > g->rows - r0 || (g->cols && k > CK_EVAL_WINDOW / g->cols))
        return ck_error_set(err, CK_E_USAGE, NULL, e->name, -1, "rows %" PRIu64 "+%" PRIu64 " outside the tensor or window", r0, k);
    const uint8_t *p[3];
    if (member_data(t, g, p, err) < 0) return -1;
    if (g->fmt == CK_GROUP_RAW) {
        size_t eb = ck_dtype_info(e->dtype)->bits / 8;
        if (eb == 0) return ck_error_set(err, CK_E_UNSUPPORTED, NULL, e->name, -1, "sub-byte %s cannot be read as rows", ck_dtype_name(e->dtype));
        const uint8_t *w = p[0] + r0 * g->cols * eb;
        size_t bytes = (size_t)(k * g->cols * eb);
        return t->red->ops->cast(t->red, e->dtype, aligned_window(t, w, bytes, eb), CK_F32, dst, k * g->cols, err);
    }
    size_t code_row = g->fmt == CK_GROUP_FP8 ? (size_t)g->cols : (size_t)g->cols / 2;
    size_t scale_row = g->fmt == CK_GROUP_MXFP4 ? (size_t)(g->cols + 31) / 32 : (size_t)(g->cols + 15) / 16;
    const uint8_t *q = p[0] + r0 * code_row;
    if (g->fmt == CK_GROUP_MXFP4) return t->be->ops->dequant_mxfp4(t->be, q, p[1] + r0 * scale_row, dst, k, g->cols, err);
    if (g->fmt == CK_GROUP_NVFP4) {
        float global;
        memcpy(&global, p[2], sizeof global);
        return t->be->ops->dequant_nvfp4(t->be, q, p[1] + r0 * scale_row, global, dst, k, g->cols, err);
    }
    float *fsc = scales_f32(t, g->m[1], p[1], err);
    if (!fsc) return -1;
    int rc = t->be->ops->dequant_fp8(t->be, e->dtype, q, fsc, dst, r0, k, g->cols, g->br, g->bc, err);
    free(fsc);
    return rc;
}
