#include "st_writer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"

/* Big enough that syscalls are not the cost, small enough that a streamed tensor of any size
 * never needs more than this much memory. */
#define CK_ST_STREAM_BUF (4u << 20)

#define CK_ST_METADATA_KEY "__metadata__"
#define CK_ST_MAX_EXACT (1ull << 53)

/* ---- growable text buffer ---------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const void *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[128]; /* only ever one or two numbers with at most ~20 bytes around them */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* ---- JSON strings ------------------------------------------------------------------------ */

/* Decode one UTF-8 sequence at s (strictly, as Rust's str::from_utf8: no overlongs, no
 * surrogates, nothing above U+10FFFF). Returns its length, or 0 if invalid. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) n = 2, v = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) n = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if (n > len) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return n;
}

static bool utf8_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_next(u + i, len - i, &cp);
        if (!n) return false;
        i += n;
    }
    return true;
}

/* The short escapes both serde_json and Python's json module use; 0 where there is none. */
static char short_escape(unsigned char c)
{
    switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case '\b': return 'b';
    case '\f': return 'f';
    case '\n': return 'n';
    case '\r': return 'r';
    case '\t': return 't';
    default: return 0;
    }
}

/* Escape exactly as serde_json does (the reference writer's serializer), so that headers can be
 * byte-identical: short escapes, other controls as lowercase \u00xx, DEL and UTF-8 verbatim. */
static void json_str_serde(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        size_t run = 0; /* copy stretches that need no escaping in one go: names can be long */
        while (u[run] >= 0x20 && u[run] != '"' && u[run] != '\\') run++;
        if (run) {
            sb_put(b, u, run);
            u += run - 1;
            continue;
        }
        char e = short_escape(*u);
        if (e) {
            char two[2] = {'\\', e};
            sb_put(b, two, 2);
        } else {
            sb_printf(b, "\\u%04x", *u);
        }
    }
    sb_put(b, "\"", 1);
}

/* Escape as Python's json.dumps with its default ensure_ascii=True (what huggingface_hub writes
 * the index with): everything outside printable ASCII as \uxxxx, astral planes as surrogates. */
static void json_str_ascii(sbuf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next(u + i, len - i, &cp); /* names were validated before */
        if (!n) n = 1, cp = 0xfffd;
        i += n;
        char e = cp < 0x80 ? short_escape((unsigned char)cp) : 0;
        if (e) {
            char two[2] = {'\\', e};
            sb_put(b, two, 2);
        } else if (cp >= 0x20 && cp < 0x7f) {
            char c = (char)cp;
            sb_put(b, &c, 1);
        } else if (cp < 0x10000) {
            sb_printf(b, "\\u%04x", cp);
        } else {
            cp -= 0x10000;
            sb_printf(b, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
        }
    }
    sb_put(b, "\"", 1);
}

/* ---- layout plan --------------------------------------------------------------------------- */

typedef struct {
    const ck_st_source *src;
    uint64_t nbytes;
    uint64_t begin; /* relative to the data section */
} plan_entry;

static int name_cmp(const void *pa, const void *pb)
{
    const plan_entry *a = pa, *b = pb;
    return strcmp(a->src->name, b->src->name);
}

/* The reference writer's order: dtype descending in enum order, then name ascending bytewise
 * (strcmp compares as unsigned char, which for UTF-8 is code point order). */
static int data_order_cmp(const void *pa, const void *pb)
{
    const plan_entry *a = pa, *b = pb;
    if (a->src->dtype != b->src->dtype) return a->src->dtype > b->src->dtype ? -1 : 1;
    return strcmp(a->src->name, b->src->name);
}

