/* Reading tensor values out of a checkpoint (kernels/tensor_eval.h) on a file big enough that its
 * reads are cut into many pieces: the streamed statistics (the workers read, dequantize, hash and
 * reduce their own pieces, which begin and end inside rows) must give the bits and the hash of the
 * windowed path (read-ahead windows, used with the histogram), for every thread count, for plain
 * BF16 and for FP8 block-scaled, MXFP4 and NVFP4 groups. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inspect/checkpoint.h"
#include "kernels/tensor_eval.h"
#include "repair/st_writer.h"
#include "tests/check.h"

static char dir[256];
static uint64_t seed = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    return (uint32_t)(seed >> 16);
}

static uint8_t *random_bytes(size_t n, uint8_t mask)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)rnd() & mask;
    return p;
}

/* Rows of 2880 values (GPT-OSS's hidden size: not a multiple of the 1024-value chunk), enough of
 * them for several pieces of 256 Ki values. */
#define R 700
#define C 2880

static int write_checkpoint(void)
{
    snprintf(dir, sizeof dir, "%s/ckdoc-teval.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) return -1;
    static const uint64_t s_plain[] = {R, C}, s_fp8[] = {R, C}, s_fp8s[] = {(R + 127) / 128, (C + 127) / 128},
                          s_blk[] = {R, C / 32, 16}, s_sc[] = {R, C / 32}, s_nv[] = {R, C / 2},
                          s_nvs[] = {R, C / 16}, s_one[] = {1};
    uint8_t *plain = random_bytes((size_t)R * C * 2, 0xFF), *fp8 = random_bytes((size_t)R * C, 0xFF);
    for (size_t i = 0; i < (size_t)R * C; i++) plain[2 * i + 1] = (uint8_t)(0x3B + (plain[2 * i + 1] & 1) + (plain[2 * i + 1] & 0x80));
    float fsc[6 * 23];
    for (int i = 0; i < 6 * 23; i++) fsc[i] = 0.001f * (float)(1 + i % 7);
    uint8_t *blocks = random_bytes((size_t)R * C / 2, 0xFF), *scales = random_bytes((size_t)R * C / 32, 0x07);
    for (size_t i = 0; i < (size_t)R * C / 32; i++) scales[i] += 120;
    uint8_t *nv = random_bytes((size_t)R * C / 2, 0xFF), *nvs = random_bytes((size_t)R * C / 16, 0x3F);
    float global = 0.5f;
    ck_st_source t[] = {
        {"plain", CK_BF16, 2, s_plain, plain, NULL, NULL},
        {"q.weight", CK_F8_E4M3, 2, s_fp8, fp8, NULL, NULL},
        {"q.weight_scale_inv", CK_F32, 2, s_fp8s, fsc, NULL, NULL},
        {"x_blocks", CK_U8, 3, s_blk, blocks, NULL, NULL},
        {"x_scales", CK_U8, 2, s_sc, scales, NULL, NULL},
        {"n.weight", CK_U8, 2, s_nv, nv, NULL, NULL},
        {"n.weight_scale", CK_F8_E4M3, 2, s_nvs, nvs, NULL, NULL},
        {"n.weight_scale_2", CK_F32, 1, s_one, &global, NULL, NULL},
    };
    char path[300];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_error err;
    int rc = ck_st_write_file(path, t, sizeof t / sizeof *t, NULL, 0, &err);
    free(plain), free(fp8), free(blocks), free(scales), free(nv), free(nvs);
    return rc;
}

static bool stats_of(ck_checkpoint *ck, const char *key, int threads, unsigned flags, ck_tresult *r,
                     ck_group_fmt *fmt)
{
    ck_error err;
    ck_tgroup g;
    const ck_entry *e = ck_checkpoint_find(ck, key);
    if (!e) return false;
    ck_tgroup_find(ck, e, &g);
    *fmt = g.fmt;
    ck_backend *be = ck_backend_cpu_create(threads, &err);
    ck_teval *ev = be ? ck_teval_new(ck, be, threads, &err) : NULL;
    bool ok = ev && ck_teval_stats(ev, &g, flags, r, &err) == 0 && r->has_stats;
    if (!ok) fprintf(stderr, "  %s: %s\n", key, err.msg);
    ck_teval_free(ev);
    ck_backend_destroy(be);
    return ok;
}

static void streamed_equals_windowed(void)
{
    CHECK(write_checkpoint() == 0);
    ck_checkpoint ck;
    ck_error err;
    CHECK(ck_checkpoint_open(dir, 0, &ck, &err) == 0);
    static const struct { const char *key; ck_group_fmt fmt; } cases[] = {
        {"plain", CK_GROUP_RAW}, {"q.weight", CK_GROUP_FP8}, {"x_blocks", CK_GROUP_MXFP4}, {"n.weight", CK_GROUP_NVFP4}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        ck_tresult ref, r;
        ck_group_fmt fmt;
        /* the reference: with the histogram, everything goes through the read-ahead windows */
        CHECK(stats_of(&ck, cases[k].key, 1, CK_EVAL_HASH | CK_EVAL_HISTOGRAM, &ref, &fmt));
        CHECK(fmt == cases[k].fmt && ref.st.count == (uint64_t)R * C && ref.st.t.finite > 0);
        for (int threads = 1; threads <= 3; threads++)
            for (unsigned flags = 0; flags <= CK_EVAL_HASH; flags += CK_EVAL_HASH) {
                memset(&r, 0, sizeof r);
                CHECK(stats_of(&ck, cases[k].key, threads, flags, &r, &fmt));
                const ck_tally *a = &r.st.t, *b = &ref.st.t;
                bool same = r.st.count == ref.st.count && a->nan == b->nan && a->inf == b->inf && a->zero == b->zero &&
                            a->finite == b->finite && a->min == b->min && a->max == b->max &&
                            !memcmp(&r.st.mean, &ref.st.mean, sizeof r.st.mean) &&
                            !memcmp(&r.st.std, &ref.st.std, sizeof r.st.std);
                if (!same)
                    fprintf(stderr, "  %s threads=%d flags=%u: mean %.17g/%.17g std %.17g/%.17g\n", cases[k].key, threads,
                            flags, r.st.mean, ref.st.mean, r.st.std, ref.st.std);
                CHECK(same);
                /* the hash, computed by the workers as they read, is the same */
                if (flags & CK_EVAL_HASH) CHECK_EQ_U64(r.hash, ref.hash);
            }
    }
    ck_checkpoint_close(&ck);
    char path[300];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    RUN_TEST("teval", streamed_equals_windowed);
    return ck_test_failures ? 1 : 0;
}
