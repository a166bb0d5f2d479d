/* ckdoc ls: the catalog as an aligned table or as JSON (schema "ckdoc.ls/1", docs/ls.md), then
 * the summary. Output is a function of the files alone, so two listings diff cleanly. A
 * checkpoint with problems is still listed; the problems go to stderr and the exit status is 2. */
#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckdoc.h"
#include "inspect/checkpoint.h"
#include "inspect/summary.h"

#define LS_USAGE "usage: ckdoc ls PATH [--json] [--filter GLOB] [--sort key|size|shard] [--index-only]"

enum { SORT_KEY, SORT_SIZE, SORT_SHARD };

typedef struct {
    const char *path, *filter;
    int sort;
    bool json, index_only;
} ls_opts;

static int usage_error(const char *fmt, const char *arg)
{
    fputs("ckdoc: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n" LS_USAGE "\nckdoc: try 'ckdoc --help'\n");
    return CK_EXIT_INPUT;
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, ls_opts *o)
{
    static const char *const sorts[] = {"key", "size", "shard"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf(LS_USAGE "\n");
            return CK_EXIT_OK;
        }
        if (!strcmp(a, "--json")) { o->json = true; continue; }
        if (!strcmp(a, "--index-only")) { o->index_only = true; continue; }
        if (!strcmp(a, "--filter") || !strcmp(a, "--sort")) {
            if (i + 1 >= argc) return usage_error("option '%s' needs a value", a);
            val = argv[++i];
        } else if (!strncmp(a, "--filter=", 9) || !strncmp(a, "--sort=", 7)) {
            val = strchr(a, '=') + 1;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s'", a);
        } else {
            if (o->path) return usage_error("more than one PATH ('%s')", a);
            o->path = a;
            continue;
        }
        if (a[2] == 'f') { o->filter = val; continue; }
        size_t k = 0;
        while (k < sizeof sorts / sizeof *sorts && strcmp(sorts[k], val)) k++;
        if (k == sizeof sorts / sizeof *sorts) return usage_error("--sort takes key, size or shard, not '%s'", val);
        o->sort = (int)k;
    }
    if (!o->path) return usage_error("%s", "missing PATH");
    return -1;
}

/* ---- ordering ---------------------------------------------------------------------------- */

static int cmp_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

/* Catalog position breaks every tie: the catalog is already in name order. */
static int cmp_pos(const ck_entry *a, const ck_entry *b) { return (a > b) - (a < b); }

static int by_size(const void *pa, const void *pb)
{
    const ck_entry *a = *(const ck_entry *const *)pa, *b = *(const ck_entry *const *)pb;
    if (a->has_header != b->has_header) return a->has_header ? -1 : 1; /* unknown sizes last */
    int r = cmp_u64(b->nbytes, a->nbytes);
    return r ? r : cmp_pos(a, b);
}

static int by_shard(const void *pa, const void *pb)
{
    const ck_entry *a = *(const ck_entry *const *)pa, *b = *(const ck_entry *const *)pb;
    int r = cmp_u64(a->shard, b->shard);
    if (!r) r = cmp_u64(a->file_offset, b->file_offset);
    return r ? r : cmp_pos(a, b);
}

/* ---- text ---------------------------------------------------------------------------------- */

/* Columns taken by ck_escape's output: escapes are 2 or 4 columns, UTF-8 continuation bytes 0.
 * *plain says whether the name can be written as it is. */
static size_t escaped_width(const char *s, size_t len, bool *plain)
{
    size_t w = 0;
    bool p = true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) w += 4, p = false;
        else if (c == '\\' || c == '\'' || c == '"') w += 2, p = false;
        else w += (c & 0xC0) != 0x80;
    }
    *plain = p;
    return w;
}

static void put_escaped(FILE *out, const char *s, size_t len, char **buf, size_t *cap)
{
    if (*cap < 4 * len + 1) {
        size_t ncap = 4 * len + 1 > 2 * *cap ? 4 * len + 1 : 2 * *cap;
        char *nb = realloc(*buf, ncap);
        if (!nb) { fputs("?", out); return; }
        *buf = nb;
        *cap = ncap;
    }
    ck_escape(*buf, *cap, s, len);
    fputs(*buf, out);
}

