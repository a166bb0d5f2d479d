/* The plan replayed on the catalog, then written shard by shard. */
#include "apply.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "atomic.h"
#include "st_writer.h"

/* One tensor of the output, as the actions left it. */
typedef struct {
    const char *orig;          /* name in the input (NULL for a new tensor) */
    const char *name;          /* name in the output */
    uint32_t shard;            /* output shard (= input shard for existing tensors) */
    size_t idx;                /* index in the input shard's tensor list */
    ck_dtype src_dtype, dtype;
    int ndim;
    uint64_t src_shape[CK_MAX_DIMS], shape[CK_MAX_DIMS];
    bool is_new, dropped, transposed;
    long cast_by;              /* action that cast it, or -1 */
} rt;

typedef struct {
    char *name;
    bool is_index;
} side_file;

struct ck_repair {
    ck_checkpoint *ck;
    ck_backend *be;
    rt *t;
    size_t n, cap;
    bool *rewrite;             /* per shard */
    bool index_changed;
    side_file *side;
    size_t n_side;
    uint32_t *slots;           /* name index: open addressing, rt index + 1, 0 = empty */
    size_t slot_mask;
};

static bool rt_changed(const rt *t)
{
    return t->is_new || t->dropped || t->transposed || t->dtype != t->src_dtype || strcmp(t->name, t->orig) != 0;
}

static bool rt_data_computed(const rt *t)
{
    return !t->is_new && (t->transposed || t->dtype != t->src_dtype);
}

static uint64_t rt_bytes(const rt *t)
{
    uint64_t numel, nbytes = 0;
    ck_tensor_size(t->dtype, t->shape, t->ndim, &numel, &nbytes);
    return nbytes;
}

/* The name index. Names change as the plan renames, drops and adds tensors; instead of deleting
 * from the table, a name gets a new slot and lookups skip entries whose tensor no longer answers
 * to the name, so the table is sized for every tensor plus every action. */
static size_t name_slot(const ck_repair *r, const char *name)
{
    return (size_t)XXH3_64bits(name, strlen(name)) & r->slot_mask;
}

static void index_name(ck_repair *r, size_t i)
{
    size_t h = name_slot(r, r->t[i].name);
    while (r->slots[h]) h = (h + 1) & r->slot_mask;
    r->slots[h] = (uint32_t)(i + 1);
}

static rt *find_live(ck_repair *r, const char *name)
{
    for (size_t h = name_slot(r, name); r->slots[h]; h = (h + 1) & r->slot_mask) {
        rt *t = &r->t[r->slots[h] - 1];
        if (!t->dropped && !strcmp(t->name, name)) return t;
    }
    return NULL;
}

static int act_err(ck_error *err, const ck_rplan *p, size_t i, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int act_err(ck_error *err, const ck_rplan *p, size_t i, const char *key, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ck_error_set(err, CK_E_USAGE, p->path, key, -1, "action %zu (%s): %s", i,
                        ck_raction_names[p->actions[i].kind], msg);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const side_file *)a)->name, ((const side_file *)b)->name);
}

static bool is_shard_name(const ck_checkpoint *ck, const char *name)
{
    for (size_t s = 0; s < ck->n_shards; s++)
        if (!strcmp(ck->shards[s].name, name)) return true;
    return false;
}

static int add_side(ck_repair *r, const char *name, bool is_index, size_t *cap, ck_error *err)
{
    if (r->n_side == *cap) {
        size_t nc = *cap ? 2 * *cap : 8;
        side_file *p = realloc(r->side, nc * sizeof *p);
        if (!p) return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "out of memory");
        r->side = p;
        *cap = nc;
    }
    if (!(r->side[r->n_side].name = strdup(name))) return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "out of memory");
    r->side[r->n_side++].is_index = is_index;
    return 0;
}

/* The files beside the shards: every regular top-level file of the directory (not hidden), or for
 * a single-file checkpoint the JSON side files. */
