/* Family specs against the real released checkpoints in tests/real/ (config.json and
 * model.safetensors.index.json, copied unmodified from ../shared/real): every real key must be
 * expected by the family spec and every required expected key must be present. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>

#include "inspect/spec.h"
#include "tests/check.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    if (buf) buf[n] = '\0';
    fclose(f);
    return buf;
}

static cJSON *load_json(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = slurp(path);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

static void check_real(const char *dir)
{
    cJSON *config = load_json(dir, "config.json"), *index = load_json(dir, "model.safetensors.index.json");
    cJSON *hfq = load_json(dir, "hf_quant_config.json");
    ck_error err;
    const ck_spec *spec = config ? ck_spec_for_config(config, &err) : NULL;
    const char *base = strrchr(dir, '/') + 1;
    if (config && spec && !index) {
        /* No index published with it: the real config must still expand cleanly. */
        ck_expectation x;
        ck_test_failed_now = 0;
        CHECK(ck_spec_expand(spec, config, hfq, &x, &err) == 0);
        if (!ck_test_failed_now) {
            CHECK(x.n_items > 0);
            ck_expectation_free(&x);
        }
        printf("%s: spec/real %s (config only)\n", ck_test_failed_now ? "FAIL" : "PASS", base);
        ck_test_failures += ck_test_failed_now;
        cJSON_Delete(config), cJSON_Delete(index), cJSON_Delete(hfq);
        return;
    }
    if (!config || !index || !spec) {
        printf("SKIP: spec/real %s (%s)\n", base, !config ? "no config.json" : !index ? "no index" : "no family spec yet");
        cJSON_Delete(config), cJSON_Delete(index), cJSON_Delete(hfq);
        return;
    }
    ck_test_failed_now = 0;
    ck_expectation x;
    if (ck_spec_expand(spec, config, hfq, &x, &err) < 0) {
        fprintf(stderr, "  %s: expand failed: %s\n", base, err.msg);
        ck_test_failed_now = 1;
    } else {
        const cJSON *wm = cJSON_GetObjectItemCaseSensitive(index, "weight_map");
        size_t unexpected = 0, missing = 0;
        for (const cJSON *k = wm->child; k; k = k->next)
            if (!ck_expectation_find(&x, k->string, strlen(k->string)) && unexpected++ < 5)
                fprintf(stderr, "  %s: unexpected key %s\n", base, k->string);
        for (size_t i = 0; i < x.n_items; i++)
            if (!(x.items[i].flags & CK_EXP_OPTIONAL) && !cJSON_GetObjectItemCaseSensitive(wm, x.items[i].key) &&
                missing++ < 5)
                fprintf(stderr, "  %s: missing key %s\n", base, x.items[i].key);
        CHECK_EQ_U64(unexpected, 0);
        CHECK_EQ_U64(missing, 0);
        ck_expectation_free(&x);
    }
    printf("%s: spec/real %s\n", ck_test_failed_now ? "FAIL" : "PASS", base);
    ck_test_failures += ck_test_failed_now;
    cJSON_Delete(config), cJSON_Delete(index), cJSON_Delete(hfq);
}

static void test_builtin_specs_load(void)
{
    ck_error err;
    CHECK(ck_spec_count() > 0);
    for (size_t i = 0; i < ck_spec_count(); i++) CHECK(ck_spec_by_family(ck_spec_family(i), &err) != NULL);
}

static void test_quant_excludes(void)
{
    cJSON *p = cJSON_Parse("[\"model.layers.*.self_attn\", \"lm_head\", \"model.layers.*.mlp.router\"]");
    CHECK(ck_quant_module_excluded(p, "model.layers.3.self_attn.q_proj"));
    CHECK(ck_quant_module_excluded(p, "lm_head"));
    CHECK(ck_quant_module_excluded(p, "model.layers.0.mlp.router"));
    CHECK(!ck_quant_module_excluded(p, "model.layers.0.mlp.experts"));
    CHECK(!ck_quant_module_excluded(p, "lm_head_extra"));
    cJSON_Delete(p);
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : "tests/real";
    RUN_TEST("spec", test_builtin_specs_load);
    RUN_TEST("spec", test_quant_excludes);
    DIR *d = opendir(root);
    if (!d) {
        printf("FAIL: spec/real (cannot open %s)\n", root);
        return 1;
    }
    char *names[64];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 64)
        if (de->d_name[0] != '.' && de->d_type == DT_DIR) names[n++] = strdup(de->d_name);
    closedir(d);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(names[i], names[j]) > 0) { char *t = names[i]; names[i] = names[j]; names[j] = t; }
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        check_real(path);
        free(names[i]);
    }
    TEST_EXIT();
}
