#include "findings.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ck_code_names[CK_F_COUNT] = {
#define CK_CODE_NAME(name) #name,
    CK_FINDING_CODES(CK_CODE_NAME)
#undef CK_CODE_NAME
};

static const char *const severity_names[] = {"info", "warn", "error"};

const char *ck_severity_name(ck_severity s) { return severity_names[s]; }

bool ck_severity_parse(const char *s, ck_severity *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, severity_names[i])) { *out = (ck_severity)i; return true; }
    if (!strcmp(s, "warning")) { *out = CK_SEV_WARN; return true; }
    return false;
}

void ck_finding_add(ck_findings *f, ck_code code, ck_severity sev, const char *key, int layer,
                    cJSON *evidence, cJSON *fix, const char *fmt, ...)
{
    f->counts[code]++;
    f->by_severity[sev]++;
    if ((f->max && f->n >= f->max) || (f->n == f->cap && f->cap > ((size_t)-1) / 2 / sizeof *f->items)) {
        f->dropped++;
        cJSON_Delete(evidence);
        cJSON_Delete(fix);
        return;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        ck_finding *p = realloc(f->items, cap * sizeof *p);
        if (!p) {
            f->dropped++;
            cJSON_Delete(evidence);
            cJSON_Delete(fix);
            return;
        }
        f->items = p;
        f->cap = cap;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ck_finding *x = &f->items[f->n];
    x->code = code;
    x->severity = sev;
    x->key = strdup(key ? key : "");
    x->layer = layer;
    x->message = strdup(msg);
    x->evidence = evidence;
    x->fix = fix;
    if (!x->key || !x->message) {
        free(x->key);
        free(x->message);
        cJSON_Delete(evidence);
        cJSON_Delete(fix);
        f->dropped++;
        return;
    }
    f->n++;
}

static int cmp_finding(const void *pa, const void *pb)
{
    const ck_finding *a = pa, *b = pb;
    if (a->severity != b->severity) return a->severity > b->severity ? -1 : 1;
    if (a->layer != b->layer) return a->layer < b->layer ? -1 : 1;
    int r = strcmp(a->key, b->key);
    if (r) return r;
    if (a->code != b->code) return a->code < b->code ? -1 : 1;
    return strcmp(a->message, b->message);
}

void ck_findings_sort(ck_findings *f)
{
    if (f->n > 1) qsort(f->items, f->n, sizeof *f->items, cmp_finding);
}

void ck_findings_free(ck_findings *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->items[i].key);
        free(f->items[i].message);
        cJSON_Delete(f->items[i].evidence);
        cJSON_Delete(f->items[i].fix);
    }
    free(f->items);
    memset(f, 0, sizeof *f);
}
