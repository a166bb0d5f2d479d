/* ckdoc stats: per tensor min, max, mean, std, NaN/Inf/zero counts, a 64-bin histogram and an
 * XXH3-64 content hash. Quantized tensors are reported once per group, dequantized with their
 * scales (MXFP4 X_blocks + X_scales, or ModelOpt weight + weight_scale (E8M0); NVFP4 weight +
 * weight_scale + weight_scale_2; FP8 weight + weight_scale_inv or weight_scale). Data are streamed
 * from the mmapped shards in bounded windows, and each window's pages are released after use,
 * so memory stays bounded whatever the checkpoint's size. JSON: schema "ckdoc.stats/1"
 * (docs/stats.md). The output is a function of the files alone: the back end and the thread count
 * change neither the numbers nor the bytes printed (they are named on stderr only). */
#include <fnmatch.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ckdoc.h"
#include "inspect/checkpoint.h"
#include "kernels/backend.h"
#include "kernels/hash.h"

#define STATS_USAGE "usage: ckdoc stats PATH [--filter GLOB] [--json] [--threads N] [--backend cpu|cuda|auto]"
#define WINDOW_ELEMS ((uint64_t)16 << 20) /* decoded f32 per window: 64 MiB */

typedef enum { FMT_RAW, FMT_MXFP4, FMT_NVFP4, FMT_FP8 } group_fmt;
static const char *const fmt_names[] = {[FMT_RAW] = "raw", [FMT_MXFP4] = "mxfp4", [FMT_NVFP4] = "nvfp4", [FMT_FP8] = "fp8"};

/* One reported item: a plain tensor, or a quantized tensor with its scales. */
typedef struct {
    group_fmt fmt;
    const ck_entry *m[3];      /* data, scale, global scale (NULL where absent) */
    uint64_t rows, cols;       /* logical (dequantized) matrix */
    uint64_t br, bc;           /* FP8 scale block */
    int ndim;
    uint64_t shape[CK_MAX_DIMS];
} group;

typedef struct {
    const char *path, *filter;
    bool json;
    int threads;
    ck_backend_kind kind;
} stats_opts;

typedef struct {
    ck_checkpoint *ck;
    ck_backend *be, *red;      /* `red` reduces (the CPU when `be` cannot) */
    float *buf;                /* WINDOW_ELEMS decoded values */
    uint8_t *bounce;           /* aligned copy of a window whose source is misaligned */
    FILE *out;
    bool json, first;
    long page;
} ctx;

static int usage_error(const char *fmt, const char *arg)
{
    fputs("ckdoc: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n" STATS_USAGE "\nckdoc: try 'ckdoc --help'\n");
    return CK_EXIT_INPUT;
}

static int parse_args(int argc, char **argv, stats_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf(STATS_USAGE "\n");
            return CK_EXIT_OK;
        }
        if (!strcmp(a, "--json")) { o->json = true; continue; }
        static const char *const valued[] = {"--filter", "--threads", "--backend"};
        size_t k = 0;
        for (; k < 3; k++) {
            size_t len = strlen(valued[k]);
            if (!strcmp(a, valued[k])) {
                if (i + 1 >= argc) return usage_error("option '%s' needs a value", a);
                val = argv[++i];
                break;
            }
            if (!strncmp(a, valued[k], len) && a[len] == '=') { val = a + len + 1; break; }
        }
        if (k == 3) {
            if (a[0] == '-' && a[1]) return usage_error("unknown option '%s'", a);
            if (o->path) return usage_error("more than one PATH ('%s')", a);
            o->path = a;
            continue;
        }
        if (k == 0) o->filter = val;
        else if (k == 1) {
            char *end;
            long n = strtol(val, &end, 10);
            if (*end || n < 1 || n > 1024) return usage_error("--threads takes a number from 1 to 1024, not '%s'", val);
            o->threads = (int)n;
        } else if (!ck_backend_kind_parse(val, &o->kind)) {
            return usage_error("--backend takes cpu, cuda or auto, not '%s'", val);
        }
    }
    if (!o->path) return usage_error("%s", "missing PATH");
    return -1;
}

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