static void pad(FILE *out, size_t n)
{
    static const char spaces[] = "                                ";
    for (; n > sizeof spaces - 1; n -= sizeof spaces - 1) fwrite(spaces, 1, sizeof spaces - 1, out);
    fwrite(spaces, 1, n, out);
}

/* Decimal digits of v at buf (no NUL); returns the count. printf is a third of the listing time
 * at 92,000 rows, hence these. */
static size_t put_u64(char *buf, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do tmp[n++] = (char)('0' + v % 10); while ((v /= 10));
    for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    return n;
}

/* "[4096, 14336]", "[]" for a scalar, "?" without a header. buf holds CK_MAX_DIMS * 22 + 4. */
static size_t fmt_shape(char *buf, const ck_entry *e)
{
    if (!e->has_header) { buf[0] = '?'; buf[1] = '\0'; return 1; }
    size_t n = 0;
    buf[n++] = '[';
    for (int d = 0; d < e->ndim; d++) {
        if (d) buf[n++] = ',', buf[n++] = ' ';
        n += put_u64(buf + n, e->shape[d]);
    }
    buf[n++] = ']';
    buf[n] = '\0';
    return n;
}

/* Binary units with one decimal, rounded half up: "512 B", "1.5 KiB", "641.3 GiB". */
static size_t fmt_human(char *buf, uint64_t bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    size_t n;
    if (bytes < 1024) {
        n = put_u64(buf, bytes);
        memcpy(buf + n, " B", 3);
        return n + 2;
    }
    size_t u = 0;
    unsigned __int128 div = 1024;
    while (u + 1 < sizeof units / sizeof *units && bytes >= div * 1024) div *= 1024, u++;
    uint64_t tenths = (uint64_t)(((unsigned __int128)bytes * 10 + div / 2) / div);
    n = put_u64(buf, tenths / 10);
    buf[n++] = '.';
    buf[n++] = (char)('0' + tenths % 10);
    buf[n++] = ' ';
    memcpy(buf + n, units[u], 4);
    return n + 3;
}

static size_t fmt_size(char *buf, const ck_entry *e)
{
    if (e->has_header) return fmt_human(buf, e->nbytes);
    buf[0] = '?';
    buf[1] = '\0';
    return 1;
}

