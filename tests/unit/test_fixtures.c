/* The fixture generator (tests/gen): every fixture writes and reads back with the project's reader;
 * key counts follow layouts.md §8 as computed from each fixture's own config.json; broken variants
 * differ from their clean twin exactly where their summary says; the MXFP4 and BF16 GPT-OSS
 * fixtures hold the same matrices; values are sane for their dtypes; the sparse full-size
 * fixtures have the real shapes and cost almost no disk; and two generations are byte-identical. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"
#include "../../inspect/safetensors.h"
#include "../gen/fixtures.h"

static char root[512];

/* ---- small helpers ---------------------------------------------------------------------- */

/* "a/b" in one of a few rotating buffers, so calls can nest (path_of(fixture_dir(x), y)). */
static char *path_of(const char *a, const char *b)
{
    static char buf[4][1024];
    static int k;
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s/%s", a, b) >= (int)sizeof tmp) /* a may be an earlier result */
        tmp[0] = '\0';
    k = (k + 1) % 4;
    memcpy(buf[k], tmp, sizeof tmp);
    return buf[k];
}

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    for (;;) {
        if (n + 4096 + 1 > cap) s = realloc(s, cap *= 2);
        size_t got = fread(s + n, 1, 4096, f);
        n += got;
        if (got < 4096) break;
    }
    fclose(f);
    s[n] = '\0';
    if (len) *len = n;
    return s;
}

static cJSON *read_json(const char *path)
{
    char *s = read_text(path, NULL);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    free(s);
    return j;
}

static int geti(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names in `dir` ending in `suffix` (hidden files skipped). */
static size_t list_dir(const char *dir, const char *suffix, char ***out)
{
    DIR *d = opendir(dir);
    size_t n = 0, cap = 16;
    char **names = malloc(cap * sizeof *names);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name), k = strlen(suffix);
        if (e->d_name[0] == '.' || len < k || strcmp(e->d_name + len - k, suffix)) continue;
        if (n == cap) names = realloc(names, (cap *= 2) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    if (d) closedir(d);
    qsort(names, n, sizeof *names, str_cmp);
    *out = names;
    return n;
}

static void free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* A checkpoint directory opened with the project's reader: every *.safetensors in it. */
typedef struct {
    ck_st_file *f;
    size_t n;
    bool ok;
} ckpt;

static bool ckpt_open(ckpt *c, const char *dir_arg)
{
    char dir[1024], **names;
    snprintf(dir, sizeof dir, "%s", dir_arg); /* path_of() buffers rotate inside the loop */
    size_t n_names = list_dir(dir, ".safetensors", &names);
    c->n = n_names;
    c->f = calloc(c->n ? c->n : 1, sizeof *c->f);
    c->ok = c->n > 0;
    for (size_t i = 0; i < c->n; i++) {
        ck_error err;
        if (ck_st_open(path_of(dir, names[i]), &c->f[i], &err) != 0) {
            char msg[1400];
            ck_error_format(&err, msg, sizeof msg);
            fprintf(stderr, "  cannot open: %s\n", msg);
            c->ok = false;
            c->n = i;
            break;
        }
    }
    free_list(names, n_names);
    return c->ok;
}

static void ckpt_close(ckpt *c)
{
    for (size_t i = 0; i < c->n; i++) ck_st_close(&c->f[i]);
    free(c->f);
    memset(c, 0, sizeof *c);
}

static size_t ckpt_count(const ckpt *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) n += c->f[i].n_tensors;
    return n;
}

/* The tensor called `name` (and its bytes through *data if asked), or NULL. */
static const ck_st_tensor *ckpt_get(ckpt *c, const char *name, const uint8_t **data)
{
    for (size_t i = 0; i < c->n; i++) {
        long k = ck_st_find(&c->f[i], name);
        if (k < 0) continue;
        if (data) {
            ck_error err;
            *data = ck_st_data(&c->f[i], (size_t)k, &err);
        }
        return &c->f[i].tensors[k];
    }
    return NULL;
}

