/* Quantization checks: weights the config says are quantized but are not, modules the config
 * excludes but that carry scales, exclude patterns that name nothing, and scale values (finite,
 * positive). Scalar and F32 scales are read always (they are tiny); the per-block F8/E8M0 scales
 * only with --deep. */
#include "check_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const scale_suffixes[] = {".weight_scale", ".weight_scale_2", ".input_scale", ".weight_scale_inv"};

/* Mark the scale keys of `module` (expected ones) as explained by a finding about the weight. */
static void account_scales(ck_check_ctx *c, const char *module, size_t module_len, bool mxfp4)
{
    char key[640];
    for (size_t s = 0; s < (mxfp4 ? 1 : sizeof scale_suffixes / sizeof *scale_suffixes); s++) {
        int n = snprintf(key, sizeof key, "%.*s%s", (int)module_len, module, mxfp4 ? "_scales" : scale_suffixes[s]);
        const ck_expected *x = ck_expectation_find(c->x, key, (size_t)n);
        if (x && c->present[x - c->x->items] == CK_ABSENT) c->present[x - c->x->items] = CK_ACCOUNTED;
    }
}

bool ck_check_unquantized_weight(ck_check_ctx *c, const ck_entry *e, const ck_expected *x)
{
    if (x->part != CK_PART_QWEIGHT || !ck_dtype_is_float(e->dtype) || e->dtype == CK_F8_E4M3 || e->dtype == CK_F8_E5M2)
        return false;
    bool plain = e->ndim == x->ndim_l && !memcmp(e->shape, x->shape_l, (size_t)x->ndim_l * sizeof *e->shape);
    bool swapped = false;
    if (!plain && e->ndim == x->ndim_l && x->ndim_l >= 2) {
        int n = x->ndim_l;
        swapped = !memcmp(e->shape, x->shape_l, (size_t)(n - 2) * sizeof *e->shape) &&
                  e->shape[n - 2] == x->shape_l[n - 1] && e->shape[n - 1] == x->shape_l[n - 2];
    }
    if (!plain && !swapped) return false;
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "actual_dtype", ck_dtype_name(e->dtype));
    cJSON_AddItemToObject(ev, "actual_shape", ck_shape_json(e->shape, e->ndim));
    cJSON_AddItemToObject(ev, "unquantized_shape", ck_shape_json(x->shape_l, x->ndim_l));
    size_t klen = strlen(x->key);
    if (x->quant == CK_QUANT_MXFP4) {
        size_t base_len = klen - strlen("_blocks");
        account_scales(c, x->key, base_len, true);
        cJSON *fix = cJSON_CreateObject();
        cJSON_AddStringToObject(fix, "action", "rename");
        cJSON_AddStringToObject(fix, "from", x->key);
        char to[600];
        snprintf(to, sizeof to, "%.*s", (int)base_len, x->key);
        cJSON_AddStringToObject(fix, "to", to);
        if (swapped) cJSON_AddBoolToObject(fix, "transpose", true);
        ck_finding_add(c->f, CK_F_DTYPE_MISMATCH, CK_SEV_ERROR, x->key, x->layer, ev, fix,
                       "full-precision %s data under an MXFP4 *_blocks name%s, with no valid *_scales: neither MXFP4 nor the "
                       "BF16 layout (what torchtitan's GPT-OSS to_hf export writes)",
                       ck_dtype_name(e->dtype), swapped ? " in [out, in] orientation" : "");
        return true;
    }
    size_t mlen = klen > 7 && !strcmp(x->key + klen - 7, ".weight") ? klen - 7 : klen;
    account_scales(c, x->key, mlen, false);
    ck_finding_add(c->f, CK_F_QUANT_CONFIG_MISMATCH, CK_SEV_ERROR, x->key, x->layer, ev, NULL,
                   "stored unquantized (%s), but the quantization config (%s) does not exclude module %.*s",
                   ck_dtype_name(e->dtype), c->x->quant_name, (int)mlen, x->key);
    return true;
}

static const cJSON *exclude_patterns(const ck_check_ctx *c, const char **source);

