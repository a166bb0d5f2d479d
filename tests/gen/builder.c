/* The fixture tensor list and the edits the broken variants make to it. Writing is in write.c. */
#include "builder.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: a fixed, documented hash, so a tensor's bytes depend on its name and nothing else. */
uint64_t ckg_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

void ckg_model_init(ckg_model *m) { memset(m, 0, sizeof *m); }

void ckg_model_free(ckg_model *m)
{
    for (size_t i = 0; i < m->n; i++) free(m->t[i].name);
    free(m->t);
    for (size_t i = 0; i < m->n_side; i++) {
        free(m->side[i].name);
        free(m->side[i].text);
    }
    free(m->side);
    memset(m, 0, sizeof *m);
}

static ckg_tensor *fail(ckg_model *m)
{
    m->failed = true;
    memset(&m->sink, 0, sizeof m->sink);
    return &m->sink;
}

static ckg_tensor *add_v(ckg_model *m, ck_dtype dtype, int ndim, const uint64_t *shape, const char *fmt, va_list ap)
{
    if (ndim < 0 || ndim > CKG_MAX_DIMS) return fail(m);
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 256;
        ckg_tensor *t = realloc(m->t, cap * sizeof *t);
        if (!t) return fail(m);
        m->t = t;
        m->cap = cap;
    }
    char *name;
    if (vasprintf(&name, fmt, ap) < 0) return fail(m);
    ckg_tensor *t = &m->t[m->n++];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->fill = CKG_FILL_WEIGHT;
    /* 1/sqrt(fan_in) keeps activations at unit scale, like a trained layer's init (IEEE sqrt
     * is correctly rounded, so this is the same number everywhere). */
    uint64_t fan_in = ndim && shape[ndim - 1] ? shape[ndim - 1] : 1;
    t->std = 1.0 / sqrt((double)fan_in);
    t->seed = ckg_hash(name);
    return t;
}

ckg_tensor *ckg_add(ckg_model *m, ck_dtype dtype, int ndim, const uint64_t *shape, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ckg_tensor *t = add_v(m, dtype, ndim, shape, fmt, ap);
    va_end(ap);
    return t;
}

ckg_tensor *ckg_add_norm(ckg_model *m, ck_dtype dtype, uint64_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ckg_tensor *t = add_v(m, dtype, 1, &n, fmt, ap);
    va_end(ap);
    t->fill = CKG_FILL_NORM;
    return t;
}

void ckg_linear(ckg_model *m, ckg_quant q, uint64_t out, uint64_t in, const char *fmt, ...)
{
    char *prefix;
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&prefix, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        m->failed = true;
        return;
    }
    ckg_tensor *t;
    switch (q) {
    case CKG_Q_BF16:
        ckg_add(m, CK_BF16, CKG_SHAPE(out, in), "%s.weight", prefix);
        break;
    case CKG_Q_FP8_BLOCK: {
        /* FP8 codes span the format (|w| up to 448, as a per-block amax scaling gives); the F32
         * inverse scale brings them back to ~1/sqrt(in). */
        t = ckg_add(m, CK_F8_E4M3, CKG_SHAPE(out, in), "%s.weight", prefix);
        double wstd = t->std;
        t->std = 112.0;
        t = ckg_add(m, CK_F32, CKG_SHAPE((out + 127) / 128, (in + 127) / 128), "%s.weight_scale_inv", prefix);
        t->fill = CKG_FILL_POS;
        t->std = wstd / 112.0;
        break;
    }
    case CKG_Q_NVFP4:
        t = ckg_add(m, CK_U8, CKG_SHAPE(out, in / 2), "%s.weight", prefix);
        t->fill = CKG_FILL_BYTES;
        t = ckg_add(m, CK_F8_E4M3, CKG_SHAPE(out, in / 16), "%s.weight_scale", prefix);
        t->fill = CKG_FILL_POS;
        t->std = 1.0; /* block scales near 1: E4M3 has room both ways */
        t = ckg_add(m, CK_F32, CKG_SCALAR, "%s.weight_scale_2", prefix);
        t->fill = CKG_FILL_POS;
        t->std = 1.0 / 256;
        t = ckg_add(m, CK_F32, CKG_SCALAR, "%s.input_scale", prefix);
        t->fill = CKG_FILL_POS;
        t->std = 1.0 / 512;
        break;
    }
    free(prefix);
}