static bool shape_is(const ck_st_tensor *t, int ndim, const uint64_t *shape)
{
    if (!t || t->ndim != ndim) return false;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i]) return false;
    return true;
}
#define SHAPE_IS(t, ...) \
    shape_is(t, (int)(sizeof((uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t)), (const uint64_t[]){__VA_ARGS__})

static double bf16_value(const uint8_t *p)
{
    uint32_t bits = ((uint32_t)p[0] | (uint32_t)p[1] << 8) << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static double f32_value(const uint8_t *p)
{
    float f;
    memcpy(&f, p, 4);
    return f;
}

static const double e2m1[16] = {0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6};

static const char *fixture_dir(const char *name) { return path_of(root, name); }

/* Write every fixture once into root/NAME; later tests read them. */
static bool written_ok[64];

static void write_all(void)
{
    for (size_t i = 0; i < ck_fixture_count(); i++) {
        const ck_fixture_info *f = ck_fixture_at(i);
        ck_error err;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = ck_fixture_write(f->name, fixture_dir(f->name), &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        if (rc != 0) {
            char msg[1400];
            ck_error_format(&err, msg, sizeof msg);
            fprintf(stderr, "  %s: %s\n", f->name, msg);
        }
        if (f->is_sparse) fprintf(stderr, "  (%s written in %.2f s)\n", f->name, s);
        CHECK(rc == 0);
        if (i < 64) written_ok[i] = rc == 0;
    }
}

/* ---- expected key counts (layouts.md §8), computed from the fixture's config.json ---------- */

static long expected_keys(const char *family, const cJSON *cfg)
{
    int L = geti(cfg, "num_hidden_layers");
    bool tied = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "tie_word_embeddings"));
    long top = 2 + !tied, n = 0;
    if (!strcmp(family, "llama")) return top + L * (4 + 3 + 2);
    if (!strcmp(family, "qwen3")) return top + L * (6 + 3 + 2);
    if (!strcmp(family, "qwen3_moe")) {
        int E = geti(cfg, "num_experts"), step = geti(cfg, "decoder_sparse_step");
        const cJSON *only = cJSON_GetObjectItemCaseSensitive(cfg, "mlp_only_layers");
        for (int l = 0; l < L; l++) {
            bool dense = false;
            for (const cJSON *x = only ? only->child : NULL; x; x = x->next) dense |= x->valueint == l;
            bool moe = !dense && E > 0 && (l + 1) % step == 0;
            n += 6 + 2 + (moe ? 1 + 3 * E : 3);
        }
        return top + n;
    }
    if (!strcmp(family, "mixtral")) return top + L * (4 + 2 + 1 + 3 * geti(cfg, "num_local_experts"));
    if (!strcmp(family, "gpt_oss")) {
        bool mxfp4 = cJSON_GetObjectItemCaseSensitive(cfg, "quantization_config") != NULL;
        return top + L * (9 + 2 + 2 + (mxfp4 ? 6 : 4));
    }
    if (!strcmp(family, "deepseek_v3")) {
        int E = geti(cfg, "n_routed_experts"), S = geti(cfg, "n_shared_experts");
        int first = geti(cfg, "first_k_dense_replace"), M = geti(cfg, "num_nextn_predict_layers");
        for (int l = 0; l < L + M; l++) {
            bool moe = l >= first;
            long linears = 5 + (moe ? 3 * E + 3 * (S > 0) : 3); /* FP8: one weight_scale_inv each */
            n += 7 + 2 + (moe ? 2 + 3 * E + 3 * (S > 0) : 3) + linears;
            if (l >= L) n += 6; /* MTP: embed_tokens, enorm, hnorm, eh_proj, shared_head.{norm,head} */
        }
        return top + n;
    }
    if (!strcmp(family, "llama4")) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(cfg, "text_config");
        L = geti(t, "num_hidden_layers");
        int moe = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "moe_layers"));
        return 3 + L * (4 + 2) + moe * (1 + 2 + 3) + (L - moe) * 3;
    }
    if (!strcmp(family, "nemotron_h")) {
        const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "hybrid_override_pattern"));
        int E = geti(cfg, "n_routed_experts");
        const int q = 4; /* an NVFP4 linear: weight, weight_scale, weight_scale_2, input_scale */
        for (; p && *p; p++)
            n += 1 + (*p == 'M' ? 6 + 2 * q : *p == '*' ? 4 : *p == '-' ? 2 * q : 2 + 2 * E * q + 2 * q);
        return top + n;
    }
    return -1;
}

static void test_all_fixtures_write_and_read_back(void)
{
    write_all();
    for (size_t i = 0; i < ck_fixture_count(); i++) {
        const ck_fixture_info *f = ck_fixture_at(i);
        ckpt c;
        CHECK(ckpt_open(&c, fixture_dir(f->name)));
        CHECK(ckpt_count(&c) > 0);
        /* Sharded fixtures carry an index that parses and names every tensor once. */
        const char *ip = path_of(fixture_dir(f->name), "model.safetensors.index.json");
        if (c.n > 1 || access(ip, F_OK) == 0) {
            cJSON *idx = read_json(ip);
            int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(idx, "weight_map"));
            if ((size_t)n != ckpt_count(&c)) fprintf(stderr, "  %s: index lists %d of %zu tensors\n", f->name, n, ckpt_count(&c));
            CHECK((size_t)n == ckpt_count(&c));
            cJSON_Delete(idx);
        }
        ckpt_close(&c);
    }
}

