/* Family specs: parse the built-in JSON, evaluate it against a config.json, and list every tensor
 * the checkpoint must hold (quantized forms included). */
#include "spec.h"

#include <cjson/cJSON.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

/* Generated at build time from the JSON files in inspect/specs (see the Makefile). */
typedef struct {
    const char *file;
    const char *text;
} ck_spec_blob;
extern const ck_spec_blob ck_builtin_specs[];
extern const size_t ck_builtin_spec_count;

typedef struct {
    const char *key;
    const char *shape[CK_MAX_DIMS];
    int ndim;
    const char *when;       /* NULL: always */
    const char *optional;   /* NULL: required; "true" or a predicate */
    bool has_dtype;
    ck_dtype dtype;
    bool in_out, linear, mxfp4, square_warn;
    const char *role;
    const char *units_key;  /* "units_from": the tensor whose output units feed this one's input */
    int units_split;        /* CK_UNITS_* */
} rule;

struct ck_spec {
    const char *family;
    cJSON *doc;
    const cJSON *model_types, *vars, *kinds, *other_components;
    const char *config_root, *layers, *experts;
    rule *rules;
    int n_rules;
};

#define CK_MAX_EXPECTED 1000000 /* ten times the largest released models; each costs ~450 bytes */

static ck_spec *specs;
static size_t n_specs;
static ck_error load_error;
static bool load_failed;

/* ---- loading ------------------------------------------------------------------------- */

static const char *opt_string(const cJSON *obj, const char *name)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static int load_rule(const char *file, const cJSON *r, rule *out, ck_error *err)
{
    memset(out, 0, sizeof *out);
    out->key = opt_string(r, "key");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(r, "shape");
    if (!out->key || !cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > CK_MAX_DIMS - 1)
        return ck_error_set(err, CK_E_FORMAT, file, out->key, -1, "spec rule needs \"key\" and a \"shape\" array");
    for (const cJSON *d = shape->child; d; d = d->next) {
        if (!cJSON_IsString(d)) return ck_error_set(err, CK_E_FORMAT, file, out->key, -1, "shape entries are expression strings");
        out->shape[out->ndim++] = d->valuestring;
    }
    out->when = opt_string(r, "when");
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(r, "optional");
    if (cJSON_IsTrue(opt)) out->optional = "true";
    else if (cJSON_IsString(opt)) out->optional = opt->valuestring;
    const char *dt = opt_string(r, "dtype");
    if (dt) {
        if (!ck_dtype_from_name(dt, strlen(dt), &out->dtype))
            return ck_error_set(err, CK_E_FORMAT, file, out->key, -1, "unknown dtype \"%s\" in spec", dt);
        out->has_dtype = true;
    }
    const char *layout = opt_string(r, "layout");
    if (layout && strcmp(layout, "in_out") && strcmp(layout, "out_in"))
        return ck_error_set(err, CK_E_FORMAT, file, out->key, -1, "layout must be \"out_in\" or \"in_out\"");
    out->in_out = layout && !strcmp(layout, "in_out");
    out->linear = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "linear"));
    out->mxfp4 = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "mxfp4"));
    const char *square = opt_string(r, "square");
    out->square_warn = square && !strcmp(square, "warn");
    out->role = opt_string(r, "role");
    if (!out->role) out->role = "";
    const cJSON *units = cJSON_GetObjectItemCaseSensitive(r, "units_from");
    if (units) {
        out->units_key = opt_string(units, "key");
        const char *split = opt_string(units, "split");
        if (!out->units_key || !split || (strcmp(split, "interleaved") && strcmp(split, "concatenated")))
            return ck_error_set(err, CK_E_FORMAT, file, out->key, -1,
                                "units_from needs a key and a split (\"interleaved\" or \"concatenated\")");
        out->units_split = !strcmp(split, "interleaved") ? CK_UNITS_INTERLEAVED : CK_UNITS_CONCATENATED;
    }
    return 0;
}

