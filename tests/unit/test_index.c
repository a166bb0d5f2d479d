/* model.safetensors.index.json parsing: the valid shapes real writers produce, and every way a
 * hostile or broken index is refused (with the key and byte offset named). */
#include <stdlib.h>

#include "inspect/index.h"
#include "inspect/jsonfile.h"
#include "tests/check.h"

static int parse(const char *text, ck_index *idx, ck_error *err)
{
    return ck_index_parse("idx.json", text, strlen(text), idx, err);
}

/* Parse `text`, expect failure; return the error (message and offset checked by the caller). */
static ck_error refused(const char *text)
{
    ck_index idx;
    ck_error err = {0};
    if (parse(text, &idx, &err) == 0) {
        fprintf(stderr, "  accepted: %s\n", text);
        ck_test_failed_now = 1;
        ck_index_free(&idx);
    }
    return err;
}

static void valid_index(void)
{
    const char *t = "{\n  \"metadata\": {\"total_size\": 123, \"total_parameters\": 5, \"note\": [1]},\n"
                    "  \"weight_map\": {\n    \"b.weight\": \"model-00002-of-00002.safetensors\",\n"
                    "    \"a.weight\": \"model-00001-of-00002.safetensors\",\n"
                    "    \"c.bias\": \"model-00001-of-00002.safetensors\"\n  }\n}\n";
    ck_index idx;
    ck_error err;
    CHECK(parse(t, &idx, &err) == 0);
    CHECK_EQ_U64(idx.n_entries, 3);
    CHECK_EQ_U64(idx.n_shards, 2);
    CHECK(idx.has_total_size);
    CHECK_EQ_U64(idx.total_size, 123);
    CHECK_STR(idx.entries[0].key, "a.weight");
    CHECK_STR(idx.entries[1].key, "b.weight");
    CHECK_STR(idx.entries[2].key, "c.bias");
    CHECK_STR(idx.shards[idx.entries[0].shard], "model-00001-of-00002.safetensors");
    CHECK_STR(idx.shards[idx.entries[1].shard], "model-00002-of-00002.safetensors");
    CHECK_EQ_U64(idx.entries[2].shard, 0);
    ck_index_free(&idx);
}

static void no_metadata_and_empty_map(void)
{
    ck_index idx;
    ck_error err;
    CHECK(parse("{\"weight_map\": {}}", &idx, &err) == 0);
    CHECK_EQ_U64(idx.n_entries, 0);
    CHECK(!idx.has_total_size);
    ck_index_free(&idx);
    CHECK(parse("{\"metadata\": {}, \"weight_map\": {\"x\": \"m.safetensors\"}}", &idx, &err) == 0);
    CHECK(!idx.has_total_size);
    ck_index_free(&idx);
}

static void duplicate_keys(void)
{
    const char *t = "{\"weight_map\": {\"a\": \"s1\", \"b\": \"s1\", \"a\": \"s2\"}}";
    ck_error e = refused(t);
    CHECK_STR(e.key, "a");
    CHECK(strstr(e.msg, "duplicate") != NULL);
    CHECK_EQ_U64(e.offset, (uint64_t)(strstr(t, "\"a\": \"s2\"") - t)); /* the second one */
    e = refused("{\"weight_map\": {}, \"weight_map\": {}}");
    CHECK(strstr(e.msg, "duplicate") != NULL);
}

static void shard_path_tricks(void)
{
    static const char *const bad[] = {
        "{\"weight_map\": {\"w\": \"../x.safetensors\"}}",
        "{\"weight_map\": {\"w\": \"/abs.safetensors\"}}",
        "{\"weight_map\": {\"w\": \"a/b.safetensors\"}}",
        "{\"weight_map\": {\"w\": \"a\\\\b.safetensors\"}}",
        "{\"weight_map\": {\"w\": \"\"}}",
        "{\"weight_map\": {\"w\": \".\"}}",
        "{\"weight_map\": {\"w\": \"..\"}}",
        "{\"weight_map\": {\"w\": \"x\\u001b[2J.safetensors\"}}",
        "{\"weight_map\": {\"w\": \"x\\u007f.safetensors\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_error e = refused(bad[i]);
        CHECK_STR(e.key, "w");
        CHECK_STR(e.file, "idx.json");
        CHECK_EQ_U64(e.offset, 16); /* the key "w" */
    }
}

static void bad_values(void)
{
    ck_error e = refused("{\"weight_map\": {\"w\": 3}}");
    CHECK(strstr(e.msg, "not a string") != NULL);
    e = refused("{\"weight_map\": [\"w\"]}");
    CHECK(strstr(e.msg, "not an object") != NULL);
    e = refused("{\"metadata\": 5, \"weight_map\": {}}");
    CHECK(strstr(e.msg, "not an object") != NULL);
    e = refused("[1, 2]");
    CHECK(strstr(e.msg, "not a JSON object") != NULL);
}

static void missing_weight_map(void)
{
    ck_error e = refused("{\"metadata\": {\"total_size\": 1}}");
    CHECK(strstr(e.msg, "missing \"weight_map\"") != NULL);
}

