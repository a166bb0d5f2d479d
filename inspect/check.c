/* `check` orchestration and the key-level pass: every catalog entry against its expectation
 * (MISSING_KEY, UNEXPECTED_KEY, SHAPE_MISMATCH, TRANSPOSED, SQUARE_AMBIGUOUS, DTYPE_MISMATCH,
 * QUANT_SCALE_*, TIED_WEIGHTS), plus the problems met while opening the checkpoint. */
#include "check_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers shared by the passes ---------------------------------------------- */

cJSON *ck_shape_json(const uint64_t *shape, int ndim)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < ndim; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)shape[i]));
    return a;
}

void ck_shape_text(char *buf, size_t size, const uint64_t *shape, int ndim)
{
    size_t o = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%llu", i ? ", " : "", (unsigned long long)shape[i]);
    if (o < size) snprintf(buf + o, size - o, "]");
}

const uint8_t *ck_entry_data(ck_checkpoint *ck, const ck_entry *e)
{
    if (!e->has_header || e->shard >= ck->n_shards) return NULL;
    ck_shard *sh = &ck->shards[e->shard];
    if (!sh->ok || sh->st.n_tensors == 0) return NULL;
    ck_error err;
    if (!ck_st_data(&sh->st, 0, &err)) return NULL;
    return (const uint8_t *)sh->st.map + e->file_offset;
}