static int list_side_files(ck_repair *r, ck_error *err)
{
    ck_checkpoint *ck = r->ck;
    size_t cap = 0;
    const char *index_base = ck->index_path ? strrchr(ck->index_path, '/') : NULL;
    index_base = index_base ? index_base + 1 : ck->index_path;
    if (ck->layout == CK_LAYOUT_FILE) {
        const ck_json_file *js[] = {&ck->config, &ck->generation_config, &ck->hf_quant_config};
        for (size_t k = 0; k < 3; k++) {
            if (!js[k]->present || !js[k]->path) continue;
            const char *b = strrchr(js[k]->path, '/');
            if (add_side(r, b ? b + 1 : js[k]->path, false, &cap, err) < 0) return -1;
        }
    } else {
        DIR *d = opendir(ck->dir);
        if (!d) return ck_error_set(err, CK_E_IO, ck->dir, NULL, -1, "cannot list the directory: %s", strerror(errno));
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.' || is_shard_name(ck, de->d_name)) continue;
            struct stat st;
            if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode)) continue;
            if (add_side(r, de->d_name, index_base && !strcmp(de->d_name, index_base), &cap, err) < 0) {
                closedir(d);
                return -1;
            }
        }
        closedir(d);
    }
    if (r->n_side) qsort(r->side, r->n_side, sizeof *r->side, name_cmp);
    return 0;
}

static size_t last_shard(const ck_checkpoint *ck)
{
    size_t best = 0;
    for (size_t s = 1; s < ck->n_shards; s++)
        if (strcmp(ck->shards[s].name, ck->shards[best].name) > 0) best = s;
    return best;
}

static int apply_action(ck_repair *r, const ck_rplan *p, size_t i, ck_error *err)
{
    const ck_raction *a = &p->actions[i];
    if (a->kind == CK_ACT_REGATHER_EP)
        return act_err(err, p, i, NULL, "regather_ep needs the other expert-parallel ranks' shards; not supported yet");
    if (a->kind == CK_ACT_RESET_EXPERT_BIAS) {
        if (find_live(r, a->key)) return act_err(err, p, i, a->key, "the tensor already exists; reset_expert_bias adds a missing one");
        if (r->n == r->cap) {
            size_t nc = r->cap ? 2 * r->cap : 16;
            rt *q = realloc(r->t, nc * sizeof *q);
            if (!q) return ck_error_set(err, CK_E_NOMEM, p->path, NULL, -1, "out of memory");
            r->t = q;
            r->cap = nc;
        }
        /* Beside its layer's router weight (…mlp.gate.weight), else in the last shard. */
        uint32_t shard = (uint32_t)last_shard(r->ck);
        const char *suffix = "e_score_correction_bias";
        size_t kl = strlen(a->key), sl = strlen(suffix);
        if (kl > sl && !strcmp(a->key + kl - sl, suffix)) {
            char *sib = malloc(kl - sl + sizeof "weight");
            if (!sib) return ck_error_set(err, CK_E_NOMEM, p->path, NULL, -1, "out of memory");
            memcpy(sib, a->key, kl - sl);
            strcpy(sib + kl - sl, "weight");
            const rt *g = find_live(r, sib);
            if (g) shard = g->shard;
            free(sib);
        }
        rt *t = &r->t[r->n++];
        memset(t, 0, sizeof *t);
        t->orig = t->name = a->key;
        t->shard = shard;
        t->src_dtype = t->dtype = a->dtype;
        t->ndim = a->ndim;
        memcpy(t->shape, a->shape, sizeof t->shape);
        memcpy(t->src_shape, a->shape, sizeof t->shape);
        t->is_new = true;
        t->cast_by = -1;
        index_name(r, r->n - 1);
        return 0;
    }
    rt *t = find_live(r, a->key);
    if (!t) return act_err(err, p, i, a->key, "no tensor of that name in the checkpoint%s", i ? " (after the earlier actions)" : "");
    switch (a->kind) {
    case CK_ACT_DROP:
        t->dropped = true;
        return 0;
    case CK_ACT_RENAME:
        if (find_live(r, a->to)) return act_err(err, p, i, a->to, "the new name is already taken");
        t->name = a->to;
        index_name(r, (size_t)(t - r->t));
        return 0;
    case CK_ACT_TRANSPOSE: {
        if (t->ndim < 2) return act_err(err, p, i, a->key, "a tensor of %d dimension%s has no last two to swap", t->ndim, t->ndim == 1 ? "" : "s");
        if (ck_dtype_info(t->src_dtype)->bits % 8)
            return act_err(err, p, i, a->key, "%s is packed below a byte; transposing it is not supported", ck_dtype_name(t->src_dtype));
        if (!t->is_new && !r->be->ops->supports(r->be, CK_OP_TRANSPOSE, t->src_dtype))
            return act_err(err, p, i, a->key, "the %s back end cannot transpose %s", r->be->ops->name, ck_dtype_name(t->src_dtype));
        uint64_t x = t->shape[t->ndim - 2];
        t->shape[t->ndim - 2] = t->shape[t->ndim - 1];
        t->shape[t->ndim - 1] = x;
        t->transposed = !t->transposed;
        return 0;
    }
    case CK_ACT_CAST:
        if (a->dtype == t->dtype) return 0;
        if (t->cast_by >= 0)
            return act_err(err, p, i, a->key, "already cast by action %ld; cast a tensor once", t->cast_by);
        if (!ck_dtype_is_float(t->src_dtype) || ck_dtype_info(t->src_dtype)->bits % 8 || ck_dtype_info(t->src_dtype)->is_quant_scale)
            return act_err(err, p, i, a->key, "cannot cast %s data (floating-point tensors only)", ck_dtype_name(t->src_dtype));
        if (!t->is_new && (!r->be->ops->supports(r->be, CK_OP_CAST, t->src_dtype) || !r->be->ops->supports(r->be, CK_OP_CAST, a->dtype)))
            return act_err(err, p, i, a->key, "the %s back end cannot cast %s to %s", r->be->ops->name,
                           ck_dtype_name(t->src_dtype), ck_dtype_name(a->dtype));
        t->dtype = a->dtype;
        t->cast_by = (long)i;
        return 0;
    default:
        return act_err(err, p, i, a->key, "not supported");
    }
}

