/* The detail pane's lines for the selection: for a tensor, where it is (shard, byte range), what
 * the config says it must be (expected shape and the spec rule it came from), the orientation
 * verdict with its evidence, and the quantization format with its scales; for a finding, its
 * message, evidence and fix; for a plan action, its JSON. Built fresh on every frame. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/codec.h"
#include "tui/model.h"
#include "tui/text.h"

/* Generated at build time from the JSON files in inspect/specs (inspect/specs/embed.sh). */
typedef struct {
    const char *file;
    const char *text;
} ck_spec_blob;
extern const ck_spec_blob ck_builtin_specs[];

static ck_line *next(ck_line *out, size_t max, size_t *n)
{
    static ck_line scratch;
    if (*n >= max) return &scratch;
    out[*n] = (ck_line){0};
    return &out[(*n)++];
}

#define LINE(label_style, label, style, ...)                          \
    do {                                                              \
        ck_line *l_ = next(out, max, &n);                             \
        ck_line_add(l_, label_style, "%-9s", label);                  \
        ck_line_add(l_, style, __VA_ARGS__);                          \
    } while (0)

static const cJSON *spec_rule(ck_model *m, int rule, const char **file)
{
    if (!m->x || !m->x->family || rule < 0) return NULL;
    if (!m->spec_doc) {
        for (const ck_spec_blob *b = ck_builtin_specs; b->file && !m->spec_doc; b++) {
            cJSON *doc = cJSON_Parse(b->text);
            const cJSON *fam = cJSON_GetObjectItemCaseSensitive(doc, "family");
            if (cJSON_IsString(fam) && !strcmp(fam->valuestring, m->x->family)) m->spec_doc = doc;
            else cJSON_Delete(doc);
        }
    }
    for (const ck_spec_blob *b = ck_builtin_specs; b->file && file; b++)
        if (strstr(b->file, m->x->family)) *file = b->file;
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m->spec_doc, "tensors"), rule);
}

/* Range of a small tensor (a quantization scale), decoded on the spot. */
static bool small_range(ck_checkpoint *ck, const ck_entry *e, float *lo, float *hi)
{
    if (!e->has_header || e->numel == 0 || e->numel > 65536 || e->shard >= ck->n_shards || !ck->shards[e->shard].ok)
        return false;
    ck_error err;
    if (!ck_st_data(&ck->shards[e->shard].st, 0, &err)) return false;
    const uint8_t *p = (const uint8_t *)ck->shards[e->shard].st.map + e->file_offset;
    *lo = 1e30f, *hi = -1e30f;
    for (uint64_t i = 0; i < e->numel; i++) {
        float v;
        switch (e->dtype) {
        case CK_F32: { uint32_t u; memcpy(&u, p + 4 * i, 4); v = ck_bits_f32(u); break; }
        case CK_BF16: { uint16_t u; memcpy(&u, p + 2 * i, 2); v = ck_bf16_to_f32(u); break; }
        case CK_F16: { uint16_t u; memcpy(&u, p + 2 * i, 2); v = ck_f16_to_f32(u); break; }
        case CK_F8_E4M3: v = ck_e4m3_to_f32(p[i]); break;
        case CK_F8_E8M0: case CK_U8: v = ck_e8m0_to_f32(p[i]); break; /* MXFP4 scales are E8M0 stored as U8 */
        default: return false;
        }
        if (v < *lo) *lo = v;
        if (v > *hi) *hi = v;
    }
    return true;
}

static const char *quant_name(ck_quant_format q)
{
    static const char *const names[] = {"none", "NVFP4", "FP8 per-tensor", "FP8 block", "MXFP4", "unsupported"};
    return q <= CK_QUANT_UNSUPPORTED ? names[q] : "?";
}

static const char *part_name(ck_part p)
{
    static const char *const names[] = {"plain", "quantized weight", "scale", "second-level scale", "input scale"};
    return p <= CK_PART_INPUT_SCALE ? names[p] : "?";
}