static int check_source(const char *path, const ck_st_source *t, uint64_t *nbytes, ck_error *err)
{
    if (!t->name) return ck_error_set(err, CK_E_USAGE, path, NULL, -1, "tensor without a name");
    if (!utf8_valid(t->name))
        return ck_error_set(err, CK_E_USAGE, path, t->name, -1, "tensor name is not valid UTF-8");
    if (strcmp(t->name, CK_ST_METADATA_KEY) == 0)
        return ck_error_set(err, CK_E_USAGE, path, t->name, -1,
                            "\"__metadata__\" is reserved and cannot name a tensor");
    if ((unsigned)t->dtype >= CK_DTYPE_COUNT)
        return ck_error_set(err, CK_E_USAGE, path, t->name, -1, "unknown dtype %d", (int)t->dtype);
    /* Readers (ours included) refuse more dims than CK_MAX_DIMS, so never write such a file. */
    if (t->ndim < 0 || t->ndim > CK_MAX_DIMS || (t->ndim > 0 && !t->shape))
        return ck_error_set(err, CK_E_USAGE, path, t->name, -1, "bad rank %d (at most %d)", t->ndim,
                            CK_MAX_DIMS);
    /* Many JSON readers (cJSON, ours, JavaScript) hold numbers as doubles: keep them exact. */
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] >= CK_ST_MAX_EXACT)
            return ck_error_set(err, CK_E_USAGE, path, t->name, -1,
                                "dimension %d is %llu, beyond 2^53 (not exact in JSON readers)", d,
                                (unsigned long long)t->shape[d]);
    int rc = ck_tensor_size(t->dtype, t->shape, t->ndim, NULL, nbytes);
    if (rc == -1)
        return ck_error_set(err, CK_E_USAGE, path, t->name, -1, "tensor size overflows 64 bits");
    if (rc == -2)
        return ck_error_set(err, CK_E_USAGE, path, t->name, -1,
                            "%s tensor does not fill a whole number of bytes", ck_dtype_name(t->dtype));
    return 0;
}

static int check_metadata(const char *path, const ck_kv *meta, size_t n_meta, ck_error *err)
{
    for (size_t i = 0; i < n_meta; i++) {
        if (!meta[i].key || !meta[i].value)
            return ck_error_set(err, CK_E_USAGE, path, CK_ST_METADATA_KEY, -1, "metadata entry %zu is NULL", i);
        if (!utf8_valid(meta[i].key) || !utf8_valid(meta[i].value))
            return ck_error_set(err, CK_E_USAGE, path, meta[i].key, -1, "metadata is not valid UTF-8");
        for (size_t j = 0; j < i; j++)
            if (strcmp(meta[i].key, meta[j].key) == 0)
                return ck_error_set(err, CK_E_USAGE, path, meta[i].key, -1, "duplicate metadata key");
    }
    return 0;
}

/* Validate every tensor, reject duplicate names, and return the entries in data order with their
 * offsets; *data_len is the size of the data section. */
static int make_plan(const char *path, const ck_st_source *tensors, size_t n, plan_entry **out,
                     uint64_t *data_len, ck_error *err)
{
    plan_entry *p = calloc(n ? n : 1, sizeof *p);
    if (!p) return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    for (size_t i = 0; i < n; i++) {
        p[i].src = &tensors[i];
        if (check_source(path, &tensors[i], &p[i].nbytes, err) < 0) goto fail;
    }
    qsort(p, n, sizeof *p, name_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(p[i - 1].src->name, p[i].src->name) == 0) {
            ck_error_set(err, CK_E_USAGE, path, p[i].src->name, -1, "duplicate tensor name");
            goto fail;
        }
    qsort(p, n, sizeof *p, data_order_cmp);
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        p[i].begin = at;
        if (__builtin_add_overflow(at, p[i].nbytes, &at) || at >= CK_ST_MAX_EXACT) {
            ck_error_set(err, CK_E_USAGE, path, p[i].src->name, -1,
                         "data offsets would pass 2^53 bytes (not exact in JSON readers)");
            goto fail;
        }
    }
    *out = p;
    *data_len = at;
    return 0;
fail:
    free(p);
    return -1;
}

/* ---- header ------------------------------------------------------------------------------ */