static int load_spec(const ck_spec_blob *blob, ck_spec *s, ck_error *err)
{
    memset(s, 0, sizeof *s);
    const char *end = NULL;
    s->doc = cJSON_ParseWithOpts(blob->text, &end, 1);
    if (!s->doc)
        return ck_error_set(err, CK_E_FORMAT, blob->file, NULL, end ? end - blob->text : -1, "built-in spec is not valid JSON");
    const char *schema = opt_string(s->doc, "schema");
    s->family = opt_string(s->doc, "family");
    s->model_types = cJSON_GetObjectItemCaseSensitive(s->doc, "model_types");
    s->vars = cJSON_GetObjectItemCaseSensitive(s->doc, "vars");
    s->kinds = cJSON_GetObjectItemCaseSensitive(s->doc, "kinds");
    s->other_components = cJSON_GetObjectItemCaseSensitive(s->doc, "other_components");
    s->config_root = opt_string(s->doc, "config_root");
    s->layers = opt_string(s->doc, "layers");
    s->experts = opt_string(s->doc, "experts");
    const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(s->doc, "tensors");
    if (!schema || strcmp(schema, "ckdoc.family/1") || !s->family || !cJSON_IsArray(s->model_types) ||
        !s->layers || !cJSON_IsArray(tensors))
        return ck_error_set(err, CK_E_FORMAT, blob->file, NULL, -1,
                            "built-in spec lacks schema ckdoc.family/1, family, model_types, layers or tensors");
    s->rules = calloc((size_t)cJSON_GetArraySize(tensors) + 1, sizeof *s->rules);
    if (!s->rules) return ck_error_set(err, CK_E_NOMEM, blob->file, NULL, -1, "out of memory");
    for (const cJSON *r = tensors->child; r; r = r->next)
        if (load_rule(blob->file, r, &s->rules[s->n_rules++], err) < 0) return -1;
    return 0;
}

static void load_all(void)
{
    specs = calloc(ck_builtin_spec_count + 1, sizeof *specs);
    if (!specs) {
        load_failed = true;
        ck_error_set(&load_error, CK_E_NOMEM, NULL, NULL, -1, "out of memory");
        return;
    }
    for (size_t i = 0; i < ck_builtin_spec_count; i++) {
        if (load_spec(&ck_builtin_specs[i], &specs[i], &load_error) < 0) {
            load_failed = true;
            return;
        }
        n_specs++;
    }
}

static bool ensure_loaded(ck_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, load_all);
    if (load_failed && err) *err = load_error;
    return !load_failed;
}

size_t ck_spec_count(void)
{
    return ensure_loaded(NULL) ? n_specs : 0;
}

const char *ck_spec_family(size_t i)
{
    return i < ck_spec_count() ? specs[i].family : NULL;
}

const ck_spec *ck_spec_by_family(const char *family, ck_error *err)
{
    if (!ensure_loaded(err)) return NULL;
    for (size_t i = 0; i < n_specs; i++)
        if (!strcmp(specs[i].family, family)) return &specs[i];
    return NULL;
}

const ck_spec *ck_spec_for_config(const cJSON *config, ck_error *err)
{
    if (!ensure_loaded(err) || !cJSON_IsObject(config)) return NULL;
    for (size_t i = 0; i < n_specs; i++) {
        const ck_spec *s = &specs[i];
        const cJSON *roots[2] = {config, s->config_root ? cJSON_GetObjectItemCaseSensitive(config, s->config_root) : NULL};
        for (int r = 0; r < 2; r++) {
            const char *mt = roots[r] ? opt_string(roots[r], "model_type") : NULL;
            if (!mt) continue;
            for (const cJSON *t = s->model_types->child; t; t = t->next)
                if (cJSON_IsString(t) && !strcmp(t->valuestring, mt)) return s;
        }
    }
    return NULL;
}

/* ---- evaluation environment ---------------------------------------------------------- */

typedef struct {
    const ck_spec *spec;
    const cJSON *config, *root;
    int64_t layer;            /* -1: unbound */
    ck_expr_env env;
} eval_ctx;

static const cJSON *json_path(const cJSON *obj, const char *name, int len)
{
    char key[128];
    const char *p = name, *end = name + len;
    while (obj && p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        int n = (int)((dot ? dot : end) - p);
        if (n >= (int)sizeof key) return NULL;
        memcpy(key, p, (size_t)n);
        key[n] = '\0';
        obj = cJSON_GetObjectItemCaseSensitive(obj, key);
        p = dot ? dot + 1 : end;
    }
    return obj;
}