static void bad_total_size(void)
{
    static const char *const bad[] = {"1.5", "-1", "9007199254740992", "1e300", "\"12\"", "null", "true"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char t[160];
        snprintf(t, sizeof t, "{\"metadata\": {\"total_size\": %s}, \"weight_map\": {}}", bad[i]);
        ck_error e = refused(t);
        CHECK_STR(e.key, "total_size");
        CHECK_EQ_U64(e.offset, 14);
    }
    ck_index idx;
    ck_error err;
    CHECK(parse("{\"metadata\": {\"total_size\": 9007199254740991}, \"weight_map\": {}}", &idx, &err) == 0);
    CHECK_EQ_U64(idx.total_size, 9007199254740991ull);
    ck_index_free(&idx);
    CHECK(parse("{\"metadata\": {\"total_size\": 2.0e3}, \"weight_map\": {}}", &idx, &err) == 0);
    CHECK_EQ_U64(idx.total_size, 2000);
    ck_index_free(&idx);
    ck_error e = refused("{\"metadata\": {\"total_size\": 1, \"total_size\": 2}, \"weight_map\": {}}");
    CHECK(strstr(e.msg, "duplicate") != NULL);
}

static void bad_json_offsets(void)
{
    /* Junk in the middle: the offset points at it, with line and column. */
    const char *t = "{\n  \"weight_map\": {\n    \"a\": \"s\" x\n  }\n}";
    ck_error e = refused(t);
    CHECK_EQ_U64(e.offset, (uint64_t)(strchr(t, 'x') - t));
    CHECK(strstr(e.msg, "line 3, column 14") != NULL);
    /* Cut off mid-write: reported at the end, as truncated. */
    const char *cut = "{\"weight_map\": {\"a\": \"s1\", \"b\": \"s";
    e = refused(cut);
    CHECK_EQ_U64(e.offset, strlen(cut));
    CHECK(strstr(e.msg, "truncated") != NULL);
    /* Two writers: a second document after the first. */
    const char *two = "{\"weight_map\": {}}\n{\"weight_map\": {}}";
    e = refused(two);
    CHECK_EQ_U64(e.offset, 19);
    CHECK(strstr(e.msg, "after the JSON value") != NULL);
    /* Raw control character, escaped NUL, broken UTF-8. */
    e = refused("{\"weight_map\": {\"a\x01\": \"s\"}}");
    CHECK_EQ_U64(e.offset, 18);
    e = refused("{\"weight_map\": {\"a\\u0000b\": \"s\", \"a\": \"s\"}}");
    CHECK_EQ_U64(e.offset, 18);
    e = refused("{\"weight_map\": {\"a\xff\": \"s\"}}");
    CHECK_EQ_U64(e.offset, 18);
    e = refused("");
    CHECK(strstr(e.msg, "truncated") != NULL);
    /* An escaped backslash followed by text is not a NUL escape. */
    ck_index idx;
    ck_error err;
    CHECK(parse("{\"weight_map\": {\"a\\\\u0000\": \"s\"}}", &idx, &err) == 0);
    if (idx.n_entries == 1) CHECK_STR(idx.entries[0].key, "a\\u0000");
    ck_index_free(&idx);
}

static void many_entries_unsorted(void)
{
    /* Keys in reverse order and shards alternating: sorting and shard numbering at scale. */
    size_t n = 5000, cap = n * 64 + 64, len = 0;
    char *t = malloc(cap);
    len += (size_t)snprintf(t + len, cap - len, "{\"weight_map\": {");
    for (size_t i = n; i-- > 0;)
        len += (size_t)snprintf(t + len, cap - len, "\"t.%05zu\": \"s%zu.safetensors\"%s", i, i % 7, i ? ", " : "");
    len += (size_t)snprintf(t + len, cap - len, "}}");
    ck_index idx;
    ck_error err;
    CHECK(ck_index_parse("idx.json", t, len, &idx, &err) == 0);
    CHECK_EQ_U64(idx.n_entries, n);
    CHECK_EQ_U64(idx.n_shards, 7);
    int ok = 1;
    for (size_t i = 0; i < idx.n_entries && ok; i++) {
        char want[32], shard[32];
        snprintf(want, sizeof want, "t.%05zu", i);
        snprintf(shard, sizeof shard, "s%zu.safetensors", i % 7);
        ok = !strcmp(idx.entries[i].key, want) && !strcmp(idx.shards[idx.entries[i].shard], shard);
    }
    CHECK(ok);
    ck_index_free(&idx);
    free(t);
}

static void line_col(void)
{
    unsigned l, c;
    ck_json_line_col("ab\ncd\n", 6, 4, &l, &c);
    CHECK_EQ_U64(l, 2);
    CHECK_EQ_U64(c, 2);
    ck_json_line_col("ab", 2, 0, &l, &c);
    CHECK_EQ_U64(l, 1);
    CHECK_EQ_U64(c, 1);
}

int main(void)
{
    RUN_TEST("index", valid_index);
    RUN_TEST("index", no_metadata_and_empty_map);
    RUN_TEST("index", duplicate_keys);
    RUN_TEST("index", shard_path_tricks);
    RUN_TEST("index", bad_values);
    RUN_TEST("index", missing_weight_map);
    RUN_TEST("index", bad_total_size);
    RUN_TEST("index", bad_json_offsets);
    RUN_TEST("index", many_entries_unsorted);
    RUN_TEST("index", line_col);
    TEST_EXIT();
}