int ck_entry_read(ck_checkpoint *ck, const ck_entry *e, uint64_t offset, void *buf, size_t len)
{
    if (!e->has_header || e->shard >= ck->n_shards || offset > e->nbytes || len > e->nbytes - offset) return -1;
    ck_shard *sh = &ck->shards[e->shard];
    if (!sh->ok || sh->st.fd < 0) return -1;
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(sh->st.fd, (uint8_t *)buf + got, len - got, (off_t)(e->file_offset + offset + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

cJSON *ck_fix_transpose(const char *key)
{
    cJSON *fix = cJSON_CreateObject();
    cJSON_AddStringToObject(fix, "action", "transpose");
    cJSON_AddStringToObject(fix, "key", key);
    cJSON *dims = cJSON_AddArrayToObject(fix, "dims");
    cJSON_AddItemToArray(dims, cJSON_CreateNumber(-2));
    cJSON_AddItemToArray(dims, cJSON_CreateNumber(-1));
    return fix;
}

static cJSON *evidence_shapes(const uint64_t *expected, int en, const uint64_t *actual, int an)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddItemToObject(ev, "expected_shape", ck_shape_json(expected, en));
    cJSON_AddItemToObject(ev, "actual_shape", ck_shape_json(actual, an));
    return ev;
}

static bool same_shape(const uint64_t *a, int an, const uint64_t *b, int bn)
{
    return an == bn && !memcmp(a, b, (size_t)an * sizeof *a);
}

/* ---- problems from opening ------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static void report_problems(ck_check_ctx *c)
{
    ck_checkpoint *ck = c->ck;
    for (size_t i = 0; i < ck->n_problems; i++) {
        const ck_error *e = &ck->problems[i];
        ck_code code = CK_F_HEADER_INVALID;
        if (ck->index_path && !strcmp(e->file, ck->index_path)) code = CK_F_INDEX_MISMATCH;
        else if (ends_with(e->file, ".json")) code = CK_F_CONFIG_INVALID;
        else if (strstr(e->msg, "index")) code = CK_F_INDEX_MISMATCH;
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "file", e->file);
        if (e->offset >= 0) cJSON_AddNumberToObject(ev, "offset", (double)e->offset);
        char line[1400];
        ck_error_format(e, line, sizeof line);
        ck_finding_add(c->f, code, CK_SEV_ERROR, e->key[0] ? e->key : e->file, -1, ev, NULL, "%s", line);
    }
}

/* ---- config and family ----------------------------------------------------------------- */

static bool choose_spec(ck_check_ctx *c, ck_error *err)
{
    ck_checkpoint *ck = c->ck;
    if (!ck->config.present) {
        ck_finding_add(c->f, CK_F_CONFIG_MISSING, CK_SEV_ERROR, "config.json", -1, NULL, NULL,
                       "no config.json beside the weights: shapes cannot be checked against the model, only generic checks run");
        return false;
    }
    if (!ck->config.json) return false; /* CONFIG_INVALID already reported from the problems */
    c->config = ck->config.json;
    c->hf_quant = ck->hf_quant_config.json;
    const ck_spec *spec = c->opt->family ? ck_spec_by_family(c->opt->family, err) : ck_spec_for_config(c->config, err);
    if (!spec) {
        const cJSON *mt = cJSON_GetObjectItemCaseSensitive(c->config, "model_type");
        ck_finding_add(c->f, CK_F_UNKNOWN_FAMILY, CK_SEV_INFO, "config.json", -1, NULL, NULL,
                       "no family spec for model_type \"%s\": only generic checks ran (families: see 'ckdoc check --families')",
                       cJSON_IsString(mt) ? mt->valuestring : "(none)");
        return false;
    }
    ck_error xerr;
    if (ck_spec_expand(spec, c->config, c->hf_quant, c->x, &xerr) < 0) {
        char line[1400];
        ck_error_format(&xerr, line, sizeof line);
        ck_finding_add(c->f, CK_F_CONFIG_INVALID, CK_SEV_ERROR, "config.json", -1, NULL, NULL, "%s", line);
        return false;
    }
    if (c->x->quant == CK_QUANT_UNSUPPORTED)
        ck_finding_add(c->f, CK_F_QUANT_UNSUPPORTED, CK_SEV_INFO, "config.json", -1, NULL, NULL,
                       "quantization \"%s\" is not modelled by ckdoc: quantized tensors are checked as plain ones",
                       c->x->quant_name);
    return true;
}

/* ---- per-key checks ------------------------------------------------------------------------ */

static void check_dtype(ck_check_ctx *c, const ck_entry *e, const ck_expected *x)
{
    if (!(x->flags & CK_EXP_HAS_DTYPE) || e->dtype == x->dtype) return;
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "expected_dtype", ck_dtype_name(x->dtype));
    cJSON_AddStringToObject(ev, "actual_dtype", ck_dtype_name(e->dtype));
    if (x->part == CK_PART_SCALE || x->part == CK_PART_SCALE2 || x->part == CK_PART_INPUT_SCALE) {
        ck_finding_add(c->f, CK_F_QUANT_SCALE_INVALID, CK_SEV_ERROR, x->key, x->layer, ev, NULL,
                       "quantization scale is %s, the format stores it as %s", ck_dtype_name(e->dtype), ck_dtype_name(x->dtype));
    } else if (x->part == CK_PART_QWEIGHT && ck_dtype_is_float(e->dtype) && e->dtype != CK_F8_E4M3) {
        ck_finding_add(c->f, CK_F_DTYPE_MISMATCH, CK_SEV_ERROR, x->key, x->layer, ev, NULL,
                       "full-precision %s data under a quantized name (the format stores %s): the export wrote unquantized weights with quantized names",
                       ck_dtype_name(e->dtype), ck_dtype_name(x->dtype));
    } else {
        ck_finding_add(c->f, CK_F_DTYPE_MISMATCH, x->part == CK_PART_PLAIN ? CK_SEV_WARN : CK_SEV_ERROR, x->key, x->layer,
                       ev, NULL, "dtype is %s, expected %s", ck_dtype_name(e->dtype), ck_dtype_name(x->dtype));
    }
}

/* Leading dimension of a fused-expert tensor holds fewer experts than the config says. */
static bool fused_expert_shortfall(ck_check_ctx *c, const ck_entry *e, const ck_expected *x)
{
    if (strcmp(x->role, "fused_expert") != 0 || e->ndim != x->ndim || x->ndim < 1) return false;
    if (memcmp(e->shape + 1, x->shape + 1, (size_t)(x->ndim - 1) * sizeof *x->shape) != 0) return false;
    uint64_t have = e->shape[0], want = x->shape[0];
    if (have >= want) return false;
    cJSON *ev = evidence_shapes(x->shape, x->ndim, e->shape, e->ndim);
    cJSON *fix = NULL;
    if (have > 0 && want % have == 0) {
        fix = cJSON_CreateObject();
        cJSON_AddStringToObject(fix, "action", "regather_ep");
        cJSON_AddStringToObject(fix, "key", x->key);
        cJSON_AddNumberToObject(fix, "ep_size", (double)(want / have));
        ck_finding_add(c->f, CK_F_MISSING_EXPERTS, CK_SEV_ERROR, x->key, x->layer, ev, fix,
                       "fused expert tensor holds %llu of %llu experts: the pattern of an expert-parallel export (EP=%llu) that saved one rank's local experts",
                       (unsigned long long)have, (unsigned long long)want, (unsigned long long)(want / have));
    } else {
        ck_finding_add(c->f, CK_F_MISSING_EXPERTS, CK_SEV_ERROR, x->key, x->layer, ev, NULL,
                       "fused expert tensor holds %llu of %llu experts", (unsigned long long)have, (unsigned long long)want);
    }
    return true;
}

typedef struct {
    int rule;
    size_t count;
    int first_layer, last_layer;
    const char *first_key;
    uint64_t shape[CK_MAX_DIMS];
    int ndim;
    bool warn;
} square_group;

static void check_shape(ck_check_ctx *c, const ck_entry *e, const ck_expected *x)
{
    char want[160], got[160];
    if (same_shape(e->shape, e->ndim, x->shape, x->ndim)) {
        if (ck_check_unquantized_weight(c, e, x)) return;
        check_dtype(c, e, x);
        /* Square in its last two logical dims: the shape cannot tell the orientation. */
        if (x->ndim >= 2 && x->part == CK_PART_PLAIN && x->shape[x->ndim - 1] == x->shape[x->ndim - 2] &&
            x->shape[x->ndim - 1] > 1) {
            if (c->n_squares == c->cap_squares) {
                size_t cap = c->cap_squares ? 2 * c->cap_squares : 64;
                size_t *p = realloc(c->squares, cap * sizeof *p);
                unsigned char *q = realloc(c->square_state, cap);
                if (p) c->squares = p;
                if (q) c->square_state = q;
                if (!p || !q) return;
                c->cap_squares = cap;
            }
            c->square_state[c->n_squares] = CK_SQUARE_UNRESOLVED;
            c->squares[c->n_squares++] = (size_t)(x - c->x->items);
        }
        return;
    }
    if (fused_expert_shortfall(c, e, x)) return;
    if (ck_check_unquantized_weight(c, e, x)) return;
    if (ck_check_quantized_unexpectedly(c, e, x)) return;
    ck_shape_text(want, sizeof want, x->shape, x->ndim);
    ck_shape_text(got, sizeof got, e->shape, e->ndim);
    cJSON *ev = evidence_shapes(x->shape, x->ndim, e->shape, e->ndim);
    if (x->part == CK_PART_SCALE || x->part == CK_PART_SCALE2 || x->part == CK_PART_INPUT_SCALE) {
        bool swapped = x->ndim_t && same_shape(e->shape, e->ndim, x->shape_t, x->ndim_t);
        ck_finding_add(c->f, CK_F_QUANT_SCALE_SHAPE, CK_SEV_ERROR, x->key, x->layer, ev, NULL,
                       "quantization scale has shape %s, the format needs %s%s", got, want,
                       swapped ? " (the scale grid of a transposed weight)" : "");
    } else if (x->ndim_t && same_shape(e->shape, e->ndim, x->shape_t, x->ndim_t)) {
        cJSON *fix = ck_fix_transpose(x->key);
        ck_finding_add(c->f, CK_F_TRANSPOSED, CK_SEV_ERROR, x->key, x->layer, ev, fix,
                       "shape %s is the transpose of the expected %s (%s): stored in the wrong orientation", got, want,
                       x->flags & CK_EXP_IN_OUT ? "[in, out]" : "[out, in]");
    } else {
        ck_finding_add(c->f, CK_F_SHAPE_MISMATCH, CK_SEV_ERROR, x->key, x->layer, ev, NULL,
                       "shape %s, expected %s from config.json", got, want);
    }
}

/* Square tensors that no reference settled: one finding per spec rule. */
static void report_squares(ck_check_ctx *c)
{
    square_group sq[64];
    int n_sq = 0;
    for (size_t i = 0; i < c->n_squares; i++) {
        const ck_expected *x = &c->x->items[c->squares[i]];
        int state = c->square_state[i];
        if (state == CK_SQUARE_VERIFIED || state == CK_SQUARE_TRANSPOSED) continue;
        int g = 0;
        while (g < n_sq && sq[g].rule != x->rule) g++;
        if (g == n_sq) {
            if (n_sq == 64) continue;
            sq[g] = (square_group){x->rule, 0, x->layer, x->layer, x->key, {0}, x->ndim, (x->flags & CK_EXP_SQUARE_WARN) != 0};
            memcpy(sq[g].shape, x->shape, sizeof sq[g].shape);
            n_sq++;
        }
        sq[g].count++;
        sq[g].last_layer = x->layer;
    }
    for (int g = 0; g < n_sq; g++) {
        char shape[160];
        ck_shape_text(shape, sizeof shape, sq[g].shape, sq[g].ndim);
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddNumberToObject(ev, "tensors", (double)sq[g].count);
        cJSON_AddItemToObject(ev, "shape", ck_shape_json(sq[g].shape, sq[g].ndim));
        cJSON_AddStringToObject(ev, "convention", sq[g].warn ? "[in, out] (HF BF16 form)" : "[out, in]");
        char verdict[300] = "none: no reference given, and no other evidence in the weights";
        cJSON *weights = sq[g].warn && !c->opt->reference ? ck_square_weight_evidence(c, sq[g].rule, verdict, sizeof verdict) : NULL;
        if (weights) cJSON_AddItemToObject(ev, "weights", weights);
        cJSON_AddStringToObject(ev, "evidence_strength", c->opt->reference ? "inconclusive: see the reference findings" : verdict);
        if (sq[g].warn)
            ck_finding_add(c->f, CK_F_SQUARE_AMBIGUOUS, CK_SEV_WARN, sq[g].first_key, sq[g].first_layer, ev, NULL,
                           "%zu tensor(s) like this one are square %s: the shape cannot tell their orientation, and formats disagree "
                           "(%s stores [in, out]; MXFP4 dequantized and Megatron are [out, in]); evidence from the weights: %s; "
                           "settle it with ckdoc check --reference PATH",
                           sq[g].count, shape, c->x->family, verdict);
        else
            ck_finding_add(c->f, CK_F_SQUARE_AMBIGUOUS, CK_SEV_INFO, sq[g].first_key, sq[g].first_layer, ev, NULL,
                           "%zu tensor%s like this one %s square %s: the shape cannot tell the orientation (every "
                           "format stores them [out, in])",
                           sq[g].count, sq[g].count == 1 ? "" : "s", sq[g].count == 1 ? "is" : "are", shape);
    }
}

/* An unexpected `X_blocks` next to an absent expected `X`: full-precision data written under MXFP4
 * names with no scales (what torchtitan's GPT-OSS to_hf writes). */
static bool explain_blocks_without_scales(ck_check_ctx *c, size_t i)
{
    const ck_entry *e = &c->ck->entries[i];
    if (e->name_len < 8 || strcmp(e->name + e->name_len - 7, "_blocks") != 0) return false;
    const ck_expected *base = ck_expectation_find(c->x, e->name, e->name_len - 7);
    if (!base || base->part != CK_PART_PLAIN) return false;
    char scales[600];
    snprintf(scales, sizeof scales, "%.*s_scales", (int)(e->name_len - 7), e->name);
    bool has_scales = ck_checkpoint_find(c->ck, scales) != NULL;
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "actual_dtype", e->has_header ? ck_dtype_name(e->dtype) : "unknown");
    cJSON_AddBoolToObject(ev, "scales_present", has_scales);
    cJSON *fix = NULL;
    if (!has_scales && e->has_header && ck_dtype_is_float(e->dtype)) {
        fix = cJSON_CreateObject();
        cJSON_AddStringToObject(fix, "action", "rename");
        cJSON_AddStringToObject(fix, "from", e->name);
        cJSON_AddStringToObject(fix, "to", base->key);
    }
    ck_finding_add(c->f, CK_F_DTYPE_MISMATCH, CK_SEV_ERROR, e->name, base->layer, ev, fix,
                   "MXFP4 name *_blocks %s, but config.json declares no MXFP4 quantization: %s",
                   has_scales ? "with *_scales beside it" : "holding full-precision data with no *_scales beside it",
                   has_scales ? "add quantization_config or dequantize" : "the unquantized tensor belongs under its plain name");
    long xi = (long)(base - c->x->items);
    if (c->present[xi] == CK_ABSENT) c->present[xi] = CK_ACCOUNTED;
    return true;
}

