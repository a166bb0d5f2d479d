/* Unit tests of the streaming safetensors writer and crash-safe commit: round trips through the
 * reader for every dtype (pointer, callback and hole-backed data), byte-exact determinism, the
 * reference layout (8-aligned data, dtype-descending order, aligned offsets), the worked bytes of
 * formats.md §1.7, HF sharding with its index, refusals that leave nothing behind, and sparse
 * output for all-zero tensors. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inspect/safetensors.h"
#include "repair/atomic.h"
#include "repair/st_writer.h"
#include "tests/check.h"

static char tmpdir[512];

/* ---- helpers ------------------------------------------------------------------------------- */

static uint64_t rng_state;
static uint64_t rng_next(void) /* splitmix64: seeded, so every run writes the same bytes */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint8_t *random_bytes(uint64_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    for (uint64_t i = 0; i < n; i++) p[i] = (uint8_t)rng_next();
    return p;
}

static char *path_in(const char *name)
{
    static char buf[4][1024];
    static int slot;
    char *p = buf[slot++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) n = 0;
    p[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return p;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Entries of a directory other than . and .. (temporaries included). */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

static void show(const ck_error *err)
{
    char line[1400];
    ck_error_format(err, line, sizeof line);
    fprintf(stderr, "  error: %s\n", line);
}

/* A read callback over an in-memory buffer, to exercise the streaming path. */
typedef struct {
    const uint8_t *bytes;
    uint64_t len;
    int calls;
    bool fail;
} mem_src;

static int mem_read(void *ctx, uint64_t offset, void *buf, size_t len, ck_error *err)
{
    mem_src *m = ctx;
    m->calls++;
    if (m->fail || offset + len > m->len)
        return ck_error_set(err, CK_E_IO, "source.bin", NULL, (int64_t)offset, "simulated read failure");
    memcpy(buf, m->bytes + offset, len);
    return 0;
}

/* A tensor under construction: owns its shape and bytes. */
typedef struct {
    char name[64];
    uint64_t shape[CK_MAX_DIMS];
    uint64_t nbytes;
    uint8_t *bytes; /* expected content (zeros for holes) */
    mem_src src;
} owned;

enum { DATA_PTR, DATA_READ, DATA_HOLE };

static void make_source(owned *o, ck_st_source *s, const char *name, ck_dtype dt, int ndim,
                        const uint64_t *shape, int how)
{
    snprintf(o->name, sizeof o->name, "%s", name);
    memcpy(o->shape, shape, (size_t)ndim * sizeof *shape);
    ck_tensor_size(dt, shape, ndim, NULL, &o->nbytes);
    o->bytes = how == DATA_HOLE ? calloc(o->nbytes ? o->nbytes : 1, 1) : random_bytes(o->nbytes);
    o->src = (mem_src){o->bytes, o->nbytes, 0, false};
    *s = (ck_st_source){.name = o->name, .dtype = dt, .ndim = ndim, .shape = o->shape};
    if (how == DATA_PTR) s->data = o->bytes;
    if (how == DATA_READ) s->read = mem_read, s->read_ctx = &o->src;
}

/* Open `path` with the reader and check every tensor and metadata entry bit for bit. */
static void check_roundtrip(const char *path, const ck_st_source *src, const owned *own, size_t n,
                            const ck_kv *meta, size_t n_meta)
{
    ck_st_file f;
    ck_error err = {0};
    if (ck_st_open(path, &f, &err) < 0) {
        show(&err);
        CHECK(!"reader refused the written file");
        return;
    }
    CHECK_EQ_U64(f.n_tensors, n);
    CHECK_EQ_U64(f.data_start % 8, 0);
    CHECK_EQ_U64(f.has_metadata, meta != NULL);
    CHECK_EQ_U64(f.n_metadata, n_meta);
    for (size_t i = 0; i < n_meta && i < f.n_metadata; i++) {
        CHECK_STR(f.metadata[i].key, meta[i].key);
        CHECK_STR(f.metadata[i].value, meta[i].value);
    }
    for (size_t i = 0; i < n; i++) {
        long k = ck_st_find(&f, src[i].name);
        CHECK(k >= 0);
        if (k < 0) continue;
        const ck_st_tensor *t = &f.tensors[k];
        CHECK_EQ_U64(t->dtype, src[i].dtype);
        CHECK_EQ_U64(t->ndim, src[i].ndim);
        for (int d = 0; d < t->ndim && d < src[i].ndim; d++) CHECK_EQ_U64(t->shape[d], src[i].shape[d]);
        CHECK_EQ_U64(t->end - t->begin, own[i].nbytes);
        const uint8_t *p = own[i].nbytes ? ck_st_data(&f, (size_t)k, &err) : NULL;
        if (own[i].nbytes) {
            CHECK(p != NULL);
            if (p && memcmp(p, own[i].bytes, own[i].nbytes) != 0) {
                fprintf(stderr, "  data of %s differs\n", src[i].name);
                CHECK(!"data round trip");
            }
        }
    }
    ck_st_close(&f);
}

static void free_owned(owned *o, size_t n)
{
    for (size_t i = 0; i < n; i++) free(o[i].bytes);
}

/* Shapes every dtype is tried with; the ones a sub-byte dtype cannot fill are skipped, so F4
 * keeps the even counts and F6 the multiples of 4. */
static const struct {
    int ndim;
    uint64_t shape[4];
} shapes[] = {
    {0, {0}},          {2, {0, 3}},       {1, {7}},           {2, {3, 5}},        {3, {2, 3, 4}},
    {1, {2}},          {2, {4, 6}},       {2, {3, 2}},        {4, {1, 1, 1, 9}},  {1, {4}},
    {3, {2, 2, 2}},    {2, {3, 4}},       {1, {1}},           {2, {17, 33}},      {1, {0}},
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

/* Build every valid (dtype, shape) pair for dtype `dt` (or all dtypes with dt < 0), cycling
 * through pointer, callback and hole sources. Returns the count. */
static size_t build_set(int dt, ck_st_source *src, owned *own, size_t cap)
{
    size_t n = 0;
    for (int d = 0; d < CK_DTYPE_COUNT; d++) {
        if (dt >= 0 && d != dt) continue;
        for (size_t s = 0; s < N_SHAPES && n < cap; s++) {
            uint64_t nb;
            if (ck_tensor_size((ck_dtype)d, shapes[s].shape, shapes[s].ndim, NULL, &nb) != 0) continue;
            char name[64];
            snprintf(name, sizeof name, "%s.t%zu", ck_dtype_name((ck_dtype)d), s);
            make_source(&own[n], &src[n], name, (ck_dtype)d, shapes[s].ndim, shapes[s].shape, (int)(s % 3));
            n++;
        }
    }
    return n;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void every_dtype_roundtrip(void)
{
    rng_state = 1234;
    for (int d = 0; d < CK_DTYPE_COUNT; d++) {
        ck_st_source src[N_SHAPES];
        owned own[N_SHAPES];
        size_t n = build_set(d, src, own, N_SHAPES);
        bool sub_byte = ck_dtype_table[d].bits < 8;
        CHECK(n >= (sub_byte ? 4u : N_SHAPES)); /* the zero-size shapes fit every dtype */
        char name[64];
        snprintf(name, sizeof name, "dt_%s.safetensors", ck_dtype_name((ck_dtype)d));
        ck_kv meta[] = {{"format", "pt"}, {"dtype", (char *)ck_dtype_name((ck_dtype)d)}};
        ck_error err = {0};
        const ck_kv *m = d % 2 ? meta : NULL; /* half with __metadata__, half without */
        size_t nm = d % 2 ? 2 : 0;
        int rc = ck_st_write_file(path_in(name), src, n, m, nm, &err);
        if (rc < 0) show(&err);
        CHECK(rc == 0);
        if (rc == 0) check_roundtrip(path_in(name), src, own, n, m, nm);
        free_owned(own, n);
    }
}

static void mixed_file_roundtrip(void)
{
    enum { CAP = CK_DTYPE_COUNT * N_SHAPES };
    static ck_st_source src[CAP];
    static owned own[CAP];
    rng_state = 99;
    size_t n = build_set(-1, src, own, CAP);
    ck_kv meta[] = {{"z-last", "1"}, {"a-first", "2"}}; /* caller's order must be kept */
    ck_error err = {0};
    int rc = ck_st_write_file(path_in("mixed.safetensors"), src, n, meta, 2, &err);
    if (rc < 0) show(&err);
    CHECK(rc == 0);
    check_roundtrip(path_in("mixed.safetensors"), src, own, n, meta, 2);
    free_owned(own, n);
}

static void deterministic_bytes(void)
{
    enum { CAP = CK_DTYPE_COUNT * N_SHAPES };
    static ck_st_source src[CAP];
    static owned own[CAP];
    rng_state = 7;
    size_t n = build_set(-1, src, own, CAP);
    ck_error err = {0};
    CHECK(ck_st_write_file(path_in("det1.safetensors"), src, n, NULL, 0, &err) == 0);
    /* The same tensors given in reverse order must still produce the same file. */
    ck_st_source rev[CAP];
    for (size_t i = 0; i < n; i++) rev[i] = src[n - 1 - i];
    for (size_t i = 0; i < n; i++) own[i].src.calls = 0;
    CHECK(ck_st_write_file(path_in("det2.safetensors"), rev, n, NULL, 0, &err) == 0);
    size_t a_len, b_len;
    uint8_t *a = slurp(path_in("det1.safetensors"), &a_len), *b = slurp(path_in("det2.safetensors"), &b_len);
    CHECK(a && b && a_len == b_len && memcmp(a, b, a_len) == 0);
    free(a);
    free(b);
    free_owned(own, n);
}

static void layout_rules(void)
{
    enum { CAP = CK_DTYPE_COUNT * N_SHAPES };
    static ck_st_source src[CAP];
    static owned own[CAP];
    rng_state = 5;
    size_t n = build_set(-1, src, own, CAP);
    ck_kv meta[] = {{"format", "pt"}};
    ck_error err = {0};
    const char *path = path_in("layout.safetensors");
    CHECK(ck_st_write_file(path, src, n, meta, 1, &err) == 0);
    size_t len;
    uint8_t *raw = slurp(path, &len);
    ck_st_file f;
    if (!raw || ck_st_open(path, &f, &err) < 0) {
        show(&err);
        CHECK(!"cannot reopen");
        free(raw);
        free_owned(own, n);
        return;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | raw[i];
    CHECK_EQ_U64(hlen % 8, 0);
    CHECK_EQ_U64(f.data_start, 8 + hlen);
    CHECK_EQ_U64(len, f.data_start + f.tensors[f.n_tensors - 1].end);
    CHECK(memcmp(raw + 8, "{\"__metadata__\":{\"format\":\"pt\"},", 32) == 0);
    /* The JSON ends in '}' and only spaces pad it. */
    size_t j = f.data_start;
    while (j > 8 && raw[j - 1] == ' ') j--;
    CHECK(raw[j - 1] == '}');
    CHECK(f.data_start - j < 8);
    const char *hdr = (const char *)raw + 8;
    const char *prev_pos = hdr;
    for (size_t i = 0; i < f.n_tensors; i++) {
        const ck_st_tensor *t = &f.tensors[i];
        unsigned bits = ck_dtype_table[t->dtype].bits;
        if (bits >= 8) CHECK_EQ_U64(t->begin % (bits / 8), 0);
        CHECK_EQ_U64((f.data_start + t->begin) % (bits >= 8 ? bits / 8 : 1), 0);
        if (i > 0) {
            const ck_st_tensor *p = &f.tensors[i - 1];
            CHECK(p->dtype > t->dtype || (p->dtype == t->dtype && strcmp(p->name, t->name) < 0));
        }
        /* Header keys come in data order, each with fields dtype, shape, data_offsets. */
        char key[96];
        snprintf(key, sizeof key, "\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, ck_dtype_name(t->dtype));
        const char *pos = strstr(hdr, key);
        CHECK(pos != NULL && pos > prev_pos);
        if (pos) prev_pos = pos;
    }
    ck_st_close(&f);
    free(raw);
    free_owned(own, n);
}

static bool file_is(const char *path, const void *want, size_t want_len)
{
    size_t len;
    uint8_t *got = slurp(path, &len);
    bool ok = got && len == want_len && memcmp(got, want, len) == 0;
    if (!ok && got) {
        fprintf(stderr, "  %s: %zu bytes, expected %zu; got: ", path, len, want_len);
        for (size_t i = 0; i < len && i < 120; i++) fputc(got[i] >= 0x20 && got[i] < 0x7f ? got[i] : '.', stderr);
        fputc('\n', stderr);
    }
    free(got);
    return ok;
}

static void worked_examples(void)
{
    ck_error err = {0};
    /* formats.md §1.7: one F32 "attn.0" [1,2,3] holding 0..5. */
    float v[6] = {0, 1, 2, 3, 4, 5};
    uint64_t shape[] = {1, 2, 3};
    ck_st_source t = {.name = "attn.0", .dtype = CK_F32, .ndim = 3, .shape = shape, .data = v};
    const char *json = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
    uint8_t want[8 + 64 + 24] = {0x40};
    CHECK_EQ_U64(strlen(json), 64);
    memcpy(want + 8, json, 64);
    static const uint8_t data[24] = {0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40,
                                     0, 0, 0x80, 0x40, 0, 0, 0xa0, 0x40};
    memcpy(want + 72, data, 24);
    CHECK(ck_st_write_file(path_in("attn.safetensors"), &t, 1, NULL, 0, &err) == 0);
    CHECK(file_is(path_in("attn.safetensors"), want, sizeof want));

    /* Same values named attn0 with shape [1,1,2,3]: 65 bytes of JSON, 7 spaces, N = 72. */
    uint64_t shape4[] = {1, 1, 2, 3};
    ck_st_source t4 = {.name = "attn0", .dtype = CK_F32, .ndim = 4, .shape = shape4, .data = v};
    uint8_t want4[8 + 72 + 24] = {72};
    const char *json4 = "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ";
    memcpy(want4 + 8, json4, 72);
    memcpy(want4 + 80, data, 24);
    CHECK(ck_st_write_file(path_in("attn0.safetensors"), &t4, 1, NULL, 0, &err) == 0);
    CHECK(file_is(path_in("attn0.safetensors"), want4, sizeof want4));

    /* No tensors, no metadata: "{}" and six spaces. */
    uint8_t want_empty[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    CHECK(ck_st_write_file(path_in("empty.safetensors"), NULL, 0, NULL, 0, &err) == 0);
    CHECK(file_is(path_in("empty.safetensors"), want_empty, 16));

    /* One F4 "attn.0" [1,2]: 60 bytes of JSON padded to 64, then the one data byte. */
    uint64_t shape_f4[] = {1, 2};
    uint8_t nib = 0x21;
    ck_st_source tf4 = {.name = "attn.0", .dtype = CK_F4, .ndim = 2, .shape = shape_f4, .data = &nib};
    CHECK(ck_st_write_file(path_in("f4.safetensors"), &tf4, 1, NULL, 0, &err) == 0);
    size_t len;
    uint8_t *raw = slurp(path_in("f4.safetensors"), &len);
    CHECK(raw && len == 8 + 64 + 1 && raw[0] == 64 && raw[72] == 0x21);
    free(raw);

    /* An empty __metadata__ map is written (the reference writes it too when there are tensors). */
    ck_kv none[1];
    CHECK(ck_st_write_file(path_in("meta0.safetensors"), NULL, 0, none, 0, &err) == 0);
    uint8_t want_m0[8 + 24] = {24};
    memcpy(want_m0 + 8, "{\"__metadata__\":{}}     ", 24);
    CHECK(file_is(path_in("meta0.safetensors"), want_m0, sizeof want_m0));
}

static void name_escaping(void)
{
    /* serde_json's escapes, so headers match the reference writer byte for byte. */
    const char *name = "a\"b\\c\n\t\x01\x1f\x7f\xc3\xa9\xf0\x9f\x98\x80";
    uint64_t shape[] = {0};
    ck_st_source t = {.name = name, .dtype = CK_I8, .ndim = 1, .shape = shape};
    ck_error err = {0};
    CHECK(ck_st_write_file(path_in("esc.safetensors"), &t, 1, NULL, 0, &err) == 0);
    size_t len;
    uint8_t *raw = slurp(path_in("esc.safetensors"), &len);
    const char *want = "{\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\x7f\xc3\xa9\xf0\x9f\x98\x80\":{\"dtype\":\"I8\","
                       "\"shape\":[0],\"data_offsets\":[0,0]}}";
    CHECK(raw && len >= 8 + strlen(want) && memcmp(raw + 8, want, strlen(want)) == 0);
    free(raw);
    ck_st_file f;
    CHECK(ck_st_open(path_in("esc.safetensors"), &f, &err) == 0);
    if (f.n_tensors == 1) CHECK_STR(f.tensors[0].name, name);
    ck_st_close(&f);
}

static void refusals_leave_nothing(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/refuse", tmpdir);
    mkdir(dir, 0755);
    char path[700];
    snprintf(path, sizeof path, "%s/out.safetensors", dir);
    uint8_t bytes[64] = {0};
    uint64_t s3[] = {3}, s2[] = {2}, huge[] = {1ull << 40, 1ull << 40};
    struct {
        const char *what;
        ck_st_source t[2];
        size_t n;
        const char *key;
        const char *word;
    } cases[] = {
        {"duplicate", {{.name = "w", .dtype = CK_U8, .ndim = 1, .shape = s2, .data = bytes},
                       {.name = "w", .dtype = CK_F32, .ndim = 1, .shape = s2, .data = bytes}}, 2, "w", "duplicate"},
        {"reserved", {{.name = "__metadata__", .dtype = CK_U8, .ndim = 1, .shape = s2, .data = bytes}}, 1,
         "__metadata__", "reserved"},
        {"misaligned F4", {{.name = "q", .dtype = CK_F4, .ndim = 1, .shape = s3, .data = bytes}}, 1, "q", "whole number"},
        {"misaligned F6", {{.name = "q6", .dtype = CK_F6_E3M2, .ndim = 1, .shape = s2, .data = bytes}}, 1, "q6",
         "whole number"},
        {"overflow", {{.name = "big", .dtype = CK_F64, .ndim = 2, .shape = huge}}, 1, "big", "overflow"},
        {"2^53", {{.name = "wide", .dtype = CK_U8, .ndim = 2, .shape = (uint64_t[]){0, 1ull << 53}}}, 1, "wide",
         "2^53"},
        {"bad utf-8", {{.name = "\xff\xfe", .dtype = CK_U8, .ndim = 1, .shape = s2, .data = bytes}}, 1, NULL, "UTF-8"},
        {"rank", {{.name = "r", .dtype = CK_U8, .ndim = CK_MAX_DIMS + 1, .shape = huge}}, 1, "r", "rank"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_error err = {0};
        int rc = ck_st_write_file(path, cases[i].t, cases[i].n, NULL, 0, &err);
        bool ok = rc == -1 && err.code == CK_E_USAGE && strcmp(err.file, path) == 0 &&
                  strstr(err.msg, cases[i].word) && (!cases[i].key || strcmp(err.key, cases[i].key) == 0);
        if (!ok) {
            fprintf(stderr, "  case %s:\n", cases[i].what);
            show(&err);
        }
        CHECK(ok);
        CHECK_EQ_U64(dir_entries(dir), 0);
        rc = ck_st_write_sharded(dir, cases[i].t, cases[i].n, 1, &err);
        CHECK(rc == -1 && strstr(err.msg, cases[i].word));
        CHECK_EQ_U64(dir_entries(dir), 0);
    }
    /* Duplicate metadata keys are refused too. */
    ck_kv meta[] = {{"k", "1"}, {"k", "2"}};
    ck_error err = {0};
    CHECK(ck_st_write_file(path, NULL, 0, meta, 2, &err) == -1 && strstr(err.msg, "duplicate"));

    /* A header over the format's 100,000,000-byte limit is refused before anything is written. */
    char *huge_value = malloc(CK_ST_MAX_HEADER + 1);
    memset(huge_value, 'v', CK_ST_MAX_HEADER);
    /* {"__metadata__":{"k":"…"}} is 25 bytes around the value: one byte over the limit. */
    huge_value[CK_ST_MAX_HEADER - 24] = '\0';
    ck_kv big_meta[] = {{"k", huge_value}};
    CHECK(ck_st_write_file(path, NULL, 0, big_meta, 1, &err) == -1 && strstr(err.msg, "limit"));
    free(huge_value);
    CHECK_EQ_U64(dir_entries(dir), 0);

    /* A failing read callback aborts: no file, no temporary, and the callback's error survives. */
    mem_src m = {bytes, sizeof bytes, 0, true};
    uint64_t s64[] = {64};
    ck_st_source cb = {.name = "streamed", .dtype = CK_U8, .ndim = 1, .shape = s64, .read = mem_read, .read_ctx = &m};
    CHECK(ck_st_write_file(path, &cb, 1, NULL, 0, &err) == -1);
    CHECK(strstr(err.msg, "simulated") != NULL);
    CHECK_EQ_U64(dir_entries(dir), 0);

    /* An existing file survives a refused rewrite untouched. */
    CHECK(ck_atomic_write_file(path, "old", 3, &err) == 0);
    CHECK(ck_st_write_file(path, &cb, 1, NULL, 0, &err) == -1);
    CHECK(file_is(path, "old", 3));
    CHECK_EQ_U64(dir_entries(dir), 1);
    rm_rf(dir);
}

static void holes_stay_sparse(void)
{
    /* 64 MiB of zeros at the front (F64 sorts first) and 64 MiB at the end (BOOL sorts last),
     * with a small random tensor between: only the small one should take disk blocks. */
    uint64_t big[] = {8u << 20}, big_bool[] = {64u << 20}, small[] = {1000};
    owned own[3];
    ck_st_source src[3];
    rng_state = 42;
    make_source(&own[0], &src[0], "zeros.front", CK_F64, 1, big, DATA_HOLE);
    make_source(&own[1], &src[1], "payload", CK_U8, 1, small, DATA_READ);
    make_source(&own[2], &src[2], "zeros.tail", CK_BOOL, 1, big_bool, DATA_HOLE);
    ck_error err = {0};
    const char *path = path_in("sparse.safetensors");
    int rc = ck_st_write_file(path, src, 3, NULL, 0, &err);
    if (rc) show(&err);
    CHECK(rc == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK((uint64_t)st.st_size > (128ull << 20));
    /* Holes: far fewer 512-byte blocks than the size needs (tmpfs, ext4, xfs, btrfs all do holes). */
    CHECK((uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size / 16);
    if ((uint64_t)st.st_blocks * 512 >= (uint64_t)st.st_size / 16)
        fprintf(stderr, "  size %lld, allocated %lld\n", (long long)st.st_size, (long long)st.st_blocks * 512);
    check_roundtrip(path, src, own, 3, NULL, 0);
    CHECK(own[1].src.calls >= 1);
    free_owned(own, 3);
    unlink(path);
}

static void streaming_in_chunks(void)
{
    /* Larger than the 4 MiB stream buffer and not a multiple of it: several callback calls. */
    uint64_t shape[] = {(9u << 20) + 7};
    owned own[2];
    ck_st_source src[2];
    rng_state = 3;
    make_source(&own[0], &src[0], "streamed", CK_U8, 1, shape, DATA_READ);
    make_source(&own[1], &src[1], "pointer", CK_I8, 1, shape, DATA_PTR);
    ck_error err = {0};
    CHECK(ck_st_write_file(path_in("stream.safetensors"), src, 2, NULL, 0, &err) == 0);
    CHECK(own[0].src.calls >= 3);
    check_roundtrip(path_in("stream.safetensors"), src, own, 2, NULL, 0);
    free_owned(own, 2);
    unlink(path_in("stream.safetensors"));
}

static void sharded_checkpoint(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/sharded", tmpdir);
    uint64_t s100[] = {100}, s50[] = {50}, s0[] = {0, 4}, s30[] = {30};
    owned own[6];
    ck_st_source src[6];
    rng_state = 11;
    make_source(&own[0], &src[0], "c", CK_F32, 1, s100, DATA_PTR);          /* 400 bytes */
    make_source(&own[1], &src[1], "b", CK_F32, 1, s100, DATA_READ);         /* 400 */
    make_source(&own[2], &src[2], "a.big", CK_F64, 1, s100, DATA_PTR);      /* 800 */
    make_source(&own[3], &src[3], "f", CK_U8, 2, s0, DATA_PTR);             /* 0 */
    make_source(&own[4], &src[4], "d", CK_I64, 1, s50, DATA_HOLE);          /* 400 */
    make_source(&own[5], &src[5], "e.\xc3\xa9", CK_F32, 1, s30, DATA_PTR); /* 120 */
    ck_error err = {0};
    int rc = ck_st_write_sharded(dir, src, 6, 700, &err);
    if (rc) show(&err);
    CHECK(rc == 0);
    /* huggingface_hub's rule, step by step with limit 700:
     *   c 400 -> current {c}=400;  b 400 -> 800 > 700: close {c} (shard 1), current {b}=400;
     *   a.big 800 > 700 -> shard 2 {a.big} at once; f 0 -> {b,f}=400; d 400 -> 800 > 700: close
     *   {b,f} (shard 3), current {d}; e.é 120 -> {d,e.é}=520; end: shard 4 {d,e.é}. */
    const char *want_shard[] = {"c", "b", "a.big", "f", "d", "e.\xc3\xa9"};
    const int want_file[] = {1, 3, 2, 3, 4, 4};
    char p[800];
    for (int s = 1; s <= 4; s++) {
        snprintf(p, sizeof p, "%s/model-%05d-of-00004.safetensors", dir, s);
        ck_st_file f;
        if (ck_st_open(p, &f, &err) < 0) {
            show(&err);
            CHECK(!"shard missing");
            continue;
        }
        CHECK(f.has_metadata && f.n_metadata == 1 && !strcmp(f.metadata[0].key, "format") &&
              !strcmp(f.metadata[0].value, "pt"));
        size_t expect = 0;
        for (int i = 0; i < 6; i++)
            if (want_file[i] == s) {
                expect++;
                CHECK(ck_st_find(&f, want_shard[i]) >= 0);
            }
        CHECK_EQ_U64(f.n_tensors, expect);
        ck_st_close(&f);
    }
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    const char *idx =
        "{\n"
        "  \"metadata\": {\n"
        "    \"total_size\": 2120\n"
        "  },\n"
        "  \"weight_map\": {\n"
        "    \"a.big\": \"model-00002-of-00004.safetensors\",\n"
        "    \"b\": \"model-00003-of-00004.safetensors\",\n"
        "    \"c\": \"model-00001-of-00004.safetensors\",\n"
        "    \"d\": \"model-00004-of-00004.safetensors\",\n"
        "    \"e.\\u00e9\": \"model-00004-of-00004.safetensors\",\n"
        "    \"f\": \"model-00003-of-00004.safetensors\"\n"
        "  }\n"
        "}";
    CHECK(file_is(p, idx, strlen(idx)));
    CHECK_EQ_U64(dir_entries(dir), 5);

    /* Writing again gives the same bytes (the index and every shard). */
    char dir2[620];
    snprintf(dir2, sizeof dir2, "%s2", dir);
    CHECK(ck_st_write_sharded(dir2, src, 6, 700, &err) == 0);
    const char *names[] = {"model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
                           "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors",
                           "model.safetensors.index.json"};
    for (int i = 0; i < 5; i++) {
        char q[800];
        size_t la, lb;
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        snprintf(q, sizeof q, "%s/%s", dir2, names[i]);
        uint8_t *a = slurp(p, &la), *b = slurp(q, &lb);
        CHECK(a && b && la == lb && memcmp(a, b, la) == 0);
        free(a);
        free(b);
    }
    rm_rf(dir2);

    /* Everything fits in one shard: model.safetensors, {"format":"pt"}, no index. */
    char dir3[620];
    snprintf(dir3, sizeof dir3, "%s3", dir);
    CHECK(ck_st_write_sharded(dir3, src, 6, 1u << 20, &err) == 0);
    snprintf(p, sizeof p, "%s/model.safetensors", dir3);
    CHECK(exists(p));
    CHECK_EQ_U64(dir_entries(dir3), 1);
    check_roundtrip(p, src, own, 6, (ck_kv[]){{"format", "pt"}}, 1);
    rm_rf(dir3);

    /* A source failing in the last shard takes back the shards already written: no index, no
     * orphan shards, no temporaries. */
    char dir4[620];
    snprintf(dir4, sizeof dir4, "%s4", dir);
    own[5].src.fail = true;
    src[5].data = NULL, src[5].read = mem_read, src[5].read_ctx = &own[5].src;
    CHECK(ck_st_write_sharded(dir4, src, 6, 700, &err) == -1);
    CHECK(strstr(err.msg, "simulated") != NULL);
    CHECK_STR(err.key, "e.\xc3\xa9");
    CHECK_EQ_U64(dir_entries(dir4), 0);
    rm_rf(dir4);
    rm_rf(dir);
    free_owned(own, 6);
}

static void atomic_basics(void)
{
    ck_error err = {0};
    const char *path = path_in("atomic.bin");
    CHECK(ck_atomic_write_file(path, "first", 5, &err) == 0);
    CHECK(ck_atomic_write_file(path, "second!", 7, &err) == 0);
    CHECK(file_is(path, "second!", 7));

    /* A trailing skip is materialised as file size, reading back as zeros. */
    ck_atomic_file af;
    CHECK(ck_atomic_open(&af, path, &err) == 0);
    char tmp_name[1024];
    snprintf(tmp_name, sizeof tmp_name, "%s", af.tmp_path);
    const char *base = strrchr(tmp_name, '/') + 1;
    CHECK(!strncmp(base, ".atomic.bin.ckdoc-tmp.", 22));
    CHECK(exists(tmp_name));
    CHECK(ck_atomic_write(&af, "ab", 2, &err) == 0);
    CHECK(ck_atomic_skip(&af, 5, &err) == 0);
    CHECK(ck_atomic_commit(&af, &err) == 0);
    CHECK(!exists(tmp_name));
    CHECK(file_is(path, "ab\0\0\0\0\0", 7));

    /* Abort removes the temporary and leaves the old file alone. */
    CHECK(ck_atomic_open(&af, path, &err) == 0);
    snprintf(tmp_name, sizeof tmp_name, "%s", af.tmp_path);
    CHECK(ck_atomic_write(&af, "zzz", 3, &err) == 0);
    ck_atomic_abort(&af);
    CHECK(!exists(tmp_name));
    CHECK(file_is(path, "ab\0\0\0\0\0", 7));

    /* Errors name the file. */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.bin", tmpdir);
    CHECK(ck_atomic_write_file(bad, "x", 1, &err) == -1);
    CHECK(err.code == CK_E_IO && !strcmp(err.file, bad));
    unlink(path);
}

int main(void)
{
    const char *base = getenv("WORK");
    if (!base) base = getenv("TMPDIR");
    if (!base) base = "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/ckdoc-writer.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    RUN_TEST("writer", every_dtype_roundtrip);
    RUN_TEST("writer", mixed_file_roundtrip);
    RUN_TEST("writer", deterministic_bytes);
    RUN_TEST("writer", layout_rules);
    RUN_TEST("writer", worked_examples);
    RUN_TEST("writer", name_escaping);
    RUN_TEST("writer", refusals_leave_nothing);
    RUN_TEST("writer", holes_stay_sparse);
    RUN_TEST("writer", streaming_in_chunks);
    RUN_TEST("writer", sharded_checkpoint);
    RUN_TEST("writer", atomic_basics);
    rm_rf(tmpdir);
    TEST_EXIT();
}
