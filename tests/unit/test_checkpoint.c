/* Opening checkpoints: the four layouts, and each inconsistency between an index, its shards
 * and the side files becoming a problem (not a failure) while the rest is still catalogued. */
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inspect/checkpoint.h"
#include "inspect/summary.h"
#include "tests/check.h"

static char root[256];

/* A tiny safetensors writer, independent of the one under repair/: tensors are "name:DTYPE:d0xd1"
 * specs, laid out in the given order, data all zero. Returns 0 on success. */
static int write_st(const char *path, int n, const char *const *specs)
{
    static const struct { const char *name; unsigned bytes; } sizes[] = {
        {"F32", 4}, {"BF16", 2}, {"F16", 2}, {"U8", 1}, {"F8_E4M3", 1}, {"I64", 8},
    };
    char hdr[8192];
    size_t h = 0;
    uint64_t off = 0;
    h += (size_t)snprintf(hdr + h, sizeof hdr - h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        char name[256], dtype[16], dims[64];
        if (sscanf(specs[i], "%255[^:]:%15[^:]:%63s", name, dtype, dims) != 3) return -1;
        unsigned esize = 0;
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
            if (!strcmp(sizes[k].name, dtype)) esize = sizes[k].bytes;
        uint64_t numel = 1;
        char shape[96] = "";
        size_t sl = 0;
        for (char *tok = strtok(dims, "x"); tok; tok = strtok(NULL, "x")) {
            numel *= strtoull(tok, NULL, 10);
            sl += (size_t)snprintf(shape + sl, sizeof shape - sl, "%s%s", sl ? "," : "", tok);
        }
        h += (size_t)snprintf(hdr + h, sizeof hdr - h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],\"data_offsets\":[%llu,%llu]}",
                              name, dtype, shape, (unsigned long long)off, (unsigned long long)(off + numel * esize));
        off += numel * esize;
    }
    hdr[h++] = '}';
    while (h % 8) hdr[h++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)h >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(hdr, 1, h, f);
    for (uint64_t i = 0; i < off; i++) fputc(0, f);
    return fclose(f);
}

static const char *pathf(const char *fmt, ...)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    int n = snprintf(p, sizeof buf[0], "%s/", root);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p + n, sizeof buf[0] - (size_t)n, fmt, ap);
    va_end(ap);
    return p;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Does any problem mention `needle` in its message and (if given) have key `key`? */
static int has_problem(const ck_checkpoint *ck, const char *key, const char *needle)
{
    for (size_t i = 0; i < ck->n_problems; i++)
        if ((!key || !strcmp(ck->problems[i].key, key)) && strstr(ck->problems[i].msg, needle)) return 1;
    return 0;
}

static void dump_problems(const ck_checkpoint *ck)
{
    for (size_t i = 0; i < ck->n_problems; i++) {
        char line[1024];
        ck_error_format(&ck->problems[i], line, sizeof line);
        fprintf(stderr, "  problem: %s\n", line);
    }
}

static const char *const shard1[] = {"model.embed_tokens.weight:BF16:16x8", "model.layers.0.mlp.down_proj.weight:BF16:8x4"};
static const char *const shard2[] = {"model.layers.1.mlp.down_proj.weight:BF16:8x4", "lm_head.weight:F32:16x8"};

static void make_indexed(const char *dir, const char *index)
{
    mkdir(pathf("%s", dir), 0755);
    write_st(pathf("%s/model-00001-of-00002.safetensors", dir), 2, shard1);
    write_st(pathf("%s/model-00002-of-00002.safetensors", dir), 2, shard2);
    write_text(pathf("%s/model.safetensors.index.json", dir), index);
}

static const char *good_index =
    "{\"metadata\": {\"total_size\": 896},\n \"weight_map\": {\n"
    "  \"lm_head.weight\": \"model-00002-of-00002.safetensors\",\n"
    "  \"model.embed_tokens.weight\": \"model-00001-of-00002.safetensors\",\n"
    "  \"model.layers.0.mlp.down_proj.weight\": \"model-00001-of-00002.safetensors\",\n"
    "  \"model.layers.1.mlp.down_proj.weight\": \"model-00002-of-00002.safetensors\"}}\n";

static void single_file(void)
{
    CHECK(write_st(pathf("one.safetensors"), 2, shard1) == 0);
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(pathf("one.safetensors"), 0, &ck, &err) == 0);
    CHECK(ck.layout == CK_LAYOUT_FILE);
    CHECK_EQ_U64(ck.n_shards, 1);
    CHECK_EQ_U64(ck.n_entries, 2);
    CHECK_EQ_U64(ck.n_problems, 0);
    const ck_entry *e = ck_checkpoint_find(&ck, "model.layers.0.mlp.down_proj.weight");
    CHECK(e && e->has_header && e->dtype == CK_BF16 && e->ndim == 2 && e->shape[0] == 8 && e->nbytes == 64);
    CHECK(ck_checkpoint_find(&ck, "nope") == NULL);
    CHECK_STR(ck.shards[0].name, "one.safetensors");
    ck_checkpoint_close(&ck);
}