void ckg_set_side_file(ckg_model *m, const char *name, char *text)
{
    if (!text) {
        m->failed = true;
        return;
    }
    ckg_side_file *f = ckg_side_file_find(m, name);
    if (f) {
        free(f->text);
    } else {
        ckg_side_file *s = realloc(m->side, (m->n_side + 1) * sizeof *s);
        char *dup = strdup(name);
        if (!s || !dup) {
            if (s) m->side = s;
            free(dup);
            free(text);
            m->failed = true;
            return;
        }
        m->side = s;
        f = &m->side[m->n_side++];
        f->name = dup;
    }
    f->text = text;
    f->len = strlen(text);
}

ckg_side_file *ckg_side_file_find(ckg_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_side; i++)
        if (!strcmp(m->side[i].name, name)) return &m->side[i];
    return NULL;
}

ckg_tensor *ckg_find(ckg_model *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->t[i].name, name)) return &m->t[i];
    return NULL;
}

int ckg_remove(ckg_model *m, const char *name)
{
    ckg_tensor *t = ckg_find(m, name);
    if (!t) return -1;
    free(t->name);
    size_t i = (size_t)(t - m->t);
    memmove(&m->t[i], &m->t[i + 1], (m->n - i - 1) * sizeof *t);
    m->n--;
    return 0;
}

int ckg_transpose(ckg_model *m, const char *name)
{
    ckg_tensor *t = ckg_find(m, name);
    if (!t || t->ndim < 2) return -1;
    uint64_t a = t->shape[t->ndim - 2];
    t->shape[t->ndim - 2] = t->shape[t->ndim - 1];
    t->shape[t->ndim - 1] = a;
    t->transposed = !t->transposed;
    return 0;
}

int ckg_reshape(ckg_model *m, const char *name, int ndim, const uint64_t *shape)
{
    ckg_tensor *t = ckg_find(m, name);
    if (!t || ndim < 0 || ndim > CKG_MAX_DIMS) return -1;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->transposed = false;
    return 0;
}

int ckg_copy_bytes(ckg_model *m, const char *dst, const char *src)
{
    ckg_tensor *d = ckg_find(m, dst), *s = ckg_find(m, src);
    if (!d || !s) return -1;
    char *keep = d->name;
    *d = *s;
    d->name = keep;
    return 0;
}

/* Split "<head>.experts.<id>.<tail>" at the id: returns the id, or -1 if the name has none. */
static long expert_id(const char *name, size_t *id_at, size_t *id_len)
{
    const char *p = strstr(name, ".experts.");
    if (!p) return -1;
    p += strlen(".experts.");
    char *end;
    long id = strtol(p, &end, 10);
    if (end == p || *end != '.') return -1;
    *id_at = (size_t)(p - name);
    *id_len = (size_t)(end - p);
    return id;
}

/* `name` with its expert id replaced by `id`; NULL on allocation failure. */
static char *with_expert(const char *name, size_t id_at, size_t id_len, unsigned id)
{
    char *out;
    if (asprintf(&out, "%.*s%u%s", (int)id_at, name, id, name + id_at + id_len) < 0) return NULL;
    return out;
}

size_t ckg_dup_expert(ckg_model *m, const char *prefix, unsigned a, unsigned b)
{
    size_t changed = 0;
    for (size_t i = 0; i < m->n; i++) {
        size_t at, len;
        if (strncmp(m->t[i].name, prefix, strlen(prefix)) != 0) continue;
        if (expert_id(m->t[i].name, &at, &len) != (long)b) continue;
        char *src = with_expert(m->t[i].name, at, len, a);
        if (!src) {
            m->failed = true;
            continue;
        }
        if (ckg_copy_bytes(m, m->t[i].name, src) == 0) changed++;
        free(src);
    }
    return changed;
}

size_t ckg_ep_collide(ckg_model *m, const char *prefix, unsigned n_experts, unsigned ep)
{
    unsigned local = n_experts / ep, last_rank_base = (ep - 1) * local;
    size_t removed = 0, i = 0;
    while (i < m->n) {
        ckg_tensor *t = &m->t[i];
        size_t at, len;
        long id = strncmp(t->name, prefix, strlen(prefix)) ? -1 : expert_id(t->name, &at, &len);
        if (id < 0) {
            i++;
            continue;
        }
        if (id >= (long)local) {
            ckg_remove(m, t->name);
            removed++;
            continue;
        }
        char *global = with_expert(t->name, at, len, last_rank_base + (unsigned)id);
        if (!global) m->failed = true;
        else t->seed = ckg_hash(global);
        free(global);
        i++;
    }
    return removed;
}