bool ck_check_quantized_unexpectedly(ck_check_ctx *c, const ck_entry *e, const ck_expected *x)
{
    if (x->part != CK_PART_PLAIN || (e->dtype != CK_U8 && e->dtype != CK_F8_E4M3 && e->dtype != CK_F8_E5M2)) return false;
    size_t klen = strlen(x->key);
    if (klen <= 7 || strcmp(x->key + klen - 7, ".weight")) return false;
    size_t mlen = klen - 7;
    bool any = false;
    char key[640];
    for (size_t s = 0; s < sizeof scale_suffixes / sizeof *scale_suffixes; s++) {
        snprintf(key, sizeof key, "%.*s%s", (int)mlen, x->key, scale_suffixes[s]);
        const ck_entry *se = ck_checkpoint_find(c->ck, key);
        if (!se) continue;
        any = true;
        c->explained[se - c->ck->entries] = true;
    }
    if (!any) return false;
    const char *source = "";
    exclude_patterns(c, &source);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "actual_dtype", ck_dtype_name(e->dtype));
    cJSON_AddItemToObject(ev, "actual_shape", ck_shape_json(e->shape, e->ndim));
    cJSON_AddStringToObject(ev, "unquantized_by", source);
    ck_finding_add(c->f, CK_F_QUANT_CONFIG_MISMATCH, CK_SEV_ERROR, x->key, x->layer, ev, NULL,
                   "module %.*s is stored quantized (%s with scales beside it), but %s leaves it unquantized", (int)mlen,
                   x->key, ck_dtype_name(e->dtype), source);
    return true;
}

static const cJSON *exclude_patterns(const ck_check_ctx *c, const char **source)
{
    if (c->x->quant == CK_QUANT_MIXED) {
        *source = "hf_quant_config.json quantized_layers (by not listing it)";
        return NULL;
    }
    const cJSON *qc = cJSON_GetObjectItemCaseSensitive(c->config, "quantization_config");
    const cJSON *hq = c->hf_quant ? cJSON_GetObjectItemCaseSensitive(c->hf_quant, "quantization") : NULL;
    const cJSON *p;
    if (hq && (p = cJSON_GetObjectItemCaseSensitive(hq, "exclude_modules"))) { *source = "hf_quant_config.json exclude_modules"; return p; }
    if (qc && (p = cJSON_GetObjectItemCaseSensitive(qc, "modules_to_not_convert"))) { *source = "config.json modules_to_not_convert"; return p; }
    if (qc && (p = cJSON_GetObjectItemCaseSensitive(qc, "ignore"))) { *source = "config.json quantization_config.ignore"; return p; }
    *source = c->x->quant == CK_QUANT_NONE ? "config.json (no quantization)" : "the quantization config";
    return NULL;
}

/* Does `pattern` name some module of the checkpoint (the module or one of its ancestors)? */
static bool pattern_names_something(const ck_checkpoint *ck, const char *pattern)
{
    cJSON *one = cJSON_CreateArray();
    cJSON_AddItemToArray(one, cJSON_CreateString(pattern));
    bool hit = false;
    char module[600];
    for (size_t i = 0; i < ck->n_entries && !hit; i++) {
        const ck_entry *e = &ck->entries[i];
        const char *dot = memrchr(e->name, '.', e->name_len);
        size_t n = dot ? (size_t)(dot - e->name) : e->name_len;
        if (n >= sizeof module) continue;
        memcpy(module, e->name, n);
        module[n] = '\0';
        hit = ck_quant_module_excluded(one, module) || (!dot && !strcmp(module, pattern));
    }
    cJSON_Delete(one);
    return hit;
}

/* MIXED_PRECISION: every module quantized_layers names must exist. */
static void mixed_names_exist(ck_check_ctx *c)
{
    const cJSON *hq = c->hf_quant ? cJSON_GetObjectItemCaseSensitive(c->hf_quant, "quantization") : NULL;
    const cJSON *layers = hq ? cJSON_GetObjectItemCaseSensitive(hq, "quantized_layers") : NULL;
    const cJSON *qc = cJSON_GetObjectItemCaseSensitive(c->config, "quantization_config");
    if (!layers && qc) layers = cJSON_GetObjectItemCaseSensitive(qc, "quantized_layers");
    char key[640];
    for (const cJSON *m = layers ? layers->child : NULL; m; m = m->next) {
        snprintf(key, sizeof key, "%s.weight", m->string);
        if (ck_checkpoint_find(c->ck, key)) continue;
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "module", m->string);
        ck_finding_add(c->f, CK_F_QUANT_CONFIG_MISMATCH, CK_SEV_WARN, m->string, -1, ev, NULL,
                       "quantized_layers names module %s, which the checkpoint does not have", m->string);
    }
}