static void indexed_dir(void)
{
    make_indexed("idx", good_index);
    write_text(pathf("idx/config.json"), "{\"model_type\": \"llama\"}");
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(pathf("idx"), 0, &ck, &err) == 0);
    dump_problems(&ck);
    CHECK(ck.layout == CK_LAYOUT_INDEXED);
    CHECK_EQ_U64(ck.n_problems, 0);
    CHECK_EQ_U64(ck.n_shards, 2);
    CHECK_EQ_U64(ck.n_entries, 4);
    CHECK_STR(ck.entries[0].name, "lm_head.weight");
    CHECK_STR(ck.entries[3].name, "model.layers.1.mlp.down_proj.weight");
    CHECK(ck.config.present && ck.config.json);
    CHECK(!ck.generation_config.present);
    /* The entry's offset is absolute: 8 + header length + data offset. */
    const ck_entry *e = ck_checkpoint_find(&ck, "model.layers.1.mlp.down_proj.weight");
    CHECK(e && e->file_offset == ck.shards[1].st.data_start + 0);
    ck_summary s;
    CHECK(ck_summary_compute(&ck, NULL, 0, &s, &err) == 0);
    CHECK_EQ_U64(s.tensors, 4);
    CHECK_EQ_U64(s.params, 128 + 32 + 32 + 128);
    CHECK_EQ_U64(s.bytes, 896);
    CHECK_EQ_U64(s.layers, 2);
    CHECK_EQ_U64(s.dtype_bytes[CK_F32], 512);
    ck_checkpoint_close(&ck);
    /* The index file itself as PATH, and a trailing slash, open the same checkpoint. */
    CHECK(ck_checkpoint_open(pathf("idx/model.safetensors.index.json"), 0, &ck, &err) == 0);
    CHECK(ck.layout == CK_LAYOUT_INDEXED && ck.n_entries == 4 && ck.n_problems == 0);
    ck_checkpoint_close(&ck);
    CHECK(ck_checkpoint_open(pathf("idx/"), 0, &ck, &err) == 0);
    CHECK(ck.n_entries == 4 && ck.n_problems == 0);
    ck_checkpoint_close(&ck);
}

static void loose_dir(void)
{
    mkdir(pathf("loose"), 0755);
    write_st(pathf("loose/b.safetensors"), 2, shard2);
    write_st(pathf("loose/a.safetensors"), 2, shard1);
    write_text(pathf("loose/.a.safetensors.ckdoc-tmp.1"), "junk");
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(pathf("loose"), 0, &ck, &err) == 0);
    CHECK(ck.layout == CK_LAYOUT_LOOSE);
    CHECK_EQ_U64(ck.n_shards, 2);
    CHECK_STR(ck.shards[0].name, "a.safetensors");
    CHECK_EQ_U64(ck.n_entries, 4);
    CHECK_EQ_U64(ck.n_problems, 0);
    ck_checkpoint_close(&ck);
}

static void index_only(void)
{
    mkdir(pathf("io"), 0755);
    write_text(pathf("io/model.safetensors.index.json"), good_index);
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(pathf("io"), CK_OPEN_INDEX_ONLY, &ck, &err) == 0);
    dump_problems(&ck);
    CHECK(ck.layout == CK_LAYOUT_INDEX_ONLY);
    CHECK_EQ_U64(ck.n_problems, 0);
    CHECK_EQ_U64(ck.n_entries, 4);
    CHECK(!ck.entries[0].has_header);
    CHECK_STR(ck.shards[ck.entries[0].shard].name, "model-00002-of-00002.safetensors");
    ck_checkpoint_close(&ck);
    /* Without the flag, the same directory has two missing shards. */
    CHECK(ck_checkpoint_open(pathf("io"), 0, &ck, &err) == 0);
    CHECK(ck.layout == CK_LAYOUT_INDEXED);
    CHECK_EQ_U64(ck.n_problems, 2);
    CHECK(has_problem(&ck, NULL, "is missing"));
    CHECK_EQ_U64(ck.n_entries, 4); /* still listed, from the index */
    ck_checkpoint_close(&ck);
}