static void match_keys(ck_check_ctx *c)
{
    ck_checkpoint *ck = c->ck;
    for (size_t i = 0; i < ck->n_entries; i++) {
        const ck_entry *e = &ck->entries[i];
        const ck_expected *x = ck_expectation_find(c->x, e->name, e->name_len);
        c->match[i] = x;
        if (x) c->present[x - c->x->items] = (long)i;
    }
    for (size_t i = 0; i < ck->n_entries; i++)
        if (c->match[i] && ck->entries[i].has_header) check_shape(c, &ck->entries[i], c->match[i]);
}

static void report_unexpected(ck_check_ctx *c)
{
    ck_checkpoint *ck = c->ck;
    size_t other = 0;
    for (size_t i = 0; i < ck->n_entries; i++) {
        const ck_entry *e = &ck->entries[i];
        if (c->match[i] || c->explained[i]) continue;
        if (ck_expectation_other_component(c->x, e->name)) { other++; continue; }
        if (explain_blocks_without_scales(c, i)) continue;
        ck_finding_add(c->f, CK_F_UNEXPECTED_KEY, CK_SEV_WARN, e->name, -1, NULL, NULL,
                       "key not expected by the %s spec for this config", c->x->family);
    }
    if (other)
        ck_finding_add(c->f, CK_F_OTHER_COMPONENT, CK_SEV_INFO, "", -1, NULL, NULL,
                       "%zu tensors belong to components the %s spec does not describe (e.g. a vision tower): not checked",
                       other, c->x->family);
}