static int build_header(const char *path, const plan_entry *p, size_t n, const ck_kv *meta,
                        size_t n_meta, sbuf *h, ck_error *err)
{
    sb_put(h, "{", 1);
    bool first = true;
    if (meta) {
        sb_puts(h, "\"" CK_ST_METADATA_KEY "\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i) sb_put(h, ",", 1);
            json_str_serde(h, meta[i].key);
            sb_put(h, ":", 1);
            json_str_serde(h, meta[i].value);
        }
        sb_put(h, "}", 1);
        first = false;
    }
    for (size_t i = 0; i < n && !h->oom && h->len <= CK_ST_MAX_HEADER; i++) {
        const ck_st_source *t = p[i].src;
        if (!first) sb_put(h, ",", 1);
        first = false;
        json_str_serde(h, t->name);
        sb_puts(h, ":{\"dtype\":\"");
        sb_puts(h, ck_dtype_name(t->dtype));
        sb_puts(h, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) sb_printf(h, d ? ",%llu" : "%llu", (unsigned long long)t->shape[d]);
        sb_printf(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)p[i].begin,
                  (unsigned long long)(p[i].begin + p[i].nbytes));
    }
    sb_put(h, "}", 1);
    /* Spaces to a multiple of 8 so the data section starts 8-aligned, as the reference does. */
    while (h->len % 8) sb_put(h, " ", 1);
    if (h->oom) return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory building header");
    if (h->len > CK_ST_MAX_HEADER)
        return ck_error_set(err, CK_E_USAGE, path, NULL, -1,
                            "header would exceed the format's limit of %llu bytes",
                            (unsigned long long)CK_ST_MAX_HEADER);
    return 0;
}

/* ---- data -------------------------------------------------------------------------------- */

static int stream_tensor(ck_atomic_file *af, const plan_entry *e, uint64_t file_off, uint8_t **buf,
                         ck_error *err)
{
    const ck_st_source *t = e->src;
    uint64_t left = e->nbytes;
    if (left == 0) return 0;
    if (!t->data && !t->read) return ck_atomic_skip(af, left, err);
    if (t->data) {
        const uint8_t *d = t->data;
        for (uint64_t at = 0; at < left;) {
            size_t chunk = left - at > CK_ST_STREAM_BUF ? CK_ST_STREAM_BUF : (size_t)(left - at);
            if (ck_atomic_write(af, d + at, chunk, err) < 0) return -1;
            at += chunk;
        }
        return 0;
    }
    if (!*buf && !(*buf = malloc(CK_ST_STREAM_BUF)))
        return ck_error_set(err, CK_E_NOMEM, af->final_path, t->name, -1, "out of memory");
    for (uint64_t at = 0; at < left;) {
        size_t chunk = left - at > CK_ST_STREAM_BUF ? CK_ST_STREAM_BUF : (size_t)(left - at);
        memset(err, 0, sizeof *err); /* so a callback that fails without saying why is noticed */
        if (t->read(t->read_ctx, at, *buf, chunk, err) < 0) {
            if (err->code == CK_OK)
                ck_error_set(err, CK_E_IO, af->final_path, t->name, (int64_t)(file_off + at),
                             "reading the tensor's source failed");
            if (!err->file[0]) snprintf(err->file, sizeof err->file, "%s", af->final_path);
            return -1;
        }
        if (ck_atomic_write(af, *buf, chunk, err) < 0) return -1;
        at += chunk;
    }
    return 0;
}

static void put_u64_le(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(v >> (8 * i));
}