void ck_check_quant_config(ck_check_ctx *c)
{
    if (c->x->quant == CK_QUANT_MIXED) mixed_names_exist(c);
    if (c->x->quant == CK_QUANT_NONE || c->x->quant == CK_QUANT_UNSUPPORTED) return;
    const char *source = "";
    const cJSON *patterns = exclude_patterns(c, &source);
    /* Scales on a module the config excludes: the config and the weights disagree. */
    for (size_t i = 0; i < c->ck->n_entries; i++) {
        const ck_entry *e = &c->ck->entries[i];
        if (c->match[i] || c->explained[i]) continue;
        for (size_t s = 0; s < sizeof scale_suffixes / sizeof *scale_suffixes; s++) {
            size_t sl = strlen(scale_suffixes[s]);
            if (e->name_len <= sl || memcmp(e->name + e->name_len - sl, scale_suffixes[s], sl)) continue;
            char weight[640];
            int n = snprintf(weight, sizeof weight, "%.*s.weight", (int)(e->name_len - sl), e->name);
            const ck_expected *w = ck_expectation_find(c->x, weight, (size_t)n);
            if (!w || w->part != CK_PART_PLAIN) continue;
            c->explained[i] = true;
            cJSON *ev = cJSON_CreateObject();
            cJSON_AddStringToObject(ev, "excluded_by", source);
            ck_finding_add(c->f, CK_F_QUANT_CONFIG_MISMATCH, CK_SEV_ERROR, e->name, w->layer, ev, NULL,
                           "quantization scale for module %.*s, which %s leaves unquantized", (int)(e->name_len - sl), e->name,
                           source);
            break;
        }
    }
    if (!cJSON_IsArray(patterns) || c->ck->n_entries == 0) return;
    for (const cJSON *p = patterns->child; p; p = p->next) {
        if (!cJSON_IsString(p) || pattern_names_something(c->ck, p->valuestring)) continue;
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "pattern", p->valuestring);
        cJSON_AddStringToObject(ev, "source", source);
        ck_finding_add(c->f, CK_F_QUANT_CONFIG_MISMATCH, CK_SEV_WARN, p->valuestring, -1, ev, NULL,
                       "%s names \"%s\", which matches no module of the checkpoint", source, p->valuestring);
    }
}

/* ---- scale values ---------------------------------------------------------------------- */

static float f32_at(const uint8_t *d, uint64_t i)
{
    float v;
    memcpy(&v, d + 4 * i, 4);
    return v;
}

/* E4M3 (FN): NaN is S.1111.111; there is no infinity. A block scale must be positive. */
static bool e4m3_scale_ok(uint8_t b) { return (b & 0x7f) != 0x7f && !(b & 0x80) && b != 0; }
/* E8M0: 0xFF is NaN; every other code is a power of two, positive. */
static bool e8m0_scale_ok(uint8_t b) { return b != 0xff; }

typedef struct {
    size_t item;
    const ck_entry *e;
} scale_ref;

static int by_place(const void *pa, const void *pb)
{
    const ck_entry *a = ((const scale_ref *)pa)->e, *b = ((const scale_ref *)pb)->e;
    if (a->shard != b->shard) return a->shard < b->shard ? -1 : 1;
    return (a->file_offset > b->file_offset) - (a->file_offset < b->file_offset);
}

#define SCALE_WINDOW ((uint64_t)8 << 20) /* bytes read at once: neighbouring scales share one read */
#define SCALE_GAP ((uint64_t)64 << 10)   /* a gap this small is read through rather than skipped */