/* 1234567 -> "1,234,567": parameter counts are read by eye. */
static const char *grouped(char *buf, uint64_t v)
{
    char digits[24];
    size_t n = put_u64(digits, v), o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

static const char *dtype_str(const ck_entry *e) { return e->has_header ? ck_dtype_name(e->dtype) : "?"; }

typedef struct {
    uint32_t name_w;
    uint16_t shape_w, size_w;
    bool plain;
} row_widths;

static int print_table(FILE *out, const ck_checkpoint *ck, const ck_entry *const *v, size_t n)
{
    row_widths *rw = malloc((n ? n : 1) * sizeof *rw);
    if (!rw) return -1;
    size_t wn = 0, wd = 0, ws = 0, wz = 0, w;
    char shape[CK_MAX_DIMS * 22 + 4], size[40];
    for (size_t i = 0; i < n; i++) {
        rw[i].name_w = (uint32_t)escaped_width(v[i]->name, v[i]->name_len, &rw[i].plain);
        rw[i].shape_w = (uint16_t)fmt_shape(shape, v[i]);
        rw[i].size_w = (uint16_t)fmt_size(size, v[i]);
        if (rw[i].name_w > wn) wn = rw[i].name_w;
        if ((w = strlen(dtype_str(v[i]))) > wd) wd = w;
        if (rw[i].shape_w > ws) ws = rw[i].shape_w;
        if (rw[i].size_w > wz) wz = rw[i].size_w;
    }
    char *buf = NULL;
    size_t cap = 0;
    /* Shard names, escaped once: they repeat on every row. */
    char **shard_names = calloc(ck->n_shards ? ck->n_shards : 1, sizeof *shard_names);
    for (size_t s = 0; shard_names && s < ck->n_shards; s++) {
        size_t len = strlen(ck->shards[s].name);
        if ((shard_names[s] = malloc(4 * len + 1))) ck_escape(shard_names[s], 4 * len + 1, ck->shards[s].name, len);
    }
    for (size_t i = 0; i < n; i++) {
        const ck_entry *e = v[i];
        if (rw[i].plain) fwrite(e->name, 1, e->name_len, out);
        else put_escaped(out, e->name, e->name_len, &buf, &cap);
        pad(out, wn - rw[i].name_w + 2);
        const char *d = dtype_str(e);
        fputs(d, out);
        pad(out, wd - strlen(d) + 2);
        fwrite(shape, 1, fmt_shape(shape, e), out);
        pad(out, ws - rw[i].shape_w + 2 + wz - rw[i].size_w); /* sizes right-aligned */
        fwrite(size, 1, fmt_size(size, e), out);
        pad(out, 2);
        const char *shard = shard_names ? shard_names[e->shard] : NULL;
        fputs(shard ? shard : "?", out);
        fputc('\n', out);
    }
    for (size_t s = 0; shard_names && s < ck->n_shards; s++) free(shard_names[s]);
    free(shard_names);
    free(buf);
    free(rw);
    return 0;
}

static void print_summary_text(FILE *out, const ck_checkpoint *ck, const ck_summary *s)
{
    char a[48], b[48];
    fprintf(out, "\ntensors       %s", grouped(a, s->tensors));
    if (s->tensors_without_header)
        fprintf(out, " (%s without a header: dtype and shape unknown)", grouped(a, s->tensors_without_header));
    fprintf(out, "\nshards        %llu\n", (unsigned long long)s->shards);
    /* Index-only tensors have no dtype or shape: their parameters and bytes are unknown. */
    const char *part = s->tensors_without_header ? " (tensors with a header only)" : "";
    if (s->tensors && s->tensors_without_header == s->tensors) {
        fputs("parameters    unknown (no shard headers)\nbytes         unknown (no shard headers)\n", out);
    } else {
        fprintf(out, "parameters    %s%s\n", grouped(a, s->params), part);
        fmt_human(b, s->bytes);
        fprintf(out, "bytes         %s (%s)%s\n", grouped(a, s->bytes), b, part);
    }
    for (int d = 0; d < CK_DTYPE_COUNT; d++) {
        if (!s->dtype_tensors[d]) continue;
        fmt_human(b, s->dtype_bytes[d]);
        fprintf(out, "  %-11s %s tensors, %s\n", ck_dtype_name((ck_dtype)d), grouped(a, s->dtype_tensors[d]), b);
    }
    if (ck->index_has_total_size) {
        fmt_human(b, ck->index_total_size);
        fprintf(out, "index size    %s (%s, metadata.total_size)\n", grouped(a, ck->index_total_size), b);
    }
    if (s->layers) fprintf(out, "layers        %llu\n", (unsigned long long)s->layers);
    if (s->moe_layers) {
        if (s->experts_min == s->experts_max)
            fprintf(out, "experts       %llu per MoE layer, %llu MoE layers\n", (unsigned long long)s->experts_max,
                    (unsigned long long)s->moe_layers);
        else
            fprintf(out, "experts       %llu to %llu per MoE layer, %llu MoE layers\n", (unsigned long long)s->experts_min,
                    (unsigned long long)s->experts_max, (unsigned long long)s->moe_layers);
    }
    if (s->n_quant || s->quant_algo || s->quant_method) {
        char esc[192];
        fputs("quantization ", out);
        for (size_t q = 0; q < s->n_quant; q++) fprintf(out, " %s", s->quant[q]);
        if (s->quant_algo) {
            ck_escape(esc, sizeof esc, s->quant_algo, strlen(s->quant_algo));
            fprintf(out, " (hf_quant_config.json quant_algo %s)", esc);
        }
        if (s->quant_method) {
            ck_escape(esc, sizeof esc, s->quant_method, strlen(s->quant_method));
            fprintf(out, " (config.json quant_method %s)", esc);
        }
        fputc('\n', out);
    }
}

/* ---- JSON ---------------------------------------------------------------------------------- */

/* A JSON string. Control characters and DEL become \u00XX; bytes that are not UTF-8 (file
 * names can be anything) become U+FFFD, so the output always parses. */
static void json_str(FILE *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        size_t run = i;
        while (run < len && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' && p[run] != '\\') run++;
        if (run > i) { fwrite(p + i, 1, run - i, out); i = run; continue; }
        if (c < 0x80) {
            if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
            else if (c < 0x20 || c == 0x7f) fprintf(out, "\\u%04x", c);
            else fputc((int)c, out);
            i++;
            continue;
        }
        size_t need = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : 0;
        bool ok = need && i + need < len;
        uint32_t cp = c & (0x3F >> need);
        for (size_t k = 1; ok && k <= need; k++) {
            ok = (p[i + k] & 0xC0) == 0x80;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (ok && ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
                   (cp >= 0xD800 && cp <= 0xDFFF)))
            ok = false;
        if (ok) { fwrite(p + i, 1, need + 1, out); i += need + 1; }
        else { fputs("\\ufffd", out); i++; }
    }
    fputc('"', out);
}

static void json_cstr(FILE *out, const char *s)
{
    if (s) json_str(out, s, strlen(s));
    else fputs("null", out);
}

static void put_num(FILE *out, uint64_t v)
{
    char buf[24];
    fwrite(buf, 1, put_u64(buf, v), out);
}

static void print_tensors_json(FILE *out, const ck_checkpoint *ck, const ck_entry *const *v, size_t n)
{
    fputs("\"tensors\":[", out);
    for (size_t i = 0; i < n; i++) {
        const ck_entry *e = v[i];
        fputs(i ? ",\n{\"name\":" : "\n{\"name\":", out);
        json_str(out, e->name, e->name_len);
        if (e->has_header) {
            fputs(",\"dtype\":\"", out);
            fputs(ck_dtype_name(e->dtype), out);
            fputs("\",\"shape\":[", out);
            for (int d = 0; d < e->ndim; d++) {
                if (d) fputc(',', out);
                put_num(out, e->shape[d]);
            }
            fputs("],\"bytes\":", out);
            put_num(out, e->nbytes);
            fputs(",\"shard\":", out);
        } else {
            fputs(",\"dtype\":null,\"shape\":null,\"bytes\":null,\"shard\":", out);
        }
        json_cstr(out, ck->shards[e->shard].name);
        if (e->has_header) {
            fputs(",\"offset\":", out);
            put_num(out, e->file_offset);
            fputc('}', out);
        } else {
            fputs(",\"offset\":null}", out);
        }
    }
    fputs(n ? "\n],\n" : "],\n", out);
}

static void print_summary_json(FILE *out, const ck_checkpoint *ck, const ck_summary *s)
{
    fprintf(out, "\"summary\":{\"tensors\":%llu,\"tensors_without_header\":%llu,\"shards\":%llu,"
                 "\"parameters\":%llu,\"bytes\":%llu,\"dtypes\":[",
            (unsigned long long)s->tensors, (unsigned long long)s->tensors_without_header,
            (unsigned long long)s->shards, (unsigned long long)s->params, (unsigned long long)s->bytes);
    bool first = true;
    for (int d = 0; d < CK_DTYPE_COUNT; d++) {
        if (!s->dtype_tensors[d]) continue;
        fprintf(out, "%s{\"dtype\":\"%s\",\"tensors\":%llu,\"bytes\":%llu}", first ? "" : ",",
                ck_dtype_name((ck_dtype)d), (unsigned long long)s->dtype_tensors[d], (unsigned long long)s->dtype_bytes[d]);
        first = false;
    }
    fputs("],\"index_total_size\":", out);
    if (ck->index_has_total_size) fprintf(out, "%llu", (unsigned long long)ck->index_total_size);
    else fputs("null", out);
    fprintf(out, ",\"layers\":%llu,\"moe_layers\":%llu,\"experts_min\":%llu,\"experts_max\":%llu,\"quantization\":[",
            (unsigned long long)s->layers, (unsigned long long)s->moe_layers, (unsigned long long)s->experts_min,
            (unsigned long long)s->experts_max);
    for (size_t q = 0; q < s->n_quant; q++) {
        if (q) fputc(',', out);
        json_cstr(out, s->quant[q]);
    }
    fputs("],\"quant_algo\":", out);
    json_cstr(out, s->quant_algo);
    fputs(",\"quant_method\":", out);
    json_cstr(out, s->quant_method);
    fputs("},\n", out);
}

static const char *const code_names[] = {
    [CK_OK] = "ok", [CK_E_IO] = "io", [CK_E_FORMAT] = "format", [CK_E_NOMEM] = "nomem",
    [CK_E_USAGE] = "usage", [CK_E_UNSUPPORTED] = "unsupported",
};

static void print_problems_json(FILE *out, const ck_checkpoint *ck)
{
    fputs("\"problems\":[", out);
    for (size_t i = 0; i < ck->n_problems; i++) {
        const ck_error *p = &ck->problems[i];
        fputs(i ? ",\n{\"code\":" : "\n{\"code\":", out);
        json_cstr(out, (unsigned)p->code < sizeof code_names / sizeof *code_names ? code_names[p->code] : "unknown");
        fputs(",\"file\":", out);
        json_cstr(out, p->file[0] ? p->file : NULL);
        fputs(",\"key\":", out);
        json_cstr(out, p->key[0] ? p->key : NULL);
        if (p->offset >= 0) fprintf(out, ",\"offset\":%lld,\"message\":", (long long)p->offset);
        else fputs(",\"offset\":null,\"message\":", out);
        json_cstr(out, p->msg);
        fputc('}', out);
    }
    fputs(ck->n_problems ? "\n]" : "]", out);
}

static const char *layout_name(ck_layout l)
{
    static const char *const names[] = {
        [CK_LAYOUT_FILE] = "file", [CK_LAYOUT_INDEXED] = "indexed",
        [CK_LAYOUT_LOOSE] = "loose", [CK_LAYOUT_INDEX_ONLY] = "index-only",
    };
    return names[l];
}

/* ---- the command --------------------------------------------------------------------------- */

int ck_cmd_ls(int argc, char **argv)
{
    ls_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;

    ck_checkpoint ck;
    ck_error err;
    char line[2048];
    if (ck_checkpoint_open(o.path, o.index_only ? CK_OPEN_INDEX_ONLY : 0, &ck, &err) < 0) {
        ck_error_format(&err, line, sizeof line);
        fprintf(stderr, "ckdoc: %s\n", line);
        return CK_EXIT_INPUT;
    }
    const ck_entry **v = malloc((ck.n_entries ? ck.n_entries : 1) * sizeof *v);
    if (!v) {
        fprintf(stderr, "ckdoc: out of memory\n");
        ck_checkpoint_close(&ck);
        return CK_EXIT_INTERNAL;
    }
    size_t n = 0;
    for (size_t i = 0; i < ck.n_entries; i++)
        if (!o.filter || fnmatch(o.filter, ck.entries[i].name, 0) == 0) v[n++] = &ck.entries[i];
    if (o.sort == SORT_SIZE) qsort(v, n, sizeof *v, by_size);
    else if (o.sort == SORT_SHARD) qsort(v, n, sizeof *v, by_shard);

    ck_summary sum;
    if (ck_summary_compute(&ck, v, n, &sum, &err) < 0) {
        ck_error_format(&err, line, sizeof line);
        fprintf(stderr, "ckdoc: %s\n", line);
        free(v);
        ck_checkpoint_close(&ck);
        return CK_EXIT_INTERNAL;
    }

    /* Static: the buffer stays attached to stdout until exit. 92,000 lines in 1 MiB writes. */
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    if (o.json) {
        fputs("{\"schema\":\"ckdoc.ls/1\",\"path\":", stdout);
        json_cstr(stdout, ck.path);
        fprintf(stdout, ",\"layout\":\"%s\",\n", layout_name(ck.layout));
        print_tensors_json(stdout, &ck, v, n);
        print_summary_json(stdout, &ck, &sum);
        print_problems_json(stdout, &ck);
        fputs("}\n", stdout);
    } else {
        if (print_table(stdout, &ck, v, n) < 0) fprintf(stderr, "ckdoc: out of memory\n");
        print_summary_text(stdout, &ck, &sum);
    }
    rc = ck.n_problems ? CK_EXIT_INPUT : CK_EXIT_OK;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "ckdoc: cannot write the listing to standard output\n");
        rc = CK_EXIT_INPUT;
    }
    for (size_t i = 0; i < ck.n_problems; i++) {
        ck_error_format(&ck.problems[i], line, sizeof line);
        fprintf(stderr, "ckdoc: %s\n", line);
    }
    free(v);
    ck_checkpoint_close(&ck);
    return rc;
}