int ck_repair_build(ck_checkpoint *ck, const ck_rplan *plan, ck_backend *be, ck_repair **out, ck_error *err)
{
    *out = NULL;
    if (ck->layout == CK_LAYOUT_INDEX_ONLY)
        return ck_error_set(err, CK_E_USAGE, ck->path, NULL, -1, "the shards are not there: nothing to repair");
    if (!ck->n_shards) return ck_error_set(err, CK_E_USAGE, ck->path, NULL, -1, "no safetensors shards to repair");
    for (size_t s = 0; s < ck->n_shards; s++) {
        if (!ck->shards[s].ok)
            return ck_error_set(err, CK_E_FORMAT, ck->shards[s].st.path ? ck->shards[s].st.path : ck->shards[s].name, NULL, -1,
                                "the shard's header is not valid (see 'ckdoc check'): cannot repair around it");
        if (strchr(ck->shards[s].name, '/'))
            return ck_error_set(err, CK_E_UNSUPPORTED, ck->path, ck->shards[s].name, -1, "shards in subdirectories are not supported");
    }
    ck_repair *r = calloc(1, sizeof *r);
    if (!r) return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "out of memory");
    r->ck = ck;
    r->be = be;
    size_t total = plan->n;
    for (size_t s = 0; s < ck->n_shards; s++) total += ck->shards[s].st.n_tensors;
    r->cap = total ? total : 1;
    r->t = calloc(r->cap, sizeof *r->t);
    r->rewrite = calloc(ck->n_shards, sizeof *r->rewrite);
    if (!r->t || !r->rewrite) {
        ck_repair_free(r);
        return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "out of memory");
    }
    for (size_t s = 0; s < ck->n_shards; s++) {
        const ck_st_file *f = &ck->shards[s].st;
        for (size_t k = 0; k < f->n_tensors; k++) {
            const ck_st_tensor *x = &f->tensors[k];
            rt *t = &r->t[r->n++];
            t->orig = t->name = x->name;
            t->shard = (uint32_t)s;
            t->idx = k;
            t->src_dtype = t->dtype = x->dtype;
            t->ndim = x->ndim;
            memcpy(t->shape, x->shape, sizeof t->shape);
            memcpy(t->src_shape, x->shape, sizeof t->shape);
            t->cast_by = -1;
        }
    }
    size_t slots = 16;
    while (slots < 2 * (r->cap + plan->n)) slots *= 2;
    r->slots = calloc(slots, sizeof *r->slots);
    if (!r->slots || r->cap >= UINT32_MAX) {
        ck_repair_free(r);
        return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "out of memory");
    }
    r->slot_mask = slots - 1;
    for (size_t i = 0; i < r->n; i++) index_name(r, i);
    for (size_t i = 0; i < plan->n; i++)
        if (apply_action(r, plan, i, err) < 0) {
            ck_repair_free(r);
            return -1;
        }
    for (size_t i = 0; i < r->n; i++) {
        rt *t = &r->t[i];
        if (!rt_changed(t)) continue;
        r->rewrite[t->shard] = true;
        if (t->is_new || t->dropped || strcmp(t->name, t->orig) != 0) r->index_changed = true;
        if (!t->is_new && !t->dropped) {
            uint64_t numel, before = 0;
            ck_tensor_size(t->src_dtype, t->src_shape, t->ndim, &numel, &before);
            if (before != rt_bytes(t)) r->index_changed = true;
        }
    }
    if (list_side_files(r, err) < 0) {
        ck_repair_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

void ck_repair_free(ck_repair *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_side; i++) free(r->side[i].name);
    free(r->side);
    free(r->rewrite);
    free(r->slots);
    free(r->t);
    free(r);
}