/* Expected keys that are absent, once the expert pass has claimed whole missing experts. */
static void report_missing(ck_check_ctx *c)
{
    for (size_t i = 0; i < c->x->n_items; i++) {
        const ck_expected *x = &c->x->items[i];
        if (c->present[i] != CK_ABSENT || (x->flags & CK_EXP_OPTIONAL)) continue;
        if (!strcmp(x->role, "expert_bias")) {
            cJSON *fix = cJSON_CreateObject();
            cJSON_AddStringToObject(fix, "action", "reset_expert_bias");
            cJSON_AddStringToObject(fix, "key", x->key);
            cJSON_AddItemToObject(fix, "shape", ck_shape_json(x->shape, x->ndim));
            cJSON_AddStringToObject(fix, "dtype", ck_dtype_name((x->flags & CK_EXP_HAS_DTYPE) ? x->dtype : CK_F32));
            ck_finding_add(c->f, CK_F_EXPERT_BIAS_MISSING, CK_SEV_ERROR, x->key, x->layer, NULL, fix,
                           "expert bias (aux-loss-free load balancing) is missing: an export that had no slot for it dropped "
                           "it; it must come back as zeros");
            continue;
        }
        if (x->part == CK_PART_SCALE || x->part == CK_PART_SCALE2) {
            ck_finding_add(c->f, CK_F_QUANT_SCALE_MISSING, CK_SEV_ERROR, x->key, x->layer, NULL, NULL,
                           "quantization scale is missing: the weight beside it cannot be dequantized");
            continue;
        }
        if (!strcmp(x->role, "lm_head") && c->config) {
            ck_finding_add(c->f, CK_F_TIED_WEIGHTS, CK_SEV_ERROR, x->key, -1, NULL, NULL,
                           "config.json says the embeddings are not tied, but there is no lm_head.weight: set "
                           "tie_word_embeddings to true if the model shares them, or restore lm_head");
            continue;
        }
        ck_finding_add(c->f, CK_F_MISSING_KEY, CK_SEV_ERROR, x->key, x->layer, NULL, NULL, "expected key is missing");
    }
}