static void missing_shard(void)
{
    make_indexed("miss", good_index);
    unlink(pathf("miss/model-00002-of-00002.safetensors"));
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(pathf("miss"), 0, &ck, &err) == 0);
    CHECK_EQ_U64(ck.n_problems, 1);
    CHECK(has_problem(&ck, NULL, "is missing"));
    CHECK(strstr(ck.problems[0].file, "model-00002-of-00002.safetensors") != NULL);
    CHECK_EQ_U64(ck.n_entries, 4);
    const ck_entry *e = ck_checkpoint_find(&ck, "lm_head.weight");
    CHECK(e && !e->has_header);
    e = ck_checkpoint_find(&ck, "model.embed_tokens.weight");
    CHECK(e && e->has_header);
    ck_checkpoint_close(&ck);
}

static void key_not_in_shard(void)
{
    make_indexed("extra_key", "{\"weight_map\": {\n"
                              "  \"lm_head.weight\": \"model-00002-of-00002.safetensors\",\n"
                              "  \"ghost.weight\": \"model-00002-of-00002.safetensors\",\n"
                              "  \"model.embed_tokens.weight\": \"model-00002-of-00002.safetensors\",\n"
                              "  \"model.layers.0.mlp.down_proj.weight\": \"model-00001-of-00002.safetensors\",\n"
                              "  \"model.layers.1.mlp.down_proj.weight\": \"model-00002-of-00002.safetensors\"}}\n");
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(pathf("extra_key"), 0, &ck, &err) == 0);
    dump_problems(&ck);
    CHECK_EQ_U64(ck.n_problems, 2);
    CHECK(has_problem(&ck, "ghost.weight", "no shard has it"));
    CHECK(has_problem(&ck, "model.embed_tokens.weight", "it is in model-00001-of-00002.safetensors"));
    ck_checkpoint_close(&ck);
}

static void key_not_in_index(void)
{
    make_indexed("unlisted", "{\"weight_map\": {\n"
                             "  \"lm_head.weight\": \"model-00002-of-00002.safetensors\",\n"
                             "  \"model.embed_tokens.weight\": \"model-00001-of-00002.safetensors\",\n"
                             "  \"model.layers.1.mlp.down_proj.weight\": \"model-00002-of-00002.safetensors\"}}\n");
    write_st(pathf("unlisted/stale.safetensors"), 1, shard1);
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(pathf("unlisted"), 0, &ck, &err) == 0);
    dump_problems(&ck);
    CHECK_EQ_U64(ck.n_problems, 2);
    CHECK(has_problem(&ck, "model.layers.0.mlp.down_proj.weight", "not listed in the index"));
    CHECK(has_problem(&ck, NULL, "not named by model.safetensors.index.json"));
    ck_checkpoint_close(&ck);
}

static void total_size_mismatch(void)
{
    char idx[1024];
    snprintf(idx, sizeof idx, "%s", good_index);
    memcpy(strstr(idx, "896"), "897", 3);
    make_indexed("total", idx);
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(pathf("total"), 0, &ck, &err) == 0);
    CHECK_EQ_U64(ck.n_problems, 1);
    CHECK(has_problem(&ck, "total_size", "897"));
    CHECK_EQ_U64(ck.problems[0].offset, 14);
    ck_checkpoint_close(&ck);
}

static void duplicate_across_shards(void)
{
    mkdir(pathf("dup"), 0755);
    write_st(pathf("dup/a.safetensors"), 2, shard1);
    write_st(pathf("dup/b.safetensors"), 2, shard1);
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(pathf("dup"), 0, &ck, &err) == 0);
    CHECK_EQ_U64(ck.n_problems, 2);
    CHECK(has_problem(&ck, "model.embed_tokens.weight", "duplicate across shards"));
    CHECK_EQ_U64(ck.n_entries, 4);
    ck_checkpoint_close(&ck);
}

static void truncated_config(void)
{
    make_indexed("trunc", good_index);
    const char *cfg = "{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 40";
    write_text(pathf("trunc/config.json"), cfg);
    write_text(pathf("trunc/generation_config.json"), "{\"a\": 1}{\"a\": 1}");
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(pathf("trunc"), 0, &ck, &err) == 0);
    dump_problems(&ck);
    CHECK_EQ_U64(ck.n_entries, 4);
    CHECK_EQ_U64(ck.n_problems, 2);
    CHECK(ck.config.present && !ck.config.json);
    CHECK_EQ_U64(ck.config.error.offset, strlen(cfg));
    CHECK(strstr(ck.config.error.msg, "truncated") && strstr(ck.config.error.msg, "line 3, column 20"));
    CHECK(has_problem(&ck, NULL, "truncated"));
    CHECK_EQ_U64(ck.generation_config.error.offset, 8);
    ck_checkpoint_close(&ck);
}

static void broken_shard(void)
{
    mkdir(pathf("broken"), 0755);
    write_st(pathf("broken/a.safetensors"), 2, shard1);
    write_text(pathf("broken/b.safetensors"), "\x10\0\0\0\0\0\0\0{not json");
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(pathf("broken"), 0, &ck, &err) == 0);
    CHECK_EQ_U64(ck.n_problems, 1);
    CHECK(strstr(ck.problems[0].file, "b.safetensors") != NULL);
    CHECK_EQ_U64(ck.n_entries, 2);
    ck_checkpoint_close(&ck);
}