static void test_key_counts_follow_config(void)
{
    for (size_t i = 0; i < ck_fixture_count(); i++) {
        const ck_fixture_info *f = ck_fixture_at(i);
        if (f->is_broken) continue;
        cJSON *cfg = read_json(path_of(fixture_dir(f->name), "config.json"));
        CHECK(cfg != NULL);
        if (!cfg) continue;
        const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
        CHECK_STR(cJSON_GetStringValue(mt), f->family);
        ckpt c;
        ckpt_open(&c, fixture_dir(f->name));
        long want = expected_keys(f->family, cfg);
        if ((long)ckpt_count(&c) != want) fprintf(stderr, "  %s: key count\n", f->name);
        CHECK_EQ_U64(ckpt_count(&c), want);
        ckpt_close(&c);
        cJSON_Delete(cfg);
    }
}

/* A few shapes and dtypes per family, straight from layouts.md §4. */
static void test_family_shapes(void)
{
    ckpt c;
    const ck_st_tensor *t;
    ckpt_open(&c, fixture_dir("llama"));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.1.mlp.down_proj.weight", NULL), 64, 96));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.self_attn.k_proj.weight", NULL), 32, 64));
    CHECK(ckpt_get(&c, "lm_head.weight", NULL) != NULL);
    CHECK(c.n >= 2); /* sharded */
    ckpt_close(&c);
    CHECK(access(path_of(fixture_dir("llama"), "model.safetensors.index.json"), F_OK) == 0);

    ckpt_open(&c, fixture_dir("qwen3"));
    CHECK(ckpt_get(&c, "lm_head.weight", NULL) == NULL); /* tied */
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.self_attn.q_proj.weight", NULL), 128, 64));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.self_attn.q_norm.weight", NULL), 32));
    CHECK(c.n == 1);
    ckpt_close(&c);

    ckpt_open(&c, fixture_dir("qwen3_moe"));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.1.mlp.experts.7.down_proj.weight", NULL), 64, 48));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.1.mlp.gate.weight", NULL), 8, 64));
    ckpt_close(&c);

    ckpt_open(&c, fixture_dir("mixtral"));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.block_sparse_moe.experts.3.w2.weight", NULL), 64, 96));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.block_sparse_moe.experts.3.w3.weight", NULL), 96, 64));
    ckpt_close(&c);

    ckpt_open(&c, fixture_dir("gpt_oss"));
    t = ckpt_get(&c, "model.layers.1.mlp.experts.gate_up_proj_blocks", NULL);
    CHECK(SHAPE_IS(t, 4, 192, 2, 16) && t->dtype == CK_U8);
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.1.mlp.experts.down_proj_scales", NULL), 4, 64, 3));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.1.mlp.experts.gate_up_proj_bias", NULL), 4, 192));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.self_attn.sinks", NULL), 4));
    ckpt_close(&c);

    ckpt_open(&c, fixture_dir("gpt_oss-bf16"));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.mlp.experts.gate_up_proj", NULL), 4, 64, 192));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.mlp.experts.down_proj", NULL), 4, 96, 64));
    ckpt_close(&c);

    ckpt_open(&c, fixture_dir("deepseek_v3"));
    t = ckpt_get(&c, "model.layers.0.mlp.down_proj.weight", NULL);
    CHECK(SHAPE_IS(t, 64, 160) && t->dtype == CK_F8_E4M3);
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.mlp.down_proj.weight_scale_inv", NULL), 1, 2));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.mlp.gate_proj.weight_scale_inv", NULL), 2, 1));
    t = ckpt_get(&c, "model.layers.2.mlp.gate.e_score_correction_bias", NULL);
    CHECK(SHAPE_IS(t, 8) && t->dtype == CK_F32);
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.1.self_attn.kv_b_proj.weight", NULL), 4 * (16 + 16), 32));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.3.eh_proj.weight", NULL), 64, 128));
    CHECK(ckpt_get(&c, "model.layers.0.mlp.gate.weight", NULL) == NULL); /* dense layer */
    ckpt_close(&c);

    ckpt_open(&c, fixture_dir("llama4"));
    CHECK(SHAPE_IS(ckpt_get(&c, "language_model.model.layers.1.feed_forward.experts.gate_up_proj", NULL), 4, 64, 96));
    CHECK(SHAPE_IS(ckpt_get(&c, "language_model.model.layers.3.feed_forward.experts.down_proj", NULL), 4, 48, 64));
    CHECK(SHAPE_IS(ckpt_get(&c, "language_model.model.layers.2.feed_forward.down_proj.weight", NULL), 64, 96));
    CHECK(ckpt_get(&c, "language_model.lm_head.weight", NULL) != NULL);
    ckpt_close(&c);

    ckpt_open(&c, fixture_dir("nemotron_h-nvfp4"));
    t = ckpt_get(&c, "backbone.layers.2.mixer.down_proj.weight", NULL);
    CHECK(SHAPE_IS(t, 64, 48) && t->dtype == CK_U8);
    t = ckpt_get(&c, "backbone.layers.2.mixer.down_proj.weight_scale", NULL);
    CHECK(SHAPE_IS(t, 64, 6) && t->dtype == CK_F8_E4M3);
    t = ckpt_get(&c, "backbone.layers.2.mixer.down_proj.weight_scale_2", NULL);
    CHECK(t && t->ndim == 0 && t->dtype == CK_F32);
    CHECK(SHAPE_IS(ckpt_get(&c, "backbone.layers.0.mixer.in_proj.weight", NULL), 196, 32));
    CHECK(SHAPE_IS(ckpt_get(&c, "backbone.layers.0.mixer.conv1d.weight", NULL), 128, 1, 4));
    CHECK(SHAPE_IS(ckpt_get(&c, "backbone.layers.1.mixer.q_proj.weight", NULL), 64, 64));
    ckpt_close(&c);
    cJSON *hq = read_json(path_of(fixture_dir("nemotron_h-nvfp4"), "hf_quant_config.json"));
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(hq, "quantization");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, "quant_algo")), "NVFP4");
    CHECK(geti(q, "group_size") == 16);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(q, "exclude_modules")) > 0);
    cJSON_Delete(hq);
}