/* Decide what `e` heads: returns true and fills g for a quantized group whose shapes agree. */
static bool find_group(const ck_checkpoint *ck, const ck_entry *e, group *g)
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
        g->fmt = FMT_MXFP4;
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
            g->fmt = FMT_NVFP4, g->m[2] = sc2;
        else if (is_e8m0_like(sc->dtype) && !sc2 && sl == (cols + 31) / 32)
            g->fmt = FMT_MXFP4;
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
            g->br = (rows + s->shape[0] - 1) / s->shape[0];
            g->bc = (last + s->shape[1] - 1) / s->shape[1];
            if ((rows + g->br - 1) / g->br != s->shape[0] || (last + g->bc - 1) / g->bc != s->shape[1]) return false;
        } else {
            return false;
        }
        g->fmt = FMT_FP8;
        g->m[1] = s;
        return true;
    }
    return false;
}

/* ---- data access -------------------------------------------------------------------------- */

static const uint8_t *entry_data(ctx *c, const ck_entry *e, ck_error *err)
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
    return ck_st_data(&sh->st, (size_t)i, err);
}

/* Drop a window's pages from our mapping once read: the file stays cached by the kernel, but this
 * process never holds more than a window of it. */
static void release(ctx *c, const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(c->page - 1), b = (uintptr_t)p + len;
    if (len) madvise((void *)a, b - a, MADV_DONTNEED);
}

/* A window of raw elements, aligned for the element type (safetensors does not promise it). */
static const void *aligned_window(ctx *c, const uint8_t *p, size_t bytes, size_t align)
{
    if (align <= 1 || (uintptr_t)p % align == 0) return p;
    memcpy(c->bounce, p, bytes);
    return c->bounce;
}

/* Scales as aligned F32 (they may be stored F32, BF16 or F16, at any offset). */
static float *scales_f32(ctx *c, const ck_entry *s, const uint8_t *p, ck_error *err)
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

/* ---- one item ------------------------------------------------------------------------------- */

typedef struct {
    bool has_stats;
    ck_stats st;
    uint64_t hash;
    const char *why_no_stats;
} result;

static int stats_raw(ctx *c, const ck_entry *e, const uint8_t *p, result *r, ck_hash *h, ck_error *err)
{
    size_t eb = ck_dtype_info(e->dtype)->bits / 8;
    r->has_stats = c->red->ops->supports(c->red, CK_OP_STATS, e->dtype);
    if (!r->has_stats) {
        r->why_no_stats = "no statistics for this dtype";
        for (uint64_t off = 0; off < e->nbytes; off += WINDOW_ELEMS * 4) {
            size_t k = (size_t)(e->nbytes - off < WINDOW_ELEMS * 4 ? e->nbytes - off : WINDOW_ELEMS * 4);
            ck_hash_update(h, p + off, k);
            release(c, p + off, k);
        }
        return 0;
    }
    ck_stats_init(&r->st);
    for (int pass = 1; pass <= 2; pass++) {
        if (pass == 2) ck_stats_begin_pass2(&r->st);
        for (uint64_t i = 0; i < e->numel; i += WINDOW_ELEMS) {
            uint64_t k = e->numel - i < WINDOW_ELEMS ? e->numel - i : WINDOW_ELEMS;
            const uint8_t *w = p + i * eb;
            if (pass == 1) ck_hash_update(h, w, (size_t)(k * eb));
            if (c->red->ops->stats(c->red, e->dtype, aligned_window(c, w, (size_t)(k * eb), eb), k, &r->st, err)) return -1;
            release(c, w, (size_t)(k * eb));
        }
    }
    ck_stats_finish(&r->st);
    return 0;
}