static size_t quant_lines(ck_model *m, const ck_node *nd, ck_line *out, size_t max, size_t n)
{
    const ck_expected *x = nd->x;
    if (!x || x->quant == CK_QUANT_NONE) return n;
    LINE(CK_S_LABEL, "quant", CK_S_NORMAL, "%s (%s): %s", quant_name(x->quant), m->x->quant_name, part_name(x->part));
    if (x->part != CK_PART_QWEIGHT) return n;
    /* the scales beside the weight: same key with the suffix replaced */
    static const char *const weight_sfx[] = {"_blocks", "weight", NULL};
    static const char *const scale_sfx[] = {"_scales", "weight_scale", "weight_scale_inv", "weight_scale_2", "input_scale"};
    size_t base = nd->key_len;
    for (int s = 0; weight_sfx[s]; s++) {
        size_t k = strlen(weight_sfx[s]);
        if (nd->key_len >= k && !memcmp(nd->key + nd->key_len - k, weight_sfx[s], k)) { base = nd->key_len - k; break; }
    }
    for (size_t s = 0; s < sizeof scale_sfx / sizeof *scale_sfx; s++) {
        char key[700];
        snprintf(key, sizeof key, "%.*s%s", (int)base, nd->key, scale_sfx[s]);
        const ck_entry *e = ck_checkpoint_find(m->ck, key);
        if (!e) continue;
        char shape[160], esc[700];
        float lo, hi;
        ck_shape_str(shape, sizeof shape, e->shape, e->ndim);
        ck_esc(esc, sizeof esc, scale_sfx[s], strlen(scale_sfx[s]));
        if (small_range(m->ck, e, &lo, &hi))
            LINE(CK_S_LABEL, "", CK_S_NORMAL, "%s %s %s, range [%g, %g]", esc, ck_dtype_name(e->dtype), shape, lo, hi);
        else
            LINE(CK_S_LABEL, "", CK_S_NORMAL, "%s %s %s", esc, ck_dtype_name(e->dtype), shape);
    }
    return n;
}

static size_t finding_lines(const ck_model *m, int fi, ck_line *out, size_t max, size_t n, bool verbose)
{
    const ck_finding *f = &m->f->items[fi];
    LINE(CK_S_LABEL, verbose ? "finding" : "verdict", ck_style_of_severity((int)f->severity), "%s (%s)",
         ck_code_names[f->code], ck_severity_name(f->severity));
    char msg[CK_CELL_MAX];
    ck_esc_ctl(msg, sizeof msg, f->message);
    LINE(CK_S_LABEL, "", CK_S_NORMAL, "%s", msg);
    if (f->evidence && f->evidence->child) {
        char *ev = cJSON_PrintUnformatted(f->evidence);
        if (ev) ck_esc_ctl(msg, sizeof msg, ev);
        free(ev);
        LINE(CK_S_LABEL, "evidence", CK_S_DIM, "%s", msg);
    }
    if (f->fix) {
        char *fx = cJSON_PrintUnformatted(f->fix);
        if (fx) ck_esc_ctl(msg, sizeof msg, fx);
        free(fx);
        LINE(CK_S_LABEL, "fix", CK_S_OK, "%s%s", msg, m->read_only ? "" : "  (a: stage it)");
    }
    return n;
}

