/* The spec expression evaluator against a config.json-like object. */
#include <cjson/cJSON.h>

#include "inspect/expr.h"
#include "tests/check.h"

static cJSON *config;

static bool lookup(void *ctx, const char *name, int len, ck_value *out)
{
    (void)ctx;
    char key[128];
    snprintf(key, sizeof key, "%.*s", len, name);
    if (!strcmp(key, "n")) { *out = (ck_value){.type = CK_V_INT, .i = 5}; return true; }
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(config, key);
    if (!j) return false;
    *out = ck_value_from_json(j);
    return true;
}

static ck_expr_env env = {lookup, NULL, 0};

static int64_t ival(const char *e)
{
    int64_t v = -999;
    char err[256];
    if (ck_expr_int(e, &env, &v, err, sizeof err) < 0) { fprintf(stderr, "  %s\n", err); return -999; }
    return v;
}

static int bval(const char *e)
{
    bool v = false;
    char err[256];
    if (ck_expr_bool(e, &env, &v, err, sizeof err) < 0) { fprintf(stderr, "  %s\n", err); return -1; }
    return v;
}

static const char *error_of(const char *e)
{
    static char err[256];
    ck_value v;
    err[0] = 0;
    if (ck_expr_eval(e, &env, &v, err, sizeof err) == 0) {
        int64_t i;
        if (ck_expr_int(e, &env, &i, err, sizeof err) == 0) return "";
    }
    return err;
}

static void test_arithmetic(void)
{
    CHECK_EQ_U64(ival("2 + 3 * 4"), 14);
    CHECK_EQ_U64(ival("(2 + 3) * 4"), 20);
    CHECK_EQ_U64(ival("hidden_size / num_attention_heads"), 64);
    CHECK_EQ_U64(ival("cdiv(hidden_size, 128)"), 23);
    CHECK_EQ_U64(ival("cdiv(2048, 128)"), 16);
    CHECK_EQ_U64(ival("17 % 5"), 2);
    CHECK_EQ_U64(ival("max(3, 9) - min(3, 9)"), 6);
    CHECK_EQ_U64(ival("-4 + 10"), 6);
}

static void test_defaults_and_missing(void)
{
    CHECK_EQ_U64(ival("head_dim ?? hidden_size / num_attention_heads"), 64);
    CHECK_EQ_U64(ival("num_key_value_heads ?? 3 * 5"), 8);
    CHECK_EQ_U64(ival("(q_lora_rank ?? 2) * 3"), 6);
    CHECK_EQ_U64(ival("q_lora_rank ?? 7"), 7); /* null takes the default */
    CHECK_EQ_U64(ival("num_key_value_heads ?? num_attention_heads"), 8);
    CHECK(bval("has(num_key_value_heads)") == 1);
    CHECK(bval("has(head_dim)") == 0);
    CHECK(strstr(error_of("head_dim * 2"), "\"head_dim\" is missing") != NULL);
    CHECK(strstr(error_of("hidden_size / 7"), "not a whole number") != NULL);
    CHECK(strstr(error_of("1 / 0"), "division by zero") != NULL);
    CHECK(strstr(error_of("9223372036854775807 * 2"), "overflow") != NULL);
    CHECK(strstr(error_of("2 +"), "column") != NULL);
    CHECK(strstr(error_of("(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))"), "too deeply") != NULL);
    CHECK(strstr(error_of("frobnicate(1)"), "unknown function") != NULL);
}

static void test_logic_and_lists(void)
{
    CHECK(bval("n >= first_k_dense_replace") == 1);
    CHECK(bval("n in mlp_only_layers") == 0);
    CHECK(bval("3 in mlp_only_layers") == 1);
    CHECK(bval("!(n in mlp_only_layers) && num_experts > 0 && (n + 1) % decoder_sparse_step == 0") == 1);
    CHECK(bval("!(3 in mlp_only_layers) && num_experts > 0") == 0);
    CHECK(bval("(n + 1) % 3 == 0 || tie_word_embeddings") == 1);
    CHECK(bval("tie_word_embeddings && head_dim > 0") == 0); /* short-circuit: head_dim never looked at */
    CHECK(bval("false || head_dim > 0") == -1);               /* ...but here it is, and is missing */
    CHECK(bval("at(hybrid_override_pattern, n) == 'E'") == 1);
    CHECK(bval("at(hybrid_override_pattern, 0) == \"M\"") == 1);
    CHECK_EQ_U64(ival("len(hybrid_override_pattern)"), 8);
    CHECK_EQ_U64(ival("n >= 3 ? 100 : 200"), 100);
    CHECK_EQ_U64(ival("n < 3 ? 100 : 200"), 200);
    CHECK(bval("model_type == 'qwen3_moe'") == 1);
    CHECK(bval("intermediate_size == 96") == 1); /* "in" must not be cut from the front of a name */
}

int main(void)
{
    config = cJSON_Parse("{\"hidden_size\": 2880, \"num_attention_heads\": 45, \"num_key_value_heads\": 8,"
                         "\"q_lora_rank\": null, \"first_k_dense_replace\": 3, \"mlp_only_layers\": [3],"
                         "\"num_experts\": 8, \"decoder_sparse_step\": 1, \"tie_word_embeddings\": false,"
                         "\"hybrid_override_pattern\": \"M*-M-E*E\", \"model_type\": \"qwen3_moe\","
                         "\"intermediate_size\": 96}");
    /* 2880 / 45 = 64 */
    RUN_TEST("expr", test_arithmetic);
    RUN_TEST("expr", test_defaults_and_missing);
    RUN_TEST("expr", test_logic_and_lists);
    cJSON_Delete(config);
    TEST_EXIT();
}