static int stats_group(ctx *c, const group *g, const uint8_t *const p[3], result *r, ck_hash *h, ck_error *err)
{
    float *fsc = NULL, global = 0;
    if (g->fmt == FMT_FP8 && !(fsc = scales_f32(c, g->m[1], p[1], err))) return -1;
    if (g->fmt == FMT_NVFP4) memcpy(&global, p[2], sizeof global);
    uint64_t wr = g->cols ? WINDOW_ELEMS / g->cols : 1;
    if (wr == 0) wr = 1;
    if (g->cols > WINDOW_ELEMS) { /* one row larger than a window: refuse rather than blow the bound */
        free(fsc);
        return ck_error_set(err, CK_E_UNSUPPORTED, NULL, g->m[0]->name, -1, "rows of %" PRIu64 " elements are too long",
                            g->cols);
    }
    size_t code_row = g->fmt == FMT_FP8 ? (size_t)g->cols : (size_t)g->cols / 2;
    size_t scale_row = g->fmt == FMT_MXFP4 ? (size_t)(g->cols + 31) / 32 : (size_t)(g->cols + 15) / 16;
    ck_stats_init(&r->st);
    r->has_stats = true;
    int rc = 0;
    for (int pass = 1; pass <= 2 && !rc; pass++) {
        if (pass == 2) ck_stats_begin_pass2(&r->st);
        for (uint64_t r0 = 0; r0 < g->rows && !rc; r0 += wr) {
            uint64_t k = g->rows - r0 < wr ? g->rows - r0 : wr;
            const uint8_t *q = p[0] + r0 * code_row;
            if (pass == 1) ck_hash_update(h, q, k * code_row);
            if (g->fmt == FMT_MXFP4)
                rc = c->be->ops->dequant_mxfp4(c->be, q, p[1] + r0 * scale_row, c->buf, k, g->cols, err);
            else if (g->fmt == FMT_NVFP4)
                rc = c->be->ops->dequant_nvfp4(c->be, q, p[1] + r0 * scale_row, global, c->buf, k, g->cols, err);
            else
                rc = c->be->ops->dequant_fp8(c->be, g->m[0]->dtype, q, fsc, c->buf, r0, k, g->cols, g->br, g->bc, err);
            if (!rc) rc = c->red->ops->stats(c->red, CK_F32, c->buf, k * g->cols, &r->st, err);
            release(c, q, k * code_row);
        }
    }
    if (!rc) {
        ck_stats_finish(&r->st);
        for (int i = 1; i < 3; i++)
            if (g->m[i]) ck_hash_update(h, p[i], g->m[i]->nbytes);
    }
    free(fsc);
    if (rc) ck_error_set(err, err->code, err->file[0] ? err->file : NULL, g->m[0]->name, -1, "%s", err->msg);
    return rc;
}

/* ---- output ---------------------------------------------------------------------------------- */

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) fprintf(out, "\\u%04x", *p);
        else fputc(*p, out);
    }
    fputc('"', out);
}