/* Plain floating-point tensors whose dtype differs from config.json's torch_dtype: one info line
 * per dtype (mixed precision is legitimate, e.g. F32 norms, but a reader should know). */
static void check_torch_dtype(ck_check_ctx *c)
{
    const cJSON *td = cJSON_GetObjectItemCaseSensitive(c->config, "torch_dtype");
    if (!cJSON_IsString(td)) td = cJSON_GetObjectItemCaseSensitive(c->config, "dtype");
    if (!cJSON_IsString(td)) return;
    int want = -1;
    for (int d = 0; d < CK_DTYPE_COUNT; d++)
        if (ck_dtype_table[d].torch_name[0] && !strcmp(ck_dtype_table[d].torch_name, td->valuestring)) want = d;
    if (want < 0) return;
    size_t count[CK_DTYPE_COUNT] = {0};
    const char *example[CK_DTYPE_COUNT] = {0};
    for (size_t i = 0; i < c->ck->n_entries; i++) {
        const ck_entry *e = &c->ck->entries[i];
        const ck_expected *x = c->match[i];
        if (!x || !e->has_header || x->part != CK_PART_PLAIN || (x->flags & CK_EXP_HAS_DTYPE)) continue;
        if (!ck_dtype_is_float(e->dtype) || (int)e->dtype == want) continue;
        if (!count[e->dtype]++) example[e->dtype] = e->name;
    }
    for (int d = 0; d < CK_DTYPE_COUNT; d++) {
        if (!count[d]) continue;
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "torch_dtype", td->valuestring);
        cJSON_AddStringToObject(ev, "dtype", ck_dtype_name((ck_dtype)d));
        cJSON_AddNumberToObject(ev, "tensors", (double)count[d]);
        ck_finding_add(c->f, CK_F_DTYPE_MISMATCH, CK_SEV_INFO, example[d], -1, ev, NULL,
                       "%zu tensors like this one are %s while config.json says torch_dtype %s", count[d],
                       ck_dtype_name((ck_dtype)d), td->valuestring);
    }
}