static bool lookup(void *vctx, const char *name, int len, ck_value *out)
{
    eval_ctx *c = vctx;
    if (len == 1 && name[0] == 'n') {
        if (c->layer < 0) return false;
        *out = (ck_value){.type = CK_V_INT, .i = c->layer};
        return true;
    }
    char key[128];
    if (len >= (int)sizeof key) return false;
    memcpy(key, name, (size_t)len);
    key[len] = '\0';
    const cJSON *def = c->spec->vars ? cJSON_GetObjectItemCaseSensitive(c->spec->vars, key) : NULL;
    if (!def && c->spec->kinds) def = cJSON_GetObjectItemCaseSensitive(c->spec->kinds, key);
    if (cJSON_IsString(def)) {
        char err[256];
        c->env.depth++;
        int rc = ck_expr_eval(def->valuestring, &c->env, out, err, sizeof err);
        c->env.depth--;
        /* A var whose config field is absent is itself absent, so that "x ?? default" works one
         * level up; other errors (bad arithmetic) surface when the value is used. */
        return rc == 0;
    }
    const cJSON *j = c->root ? json_path(c->root, name, len) : NULL;
    if (!j) j = json_path(c->config, name, len);
    if (!j) return false;
    *out = ck_value_from_json(j);
    return true;
}

static int eval_int(eval_ctx *c, const char *expr, int64_t *out, const char *what, ck_error *err)
{
    char msg[300];
    if (ck_expr_int(expr, &c->env, out, msg, sizeof msg) < 0)
        return ck_error_set(err, CK_E_FORMAT, "config.json", what, -1, "%s (family spec %s)", msg, c->spec->family);
    return 0;
}

static int eval_bool(eval_ctx *c, const char *expr, bool *out, const char *what, ck_error *err)
{
    char msg[300];
    if (ck_expr_bool(expr, &c->env, out, msg, sizeof msg) < 0)
        return ck_error_set(err, CK_E_FORMAT, "config.json", what, -1, "%s (family spec %s)", msg, c->spec->family);
    return 0;
}

/* ---- quantization config ------------------------------------------------------------- */

typedef struct {
    ck_quant_format format;
    const cJSON *excludes;    /* array of glob patterns, may be NULL */
    const cJSON *layers;      /* MIXED_PRECISION: quantized_layers {module: {quant_algo, ...}} */
    int64_t block_out, block_in;
    char name[64];
} quant_config;

/* ModelOpt's quant_algo names for the formats ckdoc models. */
static ck_quant_format algo_format(const char *algo)
{
    return !strcmp(algo, "NVFP4") ? CK_QUANT_NVFP4 : !strcmp(algo, "FP8") ? CK_QUANT_FP8_TENSOR : CK_QUANT_UNSUPPORTED;
}