static void print_item(ctx *c, const group *g, const result *r, const char *name)
{
    const ck_entry *e = g->m[0];
    const ck_tally *t = &r->st.t;
    bool some = r->has_stats && t->finite > 0;
    if (c->json) {
        fputs(c->first ? "\n" : ",\n", c->out);
        c->first = false;
        fputs("{\"name\":", c->out);
        json_str(c->out, name);
        fprintf(c->out, ",\"format\":\"%s\",\"dtype\":\"%s\",\"shape\":[", fmt_names[g->fmt], ck_dtype_name(e->dtype));
        for (int i = 0; i < g->ndim; i++) fprintf(c->out, "%s%" PRIu64, i ? "," : "", g->shape[i]);
        fputs("],\"members\":[", c->out);
        for (int i = 0; i < 3 && g->m[i]; i++) {
            if (i) fputc(',', c->out);
            json_str(c->out, g->m[i]->name);
        }
        fprintf(c->out, "],\"xxh3\":\"%016" PRIx64 "\"", r->hash);
        if (!r->has_stats) {
            fputs(",\"stats\":null}", c->out);
            return;
        }
        fprintf(c->out, ",\"stats\":{\"count\":%" PRIu64 ",\"finite\":%" PRIu64 ",\"nan\":%" PRIu64 ",\"inf\":%" PRIu64
                        ",\"zero\":%" PRIu64,
                r->st.count, t->finite, t->nan, t->inf, t->zero);
        if (some)
            fprintf(c->out, ",\"min\":%.9g,\"max\":%.9g,\"mean\":%.17g,\"std\":%.17g,\"histogram\":[", (double)t->min,
                    (double)t->max, r->st.mean, r->st.std);
        else fputs(",\"min\":null,\"max\":null,\"mean\":null,\"std\":null,\"histogram\":[", c->out);
        for (int b = 0; b < CK_HIST_BINS; b++) fprintf(c->out, "%s%" PRIu64, b ? "," : "", t->hist[b]);
        fputs("]}}", c->out);
        return;
    }
    char shape[160] = "[";
    for (int i = 0; i < g->ndim; i++) {
        size_t l = strlen(shape);
        snprintf(shape + l, sizeof shape - l, "%s%" PRIu64, i ? "," : "", g->shape[i]);
    }
    strncat(shape, "]", sizeof shape - strlen(shape) - 1);
    char esc[512], type[32];
    ck_escape(esc, sizeof esc, name, strlen(name));
    snprintf(type, sizeof type, "%s%s%s", ck_dtype_name(e->dtype), g->fmt == FMT_RAW ? "" : "/", g->fmt == FMT_RAW ? "" : fmt_names[g->fmt]);
    fprintf(c->out, "%-56s %-14s %-18s ", esc, type, shape);
    if (!r->has_stats) fprintf(c->out, "%12s %12s %12s %12s %6s %6s %9s", "-", "-", "-", "-", "-", "-", "-");
    else if (!some)
        fprintf(c->out, "%12s %12s %12s %12s %6" PRIu64 " %6" PRIu64 " %9" PRIu64, "-", "-", "-", "-", t->nan, t->inf, t->zero);
    else
        fprintf(c->out, "%12.5g %12.5g %12.5g %12.5g %6" PRIu64 " %6" PRIu64 " %9" PRIu64, (double)t->min, (double)t->max,
                r->st.mean, r->st.std, t->nan, t->inf, t->zero);
    fprintf(c->out, "  %016" PRIx64 "\n", r->hash);
}

/* ---- the command --------------------------------------------------------------------------- */

static bool selected(const char *filter, const group *g, const char *name)
{
    if (!filter || !fnmatch(filter, name, 0)) return true;
    for (int i = 0; i < 3 && g->m[i]; i++)
        if (!fnmatch(filter, g->m[i]->name, 0)) return true;
    return false;
}