/* ---- broken variants against their clean twins ------------------------------------------- */

typedef struct {
    size_t missing, extra, reshaped, changed;
} diff;

static diff diff_ckpt(ckpt *base, ckpt *broken)
{
    diff d = {0};
    for (size_t i = 0; i < base->n; i++)
        for (size_t k = 0; k < base->f[i].n_tensors; k++) {
            const ck_st_tensor *a = &base->f[i].tensors[k];
            const uint8_t *da = NULL, *db = NULL;
            ck_error err;
            const ck_st_tensor *b = ckpt_get(broken, a->name, &db);
            if (!b) {
                d.missing++;
                continue;
            }
            if (a->dtype != b->dtype || !shape_is(b, a->ndim, a->shape)) {
                d.reshaped++;
                continue;
            }
            da = ck_st_data(&base->f[i], k, &err);
            if (a->end - a->begin && (!da || !db || memcmp(da, db, a->end - a->begin))) d.changed++;
        }
    for (size_t i = 0; i < broken->n; i++)
        for (size_t k = 0; k < broken->f[i].n_tensors; k++)
            if (!ckpt_get(base, broken->f[i].tensors[k].name, NULL)) d.extra++;
    return d;
}

static bool same_bytes(ckpt *a, const char *na, ckpt *b, const char *nb)
{
    const uint8_t *da = NULL, *db = NULL;
    const ck_st_tensor *ta = ckpt_get(a, na, &da), *tb = ckpt_get(b, nb, &db);
    return ta && tb && da && db && ta->end - ta->begin == tb->end - tb->begin &&
           !memcmp(da, db, ta->end - ta->begin);
}