static void read_quant(const cJSON *config, const cJSON *hf_quant, quant_config *q)
{
    memset(q, 0, sizeof *q);
    const cJSON *qc = cJSON_GetObjectItemCaseSensitive(config, "quantization_config");
    const char *method = qc ? opt_string(qc, "quant_method") : NULL;
    const cJSON *hq = hf_quant ? cJSON_GetObjectItemCaseSensitive(hf_quant, "quantization") : NULL;
    const char *algo = hq ? opt_string(hq, "quant_algo") : NULL;
    if (!algo && qc && method && !strcmp(method, "modelopt")) algo = opt_string(qc, "quant_algo");
    if (algo) {
        snprintf(q->name, sizeof q->name, "%s", algo);
        q->format = algo_format(algo);
        if (!strcmp(algo, "MIXED_PRECISION")) {
            /* One format per module, named in quantized_layers; a module it does not name is not
             * quantized. */
            q->format = CK_QUANT_MIXED;
            q->layers = hq ? cJSON_GetObjectItemCaseSensitive(hq, "quantized_layers") : NULL;
            if (!q->layers && qc) q->layers = cJSON_GetObjectItemCaseSensitive(qc, "quantized_layers");
        }
        q->excludes = hq ? cJSON_GetObjectItemCaseSensitive(hq, "exclude_modules") : NULL;
        if (!q->excludes && qc) q->excludes = cJSON_GetObjectItemCaseSensitive(qc, "ignore");
        return;
    }
    if (!method) return;
    snprintf(q->name, sizeof q->name, "%s", method);
    if (!strcmp(method, "mxfp4")) {
        q->format = CK_QUANT_MXFP4;
        q->excludes = cJSON_GetObjectItemCaseSensitive(qc, "modules_to_not_convert");
    } else if (!strcmp(method, "fp8")) {
        const cJSON *bs = cJSON_GetObjectItemCaseSensitive(qc, "weight_block_size");
        /* Block sizes are small whole numbers (128); anything else is not a block size. */
        if (cJSON_GetArraySize(bs) == 2 && cJSON_IsNumber(bs->child) && cJSON_IsNumber(bs->child->next) &&
            bs->child->valuedouble >= 1 && bs->child->next->valuedouble >= 1 && bs->child->valuedouble <= 1048576 &&
            bs->child->next->valuedouble <= 1048576) {
            q->format = CK_QUANT_FP8_BLOCK;
            q->block_out = (int64_t)bs->child->valuedouble;
            q->block_in = (int64_t)bs->child->next->valuedouble;
        } else {
            q->format = CK_QUANT_FP8_TENSOR;
        }
        q->excludes = cJSON_GetObjectItemCaseSensitive(qc, "modules_to_not_convert");
    } else {
        q->format = CK_QUANT_UNSUPPORTED;
    }
}

bool ck_quant_module_excluded(const cJSON *patterns, const char *module)
{
    if (!cJSON_IsArray(patterns)) return false;
    char prefix[512];
    size_t len = strlen(module);
    if (len >= sizeof prefix) return false;
    /* A pattern naming a module covers everything inside it: try the module and each of its
     * dotted ancestors ("model.layers.*.self_attn" covers "model.layers.3.self_attn.q_proj"). */
    for (size_t cut = len;; ) {
        memcpy(prefix, module, cut);
        prefix[cut] = '\0';
        for (const cJSON *p = patterns->child; p; p = p->next)
            if (cJSON_IsString(p) && fnmatch(p->valuestring, prefix, 0) == 0) return true;
        while (cut > 0 && module[cut - 1] != '.') cut--;
        if (cut == 0) break;
        cut--;
    }
    return false;
}

/* ---- expansion ----------------------------------------------------------------------- */

typedef struct {
    ck_expected *items;
    size_t n, cap;
    char *names;
    size_t names_used, names_cap;
    ck_error *err;
} builder;

static ck_expected *push(builder *b, const char *key)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        ck_expected *p = realloc(b->items, cap * sizeof *p);
        if (!p) return NULL;
        b->items = p;
        b->cap = cap;
    }
    /* Keys live in one growing buffer (a hundred thousand small allocations cost more than the
     * rest of the expansion); until it stops moving, a key holds its offset there. */
    size_t len = strlen(key) + 1;
    if (b->names_used + len > b->names_cap) {
        size_t cap = b->names_cap ? b->names_cap * 2 : 1 << 16;
        while (cap < b->names_used + len) cap *= 2;
        char *p = realloc(b->names, cap);
        if (!p) return NULL;
        b->names = p;
        b->names_cap = cap;
    }
    memcpy(b->names + b->names_used, key, len);
    ck_expected *x = &b->items[b->n++];
    memset(x, 0, sizeof *x);
    x->key = (char *)(uintptr_t)b->names_used;
    b->names_used += len;
    x->layer = x->expert = -1;
    return x;
}

/* Replace {n} (layer), {e} (expert) and {var} (any spec variable that is a string or integer,
 * e.g. a key prefix chosen by the architecture) in a key pattern. */
