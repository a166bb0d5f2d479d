/* check --deep: read every tensor (quantized ones dequantized with their scales) through the
 * back end, streamed: NONFINITE for NaN/Inf, ALL_ZERO for tensors with nothing in them, and the
 * per-tensor numbers for the report. */
#include "check_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/tensor_eval.h"

void ck_deep_report_free(ck_deep_report *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) free(r->items[i].name);
    free(r->items);
    memset(r, 0, sizeof *r);
}

static void keep(ck_deep_report *rep, const char *name, const ck_tgroup *g, const ck_tresult *r)
{
    if (!rep) return;
    if (rep->n == rep->cap) {
        size_t cap = rep->cap ? rep->cap * 2 : 256;
        ck_tensor_summary *p = realloc(rep->items, cap * sizeof *p);
        if (!p) return;
        rep->items = p;
        rep->cap = cap;
    }
    ck_tensor_summary *s = &rep->items[rep->n];
    memset(s, 0, sizeof *s);
    s->name = strdup(name);
    if (!s->name) return;
    s->format = ck_group_fmt_names[g->fmt];
    s->has_stats = r->has_stats;
    s->hash = r->hash;
    if (r->has_stats) {
        s->count = r->st.count;
        s->finite = r->st.t.finite;
        s->nan = r->st.t.nan;
        s->inf = r->st.t.inf;
        s->zero = r->st.t.zero;
        s->min = r->st.t.min;
        s->max = r->st.t.max;
        s->mean = r->st.mean;
        s->std = r->st.std;
    }
    rep->n++;
}

void ck_check_deep(ck_check_ctx *c)
{
    ck_checkpoint *ck = c->ck;
    if (!c->opt->deep || c->opt->index_only || !c->opt->backend) return;
    ck_error err;
    ck_teval *ev = ck_teval_new(ck, c->opt->backend, c->opt->threads, &err);
    bool *member = calloc(ck->n_entries + 1, sizeof *member);
    if (!ev || !member) {
        ck_teval_free(ev);
        free(member);
        return;
    }
    /* Scales first belong to their weight: mark them so they are not read twice. */
    ck_tgroup *groups = malloc((ck->n_entries + 1) * sizeof *groups);
    if (!groups) {
        ck_teval_free(ev);
        free(member);
        return;
    }
    for (size_t i = 0; i < ck->n_entries; i++) {
        ck_tgroup_find(ck, &ck->entries[i], &groups[i]);
        for (int k = 1; k < 3; k++)
            if (groups[i].m[k]) member[groups[i].m[k] - ck->entries] = true;
    }
    for (size_t i = 0; i < ck->n_entries; i++) {
        const ck_entry *e = &ck->entries[i];
        if (member[i] || !e->has_header || !ck->shards[e->shard].ok) continue;
        const ck_tgroup *g = &groups[i];
        char name[1024];
        size_t nl = e->name_len;
        if (g->fmt == CK_GROUP_MXFP4 && nl > 7 && !strcmp(e->name + nl - 7, "_blocks")) nl -= 7;
        snprintf(name, sizeof name, "%.*s", (int)nl, e->name);
        ck_tresult r;
        /* the JSON reports every number and the hash; the findings need the counts alone */
        if (ck_teval_stats(ev, g, c->opt->deep_report ? CK_EVAL_HASH : CK_EVAL_COUNTS, &r, &err) < 0) {
            char line[1400];
            ck_error_format(&err, line, sizeof line);
            ck_finding_add(c->f, CK_F_HEADER_INVALID, CK_SEV_ERROR, e->name, -1, NULL, NULL, "cannot read the data: %s", line);
            continue;
        }
        keep(c->opt->deep_report, name, g, &r);
        if (!r.has_stats) continue;
        const ck_expected *x = c->match[i];
        int layer = x ? x->layer : -1;
        if (r.st.t.nan || r.st.t.inf) {
            cJSON *ev_json = cJSON_CreateObject();
            cJSON_AddNumberToObject(ev_json, "nan", (double)r.st.t.nan);
            cJSON_AddNumberToObject(ev_json, "inf", (double)r.st.t.inf);
            cJSON_AddNumberToObject(ev_json, "count", (double)r.st.count);
            ck_finding_add(c->f, CK_F_NONFINITE, CK_SEV_ERROR, name, layer, ev_json, NULL,
                           "%llu NaN and %llu Inf values among %llu", (unsigned long long)r.st.t.nan,
                           (unsigned long long)r.st.t.inf, (unsigned long long)r.st.count);
        } else if (r.st.count > 0 && r.st.t.zero == r.st.count) {
            cJSON *ev_json = cJSON_CreateObject();
            cJSON_AddNumberToObject(ev_json, "count", (double)r.st.count);
            ck_finding_add(c->f, CK_F_ALL_ZERO, x && !strcmp(x->role, "expert_bias") ? CK_SEV_INFO : CK_SEV_WARN, name,
                           layer, ev_json, NULL, "all %llu values are zero: never written, or reset",
                           (unsigned long long)r.st.count);
        }
    }
    free(groups);
    free(member);
    ck_teval_free(ev);
}
