/* Output of `check`: human text grouped by severity and layer (colour on a terminal), JSON with a
 * versioned schema, and the repair plan made of the findings' suggested fixes. */
#include "report_check.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

typedef struct {
    const char *on, *off;
} paint;

static paint colour_of(ck_severity s, bool colour)
{
    static const char *codes[] = {"\033[36m", "\033[33m", "\033[1;31m"};
    if (!colour) return (paint){"", ""};
    return (paint){codes[s], "\033[0m"};
}

/* Tensor names come from the file: escape them fully. */
static void print_escaped(FILE *out, const char *s)
{
    char buf[2048];
    ck_escape(buf, sizeof buf, s, strlen(s));
    fputs(buf, out);
}

/* Messages are ours but may quote names: only control characters are escaped. */
static void print_message(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch == 0x7f) fprintf(out, "\\x%02x", ch);
        else fputc(ch, out);
    }
}

/* cJSON indents with tabs; write two spaces per level and "key": value, as jq does. Raw tabs
 * occur only as formatting: cJSON escapes them inside strings. */
static void put_json(FILE *out, const char *text)
{
    bool line_start = true;
    for (const char *p = text; *p; p++) {
        if (*p == '\t') {
            fputs(line_start ? "  " : " ", out);
            continue;
        }
        line_start = *p == '\n';
        fputc(*p, out);
    }
    fputc('\n', out);
}

static void describe_fix(FILE *out, const cJSON *fix)
{
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(fix, "action");
    char *text = cJSON_PrintUnformatted(fix);
    fprintf(out, "      fix: %s %s\n", cJSON_IsString(action) ? action->valuestring : "?", text ? text : "");
    free(text);
}

void ck_report_text(FILE *out, const ck_report_info *info, const ck_findings *f, bool colour)
{
    fprintf(out, "ckdoc check: ");
    print_escaped(out, info->path);
    if (info->family)
        fprintf(out, " (%s, %lld layers%s", info->family, (long long)info->layers, info->experts ? ", " : "");
    else
        fprintf(out, " (no family spec");
    if (info->family && info->experts) fprintf(out, "%lld experts", (long long)info->experts);
    if (info->quant && info->quant[0]) fprintf(out, ", %s", info->quant);
    fprintf(out, "; %zu tensors in %zu shard%s)\n", info->n_tensors, info->n_shards, info->n_shards == 1 ? "" : "s");

    static const char *titles[] = {"info", "warnings", "errors"};
    for (int sev = CK_SEV_ERROR; sev >= CK_SEV_INFO; sev--) {
        size_t count = f->by_severity[sev];
        if (!count) continue;
        paint p = colour_of((ck_severity)sev, colour);
        fprintf(out, "\n%s%s (%zu)%s\n", p.on, titles[sev], count, p.off);
        int layer = -2;
        for (size_t i = 0; i < f->n; i++) {
            const ck_finding *x = &f->items[i];
            if ((int)x->severity != sev) continue;
            if (x->layer != layer) {
                layer = x->layer;
                if (layer >= 0) fprintf(out, "  layer %d\n", layer);
                else fprintf(out, "  model\n");
            }
            fprintf(out, "    %s%-22s%s ", p.on, ck_code_names[x->code], p.off);
            print_escaped(out, x->key);
            fprintf(out, "\n      ");
            print_message(out, x->message);
            fputc('\n', out);
            if (x->fix) describe_fix(out, x->fix);
        }
    }
    fprintf(out, "\nsummary: %zu error%s, %zu warning%s, %zu info", f->by_severity[CK_SEV_ERROR],
            f->by_severity[CK_SEV_ERROR] == 1 ? "" : "s", f->by_severity[CK_SEV_WARN],
            f->by_severity[CK_SEV_WARN] == 1 ? "" : "s", f->by_severity[CK_SEV_INFO]);
    const char *sep = ": ";
    for (int code = 0; code < CK_F_COUNT; code++) {
        if (!f->counts[code]) continue;
        fprintf(out, "%s%s %zu", sep, ck_code_names[code], f->counts[code]);
        sep = ", ";
    }
    if (f->dropped) fprintf(out, " (%zu not listed: --max-findings)", f->dropped);
    fputc('\n', out);
}