static int render_key(eval_ctx *c, char *dst, size_t size, const char *pattern, int64_t n, int64_t e, ck_error *err)
{
    size_t o = 0;
    for (const char *p = pattern; *p; p++) {
        if (o + 24 >= size) return ck_error_set(err, CK_E_FORMAT, NULL, pattern, -1, "key pattern expands too long");
        if (p[0] == '{' && (p[1] == 'n' || p[1] == 'e') && p[2] == '}') {
            o += (size_t)snprintf(dst + o, size - o, "%lld", (long long)(p[1] == 'n' ? n : e));
            p += 2;
            continue;
        }
        const char *close = p[0] == '{' ? strchr(p, '}') : NULL;
        if (!close) {
            dst[o++] = *p;
            continue;
        }
        char name[64], msg[300];
        snprintf(name, sizeof name, "%.*s", (int)(close - p - 1), p + 1);
        ck_value v;
        if (ck_expr_eval(name, &c->env, &v, msg, sizeof msg) < 0)
            return ck_error_set(err, CK_E_FORMAT, "config.json", pattern, -1, "%s (family spec %s)", msg, c->spec->family);
        int w = v.type == CK_V_STR ? snprintf(dst + o, size - o, "%.*s", v.s_len, v.s)
              : v.type == CK_V_INT ? snprintf(dst + o, size - o, "%lld", (long long)v.i) : -1;
        if (w < 0 || (size_t)w >= size - o)
            return ck_error_set(err, CK_E_FORMAT, NULL, pattern, -1, "{%s} is not a short string or integer", name);
        o += (size_t)w;
        p = close;
    }
    dst[o] = '\0';
    return 0;
}

static void set_shape(ck_expected *x, int ndim, const uint64_t *shape)
{
    x->ndim = ndim;
    memcpy(x->shape, shape, (size_t)ndim * sizeof *shape);
}

/* The transposed form: the last two logical dims swapped, pushed through the same transform. */
typedef void (*shape_fn)(const uint64_t *logical, int ndim, bool in_out, const quant_config *q, uint64_t *out, int *out_ndim);

static void plain_shape(const uint64_t *l, int nd, bool in_out, const quant_config *q, uint64_t *o, int *ond)
{
    (void)in_out; (void)q;
    memcpy(o, l, (size_t)nd * sizeof *l);
    *ond = nd;
}

/* [.., out, in] of a logical tensor, whatever its layout. */
static void out_in(const uint64_t *l, int nd, bool in_out, uint64_t *out, uint64_t *in)
{
    *out = in_out ? l[nd - 1] : l[nd - 2];
    *in = in_out ? l[nd - 2] : l[nd - 1];
}

static void nvfp4_weight(const uint64_t *l, int nd, bool io, const quant_config *q, uint64_t *o, int *ond)
{
    (void)q;
    uint64_t out, in;
    out_in(l, nd, io, &out, &in);
    memcpy(o, l, (size_t)(nd - 2) * sizeof *l);
    o[nd - 2] = out, o[nd - 1] = in / 2, *ond = nd;
}

static void nvfp4_scale(const uint64_t *l, int nd, bool io, const quant_config *q, uint64_t *o, int *ond)
{
    (void)q;
    uint64_t out, in;
    out_in(l, nd, io, &out, &in);
    memcpy(o, l, (size_t)(nd - 2) * sizeof *l);
    o[nd - 2] = out, o[nd - 1] = in / 16, *ond = nd;
}

static void fp8_block_scale(const uint64_t *l, int nd, bool io, const quant_config *q, uint64_t *o, int *ond)
{
    uint64_t out, in;
    out_in(l, nd, io, &out, &in);
    memcpy(o, l, (size_t)(nd - 2) * sizeof *l);
    o[nd - 2] = (out + (uint64_t)q->block_out - 1) / (uint64_t)q->block_out;
    o[nd - 1] = (in + (uint64_t)q->block_in - 1) / (uint64_t)q->block_in;
    *ond = nd;
}

static void mxfp4_blocks(const uint64_t *l, int nd, bool io, const quant_config *q, uint64_t *o, int *ond)
{
    (void)q;
    uint64_t out, in;
    out_in(l, nd, io, &out, &in);
    memcpy(o, l, (size_t)(nd - 2) * sizeof *l);
    o[nd - 2] = out, o[nd - 1] = in / 32, o[nd] = 16, *ond = nd + 1;
}

