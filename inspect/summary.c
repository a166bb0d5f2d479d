#include "summary.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* Quantization formats, recognised by a weight and its scale tensors. Order here is the order
 * they are reported in. Without a header (index-only) only the names are compared. */
enum { Q_MXFP4, Q_NVFP4, Q_FP8_BLOCK, Q_FP8_TENSOR, Q_COUNT };
static const char *const quant_names[Q_COUNT] = {"MXFP4", "NVFP4", "FP8-block", "FP8-tensor"};

long ck_layer_of(const char *name, size_t len, size_t *after)
{
    static const char pat[] = "layers.";
    const size_t plen = sizeof pat - 1;
    for (const char *p = name, *end = name + len; (p = memmem(p, (size_t)(end - p), pat, plen)); p++) {
        if (p != name && p[-1] != '.') continue;
        const char *q = p + plen;
        long v = 0;
        int digits = 0;
        while (q < end && *q >= '0' && *q <= '9' && digits < 9) v = v * 10 + (*q++ - '0'), digits++;
        if (digits == 0 || q >= end || *q != '.') continue;
        if (after) *after = (size_t)(q + 1 - name);
        return v;
    }
    return -1;
}

typedef struct {
    long layer;
    uint64_t expert; /* expert number, or for fused tensors the leading dimension */
    int fused;
} expert_ref;

static int expert_cmp(const void *pa, const void *pb)
{
    const expert_ref *a = pa, *b = pb;
    if (a->layer != b->layer) return a->layer < b->layer ? -1 : 1;
    if (a->fused != b->fused) return a->fused - b->fused;
    return (a->expert > b->expert) - (a->expert < b->expert);
}

/* "experts.E." (E a number) or a fused "experts.<name>" after the layer part of a name. */
static bool expert_of(const ck_entry *e, size_t from, expert_ref *out)
{
    static const char pat[] = "experts.";
    const size_t plen = sizeof pat - 1;
    const char *name = e->name, *end = e->name + e->name_len;
    for (const char *p = name + from; (p = memmem(p, (size_t)(end - p), pat, plen)); p++) {
        if (p != name + from && p[-1] != '.') continue; /* not "shared_experts." */
        const char *q = p + plen;
        uint64_t v = 0;
        int digits = 0;
        while (q < end && *q >= '0' && *q <= '9' && digits < 9) v = v * 10 + (uint64_t)(*q++ - '0'), digits++;
        if (digits > 0 && q < end && *q == '.') { out->expert = v; out->fused = 0; return true; }
        if (digits == 0 && e->has_header && e->ndim >= 2) { out->expert = e->shape[0]; out->fused = 1; return true; }
        return false;
    }
    return false;
}

/* Does the catalog hold `base` with `suffix` replaced onto its first `keep` bytes? Returns it. */
static const ck_entry *sibling(const ck_checkpoint *ck, const ck_entry *e, size_t keep, const char *suffix)
{
    char stack[512], *buf = stack;
    size_t sl = strlen(suffix);
    if (keep + sl + 1 > sizeof stack && !(buf = malloc(keep + sl + 1))) return NULL;
    memcpy(buf, e->name, keep);
    memcpy(buf + keep, suffix, sl + 1);
    const ck_entry *s = ck_checkpoint_find(ck, buf);
    if (buf != stack) free(buf);
    return s;
}

static bool is(const ck_entry *e, ck_dtype d) { return !e->has_header || e->dtype == d; }

static bool ends(const ck_entry *e, const char *suffix, size_t *keep)
{
    size_t n = strlen(suffix);
    if (e->name_len < n || memcmp(e->name + e->name_len - n, suffix, n)) return false;
    *keep = e->name_len - n;
    return true;
}

/* At most one catalog search per tensor once a format has been seen: DeepSeek-V3 has 45,000
 * FP8 weights, and each format only needs to be found once. */