static void test_broken_variants_differ_where_intended(void)
{
    static const struct {
        const char *name, *base;
        size_t missing, reshaped, changed;
    } want[] = {
        {"qwen3_moe-down-transposed", "qwen3_moe", 0, 1, 0},
        {"gpt_oss-bf16-down-transposed", "gpt_oss-bf16", 0, 1, 0},
        {"gpt_oss-square-transposed", "gpt_oss-square-bf16", 0, 0, 2},
        {"qwen3_moe-ep-collision", "qwen3_moe", 2 * 6 * 3, 0, 2 * 2 * 3},
        {"mixtral-ep-collision", "mixtral", 2 * 2 * 3, 0, 2 * 2 * 3},
        {"qwen3_moe-dup-experts", "qwen3_moe", 0, 0, 3},
        {"deepseek_v3-no-expert-bias", "deepseek_v3", 3, 0, 0},
        {"deepseek_v3-missing-scale", "deepseek_v3", 1, 0, 0},
        {"deepseek_v3-misshaped-scale", "deepseek_v3", 0, 1, 0},
        {"nemotron_h-nvfp4-missing-scale", "nemotron_h-nvfp4", 1, 0, 0},
        {"nemotron_h-nvfp4-misshaped-scale", "nemotron_h-nvfp4", 0, 1, 0},
        {"llama-config-truncated", "llama", 0, 0, 0},
    };
    size_t n_broken = 0;
    for (size_t i = 0; i < ck_fixture_count(); i++) n_broken += ck_fixture_at(i)->is_broken;
    CHECK_EQ_U64(n_broken, sizeof want / sizeof *want + 1); /* + demo, checked below */

    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const ck_fixture_info *f = ck_fixture_find(want[i].name);
        CHECK(f && f->is_broken);
        ckpt a, b;
        ckpt_open(&a, fixture_dir(want[i].base));
        ckpt_open(&b, fixture_dir(want[i].name));
        diff d = diff_ckpt(&a, &b);
        if (d.missing != want[i].missing || d.reshaped != want[i].reshaped || d.changed != want[i].changed || d.extra)
            fprintf(stderr, "  %s: missing %zu reshaped %zu changed %zu extra %zu\n", want[i].name, d.missing,
                    d.reshaped, d.changed, d.extra);
        CHECK(d.missing == want[i].missing && d.reshaped == want[i].reshaped && d.changed == want[i].changed);
        CHECK(d.extra == 0);
        ckpt_close(&a);
        ckpt_close(&b);
    }

    ckpt a, b;
    /* Transposed expert: [H, Im] became [Im, H] and holds the transpose of the clean bytes. */
    ckpt_open(&a, fixture_dir("qwen3_moe"));
    ckpt_open(&b, fixture_dir("qwen3_moe-down-transposed"));
    const uint8_t *da = NULL, *db = NULL;
    const ck_st_tensor *ta = ckpt_get(&a, "model.layers.1.mlp.experts.3.down_proj.weight", &da);
    const ck_st_tensor *tb = ckpt_get(&b, "model.layers.1.mlp.experts.3.down_proj.weight", &db);
    CHECK(SHAPE_IS(tb, 48, 64));
    size_t bad = 0;
    for (uint64_t r = 0; ta && tb && r < 64; r++)
        for (uint64_t k = 0; k < 48; k++) bad += memcmp(da + (r * 48 + k) * 2, db + (k * 64 + r) * 2, 2) != 0;
    CHECK(bad == 0);
    ckpt_close(&b);

    /* EP collision: ids 0..E/ep-1 in every layer, holding the last rank's experts. */
    ckpt_open(&b, fixture_dir("qwen3_moe-ep-collision"));
    for (int l = 0; l < 2; l++)
        for (int e = 0; e < 8; e++) {
            char name[128];
            snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%d.up_proj.weight", l, e);
            CHECK((ckpt_get(&b, name, NULL) != NULL) == (e < 2));
        }
    CHECK(same_bytes(&b, "model.layers.1.mlp.experts.0.down_proj.weight", &a, "model.layers.1.mlp.experts.6.down_proj.weight"));
    CHECK(same_bytes(&b, "model.layers.0.mlp.experts.1.gate_proj.weight", &a, "model.layers.0.mlp.experts.7.gate_proj.weight"));
    ckpt_close(&b);

    /* Duplicated experts: 5 == 2 in the variant, and not in the clean fixture. */
    ckpt_open(&b, fixture_dir("qwen3_moe-dup-experts"));
    CHECK(same_bytes(&b, "model.layers.1.mlp.experts.5.up_proj.weight", &b, "model.layers.1.mlp.experts.2.up_proj.weight"));
    CHECK(!same_bytes(&a, "model.layers.1.mlp.experts.5.up_proj.weight", &a, "model.layers.1.mlp.experts.2.up_proj.weight"));
    ckpt_close(&b);

    /* The demo: one transposed expert in layer 1, an EP collision in layer 2 only. */
    ckpt_open(&b, fixture_dir("demo"));
    CHECK(SHAPE_IS(ckpt_get(&b, "model.layers.1.mlp.experts.3.down_proj.weight", NULL), 48, 64));
    CHECK(ckpt_get(&b, "model.layers.2.mlp.experts.2.up_proj.weight", NULL) == NULL);
    CHECK(ckpt_get(&b, "model.layers.2.mlp.experts.1.up_proj.weight", NULL) != NULL);
    CHECK(ckpt_get(&b, "model.layers.1.mlp.experts.7.up_proj.weight", NULL) != NULL);
    CHECK_EQ_U64(ckpt_count(&b), 3 + 3 * (6 + 2 + 1 + 24) - 6 * 3);
    ckpt_close(&b);
    ckpt_close(&a);

    /* Truncated config: a prefix of the clean one that no JSON parser accepts. */
    size_t n_full, n_cut;
    char *full = read_text(path_of(fixture_dir("llama"), "config.json"), &n_full);
    char *cut = read_text(path_of(fixture_dir("llama-config-truncated"), "config.json"), &n_cut);
    CHECK(full && cut && n_cut == n_full / 2 && !memcmp(full, cut, n_cut));
    cJSON *j = cut ? cJSON_Parse(cut) : NULL;
    CHECK(j == NULL);
    cJSON_Delete(j);
    free(full);
    free(cut);
}

/* ---- GPT-OSS: the MXFP4 and BF16 fixtures hold the same matrices ------------------------------ */

/* Mismatches between dequant(blocks, scales)[e][r][k] and bf16[e][k][r] (or bf16[e][r][k] when
 * `raw` says the BF16 tensor is in the raw-dequant orientation). */