void ck_repair_summarize(const ck_repair *r, ck_repair_summary *s)
{
    memset(s, 0, sizeof *s);
    for (size_t k = 0; k < r->ck->n_shards; k++) {
        if (r->rewrite[k]) s->shards_rewritten++;
        else s->shards_copied++;
    }
    for (size_t i = 0; i < r->n; i++)
        if (rt_changed(&r->t[i])) s->tensors_changed++;
    for (size_t i = 0; i < r->n_side; i++)
        if (!(r->side[i].is_index && r->index_changed)) s->files_copied++;
}

static void shape_str(char *buf, size_t size, const uint64_t *shape, int ndim)
{
    size_t at = 0;
    at += (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && at < size; d++)
        at += (size_t)snprintf(buf + at, size - at, "%s%llu", d ? ", " : "", (unsigned long long)shape[d]);
    if (at < size) snprintf(buf + at, size - at, "]");
}

static void describe_tensor(const rt *t, FILE *out)
{
    char name[600], orig[600], a[200], b[200];
    ck_escape(name, sizeof name, t->name, strlen(t->name));
    ck_escape(orig, sizeof orig, t->orig, strlen(t->orig));
    if (t->dropped) {
        fprintf(out, "    drop       %s\n", orig);
        return;
    }
    if (t->is_new) {
        shape_str(a, sizeof a, t->shape, t->ndim);
        fprintf(out, "    add        %s %s %s (zeros)\n", name, ck_dtype_name(t->dtype), a);
        return;
    }
    if (strcmp(t->name, t->orig)) fprintf(out, "    rename     %s -> %s\n", orig, name);
    if (t->transposed) {
        shape_str(a, sizeof a, t->src_shape, t->ndim);
        shape_str(b, sizeof b, t->shape, t->ndim);
        fprintf(out, "    transpose  %s %s -> %s\n", name, a, b);
    }
    if (t->dtype != t->src_dtype)
        fprintf(out, "    cast       %s %s -> %s\n", name, ck_dtype_name(t->src_dtype), ck_dtype_name(t->dtype));
}