static size_t tensor_lines(ck_model *m, int node, ck_line *out, size_t max)
{
    size_t n = 0;
    const ck_tree *t = &m->tree;
    const ck_node *nd = &t->nodes[node];
    char buf[CK_CELL_MAX], shape[160];
    if (nd->kind != CK_NODE_TENSOR) {
        LINE(CK_S_LABEL, "group", CK_S_GROUP, "%s", nd->label);
        ck_human_size(shape, sizeof shape, nd->bytes);
        LINE(CK_S_LABEL, "holds", CK_S_NORMAL, "%llu tensor%s, %s", (unsigned long long)nd->tensors, nd->tensors == 1 ? "" : "s", shape);
        if (nd->kind == CK_NODE_EXPERTS)
            LINE(CK_S_LABEL, "experts", nd->experts_present < nd->experts_expected ? CK_S_ERROR : CK_S_OK,
                 "%lld of %lld present", (long long)nd->experts_present, (long long)nd->experts_expected);
        if (nd->finding >= 0) n = finding_lines(m, nd->finding, out, max, n, false);
        if (nd->worst >= 0) LINE(CK_S_LABEL, "problems", ck_style_of_severity(nd->worst), "%u row%s at the worst severity inside", nd->problems, nd->problems == 1 ? "" : "s");
        return n;
    }
    ck_esc(buf, sizeof buf, nd->key, nd->key_len);
    LINE(CK_S_LABEL, "key", CK_S_NORMAL, "%s", buf);
    if (nd->entry >= 0) {
        const ck_entry *e = &m->ck->entries[nd->entry];
        if (e->has_header) {
            ck_shape_str(shape, sizeof shape, e->shape, e->ndim);
            ck_human_size(buf, sizeof buf, e->nbytes);
            LINE(CK_S_LABEL, "stored", CK_S_NORMAL, "%s %s, %s", ck_dtype_name(e->dtype), shape, buf);
        } else {
            LINE(CK_S_LABEL, "stored", CK_S_DIM, "dtype and shape unknown (index only)");
        }
        if (e->shard < m->ck->n_shards) {
            ck_esc(buf, sizeof buf, m->ck->shards[e->shard].name, strlen(m->ck->shards[e->shard].name));
            if (e->has_header)
                LINE(CK_S_LABEL, "shard", CK_S_NORMAL, "%s, bytes %llu..%llu", buf, (unsigned long long)e->file_offset,
                     (unsigned long long)(e->file_offset + e->nbytes));
            else
                LINE(CK_S_LABEL, "shard", CK_S_NORMAL, "%s", buf);
        }
    } else {
        LINE(CK_S_LABEL, "stored", CK_S_MISSING, "absent from the checkpoint");
    }
    if (nd->x) {
        const ck_expected *x = nd->x;
        ck_shape_str(shape, sizeof shape, x->shape, x->ndim);
        LINE(CK_S_LABEL, "expected", CK_S_NORMAL, "%s%s%s from config.json%s", x->flags & CK_EXP_HAS_DTYPE ? ck_dtype_name(x->dtype) : "",
             x->flags & CK_EXP_HAS_DTYPE ? " " : "", shape, x->flags & CK_EXP_OPTIONAL ? " (optional)" : "");
        const char *file = NULL;
        const cJSON *r = spec_rule(m, x->rule, &file);
        const cJSON *rk = cJSON_GetObjectItemCaseSensitive(r, "key"), *rs = cJSON_GetObjectItemCaseSensitive(r, "shape");
        char *rshape = rs ? cJSON_PrintUnformatted(rs) : NULL;
        LINE(CK_S_LABEL, "rule", CK_S_DIM, "%s #%d: %s %s%s%s", file ? file : m->x->family, x->rule,
             cJSON_IsString(rk) ? rk->valuestring : "?", rshape ? rshape : "", x->role[0] ? "  role " : "", x->role);
        free(rshape);
        if (x->ndim >= 2 && x->part == CK_PART_PLAIN)
            LINE(CK_S_LABEL, "layout", CK_S_DIM, "%s", x->flags & CK_EXP_IN_OUT ? "[in, out] (this format's convention)" : "[out, in] (nn.Linear)");
    } else if (nd->entry >= 0 && m->x && m->x->items) {
        LINE(CK_S_LABEL, "expected", CK_S_WARN, "not expected by the %s spec", m->x->family);
    }
    if (nd->finding >= 0) n = finding_lines(m, nd->finding, out, max, n, false);
    else if (nd->x) LINE(CK_S_LABEL, "verdict", CK_S_OK, "ok: matches the expected shape%s", nd->x->ndim >= 2 ? " and orientation" : "");
    /* further findings about the same row */
    for (size_t i = 0; i < m->f->n; i++)
        if (t->finding_node[i] == node && (int)i != nd->finding) n = finding_lines(m, (int)i, out, max, n, true);
    n = quant_lines(m, nd, out, max, n);
    if (nd->entry >= 0) LINE(CK_S_LABEL, "values", CK_S_DIM, "s or Enter: statistics, histogram and heatmap");
    return n;
}

size_t ck_model_detail(ck_model *m, ck_line *out, size_t max)
{
    size_t n = 0;
    if (m->focus == CK_PANE_FINDINGS) {
        int fi = ck_model_selected_finding(m);
        if (fi < 0) {
            LINE(CK_S_LABEL, "", CK_S_DIM, "no findings at this severity");
            return n;
        }
        const ck_finding *f = &m->f->items[fi];
        char key[CK_CELL_MAX];
        ck_esc(key, sizeof key, f->key, strlen(f->key));
        LINE(CK_S_LABEL, "key", CK_S_NORMAL, "%s", key[0] ? key : "(the checkpoint)");
        if (f->layer >= 0) LINE(CK_S_LABEL, "layer", CK_S_NORMAL, "%d", f->layer);
        n = finding_lines(m, fi, out, max, n, true);
        LINE(CK_S_LABEL, "", CK_S_DIM, "Enter: jump to the key in the tree");
        return n;
    }
    if (m->focus == CK_PANE_PLAN) {
        size_t i = m->list[CK_PANE_PLAN].cur;
        if (i >= m->plan.n) {
            LINE(CK_S_LABEL, "plan", CK_S_DIM, "empty: select a finding with a fix and press a");
            return n;
        }
        char *js = cJSON_PrintUnformatted(m->plan.items[i]);
        char buf[CK_CELL_MAX] = "?";
        if (js) ck_esc_ctl(buf, sizeof buf, js);
        free(js);
        LINE(CK_S_LABEL, "action", CK_S_NORMAL, "%s", buf);
        LINE(CK_S_LABEL, "", CK_S_DIM, "d: remove  J/K: move  w: save as ckdoc.plan/1");
        return n;
    }
    int node = ck_model_selected_node(m);
    if (node < 0) return 0;
    return tensor_lines(m, node, out, max);
}