static void check_tied(ck_check_ctx *c)
{
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(c->config, "tie_word_embeddings");
    if (!cJSON_IsTrue(tie)) return;
    const ck_entry *head = ck_checkpoint_find(c->ck, "lm_head.weight");
    if (!head) return;
    const ck_entry *embed = NULL;
    for (size_t i = 0; i < c->x->n_items && !embed; i++)
        if (!strcmp(c->x->items[i].role, "embed")) embed = ck_checkpoint_find(c->ck, c->x->items[i].key);
    bool same = false;
    if (embed && embed->has_header && head->has_header && embed->nbytes == head->nbytes && embed->dtype == head->dtype) {
        const uint8_t *a = ck_entry_data(c->ck, embed), *b = ck_entry_data(c->ck, head);
        same = a && b && !memcmp(a, b, embed->nbytes);
    }
    for (size_t i = 0; i < c->ck->n_entries; i++)
        if (&c->ck->entries[i] == head) c->explained[i] = true;
    ck_finding_add(c->f, CK_F_TIED_WEIGHTS, same ? CK_SEV_INFO : CK_SEV_WARN, "lm_head.weight", -1, NULL, NULL,
                   same ? "embeddings are tied and lm_head.weight is a copy of them: loaders ignore it"
                        : "config.json says the embeddings are tied, but lm_head.weight is present and differs from them: "
                          "loaders will ignore it and use the embeddings");
}