void ck_repair_describe(const ck_repair *r, const char *outdir, FILE *out)
{
    char esc[1200];
    ck_escape(esc, sizeof esc, outdir, strlen(outdir));
    fprintf(out, "repair into %s:\n", esc);
    for (size_t s = 0; s < r->ck->n_shards; s++) {
        ck_escape(esc, sizeof esc, r->ck->shards[s].name, strlen(r->ck->shards[s].name));
        if (!r->rewrite[s]) {
            fprintf(out, "  copy     %s\n", esc);
            continue;
        }
        fprintf(out, "  rewrite  %s\n", esc);
        for (size_t i = 0; i < r->n; i++)
            if (r->t[i].shard == s && rt_changed(&r->t[i])) describe_tensor(&r->t[i], out);
    }
    for (size_t i = 0; i < r->n_side; i++) {
        ck_escape(esc, sizeof esc, r->side[i].name, strlen(r->side[i].name));
        fprintf(out, "  %s  %s\n", r->side[i].is_index && r->index_changed ? "write  " : "copy   ", esc);
    }
}

/* ---- writing ------------------------------------------------------------------------------- */

static char *join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p) snprintf(p, len, "%s/%s", dir, name);
    return p;
}

/* Byte-for-byte copy through the atomic writer, keeping holes as holes. */
static int copy_file(const char *src, const char *dst, ck_error *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return ck_error_set(err, CK_E_IO, src, NULL, -1, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(in, &st) < 0) {
        int e = errno;
        close(in);
        return ck_error_set(err, CK_E_IO, src, NULL, -1, "cannot stat: %s", strerror(e));
    }
    ck_atomic_file af;
    if (ck_atomic_open(&af, dst, err) < 0) {
        close(in);
        return -1;
    }
    off_t size = st.st_size, pos = 0;
    bool use_cfr = true;
    char *buf = NULL;
    while (pos < size) {
        off_t d = lseek(in, pos, SEEK_DATA);
        if (d < 0) d = errno == ENXIO ? size : pos;
        if (d > size) d = size;
        if (d > pos && ck_atomic_skip(&af, (uint64_t)(d - pos), err) < 0) goto fail;
        pos = d;
        if (pos >= size) break;
        off_t h = lseek(in, pos, SEEK_HOLE);
        if (h < 0 || h > size) h = size;
        while (pos < h) {
            size_t want = (size_t)(h - pos > (1 << 30) ? (1 << 30) : h - pos);
            if (use_cfr) {
                off_t at = pos;
                ssize_t n = copy_file_range(in, &at, af.fd, NULL, want, 0);
                if (n > 0) {
                    pos = at;
                    continue;
                }
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP && errno != EBADF) {
                    ck_error_set(err, CK_E_IO, dst, NULL, pos, "copy failed: %s", strerror(errno));
                    goto fail;
                }
                use_cfr = false; /* fall back to read/write (also when the file shrank: n == 0) */
                if (n == 0) {
                    ck_error_set(err, CK_E_IO, src, NULL, pos, "the file shrank while being copied");
                    goto fail;
                }
            }
            if (!buf && !(buf = malloc(1 << 20))) {
                ck_error_set(err, CK_E_NOMEM, dst, NULL, -1, "out of memory");
                goto fail;
            }
            size_t chunk = want > (1 << 20) ? (1 << 20) : want;
            ssize_t n = pread(in, buf, chunk, pos);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                ck_error_set(err, CK_E_IO, src, NULL, pos, "read failed: %s", n < 0 ? strerror(errno) : "unexpected end of file");
                goto fail;
            }
            if (ck_atomic_write(&af, buf, (size_t)n, err) < 0) goto fail;
            pos += n;
        }
    }
    free(buf);
    close(in);
    return ck_atomic_commit(&af, err);
fail:
    free(buf);
    close(in);
    ck_atomic_abort(&af);
    return -1;
}

/* An unchanged tensor: bytes straight from the mapping. */
static int map_read(void *ctx, uint64_t offset, void *buf, size_t len, ck_error *err)
{
    (void)err;
    memcpy(buf, (const uint8_t *)ctx + offset, len);
    return 0;
}

#define CK_CAST_UNIT ((uint64_t)1 << 20) /* elements per cast window */

/* A transposed and/or cast tensor, computed one window at a time: one [rows, cols] matrix per
 * leading index when transposed, else CK_CAST_UNIT elements. */