static void not_a_checkpoint(void)
{
    ck_checkpoint ck;
    ck_error err;
    mkdir(pathf("empty"), 0755);
    CHECK(ck_checkpoint_open(pathf("empty"), 0, &ck, &err) < 0);
    CHECK(strstr(err.msg, "not a checkpoint") != NULL);
    mkdir(pathf("cfgonly"), 0755);
    write_text(pathf("cfgonly/config.json"), "{}");
    CHECK(ck_checkpoint_open(pathf("cfgonly"), 0, &ck, &err) < 0);
    CHECK(ck_checkpoint_open(pathf("does-not-exist"), 0, &ck, &err) < 0);
    CHECK(err.code == CK_E_IO);
    write_text(pathf("notes.txt"), "hello");
    CHECK(ck_checkpoint_open(pathf("notes.txt"), 0, &ck, &err) < 0);
}

static void bad_index_falls_back(void)
{
    make_indexed("badidx", "{\"weight_map\": {\"x\": \"../../etc/passwd\"}}");
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(pathf("badidx"), 0, &ck, &err) == 0);
    CHECK(ck.layout == CK_LAYOUT_INDEXED);
    CHECK_EQ_U64(ck.n_problems, 1);
    CHECK(has_problem(&ck, "x", "path separator"));
    CHECK_EQ_U64(ck.n_entries, 4); /* the shards beside it are still listed */
    ck_checkpoint_close(&ck);
}

static void summary_moe_and_quant(void)
{
    mkdir(pathf("moe"), 0755);
    static const char *const t[] = {
        "model.layers.0.mlp.experts.0.down_proj.weight:F8_E4M3:4x4",
        "model.layers.0.mlp.experts.0.down_proj.weight_scale_inv:F32:1x1",
        "model.layers.0.mlp.experts.1.down_proj.weight:F8_E4M3:4x4",
        "model.layers.0.mlp.experts.7.down_proj.weight:F8_E4M3:4x4",
        "model.layers.0.mlp.shared_experts.down_proj.weight:BF16:4x4",
        "model.layers.2.mlp.experts.gate_up_proj_blocks:U8:32x8x1x16",
        "model.layers.2.mlp.experts.gate_up_proj_scales:U8:32x8x1",
        "backbone.layers.3.norm.weight:BF16:4",
    };
    write_st(pathf("moe/model.safetensors"), 8, t);
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(pathf("moe"), 0, &ck, &err) == 0);
    ck_summary s;
    CHECK(ck_summary_compute(&ck, NULL, 0, &s, &err) == 0);
    CHECK_EQ_U64(s.layers, 4);
    CHECK_EQ_U64(s.moe_layers, 2);
    CHECK_EQ_U64(s.experts_min, 3);
    CHECK_EQ_U64(s.experts_max, 32);
    CHECK_EQ_U64(s.n_quant, 2);
    if (s.n_quant == 2) {
        CHECK_STR(s.quant[0], "MXFP4");
        CHECK_STR(s.quant[1], "FP8-block");
    }
    CHECK_EQ_U64(s.shards, 1);
    ck_checkpoint_close(&ck);
    size_t after;
    CHECK(ck_layer_of("language_model.model.layers.17.x", 32, &after) == 17);
    CHECK(ck_layer_of("decoder.layers.3.w", 18, &after) == 3);
    CHECK(ck_layer_of("mylayers.3.w", 12, &after) == -1);
    CHECK(ck_layer_of("layers.x.w", 10, &after) == -1);
}

int main(void)
{
    snprintf(root, sizeof root, "%s/ckdoc-ckpt-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(root)) return 1;
    RUN_TEST("checkpoint", single_file);
    RUN_TEST("checkpoint", indexed_dir);
    RUN_TEST("checkpoint", loose_dir);
    RUN_TEST("checkpoint", index_only);
    RUN_TEST("checkpoint", missing_shard);
    RUN_TEST("checkpoint", key_not_in_shard);
    RUN_TEST("checkpoint", key_not_in_index);
    RUN_TEST("checkpoint", total_size_mismatch);
    RUN_TEST("checkpoint", duplicate_across_shards);
    RUN_TEST("checkpoint", truncated_config);
    RUN_TEST("checkpoint", broken_shard);
    RUN_TEST("checkpoint", not_a_checkpoint);
    RUN_TEST("checkpoint", bad_index_falls_back);
    RUN_TEST("checkpoint", summary_moe_and_quant);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "  could not remove %s\n", root);
    TEST_EXIT();
}