static void mxfp4_scales(const uint64_t *l, int nd, bool io, const quant_config *q, uint64_t *o, int *ond)
{
    (void)q;
    uint64_t out, in;
    out_in(l, nd, io, &out, &in);
    memcpy(o, l, (size_t)(nd - 2) * sizeof *l);
    o[nd - 2] = out, o[nd - 1] = in / 32, *ond = nd;
}

static void scalar_shape(const uint64_t *l, int nd, bool io, const quant_config *q, uint64_t *o, int *ond)
{
    (void)l; (void)nd; (void)io; (void)q; (void)o;
    *ond = 0;
}

static int emit(builder *b, const char *key, const rule *r, int rule_index, int64_t layer, int64_t expert,
                const uint64_t *logical, int nd, const quant_config *q, shape_fn fn, ck_part part,
                ck_quant_format fmt, int dtype, bool optional)
{
    /* A hostile config must not make us allocate without bound (the largest real models have
     * about 100,000 tensors). */
    if (b->n >= CK_MAX_EXPECTED)
        return ck_error_set(b->err, CK_E_UNSUPPORTED, "config.json", NULL, -1,
                            "the config describes more than %d tensors; ckdoc refuses to expand it", CK_MAX_EXPECTED);
    ck_expected *x = push(b, key);
    if (!x) return ck_error_set(b->err, CK_E_NOMEM, NULL, key, -1, "out of memory");
    uint64_t s[CK_MAX_DIMS + 1];
    int snd;
    fn(logical, nd, r->in_out, q, s, &snd);
    set_shape(x, snd, s);
    x->ndim_l = nd;
    memcpy(x->shape_l, logical, (size_t)nd * sizeof *logical);
    if (nd >= 2 && fn != scalar_shape) {
        uint64_t swapped[CK_MAX_DIMS];
        memcpy(swapped, logical, (size_t)nd * sizeof *logical);
        swapped[nd - 2] = logical[nd - 1];
        swapped[nd - 1] = logical[nd - 2];
        fn(swapped, nd, r->in_out, q, x->shape_t, &x->ndim_t);
        if (!memcmp(x->shape_t, x->shape, (size_t)snd * sizeof *s)) x->ndim_t = 0;
    }
    x->flags = (r->in_out ? CK_EXP_IN_OUT : 0) | (r->square_warn ? CK_EXP_SQUARE_WARN : 0) |
               (optional ? CK_EXP_OPTIONAL : 0);
    if (dtype >= 0) {
        x->flags |= CK_EXP_HAS_DTYPE;
        x->dtype = (ck_dtype)dtype;
    }
    x->part = part;
    x->quant = fmt;
    x->layer = (int)layer;
    x->expert = (int)expert;
    x->rule = rule_index;
    x->role = r->role;
    return 0;
}