typedef struct {
    ck_backend *be;
    const char *name;
    const uint8_t *src;
    ck_dtype from, to;
    bool transpose;
    uint64_t rows, cols, numel, unit, in_esz, out_esz;
    uint64_t cur;
    uint8_t *out, *tmp;
} xform;

static void xform_release(xform *x)
{
    free(x->out);
    free(x->tmp);
    x->out = x->tmp = NULL;
    x->cur = UINT64_MAX;
}

/* Cache-line aligned: the kernels store whole lines past the caches only into aligned buffers. */
static uint8_t *line_alloc(uint64_t bytes)
{
    void *p;
    return posix_memalign(&p, 64, bytes ? bytes : 1) ? NULL : p;
}

static int xform_compute(xform *x, uint64_t u, ck_error *err)
{
    if (!x->out) {
        x->out = line_alloc(x->unit * x->out_esz);
        if (x->transpose && x->from != x->to) x->tmp = line_alloc(x->unit * x->in_esz);
        if (!x->out || (x->transpose && x->from != x->to && !x->tmp))
            return ck_error_set(err, CK_E_NOMEM, NULL, x->name, -1, "out of memory for a window of %llu elements",
                                (unsigned long long)x->unit);
    }
    uint64_t e0 = u * x->unit, k = x->numel - e0 < x->unit ? x->numel - e0 : x->unit;
    const uint8_t *in = x->src + e0 * x->in_esz;
    int rc;
    if (x->transpose) {
        if (x->from == x->to) rc = x->be->ops->transpose(x->be, x->from, in, x->out, 1, x->rows, x->cols, err);
        else if ((rc = x->be->ops->transpose(x->be, x->from, in, x->tmp, 1, x->rows, x->cols, err)) == 0)
            rc = x->be->ops->cast(x->be, x->from, x->tmp, x->to, x->out, k, err);
    } else {
        rc = x->be->ops->cast(x->be, x->from, in, x->to, x->out, k, err);
    }
    if (rc < 0) {
        if (!err->key[0]) ck_error_set(err, err->code, err->file, x->name, -1, "%s", err->msg);
        return -1;
    }
    x->cur = u;
    return 0;
}

static int xform_read(void *ctx, uint64_t offset, void *buf, size_t len, ck_error *err)
{
    xform *x = ctx;
    uint8_t *dst = buf;
    uint64_t ub = x->unit * x->out_esz;
    while (len) {
        uint64_t u = offset / ub, off = offset % ub;
        if (x->cur != u && xform_compute(x, u, err) < 0) return -1;
        uint64_t k = x->numel - u * x->unit < x->unit ? x->numel - u * x->unit : x->unit;
        uint64_t avail = k * x->out_esz - off;
        size_t n = len < avail ? len : (size_t)avail;
        memcpy(dst, x->out + off, n);
        dst += n;
        offset += n;
        len -= n;
    }
    if (offset >= x->numel * x->out_esz) xform_release(x);
    return 0;
}

static int rewrite_shard(ck_repair *r, size_t s, const char *path, ck_error *err)
{
    ck_shard *sh = &r->ck->shards[s];
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->t[i].shard == s && !r->t[i].dropped) n++;
    ck_st_source *src = calloc(n ? n : 1, sizeof *src);
    xform *xs = calloc(n ? n : 1, sizeof *xs);
    if (!src || !xs) {
        free(src);
        free(xs);
        return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    }
    int rc = -1;
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        rt *t = &r->t[i];
        if (t->shard != s || t->dropped) continue;
        ck_st_source *o = &src[k];
        xform *x = &xs[k++];
        x->cur = UINT64_MAX;
        o->name = t->name;
        o->dtype = t->dtype;
        o->ndim = t->ndim;
        o->shape = t->shape;
        if (t->is_new) continue; /* zeros: a hole */
        const uint8_t *d = ck_st_data(&sh->st, t->idx, err);
        if (!d) goto out;
        if (!rt_data_computed(t)) {
            o->read = map_read;
            o->read_ctx = (void *)d;
            continue;
        }
        x->be = r->be;
        x->name = t->name;
        x->src = d;
        x->from = t->src_dtype;
        x->to = t->dtype;
        x->transpose = t->transposed;
        x->in_esz = ck_dtype_info(t->src_dtype)->bits / 8;
        x->out_esz = ck_dtype_info(t->dtype)->bits / 8;
        x->numel = sh->st.tensors[t->idx].numel;
        if (x->transpose) {
            x->rows = t->src_shape[t->ndim - 2];
            x->cols = t->src_shape[t->ndim - 1];
            x->unit = x->rows * x->cols;
        } else {
            x->unit = CK_CAST_UNIT;
        }
        if (!x->unit) x->unit = 1;
        o->read = xform_read;
        o->read_ctx = x;
    }
    const ck_kv *meta = sh->st.has_metadata ? sh->st.metadata : NULL;
    rc = ck_st_write_file(path, src, n, meta, sh->st.has_metadata ? sh->st.n_metadata : 0, err);