static void detect_quant(const ck_checkpoint *ck, const ck_entry *e, bool seen[Q_COUNT])
{
    size_t keep;
    if (ends(e, "_blocks", &keep)) {
        if (seen[Q_MXFP4] || !is(e, CK_U8)) return;
        const ck_entry *sc = sibling(ck, e, keep, "_scales");
        if (sc && is(sc, CK_U8)) seen[Q_MXFP4] = true;
        return;
    }
    if (!ends(e, ".weight", &keep)) return;
    if (is(e, CK_U8) && !seen[Q_NVFP4]) {
        const ck_entry *s1 = sibling(ck, e, keep, ".weight_scale");
        if (s1 && is(s1, CK_F8_E4M3) && sibling(ck, e, keep, ".weight_scale_2")) { seen[Q_NVFP4] = true; return; }
    }
    if (is(e, CK_F8_E4M3) && !seen[Q_FP8_BLOCK] && sibling(ck, e, keep, ".weight_scale_inv")) {
        seen[Q_FP8_BLOCK] = true;
        return;
    }
    /* Per-tensor FP8 needs the dtype: without it a lone weight_scale could be anything (int8). */
    if (e->has_header && e->dtype == CK_F8_E4M3 && !seen[Q_FP8_TENSOR] && sibling(ck, e, keep, ".weight_scale") &&
        !sibling(ck, e, keep, ".weight_scale_2") && !sibling(ck, e, keep, ".weight_scale_inv"))
        seen[Q_FP8_TENSOR] = true;
}

static const char *json_string_at(const ck_json_file *f, const char *obj, const char *key)
{
    if (!f->json) return NULL;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(f->json, obj);
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int ck_summary_compute(const ck_checkpoint *ck, const ck_entry *const *sel, size_t n, ck_summary *out,
                       ck_error *err)
{
    memset(out, 0, sizeof *out);
    if (!sel) n = ck->n_entries;
    expert_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    unsigned char *shard_seen = calloc(ck->n_shards ? ck->n_shards : 1, 1);
    if (!refs || !shard_seen) {
        free(refs);
        free(shard_seen);
        return ck_error_set(err, CK_E_NOMEM, ck->path, NULL, -1, "out of memory");
    }
    size_t n_refs = 0;
    bool seen[Q_COUNT] = {false};
    for (size_t i = 0; i < n; i++) {
        const ck_entry *e = sel ? sel[i] : &ck->entries[i];
        out->tensors++;
        if (!shard_seen[e->shard]) { shard_seen[e->shard] = 1; out->shards++; }
        if (e->has_header) {
            out->params += e->numel;
            out->bytes += e->nbytes;
            out->dtype_tensors[e->dtype]++;
            out->dtype_bytes[e->dtype] += e->nbytes;
        } else {
            out->tensors_without_header++;
        }
        size_t after;
        long layer = ck_layer_of(e->name, e->name_len, &after);
        if (layer >= 0) {
            if ((uint64_t)layer + 1 > out->layers) out->layers = (uint64_t)layer + 1;
            if (expert_of(e, after, &refs[n_refs])) refs[n_refs++].layer = layer;
        }
        detect_quant(ck, e, seen);
    }
    /* Per layer: distinct expert numbers, or the largest fused leading dimension. */
    qsort(refs, n_refs, sizeof *refs, expert_cmp);
    for (size_t i = 0; i < n_refs;) {
        uint64_t distinct = 0, fused = 0;
        size_t j = i;
        for (; j < n_refs && refs[j].layer == refs[i].layer; j++) {
            if (refs[j].fused) { if (refs[j].expert > fused) fused = refs[j].expert; }
            else if (j == i || refs[j - 1].fused || refs[j - 1].expert != refs[j].expert) distinct++;
        }
        uint64_t experts = distinct > fused ? distinct : fused;
        if (experts) {
            out->moe_layers++;
            if (!out->experts_min || experts < out->experts_min) out->experts_min = experts;
            if (experts > out->experts_max) out->experts_max = experts;
        }
        i = j;
    }
    for (int q = 0; q < Q_COUNT; q++)
        if (seen[q]) out->quant[out->n_quant++] = quant_names[q];
    out->quant_algo = json_string_at(&ck->hf_quant_config, "quantization", "quant_algo");
    out->quant_method = json_string_at(&ck->config, "quantization_config", "quant_method");
    free(refs);
    free(shard_seen);
    return 0;
}