/* Emit one logical tensor: itself, or its quantized parts. */
static int emit_logical(builder *b, const char *key, const rule *r, int ri, int64_t layer, int64_t expert,
                        const uint64_t *logical, int nd, const quant_config *q, bool optional)
{
    char name[600], module[512];
    size_t klen = strlen(key);
    bool dot_weight = klen > 7 && !strcmp(key + klen - 7, ".weight");
    snprintf(module, sizeof module, "%.*s", (int)(dot_weight ? klen - 7 : klen), key);
    if (r->mxfp4) { /* "model.layers.0.mlp.experts.down_proj" is a parameter of module "...experts" */
        char *dot = strrchr(module, '.');
        if (dot) *dot = '\0';
    }
    ck_quant_format fmt = q->format;
    if (fmt == CK_QUANT_MIXED) {
        const cJSON *entry = cJSON_GetObjectItemCaseSensitive(q->layers, module);
        const char *algo = entry ? opt_string(entry, "quant_algo") : NULL;
        fmt = algo ? algo_format(algo) : CK_QUANT_NONE;
    }
    bool quantizable = (r->linear && nd >= 2 && dot_weight &&
                        (fmt == CK_QUANT_NVFP4 || fmt == CK_QUANT_FP8_TENSOR || fmt == CK_QUANT_FP8_BLOCK)) ||
                       (r->mxfp4 && nd >= 2 && fmt == CK_QUANT_MXFP4);
    if (quantizable && ck_quant_module_excluded(q->excludes, module)) quantizable = false;
    if (!quantizable)
        return emit(b, key, r, ri, layer, expert, logical, nd, q, plain_shape, CK_PART_PLAIN, CK_QUANT_NONE,
                    r->has_dtype ? (int)r->dtype : -1, optional);

    switch (fmt) {
    case CK_QUANT_NVFP4:
        snprintf(name, sizeof name, "%s", key);
        if (emit(b, name, r, ri, layer, expert, logical, nd, q, nvfp4_weight, CK_PART_QWEIGHT, fmt, CK_U8, optional) < 0) return -1;
        snprintf(name, sizeof name, "%s.weight_scale", module);
        if (emit(b, name, r, ri, layer, expert, logical, nd, q, nvfp4_scale, CK_PART_SCALE, fmt, CK_F8_E4M3, optional) < 0) return -1;
        snprintf(name, sizeof name, "%s.weight_scale_2", module);
        if (emit(b, name, r, ri, layer, expert, logical, nd, q, scalar_shape, CK_PART_SCALE2, fmt, CK_F32, optional) < 0) return -1;
        snprintf(name, sizeof name, "%s.input_scale", module);
        return emit(b, name, r, ri, layer, expert, logical, nd, q, scalar_shape, CK_PART_INPUT_SCALE, fmt, CK_F32, true);
    case CK_QUANT_FP8_TENSOR:
        if (emit(b, key, r, ri, layer, expert, logical, nd, q, plain_shape, CK_PART_QWEIGHT, fmt, CK_F8_E4M3, optional) < 0) return -1;
        snprintf(name, sizeof name, "%s.weight_scale", module);
        if (emit(b, name, r, ri, layer, expert, logical, nd, q, scalar_shape, CK_PART_SCALE, fmt, CK_F32, optional) < 0) return -1;
        snprintf(name, sizeof name, "%s.input_scale", module);
        return emit(b, name, r, ri, layer, expert, logical, nd, q, scalar_shape, CK_PART_INPUT_SCALE, fmt, CK_F32, true);
    case CK_QUANT_FP8_BLOCK:
        if (emit(b, key, r, ri, layer, expert, logical, nd, q, plain_shape, CK_PART_QWEIGHT, fmt, CK_F8_E4M3, optional) < 0) return -1;
        snprintf(name, sizeof name, "%s.weight_scale_inv", module);
        return emit(b, name, r, ri, layer, expert, logical, nd, q, fp8_block_scale, CK_PART_SCALE, fmt, CK_F32, optional);
    case CK_QUANT_MXFP4:
        snprintf(name, sizeof name, "%s_blocks", key);
        if (emit(b, name, r, ri, layer, expert, logical, nd, q, mxfp4_blocks, CK_PART_QWEIGHT, fmt, CK_U8, optional) < 0) return -1;
        snprintf(name, sizeof name, "%s_scales", key);
        return emit(b, name, r, ri, layer, expert, logical, nd, q, mxfp4_scales, CK_PART_SCALE, fmt, CK_U8, optional);
    default:
        return 0;
    }
}

static int cmp_expected(const void *pa, const void *pb)
{
    return strcmp(((const ck_expected *)pa)->key, ((const ck_expected *)pb)->key);
}

static int expand_rule(eval_ctx *c, builder *b, const rule *r, int ri, int64_t layer, int64_t experts,
                       const quant_config *q, ck_error *err)
{
    char key[512];
    if (render_key(c, key, sizeof key, r->key, layer, 0, err) < 0) return -1;
    if (r->when) {
        bool on;
        if (eval_bool(c, r->when, &on, key, err) < 0) return -1;
        if (!on) return 0;
    }
    bool optional = false;
    if (r->optional && eval_bool(c, r->optional, &optional, key, err) < 0) return -1;
    uint64_t logical[CK_MAX_DIMS];
    for (int d = 0; d < r->ndim; d++) {
        int64_t v;
        if (eval_int(c, r->shape[d], &v, key, err) < 0) return -1;
        if (v < 0) return ck_error_set(err, CK_E_FORMAT, "config.json", key, -1, "dimension %d is negative (%lld)", d, (long long)v);
        logical[d] = (uint64_t)v;
    }
    bool per_expert = strstr(r->key, "{e}") != NULL;
    for (int64_t e = 0; e < (per_expert ? experts : 1); e++) {
        if (render_key(c, key, sizeof key, r->key, layer, e, err) < 0) return -1;
        if (emit_logical(b, key, r, ri, layer, per_expert ? e : -1, logical, r->ndim, q, optional) < 0) return -1;
    }
    return 0;
}