out:
    for (size_t j = 0; j < k; j++) xform_release(&xs[j]);
    free(xs);
    free(src);
    return rc;
}

/* JSON string as Python's json.dumps writes it (ensure_ascii). */
static int put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c), p++;
        else if (c == '\n') fputs("\\n", f), p++;
        else if (c == '\r') fputs("\\r", f), p++;
        else if (c == '\t') fputs("\\t", f), p++;
        else if (c == '\b') fputs("\\b", f), p++;
        else if (c == '\f') fputs("\\f", f), p++;
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c), p++;
        else if (c < 0x80) fputc((int)c, f), p++;
        else {
            size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
            uint32_t cp = c & (0x7fu >> n);
            for (size_t k = 1; k < n && p[k]; k++) cp = cp << 6 | (p[k] & 0x3f);
            for (size_t k = 0; k < n && *p; k++) p++;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                fprintf(f, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
            } else {
                fprintf(f, "\\u%04x", cp);
            }
        }
    }
    fputc('"', f);
    return 0;
}

typedef struct {
    const char *name, *file;
} map_row;

static int map_row_cmp(const void *a, const void *b)
{
    return strcmp(((const map_row *)a)->name, ((const map_row *)b)->name);
}

/* The index with the new weight map and total_size; other fields are kept (as Python's
 * json.dumps(indent=2) would print the top level; nested values compact). */