static size_t mxfp4_vs_bf16(ckpt *q, ckpt *b, const char *layer_proj, bool raw)
{
    char nb[160], ns[160];
    snprintf(nb, sizeof nb, "%s_blocks", layer_proj);
    snprintf(ns, sizeof ns, "%s_scales", layer_proj);
    const uint8_t *blocks = NULL, *scales = NULL, *w = NULL;
    const ck_st_tensor *tb = ckpt_get(q, nb, &blocks), *ts = ckpt_get(q, ns, &scales);
    const ck_st_tensor *tw = ckpt_get(b, layer_proj, &w);
    if (!tb || !ts || !tw || !blocks || !scales || !w || tb->ndim != 4 || tw->ndim != 3) return SIZE_MAX;
    uint64_t E = tb->shape[0], rows = tb->shape[1], K = tb->shape[2] * 32;
    if (tw->shape[0] != E || tw->shape[1] != (raw ? rows : K) || tw->shape[2] != (raw ? K : rows)) return SIZE_MAX;
    size_t bad = 0;
    for (uint64_t e = 0; e < E; e++)
        for (uint64_t r = 0; r < rows; r++)
            for (uint64_t k = 0; k < K; k++) {
                uint64_t row = e * rows + r;
                uint8_t byte = blocks[row * (K / 2) + k / 2];
                double v = ldexp(e2m1[(k & 1) ? byte >> 4 : byte & 15], scales[row * (K / 32) + k / 32] - 127);
                uint64_t at = raw ? (e * rows + r) * K + k : (e * K + k) * rows + r;
                bad += bf16_value(w + at * 2) != v;
            }
    return bad;
}

static void test_gpt_oss_mxfp4_matches_bf16(void)
{
    static const struct { const char *q, *b; bool raw; } pairs[] = {
        {"gpt_oss", "gpt_oss-bf16", false},
        {"gpt_oss-square", "gpt_oss-square-bf16", false},
        /* The broken square export stores down_proj in the raw-dequant [out, in] orientation. */
        {"gpt_oss-square", "gpt_oss-square-transposed", true},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        ckpt q, b;
        ckpt_open(&q, fixture_dir(pairs[i].q));
        ckpt_open(&b, fixture_dir(pairs[i].b));
        for (int l = 0; l < 2; l++) {
            char name[128];
            snprintf(name, sizeof name, "model.layers.%d.mlp.experts.gate_up_proj", l);
            CHECK_EQ_U64(mxfp4_vs_bf16(&q, &b, name, false), 0);
            snprintf(name, sizeof name, "model.layers.%d.mlp.experts.down_proj", l);
            CHECK_EQ_U64(mxfp4_vs_bf16(&q, &b, name, pairs[i].raw), 0);
            if (pairs[i].raw) CHECK(mxfp4_vs_bf16(&q, &b, name, false) > 0); /* and it is not the BF16 form */
            snprintf(name, sizeof name, "model.layers.%d.mlp.experts.down_proj_bias", l);
            CHECK(same_bytes(&q, name, &b, name));
        }
        ckpt_close(&q);
        ckpt_close(&b);
    }
}

/* ---- values are sane for their dtypes ------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static void test_values_are_sane(void)
{
    size_t checked = 0;
    for (size_t i = 0; i < ck_fixture_count(); i++) {
        const ck_fixture_info *f = ck_fixture_at(i);
        if (f->is_sparse) continue;
        ckpt c;
        ckpt_open(&c, fixture_dir(f->name));
        size_t bad = 0;
        for (size_t s = 0; s < c.n; s++)
            for (size_t k = 0; k < c.f[s].n_tensors; k++) {
                const ck_st_tensor *t = &c.f[s].tensors[k];
                ck_error err;
                const uint8_t *d = ck_st_data(&c.f[s], k, &err);
                uint64_t nb = t->end - t->begin;
                if (!d) {
                    bad++;
                    continue;
                }
                bool norm = ends_with(t->name, "norm.weight") || ends_with(t->name, "layernorm.weight");
                for (uint64_t x = 0; x < nb; x++) {
                    if (t->dtype == CK_F8_E4M3) {
                        bad += (d[x] & 0x7f) == 0x7f; /* the NaN codes */
                        if (ends_with(t->name, "weight_scale")) bad += (d[x] & 0x80) || d[x] == 0;
                    } else if (t->dtype == CK_U8 && ends_with(t->name, "_scales")) {
                        bad += d[x] < 116 || d[x] > 124;
                    }
                }
                if (t->dtype == CK_BF16)
                    for (uint64_t x = 0; x < nb; x += 2) {
                        double v = bf16_value(d + x);
                        bad += !isfinite(v) || (norm && (v < 0.94 || v > 1.06));
                    }
                if (t->dtype == CK_F32)
                    for (uint64_t x = 0; x < nb; x += 4) {
                        double v = f32_value(d + x);
                        bad += !isfinite(v);
                        if (strstr(t->name, "scale")) bad += !(v > 0);
                    }
                checked++;
            }
        if (bad) fprintf(stderr, "  %s: %zu insane values\n", f->name, bad);
        CHECK(bad == 0);
        ckpt_close(&c);
    }
    CHECK(checked > 500);
}