/* CKDOC_PROFILE=1 prints how long each pass took, on stderr (for benchmarks and slow cases). */
static double phase_start;
static void phase(const char *name)
{
    static int on = -1;
    if (on < 0) on = getenv("CKDOC_PROFILE") != NULL;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
    if (on && name) fprintf(stderr, "ckdoc: profile: %-18s %8.1f ms\n", name, now - phase_start);
    phase_start = now;
}

int ck_check_run(ck_checkpoint *ck, const ck_check_options *opt, ck_findings *out, ck_expectation *x, ck_error *err)
{
    phase(NULL);
    memset(x, 0, sizeof *x);
    ck_check_ctx c = {.ck = ck, .opt = opt, .f = out, .x = x};
    report_problems(&c);
    c.have_spec = choose_spec(&c, err);
    if (opt->index_only || ck->layout == CK_LAYOUT_INDEX_ONLY)
        ck_finding_add(out, CK_F_INDEX_ONLY, CK_SEV_INFO, "", -1, NULL, NULL,
                       "index only: key names were checked; shapes, dtypes and data were not (the shards are not here)");
    c.match = calloc(ck->n_entries + 1, sizeof *c.match);
    c.present = malloc((x->n_items + 1) * sizeof *c.present);
    c.explained = calloc(ck->n_entries + 1, sizeof *c.explained);
    if (!c.match || !c.present || !c.explained) {
        free(c.match), free(c.present), free(c.explained);
        return ck_error_set(err, CK_E_NOMEM, NULL, NULL, -1, "out of memory");
    }
    for (size_t i = 0; i < x->n_items; i++) c.present[i] = CK_ABSENT;
    /* The shape-level checks read a few pages here and there: no read-ahead until --deep streams. */
    for (size_t s = 0; s < ck->n_shards; s++)
        if (ck->shards[s].ok && ck->shards[s].st.fd >= 0) posix_fadvise(ck->shards[s].st.fd, 0, 0, POSIX_FADV_RANDOM);
    phase("spec");
    if (c.have_spec) {
        check_tied(&c);
        match_keys(&c);
        check_torch_dtype(&c);
        phase("keys and shapes");
        ck_check_reference(&c);
        report_squares(&c);
        phase("square tensors");
        ck_check_quant_config(&c);
        report_unexpected(&c);
        ck_check_experts(&c);
        phase("experts");
        report_missing(&c);
        ck_check_quant_values(&c);
        phase("scale values");
    }
    for (size_t s = 0; s < ck->n_shards; s++)
        if (ck->shards[s].ok && ck->shards[s].st.fd >= 0) posix_fadvise(ck->shards[s].st.fd, 0, 0, POSIX_FADV_NORMAL);
    ck_check_deep(&c);
    if (opt->deep) phase("deep");
    free(c.match), free(c.present), free(c.explained), free(c.squares), free(c.square_state);
    return 0;
}