static int write_index(ck_repair *r, const char *path, ck_error *err)
{
    ck_checkpoint *ck = r->ck;
    FILE *in = fopen(ck->index_path, "rb");
    if (!in) return ck_error_set(err, CK_E_IO, ck->index_path, NULL, -1, "cannot open: %s", strerror(errno));
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char chunk[65536];
    size_t got;
    while (mem && (got = fread(chunk, 1, sizeof chunk, in)) > 0) fwrite(chunk, 1, got, mem);
    fclose(in);
    if (!mem || fclose(mem) != 0) {
        free(text);
        return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ck_error_set(err, CK_E_FORMAT, ck->index_path, NULL, -1, "the index is not a JSON object");
    }
    size_t n = 0;
    uint64_t total = 0;
    map_row *rows = calloc(r->n ? r->n : 1, sizeof *rows);
    if (!rows) {
        cJSON_Delete(root);
        return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    }
    for (size_t i = 0; i < r->n; i++) {
        if (r->t[i].dropped) continue;
        rows[n++] = (map_row){r->t[i].name, ck->shards[r->t[i].shard].name};
        total += rt_bytes(&r->t[i]);
    }
    qsort(rows, n, sizeof *rows, map_row_cmp);
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    if (!f) {
        free(rows);
        cJSON_Delete(root);
        return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    }
    fputs("{", f);
    bool first = true, saw_meta = false, saw_map = false;
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        if (!item->string) continue;
        if (!strcmp(item->string, "metadata") && !saw_meta) {
            saw_meta = true;
            fputs(first ? "\n  " : ",\n  ", f);
            put_json_string(f, "metadata");
            fputs(": {", f);
            bool mfirst = true, saw_total = false;
            const cJSON *m;
            if (cJSON_IsObject(item)) cJSON_ArrayForEach(m, item)
            {
                if (!m->string) continue;
                fputs(mfirst ? "\n    " : ",\n    ", f);
                mfirst = false;
                put_json_string(f, m->string);
                fputs(": ", f);
                if (!strcmp(m->string, "total_size") && !saw_total) {
                    saw_total = true;
                    fprintf(f, "%llu", (unsigned long long)total);
                } else {
                    char *v = cJSON_PrintUnformatted(m);
                    fputs(v ? v : "null", f);
                    free(v);
                }
            }
            if (!saw_total) {
                fputs(mfirst ? "\n    " : ",\n    ", f);
                mfirst = false;
                fprintf(f, "\"total_size\": %llu", (unsigned long long)total);
            }
            fputs("\n  }", f);
        } else if (!strcmp(item->string, "weight_map") && !saw_map) {
            saw_map = true;
            fputs(first ? "\n  " : ",\n  ", f);
            fputs("\"weight_map\": {", f);
            for (size_t i = 0; i < n; i++) {
                fputs(i ? ",\n    " : "\n    ", f);
                put_json_string(f, rows[i].name);
                fputs(": ", f);
                put_json_string(f, rows[i].file);
            }
            fputs(n ? "\n  }" : "}", f);
        } else {
            fputs(first ? "\n  " : ",\n  ", f);
            put_json_string(f, item->string);
            fputs(": ", f);
            char *v = cJSON_PrintUnformatted(item);
            fputs(v ? v : "null", f);
            free(v);
        }
        first = false;
    }
    fputs(first ? "}" : "\n}", f);
    int bad = fclose(f);
    free(rows);
    cJSON_Delete(root);
    if (bad || !saw_map) {
        free(out);
        return ck_error_set(err, bad ? CK_E_NOMEM : CK_E_FORMAT, bad ? path : ck->index_path, NULL, -1,
                            bad ? "out of memory" : "the index has no weight_map");
    }
    int rc = ck_atomic_write_file(path, out, out_len, err);
    free(out);
    return rc;
}

static int prepare_outdir(const char *outdir, ck_error *err)
{
    struct stat st;
    if (stat(outdir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return ck_error_set(err, CK_E_USAGE, outdir, NULL, -1, "the output exists and is not a directory");
        DIR *d = opendir(outdir);
        if (!d) return ck_error_set(err, CK_E_IO, outdir, NULL, -1, "cannot list the output directory: %s", strerror(errno));
        struct dirent *de;
        bool empty = true;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) empty = false;
        closedir(d);
        if (!empty) return ck_error_set(err, CK_E_USAGE, outdir, NULL, -1, "the output directory is not empty");
        return 0;
    }
    if (errno != ENOENT) return ck_error_set(err, CK_E_IO, outdir, NULL, -1, "cannot stat the output: %s", strerror(errno));
    if (mkdir(outdir, 0755) < 0) return ck_error_set(err, CK_E_IO, outdir, NULL, -1, "cannot create the output directory: %s", strerror(errno));
    return 0;
}

int ck_repair_write(ck_repair *r, const char *outdir, ck_error *err)
{
    if (prepare_outdir(outdir, err) < 0) return -1;
    ck_checkpoint *ck = r->ck;
    for (size_t s = 0; s < ck->n_shards; s++) {
        char *dst = join(outdir, ck->shards[s].name);
        if (!dst) return ck_error_set(err, CK_E_NOMEM, outdir, NULL, -1, "out of memory");
        int rc = r->rewrite[s] ? rewrite_shard(r, s, dst, err) : copy_file(ck->shards[s].st.path, dst, err);
        free(dst);
        if (rc < 0) return -1;
    }
    for (size_t i = 0; i < r->n_side; i++) {
        char *dst = join(outdir, r->side[i].name);
        char *src = join(ck->dir, r->side[i].name);
        int rc;
        if (!dst || !src) rc = ck_error_set(err, CK_E_NOMEM, outdir, NULL, -1, "out of memory");
        else if (r->side[i].is_index && r->index_changed) rc = write_index(r, dst, err);
        else rc = copy_file(src, dst, err);
        free(dst);
        free(src);
        if (rc < 0) return -1;
    }
    return 0;
}