int ck_st_write_file(const char *path, const ck_st_source *tensors, size_t n,
                     const ck_kv *meta, size_t n_meta, ck_error *err)
{
    ck_error local;
    if (!err) err = &local;
    if (!meta) n_meta = 0;
    plan_entry *plan = NULL;
    uint64_t data_len;
    sbuf h = {0};
    uint8_t *buf = NULL;
    int rc = -1;
    if (check_metadata(path, meta, n_meta, err) < 0) return -1;
    if (make_plan(path, tensors, n, &plan, &data_len, err) < 0) return -1;
    if (build_header(path, plan, n, meta, n_meta, &h, err) < 0) goto out;
    uint64_t data_start = 8 + (uint64_t)h.len;
    if (data_len > (uint64_t)INT64_MAX - data_start) {
        ck_error_set(err, CK_E_USAGE, path, NULL, -1, "file would exceed the largest file offset");
        goto out;
    }

    ck_atomic_file af;
    if (ck_atomic_open(&af, path, err) < 0) goto out;
    uint8_t len_le[8];
    put_u64_le(len_le, h.len);
    if (ck_atomic_write(&af, len_le, 8, err) < 0 || ck_atomic_write(&af, h.p, h.len, err) < 0)
        goto abort;
    for (size_t i = 0; i < n; i++) {
        if (stream_tensor(&af, &plan[i], data_start + plan[i].begin, &buf, err) < 0) {
            if (!err->key[0]) ck_escape(err->key, sizeof err->key, plan[i].src->name, strlen(plan[i].src->name));
            goto abort;
        }
    }
    rc = ck_atomic_commit(&af, err);
    goto out;
abort:
    ck_atomic_abort(&af);
out:
    free(buf);
    free(h.p);
    free(plan);
    return rc;
}

/* ---- sharded checkpoints ----------------------------------------------------------------- */

typedef struct {
    size_t first; /* index into the shard-ordered tensor list */
    size_t count;
} shard_span;

/* huggingface_hub's split_state_dict_into_shards_factory, step for step: a tensor bigger than the
 * limit becomes a shard of its own at once (ahead of the shard being filled); otherwise a tensor
 * that would tip the current shard over the limit closes it first. `order` receives the tensors
 * grouped shard by shard; returns the number of shards. */
static size_t split_shards(const uint64_t *sizes, size_t n, uint64_t max, size_t *order, shard_span *spans)
{
    size_t n_shards = 0, n_ordered = 0;
    size_t *cur = order + n; /* scratch: the shard being filled, kept after the order array */
    size_t n_cur = 0;
    uint64_t cur_size = 0;
    for (size_t i = 0; i < n; i++) {
        if (sizes[i] > max) {
            spans[n_shards++] = (shard_span){n_ordered, 1};
            order[n_ordered++] = i;
            continue;
        }
        if (cur_size + sizes[i] > max && n_cur) {
            spans[n_shards++] = (shard_span){n_ordered, n_cur};
            memcpy(order + n_ordered, cur, n_cur * sizeof *cur);
            n_ordered += n_cur;
            n_cur = 0;
            cur_size = 0;
        }
        cur[n_cur++] = i;
        cur_size += sizes[i];
    }
    if (n_cur || n_shards == 0) {
        spans[n_shards++] = (shard_span){n_ordered, n_cur};
        memcpy(order + n_ordered, cur, n_cur * sizeof *cur);
    }
    return n_shards;
}