int ck_spec_expand(const ck_spec *spec, const cJSON *config, const cJSON *hf_quant, ck_expectation *out, ck_error *err)
{
    memset(out, 0, sizeof *out);
    out->spec = spec;
    out->family = spec->family;
    out->config = config;
    eval_ctx c = {spec, config, spec->config_root ? cJSON_GetObjectItemCaseSensitive(config, spec->config_root) : NULL,
                  -1, {lookup, NULL, 0}};
    c.env.ctx = &c;
    if (eval_int(&c, spec->layers, &out->layers, "layers", err) < 0) return -1;
    if (spec->experts && eval_int(&c, spec->experts, &out->experts, "experts", err) < 0) return -1;
    if (out->layers < 0 || out->layers > 100000 || out->experts < 0 || out->experts > 1000000)
        return ck_error_set(err, CK_E_FORMAT, "config.json", NULL, -1, "implausible layer or expert count (%lld, %lld)",
                            (long long)out->layers, (long long)out->experts);
    quant_config q;
    read_quant(config, hf_quant, &q);
    out->quant = q.format;
    snprintf(out->quant_name, sizeof out->quant_name, "%s", q.name);

    builder b = {.err = err};
    for (int ri = 0; ri < spec->n_rules; ri++) {
        const rule *r = &spec->rules[ri];
        bool per_layer = strstr(r->key, "{n}") != NULL;
        for (int64_t n = 0; n < (per_layer ? out->layers : 1); n++) {
            c.layer = per_layer ? n : -1;
            if (expand_rule(&c, &b, r, ri, per_layer ? n : -1, out->experts, &q, err) < 0) {
                free(b.items);
                free(b.names);
                out->items = NULL;
                out->n_items = 0;
                return -1;
            }
        }
    }
    for (size_t i = 0; i < b.n; i++) b.items[i].key = b.names + (uintptr_t)b.items[i].key;
    if (b.n > 1) qsort(b.items, b.n, sizeof *b.items, cmp_expected);
    out->items = b.items;
    out->n_items = b.n;
    out->arena = b.names;
    return 0;
}

void ck_expectation_free(ck_expectation *x)
{
    free(x->arena);
    free(x->items);
    memset(x, 0, sizeof *x);
}

const ck_expected *ck_expectation_find(const ck_expectation *x, const char *key, size_t key_len)
{
    size_t lo = 0, hi = x->n_items;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *k = x->items[mid].key;
        int r = strncmp(k, key, key_len);
        if (!r) r = k[key_len] ? 1 : 0;
        if (!r) return &x->items[mid];
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

bool ck_expectation_other_component(const ck_expectation *x, const char *key)
{
    const cJSON *prefixes = x->spec ? x->spec->other_components : NULL;
    if (!cJSON_IsArray(prefixes)) return false;
    for (const cJSON *p = prefixes->child; p; p = p->next)
        if (cJSON_IsString(p) && !strncmp(key, p->valuestring, strlen(p->valuestring))) return true;
    return false;
}

int ck_spec_units_partner(const ck_expectation *x, const ck_expected *it, char *key, size_t size, int *split)
{
    const rule *r = &x->spec->rules[it->rule];
    if (!r->units_key) return -1;
    eval_ctx c = {x->spec, x->config,
                  x->spec->config_root ? cJSON_GetObjectItemCaseSensitive(x->config, x->spec->config_root) : NULL,
                  it->layer, {lookup, NULL, 0}};
    c.env.ctx = &c;
    ck_error err;
    if (render_key(&c, key, size, r->units_key, it->layer, it->expert, &err) < 0) return -1;
    *split = r->units_split;
    return 0;
}
