/* ckdoc stats: per tensor min, max, mean, std, NaN/Inf/zero counts, an XXH3-64 content hash,
 * (kernels/hash.h), and with --histogram (JSON) 64 bins over [min, max], which cost a second read. Quantized
 * tensors are reported once per group, dequantized with their scales (MXFP4 X_blocks +
 * X_scales, or ModelOpt weight + weight_scale (E8M0); NVFP4 weight + weight_scale +
 * weight_scale_2; FP8 weight + weight_scale_inv or weight_scale). Data are streamed
 * from the mmapped shards in bounded windows, and each window's pages are released after use,
 * so memory stays bounded whatever the checkpoint's size. JSON: schema "ckdoc.stats/2"
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
#include "kernels/tensor_eval.h"

#define STATS_USAGE "usage: ckdoc stats PATH [--filter GLOB] [--json] [--histogram] [--threads N] [--backend cpu|cuda|auto]"
typedef struct {
    const char *path, *filter;
    bool json, histogram;
    int threads;
    ck_backend_kind kind;
} stats_opts;

typedef struct {
    FILE *out;
    bool json, histogram, first;
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
        if (!strcmp(a, "--histogram")) { o->histogram = true; continue; }
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

static void print_item(ctx *c, const ck_tgroup *g, const ck_tresult *r, const char *name)
{
    const ck_entry *e = g->m[0];
    const ck_tally *t = &r->st.t;
    bool some = r->has_stats && t->finite > 0;
    if (c->json) {
        fputs(c->first ? "\n" : ",\n", c->out);
        c->first = false;
        fputs("{\"name\":", c->out);
        json_str(c->out, name);
        fprintf(c->out, ",\"format\":\"%s\",\"dtype\":\"%s\",\"shape\":[", ck_group_fmt_names[g->fmt], ck_dtype_name(e->dtype));
        for (int i = 0; i < g->ndim; i++) fprintf(c->out, "%s%" PRIu64, i ? "," : "", g->shape[i]);
        fputs("],\"members\":[", c->out);
        for (int i = 0; i < 3 && g->m[i]; i++) {
            if (i) fputc(',', c->out);
            json_str(c->out, g->m[i]->name);
        }
        fprintf(c->out, "],\"hash\":\"%016" PRIx64 "\"", r->hash);
        if (!r->has_stats) {
            fputs(",\"stats\":null}", c->out);
            return;
        }
        fprintf(c->out, ",\"stats\":{\"count\":%" PRIu64 ",\"finite\":%" PRIu64 ",\"nan\":%" PRIu64 ",\"inf\":%" PRIu64
                        ",\"zero\":%" PRIu64,
                r->st.count, t->finite, t->nan, t->inf, t->zero);
        if (some)
            fprintf(c->out, ",\"min\":%.9g,\"max\":%.9g,\"mean\":%.17g,\"std\":%.17g", (double)t->min, (double)t->max,
                    r->st.mean, r->st.std);
        else fputs(",\"min\":null,\"max\":null,\"mean\":null,\"std\":null", c->out);
        if (c->histogram) {
            fputs(",\"histogram\":[", c->out);
            for (int b = 0; b < CK_HIST_BINS; b++) fprintf(c->out, "%s%" PRIu64, b ? "," : "", t->hist[b]);
            fputc(']', c->out);
        }
        fputs("}}", c->out);
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
    snprintf(type, sizeof type, "%s%s%s", ck_dtype_name(e->dtype), g->fmt == CK_GROUP_RAW ? "" : "/", g->fmt == CK_GROUP_RAW ? "" : ck_group_fmt_names[g->fmt]);
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

static bool selected(const char *filter, const ck_tgroup *g, const char *name)
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
    ctx c = {.out = stdout, .json = o.json, .histogram = o.histogram, .first = true};
    ck_backend *be = ck_backend_create(o.kind, o.threads, why, &err);
    ck_teval *ev = be ? ck_teval_new(&ck, be, o.threads, &err) : NULL;
    bool *done = calloc(ck.n_entries + 1, sizeof *done);
    if (!be || !ev || !done) {
        ck_error_format(&err, line, sizeof line);
        fprintf(stderr, "ckdoc: %s\n", done ? line : "out of memory");
        status = be ? CK_EXIT_INTERNAL : CK_EXIT_INPUT;
        goto out;
    }
    fprintf(stderr, "ckdoc: backend %s\n", why);
    if (ck_teval_reducer(ev) != be) fprintf(stderr, "ckdoc: statistics reductions run on the cpu back end\n");
    if (o.json) fprintf(c.out, "{\"schema\":\"ckdoc.stats/2\",\"tensors\":[");
    else
        fprintf(c.out, "%-56s %-14s %-18s %12s %12s %12s %12s %6s %6s %9s  %-16s\n", "name", "dtype", "shape", "min", "max",
                "mean", "std", "nan", "inf", "zeros", "hash");
    for (size_t i = 0; i < ck.n_entries; i++) {
        const ck_entry *e = &ck.entries[i];
        if (done[i] || !e->has_header) continue;
        ck_tgroup g;
        ck_tgroup_find(&ck, e, &g);
        for (int k = 1; k < 3; k++)
            if (g.m[k]) done[g.m[k] - ck.entries] = true;
        char name[1024];
        size_t nl = e->name_len;
        if (g.fmt == CK_GROUP_MXFP4 && nl > 7 && !strcmp(e->name + nl - 7, "_blocks")) nl -= 7; /* X_blocks -> X */
        snprintf(name, sizeof name, "%.*s", (int)nl, e->name);
        if (!selected(o.filter, &g, name)) continue;
        ck_tresult r;
        if (ck_teval_stats(ev, &g, CK_EVAL_HASH | (o.histogram ? CK_EVAL_HISTOGRAM : 0), &r, &err) < 0) {
            ck_error_format(&err, line, sizeof line);
            fprintf(stderr, "ckdoc: %s\n", line);
            status = CK_EXIT_INPUT;
        } else {
            print_item(&c, &g, &r, name);
        }
    }
    if (o.json) fputs(c.first ? "]}\n" : "\n]}\n", c.out);
out:
    free(done);
    ck_teval_free(ev);
    if (be) ck_backend_destroy(be);
    ck_checkpoint_close(&ck);
    return status;
}