static int make_dir(const char *dir, ck_error *err)
{
    if (mkdir(dir, 0755) == 0) return 0;
    int e = errno;
    struct stat st;
    if (e == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    return ck_error_set(err, CK_E_IO, dir, NULL, -1, "cannot create directory: %s",
                        e == EEXIST ? "exists and is not a directory" : strerror(e));
}

typedef struct {
    const char *name;
    const char *file;
} map_entry;

static int map_cmp(const void *pa, const void *pb)
{
    return strcmp(((const map_entry *)pa)->name, ((const map_entry *)pb)->name);
}

/* The index as Python's json.dumps(index, indent=2) writes it (huggingface_hub), with the weight
 * map sorted by name; no trailing newline, like huggingface_hub. */
static void build_index(sbuf *b, uint64_t total, map_entry *map, size_t n)
{
    qsort(map, n, sizeof *map, map_cmp);
    sb_puts(b, "{\n  \"metadata\": {\n    \"total_size\": ");
    sb_printf(b, "%llu", (unsigned long long)total);
    sb_puts(b, "\n  },\n  \"weight_map\": {");
    for (size_t i = 0; i < n; i++) {
        sb_puts(b, i ? ",\n    " : "\n    ");
        json_str_ascii(b, map[i].name);
        sb_puts(b, ": ");
        json_str_ascii(b, map[i].file);
    }
    sb_puts(b, n ? "\n  }\n}" : "}\n}");
}

int ck_st_write_sharded(const char *dir, const ck_st_source *tensors, size_t n,
                        uint64_t max_shard_bytes, ck_error *err)
{
    ck_error local;
    if (!err) err = &local;
    static const ck_kv pt_meta[] = {{(char *)"format", (char *)"pt"}};
    int rc = -1;
    size_t cap = n ? n : 1;
    uint64_t *sizes = calloc(cap, sizeof *sizes);
    size_t *order = calloc(2 * cap, sizeof *order);
    shard_span *spans = calloc(cap, sizeof *spans);
    ck_st_source *group = calloc(cap, sizeof *group);
    map_entry *map = calloc(cap, sizeof *map);
    char **names = NULL;
    sbuf idx = {0};
    size_t n_shards = 0, written = 0;
    if (!sizes || !order || !spans || !group || !map) {
        ck_error_set(err, CK_E_NOMEM, dir, NULL, -1, "out of memory");
        goto out;
    }

    /* Refuse bad input before anything touches the disk. */
    plan_entry *plan;
    uint64_t total;
    if (make_plan(dir, tensors, n, &plan, &total, err) < 0) goto out;
    free(plan);
    for (size_t i = 0; i < n; i++) ck_tensor_size(tensors[i].dtype, tensors[i].shape, tensors[i].ndim, NULL, &sizes[i]);

    n_shards = split_shards(sizes, n, max_shard_bytes, order, spans);
    names = calloc(n_shards, sizeof *names);
    if (!names) {
        ck_error_set(err, CK_E_NOMEM, dir, NULL, -1, "out of memory");
        goto out;
    }
    for (size_t s = 0; s < n_shards; s++) {
        char file[64];
        if (n_shards == 1) snprintf(file, sizeof file, "model.safetensors");
        else snprintf(file, sizeof file, "model-%05zu-of-%05zu.safetensors", s + 1, n_shards);
        size_t len = strlen(dir) + strlen(file) + 2;
        if (!(names[s] = malloc(len))) {
            ck_error_set(err, CK_E_NOMEM, dir, NULL, -1, "out of memory");
            goto out;
        }
        snprintf(names[s], len, "%s/%s", dir, file);
    }

    if (make_dir(dir, err) < 0) goto out;
    for (; written < n_shards; written++) {
        size_t s = written;
        for (size_t k = 0; k < spans[s].count; k++) {
            size_t t = order[spans[s].first + k];
            group[k] = tensors[t];
            map[t] = (map_entry){tensors[t].name, strrchr(names[s], '/') + 1};
        }
        if (ck_st_write_file(names[s], group, spans[s].count, pt_meta, 1, err) < 0) goto out;
    }
    if (n_shards > 1) {
        build_index(&idx, total, map, n);
        if (idx.oom) {
            ck_error_set(err, CK_E_NOMEM, dir, NULL, -1, "out of memory");
            goto out;
        }
        size_t len = strlen(dir) + sizeof "/model.safetensors.index.json";
        char *path = malloc(len);
        if (!path) {
            ck_error_set(err, CK_E_NOMEM, dir, NULL, -1, "out of memory");
            goto out;
        }
        snprintf(path, len, "%s/model.safetensors.index.json", dir);
        rc = ck_atomic_write_file(path, idx.p, idx.len, err);
        free(path);
        goto out;
    }
    rc = 0;
out:
    /* Shards without their index are not a checkpoint: take back what this call wrote. */
    if (rc < 0)
        for (size_t s = 0; s < written; s++) unlink(names[s]);
    if (names)
        for (size_t s = 0; s < n_shards; s++) free(names[s]);
    free(names);
    free(idx.p);
    free(map);
    free(group);
    free(spans);
    free(order);
    free(sizes);
    return rc;
}