static cJSON *finding_json(const ck_finding *x)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "code", ck_code_names[x->code]);
    cJSON_AddStringToObject(o, "severity", ck_severity_name(x->severity));
    cJSON_AddStringToObject(o, "key", x->key);
    if (x->layer >= 0) cJSON_AddNumberToObject(o, "layer", x->layer);
    else cJSON_AddNullToObject(o, "layer");
    cJSON_AddStringToObject(o, "message", x->message);
    cJSON_AddItemToObject(o, "evidence", x->evidence ? cJSON_Duplicate(x->evidence, 1) : cJSON_CreateObject());
    cJSON_AddItemToObject(o, "fix", x->fix ? cJSON_Duplicate(x->fix, 1) : cJSON_CreateNull());
    return o;
}

static cJSON *tensor_stats_json(const ck_deep_report *deep)
{
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; i < deep->n; i++) {
        const ck_tensor_summary *t = &deep->items[i];
        cJSON *o = cJSON_CreateObject();
        char hash[20];
        snprintf(hash, sizeof hash, "%016llx", (unsigned long long)t->hash);
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "format", t->format);
        cJSON_AddStringToObject(o, "hash", hash);
        if (t->has_stats) {
            cJSON_AddNumberToObject(o, "count", (double)t->count);
            cJSON_AddNumberToObject(o, "nan", (double)t->nan);
            cJSON_AddNumberToObject(o, "inf", (double)t->inf);
            cJSON_AddNumberToObject(o, "zero", (double)t->zero);
            if (t->finite) {
                cJSON_AddNumberToObject(o, "min", t->min);
                cJSON_AddNumberToObject(o, "max", t->max);
                cJSON_AddNumberToObject(o, "mean", t->mean);
                cJSON_AddNumberToObject(o, "std", t->std);
            }
        }
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

int ck_report_json(FILE *out, const ck_report_info *info, const ck_findings *f, const ck_deep_report *deep,
                   int exit_status)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "ckdoc.check/2");
    cJSON_AddStringToObject(root, "path", info->path);
    if (info->family) cJSON_AddStringToObject(root, "family", info->family);
    else cJSON_AddNullToObject(root, "family");
    cJSON_AddNumberToObject(root, "layers", (double)info->layers);
    cJSON_AddNumberToObject(root, "experts", (double)info->experts);
    cJSON_AddStringToObject(root, "quantization", info->quant ? info->quant : "");
    cJSON_AddNumberToObject(root, "tensors", (double)info->n_tensors);
    cJSON_AddNumberToObject(root, "shards", (double)info->n_shards);
    cJSON_AddBoolToObject(root, "deep", info->deep);
    cJSON *list = cJSON_AddArrayToObject(root, "findings");
    for (size_t i = 0; i < f->n; i++) cJSON_AddItemToArray(list, finding_json(&f->items[i]));
    cJSON *sum = cJSON_AddObjectToObject(root, "summary");
    cJSON_AddNumberToObject(sum, "error", (double)f->by_severity[CK_SEV_ERROR]);
    cJSON_AddNumberToObject(sum, "warn", (double)f->by_severity[CK_SEV_WARN]);
    cJSON_AddNumberToObject(sum, "info", (double)f->by_severity[CK_SEV_INFO]);
    cJSON *by = cJSON_AddObjectToObject(sum, "by_code");
    for (int code = 0; code < CK_F_COUNT; code++)
        if (f->counts[code]) cJSON_AddNumberToObject(by, ck_code_names[code], (double)f->counts[code]);
    cJSON_AddNumberToObject(sum, "not_listed", (double)f->dropped);
    if (deep) cJSON_AddItemToObject(root, "tensor_stats", tensor_stats_json(deep));
    cJSON_AddNumberToObject(root, "exit_status", exit_status);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return -1;
    put_json(out, text);
    free(text);
    return 0;
}

char *ck_plan_json(const char *source, const ck_findings *f)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "ckdoc.plan/1");
    cJSON_AddStringToObject(root, "source", source);
    cJSON *actions = cJSON_AddArrayToObject(root, "actions");
    for (size_t i = 0; i < f->n; i++) {
        if (!f->items[i].fix) continue;
        cJSON *a = cJSON_Duplicate(f->items[i].fix, 1);
        cJSON_AddStringToObject(a, "finding", ck_code_names[f->items[i].code]);
        cJSON_AddItemToArray(actions, a);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}