/* ---- the sparse full-size fixtures ---------------------------------------------------------- */

static uint64_t disk_bytes(const char *dir_arg, uint64_t *apparent)
{
    char dir[1024], **names;
    snprintf(dir, sizeof dir, "%s", dir_arg);
    size_t n = list_dir(dir, "", &names);
    uint64_t used = 0;
    *apparent = 0;
    for (size_t k = 0; k < n; k++) {
        struct stat st;
        if (stat(path_of(dir, names[k]), &st) == 0) {
            used += (uint64_t)st.st_blocks * 512;
            *apparent += (uint64_t)st.st_size;
        }
    }
    free_list(names, n);
    return used;
}

/* Small fixtures stay small. */
static void test_small_fixtures_are_small(void)
{
    for (size_t i = 0; i < ck_fixture_count(); i++) {
        const ck_fixture_info *f = ck_fixture_at(i);
        if (f->is_sparse) continue;
        uint64_t total;
        disk_bytes(fixture_dir(f->name), &total);
        if (total >= 1024 * 1024) fprintf(stderr, "  %s: %llu bytes\n", f->name, (unsigned long long)total);
        CHECK(total > 0 && total < 1024 * 1024);
    }
}

static void test_sparse_full_size(void)
{
    ckpt c;
    const ck_st_tensor *t;
    uint64_t apparent, used;

    ckpt_open(&c, fixture_dir("gpt_oss-120b-sparse"));
    CHECK_EQ_U64(ckpt_count(&c), 3 + 36 * 19);
    CHECK_EQ_U64(c.n, 15);
    t = ckpt_get(&c, "model.layers.35.mlp.experts.gate_up_proj_blocks", NULL);
    CHECK(SHAPE_IS(t, 128, 5760, 90, 16) && t->dtype == CK_U8);
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.mlp.experts.down_proj_scales", NULL), 128, 2880, 90));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.self_attn.q_proj.weight", NULL), 4096, 2880));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.embed_tokens.weight", NULL), 201088, 2880));
    ckpt_close(&c);
    cJSON *cfg = read_json(path_of(fixture_dir("gpt_oss-120b-sparse"), "config.json"));
    CHECK(geti(cfg, "num_local_experts") == 128 && geti(cfg, "intermediate_size") == 2880);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cfg, "layer_types")) == 36);
    cJSON_Delete(cfg);
    used = disk_bytes(fixture_dir("gpt_oss-120b-sparse"), &apparent);
    fprintf(stderr, "  gpt_oss-120b-sparse: %.1f GB apparent, %.2f MB on disk\n", apparent / 1e9, used / 1e6);
    CHECK(apparent > 60000000000ull && used < 16 * 1024 * 1024);

    ckpt_open(&c, fixture_dir("deepseek_v3-full-sparse"));
    CHECK_EQ_U64(ckpt_count(&c), 91991);
    CHECK_EQ_U64(c.n, 64);
    t = ckpt_get(&c, "model.layers.3.mlp.experts.255.gate_proj.weight", NULL);
    CHECK(SHAPE_IS(t, 2048, 7168) && t->dtype == CK_F8_E4M3);
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.3.mlp.experts.255.gate_proj.weight_scale_inv", NULL), 16, 56));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.60.mlp.experts.0.down_proj.weight_scale_inv", NULL), 56, 16));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.self_attn.q_a_proj.weight_scale_inv", NULL), 12, 56));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv", NULL), 5, 56));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.self_attn.q_b_proj.weight_scale_inv", NULL), 192, 12));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.self_attn.kv_b_proj.weight_scale_inv", NULL), 256, 4));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.0.self_attn.o_proj.weight_scale_inv", NULL), 56, 128));
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.2.mlp.gate_proj.weight", NULL), 18432, 7168));
    CHECK(ckpt_get(&c, "model.layers.3.mlp.gate_proj.weight", NULL) == NULL);
    t = ckpt_get(&c, "model.layers.61.mlp.gate.e_score_correction_bias", NULL);
    CHECK(SHAPE_IS(t, 256) && t->dtype == CK_F32);
    CHECK(SHAPE_IS(ckpt_get(&c, "model.layers.61.eh_proj.weight", NULL), 7168, 14336));
    CHECK(ckpt_get(&c, "model.layers.61.shared_head.head.weight", NULL) != NULL);
    ckpt_close(&c);
    cJSON *idx = read_json(path_of(fixture_dir("deepseek_v3-full-sparse"), "model.safetensors.index.json"));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(idx, "weight_map")) == 91991);
    cJSON_Delete(idx);
    used = disk_bytes(fixture_dir("deepseek_v3-full-sparse"), &apparent);
    fprintf(stderr, "  deepseek_v3-full-sparse: %.1f GB apparent, %.2f MB on disk\n", apparent / 1e9, used / 1e6);
    CHECK(apparent > 600000000000ull && used < 64 * 1024 * 1024);
}