void ck_check_quant_values(ck_check_ctx *c)
{
    if (c->opt->index_only) return;
    /* The scales to read, in file order, so that neighbours (writers keep them together) come in
     * a few large reads instead of one system call each. */
    scale_ref *refs = malloc((c->x->n_items + 1) * sizeof *refs);
    uint8_t *win = malloc(SCALE_WINDOW);
    if (!refs || !win) {
        free(refs), free(win);
        return;
    }
    size_t n_refs = 0;
    for (size_t i = 0; i < c->x->n_items; i++) {
        const ck_expected *x = &c->x->items[i];
        if (c->present[i] < 0 || (x->part != CK_PART_SCALE && x->part != CK_PART_SCALE2 && x->part != CK_PART_INPUT_SCALE))
            continue;
        const ck_entry *e = &c->ck->entries[c->present[i]];
        if (!e->has_header || !(x->flags & CK_EXP_HAS_DTYPE) || e->dtype != x->dtype) continue;
        bool byte_scales = e->dtype == CK_F8_E4M3 || e->dtype == CK_U8;
        if (byte_scales && !c->opt->deep) continue;
        refs[n_refs++] = (scale_ref){i, e};
    }
    if (n_refs > 1) qsort(refs, n_refs, sizeof *refs, by_place);
    uint64_t win_start = 0, win_len = 0;
    uint32_t win_shard = UINT32_MAX;
    enum { MAX_ZERO_LAYERS = 4096 };
    size_t *zero_count = calloc(MAX_ZERO_LAYERS, sizeof *zero_count);
    const char **zero_first = calloc(MAX_ZERO_LAYERS, sizeof *zero_first);
    if (!zero_count || !zero_first) {
        free(zero_count), free(zero_first), free(refs), free(win);
        return;
    }
    for (size_t r = 0; r < n_refs; r++) {
        const ck_expected *x = &c->x->items[refs[r].item];
        const ck_entry *e = refs[r].e;
        const uint8_t *d;
        uint8_t *own = NULL;
        if (e->shard == win_shard && e->file_offset >= win_start && e->file_offset + e->nbytes <= win_start + win_len) {
            d = win + (e->file_offset - win_start);
        } else if (e->nbytes <= SCALE_WINDOW) {
            /* A new window from this scale to as far as its file-order neighbours reach. */
            uint64_t end = e->file_offset + e->nbytes;
            for (size_t q = r + 1; q < n_refs; q++) {
                const ck_entry *f = refs[q].e;
                if (f->shard != e->shard || f->file_offset > end + SCALE_GAP || f->file_offset + f->nbytes - e->file_offset > SCALE_WINDOW)
                    break;
                if (f->file_offset + f->nbytes > end) end = f->file_offset + f->nbytes;
            }
            ck_shard *sh = &c->ck->shards[e->shard];
            uint64_t len = end - e->file_offset, got = 0;
            while (got < len) {
                ssize_t k = pread(sh->st.fd, win + got, (size_t)(len - got), (off_t)(e->file_offset + got));
                if (k <= 0) break;
                got += (uint64_t)k;
            }
            win_shard = got == len ? e->shard : UINT32_MAX;
            win_start = e->file_offset;
            win_len = got == len ? len : 0;
            if (!win_len) continue;
            d = win;
        } else {
            own = malloc(e->nbytes);
            if (!own || ck_entry_read(c->ck, e, 0, own, e->nbytes) < 0) {
                free(own);
                continue;
            }
            d = own;
        }
        uint64_t bad = 0, first_bad = 0;
        double first_value = 0;
        if (e->dtype == CK_F32) {
            /* Finite and positive <=> the bits, as an unsigned integer, lie in [1, 0x7f7fffff]
             * (sign clear, not zero, exponent not all ones): one branch-free compare per value. */
            for (uint64_t k = 0; k < e->numel; k++) {
                uint32_t u;
                memcpy(&u, d + 4 * k, 4);
                bad += u - 1u >= 0x7f7fffffu;
            }
            if (bad)
                for (uint64_t k = 0; k < e->numel; k++) {
                    float v = f32_at(d, k);
                    if (!(isfinite(v) && v > 0)) { first_bad = k; first_value = v; break; }
                }
        } else {
            for (uint64_t k = 0; k < e->numel; k++) {
                bool ok = e->dtype == CK_U8 ? e8m0_scale_ok(d[k]) : e4m3_scale_ok(d[k]);
                if (!ok && bad++ == 0) { first_bad = k; first_value = d[k]; }
            }
        }
        /* A scale tensor of nothing but zero bytes was never written (a sparse or interrupted
         * export): one finding per layer says so, instead of thousands of identical ones. */
        bool never_written = bad == e->numel && e->nbytes && d[0] == 0 && !memcmp(d, d + 1, e->nbytes - 1);
        free(own);
        if (!bad) continue;
        if (never_written && x->layer >= 0 && x->layer < MAX_ZERO_LAYERS) {
            if (!zero_count[x->layer]++) zero_first[x->layer] = x->key;
            continue;
        }
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddNumberToObject(ev, "bad", (double)bad);
        cJSON_AddNumberToObject(ev, "total", (double)e->numel);
        cJSON_AddNumberToObject(ev, "first_bad_index", (double)first_bad);
        if (e->dtype == CK_F32) {
            char text[48];
            snprintf(text, sizeof text, "%g", first_value);
            cJSON_AddStringToObject(ev, "first_bad_value", text);
        } else {
            cJSON_AddNumberToObject(ev, "first_bad_code", first_value);
        }
        ck_finding_add(c->f, CK_F_QUANT_SCALE_INVALID, CK_SEV_ERROR, x->key, x->layer, ev, NULL,
                       "%llu of %llu scale values are not finite and positive", (unsigned long long)bad,
                       (unsigned long long)e->numel);
    }
    for (int l = 0; l < MAX_ZERO_LAYERS; l++) {
        if (!zero_count[l]) continue;
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddNumberToObject(ev, "tensors", (double)zero_count[l]);
        cJSON_AddStringToObject(ev, "first_key", zero_first[l]);
        ck_finding_add(c->f, CK_F_QUANT_SCALE_INVALID, CK_SEV_ERROR, zero_first[l], l, ev, NULL,
                       "%zu scale tensor%s of this layer hold%s only zero bytes: never written (a sparse or interrupted "
                       "export?); the weights beside them dequantize to zero",
                       zero_count[l], zero_count[l] == 1 ? "" : "s", zero_count[l] == 1 ? "s" : "");
    }
    free(zero_count);
    free(zero_first);
    free(refs);
    free(win);
}