int ck_cmd_stats(int argc, char **argv)
{
    stats_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;

    char line[2048], why[256] = "";
    ck_error err;
    ck_checkpoint ck;
    if (ck_checkpoint_open(o.path, 0, &ck, &err) < 0) {
        ck_error_format(&err, line, sizeof line);
        fprintf(stderr, "ckdoc: %s\n", line);
        return CK_EXIT_INPUT;
    }
    int status = CK_EXIT_OK;
    for (size_t i = 0; i < ck.n_problems; i++) {
        ck_error_format(&ck.problems[i], line, sizeof line);
        fprintf(stderr, "ckdoc: %s\n", line);
        status = CK_EXIT_INPUT;
    }
    ctx c = {.ck = &ck, .out = stdout, .json = o.json, .first = true, .page = sysconf(_SC_PAGESIZE)};
    c.be = ck_backend_create(o.kind, o.threads, why, &err);
    if (!c.be) {
        ck_error_format(&err, line, sizeof line);
        fprintf(stderr, "ckdoc: %s\n", line);
        ck_checkpoint_close(&ck);
        return CK_EXIT_INPUT;
    }
    fprintf(stderr, "ckdoc: backend %s\n", why);
    c.red = c.be->ops->supports(c.be, CK_OP_STATS, CK_F32) ? c.be : ck_backend_cpu_create(o.threads, &err);
    if (c.red != c.be) fprintf(stderr, "ckdoc: statistics reductions run on the cpu back end\n");
    c.buf = malloc(WINDOW_ELEMS * sizeof *c.buf);
    c.bounce = malloc(WINDOW_ELEMS * 8);
    bool *done = calloc(ck.n_entries + 1, sizeof *done);
    if (!c.red || !c.buf || !c.bounce || !done) {
        fprintf(stderr, "ckdoc: out of memory\n");
        status = CK_EXIT_INTERNAL;
        goto out;
    }
    if (o.json) fprintf(c.out, "{\"schema\":\"ckdoc.stats/1\",\"tensors\":[");
    else
        fprintf(c.out, "%-56s %-14s %-18s %12s %12s %12s %12s %6s %6s %9s  %-16s\n", "name", "dtype", "shape", "min", "max",
                "mean", "std", "nan", "inf", "zeros", "xxh3");
    for (size_t i = 0; i < ck.n_entries; i++) {
        const ck_entry *e = &ck.entries[i];
        if (done[i] || !e->has_header) continue;
        group g;
        if (!find_group(&ck, e, &g)) {
            memset(&g, 0, sizeof g);
            g.m[0] = e;
            g.ndim = e->ndim;
            memcpy(g.shape, e->shape, (size_t)e->ndim * sizeof *e->shape);
        }
        for (int k = 1; k < 3; k++)
            if (g.m[k]) done[g.m[k] - ck.entries] = true;
        char name[1024];
        size_t nl = e->name_len;
        if (g.fmt == FMT_MXFP4 && nl > 7 && !strcmp(e->name + nl - 7, "_blocks")) nl -= 7; /* X_blocks -> X */
        snprintf(name, sizeof name, "%.*s", (int)nl, e->name);
        if (!selected(o.filter, &g, name)) continue;

        const uint8_t *p[3] = {NULL, NULL, NULL};
        result r = {0};
        ck_hash *h = ck_hash_new();
        int bad = !h;
        for (int k = 0; k < 3 && !bad; k++)
            if (g.m[k] && g.m[k]->nbytes && !(p[k] = entry_data(&c, g.m[k], &err))) bad = 1;
        if (!bad && e->numel) bad = g.fmt == FMT_RAW ? stats_raw(&c, e, p[0], &r, h, &err) : stats_group(&c, &g, p, &r, h, &err);
        else if (!bad) { /* empty tensor: nothing to read */
            r.has_stats = c.red->ops->supports(c.red, CK_OP_STATS, e->dtype);
            ck_stats_init(&r.st);
            ck_stats_begin_pass2(&r.st);
            ck_stats_finish(&r.st);
        }
        if (bad) {
            if (h) {
                ck_error_format(&err, line, sizeof line);
                fprintf(stderr, "ckdoc: %s\n", line);
            } else fprintf(stderr, "ckdoc: out of memory\n");
            status = CK_EXIT_INPUT;
        } else {
            r.hash = ck_hash_digest(h);
            print_item(&c, &g, &r, name);
        }
        if (h) ck_hash_free(h);
    }
    if (o.json) fputs(c.first ? "]}\n" : "\n]}\n", c.out);
out:
    free(done);
    free(c.buf);
    free(c.bounce);
    if (c.red && c.red != c.be) ck_backend_destroy(c.red);
    ck_backend_destroy(c.be);
    ck_checkpoint_close(&ck);
    return status;
}