/* ---- determinism ------------------------------------------------------------------------- */

/* Files compare equal: all bytes, or for a sparse fixture's shards (tens of GB of holes) the
 * sizes and the 8 + N header bytes, which is where everything but the zeros is. */
static bool same_file(const char *a, const char *b, bool sparse)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    uint64_t limit = UINT64_MAX;
    if (same && sparse) {
        uint8_t n8[8] = {0};
        if (fread(n8, 1, 8, fa) == 8) {
            uint64_t n = 0;
            for (int i = 7; i >= 0; i--) n = n << 8 | n8[i];
            limit = n < (1u << 30) ? 8 + n : 8;
        }
        rewind(fa);
        if (!strstr(a, ".safetensors")) limit = UINT64_MAX; /* JSON side files: all of them */
    }
    static char ba[1 << 16], bb[1 << 16];
    for (uint64_t done = 0; same && done < limit;) {
        size_t want = limit - done < sizeof ba ? (size_t)(limit - done) : sizeof ba;
        size_t na = fread(ba, 1, want, fa), nb = fread(bb, 1, want, fb);
        same = na == nb && !memcmp(ba, bb, na);
        if (na < want) break;
        done += na;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    struct stat sa, sb;
    return same && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_size == sb.st_size;
}

static void test_two_generations_are_identical(void)
{
    char again[600];
    snprintf(again, sizeof again, "%s/again", root);
    for (size_t i = 0; i < ck_fixture_count(); i++) {
        const ck_fixture_info *f = ck_fixture_at(i);
        ck_error err;
        char dir1[1024], dir2[1024];
        snprintf(dir1, sizeof dir1, "%s", fixture_dir(f->name));
        snprintf(dir2, sizeof dir2, "%s", path_of(again, f->name));
        CHECK(ck_fixture_write(f->name, dir2, &err) == 0);
        char **n1, **n2;
        size_t c1 = list_dir(dir1, "", &n1), c2 = list_dir(dir2, "", &n2);
        CHECK(c1 == c2 && c1 > 0);
        for (size_t k = 0; k < c1 && k < c2; k++) {
            CHECK_STR(n1[k], n2[k]);
            bool same = same_file(path_of(dir1, n1[k]), path_of(dir2, n2[k]), f->is_sparse);
            if (!same) fprintf(stderr, "  %s/%s differs\n", f->name, n1[k]);
            CHECK(same);
        }
        free_list(n1, c1);
        free_list(n2, c2);
    }
}

/* ---- refusals ---------------------------------------------------------------------------- */

static void test_refuses_existing_checkpoint_and_unknown_names(void)
{
    ck_error err;
    CHECK(ck_fixture_write("llama", fixture_dir("qwen3"), &err) != 0);
    CHECK(err.code == CK_E_USAGE);
    CHECK(ck_fixture_write("no-such-fixture", path_of(root, "nothing"), &err) != 0);
    CHECK(err.code == CK_E_USAGE);
    CHECK(access(path_of(root, "nothing"), F_OK) != 0);
    CHECK(ck_fixture_find("demo") != NULL);
    CHECK(ck_fixture_at(ck_fixture_count()) == NULL);
    for (size_t i = 0; i < ck_fixture_count(); i++) {
        const ck_fixture_info *f = ck_fixture_at(i);
        CHECK(f->summary && strlen(f->summary) > 20);
        CHECK(ck_fixture_find(f->name) == f); /* names are unique */
    }
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/ckdoc-fixtures.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    RUN_TEST("fixtures", test_all_fixtures_write_and_read_back);
    RUN_TEST("fixtures", test_key_counts_follow_config);
    RUN_TEST("fixtures", test_family_shapes);
    RUN_TEST("fixtures", test_broken_variants_differ_where_intended);
    RUN_TEST("fixtures", test_gpt_oss_mxfp4_matches_bf16);
    RUN_TEST("fixtures", test_values_are_sane);
    RUN_TEST("fixtures", test_small_fixtures_are_small);
    RUN_TEST("fixtures", test_sparse_full_size);
    RUN_TEST("fixtures", test_two_generations_are_identical);
    RUN_TEST("fixtures", test_refuses_existing_checkpoint_and_unknown_names);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    TEST_EXIT();
}
