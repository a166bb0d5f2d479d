/* Unit tests of the strict safetensors header reader: one test per rule of formats.md §1.3 (plus the
 * deliberate extras: duplicates, NUL in names, more than 16 dims, integers >= 2^53). Headers are
 * built by hand in memory (ck_st_parse_header) or written to temp files (ck_st_open, ck_st_data).
 * Every rejection checks the error code, the byte offset, the key and a word of the message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inspect/safetensors.h"
#include "tests/check.h"

static char tmpdir[256];

/* ---- helpers ---------------------------------------------------------------------------- */

/* Parse `json` (hdr_len = strlen) as the header of a file holding `data_len` data bytes. */
static int parse(const char *json, uint64_t data_len, ck_st_file *f, ck_error *err)
{
    size_t n = strlen(json);
    memset(err, 0, sizeof *err);
    return ck_st_parse_header("t.safetensors", (const uint8_t *)json, n, 8 + n + data_len, f, err);
}

/* Same with explicit bytes (embedded NULs, invalid UTF-8). */
static int parse_bytes(const void *hdr, size_t n, uint64_t data_len, ck_st_file *f, ck_error *err)
{
    memset(err, 0, sizeof *err);
    return ck_st_parse_header("t.safetensors", hdr, n, 8 + n + data_len, f, err);
}

/* File offset of the first occurrence of `needle` in header `json`. */
static int64_t at(const char *json, const char *needle)
{
    const char *p = strstr(json, needle);
    if (!p) {
        fprintf(stderr, "  test bug: '%s' not in the header\n", needle);
        return -999;
    }
    return 8 + (int64_t)(p - json);
}

static int check_err(int line, const ck_error *err, ck_errcode code, int64_t offset, const char *key, const char *word)
{
    int ok = err->code == code && err->offset == offset && !strcmp(err->key, key ? key : "") &&
             strstr(err->msg, word) != NULL && !strcmp(err->file, "t.safetensors");
    if (!ok) {
        char line_buf[1400];
        ck_error_format(err, line_buf, sizeof line_buf);
        fprintf(stderr, "  line %d: got code %d offset %lld key '%s' msg '%s'\n"
                        "           want code %d offset %lld key '%s' msg containing '%s'\n           line: %s\n",
                line, err->code, (long long)err->offset, err->key, err->msg, code, (long long)offset, key ? key : "",
                word, line_buf);
    }
    return ok;
}

/* Expect `json` with `data_len` data bytes to be rejected as described. */
#define REJECT(json, data_len, code, offset, key, word)                                 \
    do {                                                                                \
        ck_st_file f_;                                                                  \
        ck_error e_;                                                                    \
        int rc_ = parse((json), (data_len), &f_, &e_);                                  \
        CHECK(rc_ == -1);                                                               \
        CHECK(check_err(__LINE__, &e_, (code), (offset), (key), (word)));               \
        ck_st_close(&f_);                                                               \
    } while (0)

#define REJECT_BYTES(hdr, n, data_len, code, offset, key, word)                         \
    do {                                                                                \
        ck_st_file f_;                                                                  \
        ck_error e_;                                                                    \
        int rc_ = parse_bytes((hdr), (n), (data_len), &f_, &e_);                        \
        CHECK(rc_ == -1);                                                               \
        CHECK(check_err(__LINE__, &e_, (code), (offset), (key), (word)));               \
        ck_st_close(&f_);                                                               \
    } while (0)

#define ACCEPT(json, data_len, f)                                                       \
    do {                                                                                \
        ck_error e_;                                                                    \
        int rc_ = parse((json), (data_len), (f), &e_);                                  \
        if (rc_ != 0) {                                                                 \
            char l_[1400];                                                              \
            ck_error_format(&e_, l_, sizeof l_);                                        \
            fprintf(stderr, "  line %d: rejected: %s\n", __LINE__, l_);                 \
        }                                                                               \
        CHECK(rc_ == 0);                                                                \
    } while (0)

/* Write `n` bytes to a fresh file in tmpdir; returns its path (static buffer per call slot). */
static const char *write_file(const char *name, const void *bytes, size_t n)
{
    static char paths[8][512];
    static int slot;
    char *p = paths[slot++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *fp = fopen(p, "wb");
    if (!fp) return p;
    if (n) fwrite(bytes, 1, n, fp);
    fclose(fp);
    return p;
}

/* 8-byte little-endian length, header, padding spaces up to `hdr_len`, data: a whole file. */
static size_t build_file(uint8_t *buf, uint64_t len_field, const char *json, size_t hdr_len, const void *data,
                         size_t data_len)
{
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(len_field >> (8 * i));
    size_t jl = strlen(json);
    memcpy(buf + 8, json, jl);
    for (size_t i = jl; i < hdr_len; i++) buf[8 + i] = ' ';
    if (data_len) memcpy(buf + 8 + hdr_len, data, data_len);
    return 8 + hdr_len + data_len;
}

static int open_expect_fail(const char *path, ck_errcode code, int64_t offset, const char *word)
{
    ck_st_file f;
    ck_error e;
    memset(&e, 0, sizeof e);
    int rc = ck_st_open(path, &f, &e);
    int ok = rc == -1 && e.code == code && e.offset == offset && strstr(e.msg, word) && !strcmp(e.file, path) &&
             f.fd == -1;
    if (!ok)
        fprintf(stderr, "  ck_st_open(%s): rc %d code %d offset %lld msg '%s' (want code %d offset %lld '%s')\n", path,
                rc, e.code, (long long)e.offset, e.msg, code, (long long)offset, word);
    ck_st_close(&f);
    return ok;
}

/* ---- valid files ------------------------------------------------------------------------ */

static void worked_bytes_empty(void)
{
    /* formats.md §1.7: 08 00 00 00 00 00 00 00, "{}", six spaces: 16 bytes. */
    static const uint8_t bytes[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    const char *p = write_file("empty.safetensors", bytes, sizeof bytes);
    ck_st_file f;
    ck_error e;
    CHECK(ck_st_open(p, &f, &e) == 0);
    CHECK_EQ_U64(f.file_size, 16);
    CHECK_EQ_U64(f.header_len, 8);
    CHECK_EQ_U64(f.data_start, 16);
    CHECK_EQ_U64(f.n_tensors, 0);
    CHECK(!f.has_metadata);
    CHECK(ck_st_find(&f, "x") == -1);
    CHECK(ck_st_data(&f, 0, &e) == NULL && e.code == CK_E_USAGE);
    ck_st_close(&f);
}

static void worked_bytes_attn0(void)
{
    /* §1.7: one F32 tensor "attn.0", shape [1,2,3], values 0..5; N = 64, no padding. */
    const char *json = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
    CHECK_EQ_U64(strlen(json), 64);
    float vals[6] = {0, 1, 2, 3, 4, 5};
    uint8_t buf[128];
    size_t n = build_file(buf, 64, json, 64, vals, sizeof vals);
    CHECK_EQ_U64(n, 96);
    CHECK(buf[0] == 0x40 && buf[1] == 0 && buf[7] == 0);
    CHECK(buf[72] == 0 && buf[76] == 0 && buf[77] == 0 && buf[78] == 0x80 && buf[79] == 0x3F); /* 0.0f, 1.0f */
    const char *p = write_file("attn0.safetensors", buf, n);
    ck_st_file f;
    ck_error e;
    CHECK(ck_st_open(p, &f, &e) == 0);
    CHECK_EQ_U64(f.n_tensors, 1);
    CHECK_STR(f.tensors[0].name, "attn.0");
    CHECK(f.tensors[0].dtype == CK_F32);
    CHECK(f.tensors[0].ndim == 3);
    CHECK_EQ_U64(f.tensors[0].shape[0], 1);
    CHECK_EQ_U64(f.tensors[0].shape[1], 2);
    CHECK_EQ_U64(f.tensors[0].shape[2], 3);
    CHECK_EQ_U64(f.tensors[0].numel, 6);
    CHECK_EQ_U64(f.tensors[0].begin, 0);
    CHECK_EQ_U64(f.tensors[0].end, 24);
    CHECK_EQ_U64(f.data_start, 72);
    long i = ck_st_find(&f, "attn.0");
    CHECK(i == 0);
    const uint8_t *d = i >= 0 ? ck_st_data(&f, (size_t)i, &e) : NULL;
    CHECK(d != NULL);
    if (d) {
        float got[6];
        memcpy(got, d, sizeof got);
        CHECK(got[0] == 0.0f && got[1] == 1.0f && got[5] == 5.0f);
        CHECK(ck_st_data(&f, 0, &e) == d); /* one mapping, reused */
    }
    CHECK(ck_st_data(&f, 1, &e) == NULL && e.code == CK_E_USAGE);
    ck_st_close(&f);
}

static void worked_bytes_attn0_padded(void)
{
    /* §1.7: name "attn0", shape [1,1,2,3]: JSON is 65 bytes, padded with 7 spaces, N = 72. */
    const char *json = "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}";
    CHECK_EQ_U64(strlen(json), 65);
    float vals[6] = {0, 1, 2, 3, 4, 5};
    uint8_t buf[128];
    size_t n = build_file(buf, 72, json, 72, vals, sizeof vals);
    CHECK_EQ_U64(n, 104);
    const char *p = write_file("attn0p.safetensors", buf, n);
    ck_st_file f;
    ck_error e;
    CHECK(ck_st_open(p, &f, &e) == 0);
    CHECK_EQ_U64(f.header_len, 72);
    CHECK(f.n_tensors == 1 && f.tensors[0].ndim == 4);
    const uint8_t *d = ck_st_data(&f, 0, &e);
    CHECK(d && d[4 * 5 + 3] == 0x40); /* 5.0f = 0x40A00000, little-endian top byte */
    ck_st_close(&f);
}

static void worked_bytes_f4(void)
{
    /* §1.7: one F4 tensor shape [1,2] (2 values = 1 byte), header padded to N = 64. */
    const char *json = "{\"x\":{\"dtype\":\"F4\",\"shape\":[1,2],\"data_offsets\":[0,1]}}";
    uint8_t data = 0x21, buf[128];
    size_t n = build_file(buf, 64, json, 64, &data, 1);
    CHECK_EQ_U64(n, 73);
    const char *p = write_file("f4.safetensors", buf, n);
    ck_st_file f;
    ck_error e;
    CHECK(ck_st_open(p, &f, &e) == 0);
    CHECK(f.n_tensors == 1 && f.tensors[0].dtype == CK_F4);
    CHECK_EQ_U64(f.tensors[0].numel, 2);
    const uint8_t *d = ck_st_data(&f, 0, &e);
    CHECK(d && *d == 0x21);
    ck_st_close(&f);
}

static void empty_header_padded(void)
{
    ck_st_file f;
    ACCEPT("{}      ", 0, &f);
    CHECK_EQ_U64(f.n_tensors, 0);
    ck_st_close(&f);
    ACCEPT("{}", 0, &f);
    ck_st_close(&f);
}

static void scalar_shape(void)
{
    ck_st_file f;
    ACCEPT("{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, &f);
    CHECK(f.n_tensors == 1 && f.tensors[0].ndim == 0);
    CHECK_EQ_U64(f.tensors[0].numel, 1);
    ck_st_close(&f);
}

static void zero_size_tensors_share_offset(void)
{
    ck_st_file f;
    ACCEPT("{\"c\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
           "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[2,2]},"
           "\"b\":{\"dtype\":\"BF16\",\"shape\":[3,0,5],\"data_offsets\":[2,2]},"
           "\"z\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[0,0]}}",
           2, &f);
    CHECK_EQ_U64(f.n_tensors, 4);
    if (f.n_tensors == 4) {
        /* data order: (begin, end), ties by name */
        CHECK_STR(f.tensors[0].name, "z");
        CHECK_STR(f.tensors[1].name, "c");
        CHECK_STR(f.tensors[2].name, "a");
        CHECK_STR(f.tensors[3].name, "b");
        CHECK_EQ_U64(f.tensors[3].numel, 0);
        CHECK(ck_st_find(&f, "b") == 3 && ck_st_find(&f, "z") == 0 && ck_st_find(&f, "c") == 1);
    }
    ck_st_close(&f);
}

static void every_dtype(void)
{
    for (int d = 0; d < CK_DTYPE_COUNT; d++) {
        const char *name = ck_dtype_name((ck_dtype)d);
        unsigned bytes = 8 * ck_dtype_info((ck_dtype)d)->bits / 8; /* 8 elements */
        char json[256];
        snprintf(json, sizeof json, "{\"t\":{\"dtype\":\"%s\",\"shape\":[2,4],\"data_offsets\":[0,%u]}}", name, bytes);
        ck_st_file f;
        ACCEPT(json, bytes, &f);
        CHECK(f.n_tensors == 1 && f.tensors[0].dtype == (ck_dtype)d);
        ck_st_close(&f);
    }
    /* the names are exact and case-sensitive */
    REJECT("{\"t\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CK_E_FORMAT, 8 + 1, "t",
           "unknown dtype");
}

static void metadata_strings(void)
{
    ck_st_file f;
    ACCEPT("{\"__metadata__\":{\"format\":\"pt\",\"note\":\"h\\u00e9llo \\\"q\\\"\",\"empty\":\"\"},"
           "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
           1, &f);
    CHECK(f.has_metadata);
    CHECK_EQ_U64(f.n_metadata, 3);
    if (f.n_metadata == 3) {
        CHECK_STR(f.metadata[0].key, "format");
        CHECK_STR(f.metadata[0].value, "pt");
        CHECK_STR(f.metadata[1].value, "h\xc3\xa9llo \"q\"");
        CHECK_STR(f.metadata[2].value, "");
    }
    CHECK_EQ_U64(f.n_tensors, 1);
    CHECK(ck_st_find(&f, "__metadata__") == -1);
    ck_st_close(&f);
    ACCEPT("{\"__metadata__\":{}}", 0, &f);
    CHECK(f.has_metadata && f.n_metadata == 0);
    ck_st_close(&f);
}

static void whitespace_padding(void)
{
    ck_st_file f;
    /* trailing and leading JSON whitespace (reference tests test_whitespace_[leading_]padded_header) */
    ACCEPT("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}  \t\r\n  ", 1, &f);
    CHECK_EQ_U64(f.n_tensors, 1);
    ck_st_close(&f);
    ACCEPT(" \n\t\r {\"a\" : { \"dtype\" : \"U8\" , \"shape\" : [ 1 ] , \"data_offsets\" : [ 0 , 1 ] } }   ", 1, &f);
    CHECK_EQ_U64(f.n_tensors, 1);
    ck_st_close(&f);
}

static void out_of_order_contiguous_accepted(void)
{
    /* The reference sorts by offsets: key order in the JSON means nothing. */
    ck_st_file f;
    ACCEPT("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
           "\"c\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[8,10]},"
           "\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
           10, &f);
    CHECK_EQ_U64(f.n_tensors, 3);
    if (f.n_tensors == 3) {
        CHECK_STR(f.tensors[0].name, "a");
        CHECK_STR(f.tensors[1].name, "b");
        CHECK_STR(f.tensors[2].name, "c");
        CHECK(ck_st_find(&f, "a") == 0 && ck_st_find(&f, "b") == 1 && ck_st_find(&f, "c") == 2);
        CHECK(ck_st_find(&f, "") == -1 && ck_st_find(&f, "aa") == -1);
    }
    ck_st_close(&f);
}

static void extra_fields_ignored_and_escaped_backslash_u0000(void)
{
    /* serde ignores unknown fields of a tensor entry; "\\u0000" is a backslash then text, not NUL. */
    ck_st_file f;
    ACCEPT("{\"a\\\\u0000\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":[1.5,-2,{\"y\":null}]}}", 1,
           &f);
    CHECK(f.n_tensors == 1 && f.tensors[0].name_len == 7);
    CHECK(ck_st_find(&f, "a\\u0000") == 0);
    ck_st_close(&f);
    /* non-ASCII names: valid UTF-8 passes through */
    ACCEPT("{\"\xe6\x9d\x83\xe9\x87\x8d\xf0\x9f\x98\x80\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, &f);
    CHECK(f.n_tensors == 1 && ck_st_find(&f, "\xe6\x9d\x83\xe9\x87\x8d\xf0\x9f\x98\x80") == 0);
    ck_st_close(&f);
    /* a surrogate pair escape decodes to one 4-byte character */
    ACCEPT("{\"\\ud83d\\ude00\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, &f);
    CHECK(f.n_tensors == 1 && ck_st_find(&f, "\xf0\x9f\x98\x80") == 0);
    ck_st_close(&f);
}

/* ---- rejections: the length prefix (ck_st_open) ----------------------------------------- */

static void file_too_small(void)
{
    CHECK(open_expect_fail(write_file("zero.safetensors", "", 0), CK_E_FORMAT, 0, "too small"));
    CHECK(open_expect_fail(write_file("seven.safetensors", "\x08\0\0\0\0\0\0", 7), CK_E_FORMAT, 0, "too small"));
    char missing[600];
    snprintf(missing, sizeof missing, "%s/does-not-exist.safetensors", tmpdir);
    CHECK(open_expect_fail(missing, CK_E_IO, -1, "cannot open"));
    CHECK(open_expect_fail(tmpdir, CK_E_FORMAT, -1, "not a regular file"));
    /* a FIFO must be refused, not waited on (open without O_NONBLOCK would block here forever) */
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/fifo.safetensors", tmpdir);
    if (mkfifo(fifo, 0600) == 0) CHECK(open_expect_fail(fifo, CK_E_FORMAT, -1, "not a regular file"));
    CHECK(open_expect_fail("/dev/zero", CK_E_FORMAT, -1, "not a regular file"));
}

static void header_length_2_63(void)
{
    uint8_t buf[64];
    size_t n = build_file(buf, 1ull << 63, "{}", 2, NULL, 0);
    CHECK(open_expect_fail(write_file("h63.safetensors", buf, n), CK_E_FORMAT, 0, "exceeds the 100,000,000-byte limit"));
    n = build_file(buf, UINT64_MAX, "{}", 2, NULL, 0);
    CHECK(open_expect_fail(write_file("hmax.safetensors", buf, n), CK_E_FORMAT, 0, "exceeds"));
    /* and straight into the parser, which must check before touching the bytes */
    ck_st_file f;
    ck_error e;
    CHECK(ck_st_parse_header("t.safetensors", (const uint8_t *)"{}", 1ull << 63, 10, &f, &e) == -1);
    CHECK(check_err(__LINE__, &e, CK_E_FORMAT, 0, NULL, "exceeds"));
    ck_st_close(&f);
}

static void header_length_over_limit(void)
{
    uint8_t buf[64];
    size_t n = build_file(buf, 100000001ull, "{}", 2, NULL, 0);
    CHECK(open_expect_fail(write_file("h100m.safetensors", buf, n), CK_E_FORMAT, 0, "100,000,000"));
    ck_st_file f;
    ck_error e;
    CHECK(ck_st_parse_header("t.safetensors", (const uint8_t *)"{}", 100000001ull, 200000000ull, &f, &e) == -1);
    CHECK(check_err(__LINE__, &e, CK_E_FORMAT, 0, NULL, "100,000,000"));
    ck_st_close(&f);
}

static void header_length_past_eof(void)
{
    uint8_t buf[64];
    size_t n = build_file(buf, 100, "{}", 2, NULL, 0); /* 10-byte file claiming a 100-byte header */
    CHECK(open_expect_fail(write_file("eof.safetensors", buf, n), CK_E_FORMAT, 0, "past the end of the file"));
    n = build_file(buf, 3, "{}", 2, NULL, 0); /* one byte short */
    CHECK(open_expect_fail(write_file("eof1.safetensors", buf, n), CK_E_FORMAT, 0, "past the end"));
    ck_st_file f;
    ck_error e;
    CHECK(ck_st_parse_header("t.safetensors", (const uint8_t *)"{}", 2, 9, &f, &e) == -1);
    CHECK(check_err(__LINE__, &e, CK_E_FORMAT, 0, NULL, "past the end"));
    ck_st_close(&f);
}

static void truncated_and_trailing_files_on_disk(void)
{
    const char *json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t hl = strlen(json);
    uint8_t buf[128], data[9] = {0};
    size_t n = build_file(buf, hl, json, hl, data, 5);
    CHECK(open_expect_fail(write_file("trunc.safetensors", buf, n), CK_E_FORMAT, (int64_t)(8 + hl + 5), "truncated"));
    n = build_file(buf, hl, json, hl, data, 9);
    CHECK(open_expect_fail(write_file("trail.safetensors", buf, n), CK_E_FORMAT, (int64_t)(8 + hl + 8), "after the last"));
}

/* ---- rejections: bytes and JSON --------------------------------------------------------- */

static void invalid_utf8(void)
{
    /* overlong '/' (C0 AF) inside a name */
    static const char overlong[] = "{\"ab\xc0\xaf\":1}";
    REJECT_BYTES(overlong, sizeof overlong - 1, 0, CK_E_FORMAT, 8 + 4, NULL, "UTF-8");
    /* overlong 3-byte form (E0 80 AF) */
    static const char overlong3[] = "{\"\xe0\x80\xaf\":1}";
    REJECT_BYTES(overlong3, sizeof overlong3 - 1, 0, CK_E_FORMAT, 8 + 2, NULL, "UTF-8");
    /* UTF-16 surrogate encoded in UTF-8 (ED A0 80 = U+D800) */
    static const char surrogate[] = "{\"x\":{},\"\xed\xa0\x80\":1}";
    REJECT_BYTES(surrogate, sizeof surrogate - 1, 0, CK_E_FORMAT, 8 + 9, NULL, "UTF-8");
    /* truncated sequence: E2 82 then the closing quote */
    static const char trunc[] = "{\"abc\xe2\x82\":1}";
    REJECT_BYTES(trunc, sizeof trunc - 1, 0, CK_E_FORMAT, 8 + 5, NULL, "UTF-8");
    /* truncated at the very end of the header */
    static const char trunc_end[] = "{}  \xf0\x9f\x98";
    REJECT_BYTES(trunc_end, sizeof trunc_end - 1, 0, CK_E_FORMAT, 8 + 4, NULL, "UTF-8");
    /* bytes that never occur in UTF-8, and > U+10FFFF */
    static const char ff[] = "{\"\xff\":1}";
    REJECT_BYTES(ff, sizeof ff - 1, 0, CK_E_FORMAT, 8 + 2, NULL, "UTF-8");
    static const char big[] = "{\"\xf4\x90\x80\x80\":1}";
    REJECT_BYTES(big, sizeof big - 1, 0, CK_E_FORMAT, 8 + 2, NULL, "UTF-8");
    /* a lone continuation byte after 16 clean ASCII bytes (the 8-at-a-time fast path) */
    static const char cont[] = "{\"abcdefghijklmnopqrstu\x80\":1}";
    REJECT_BYTES(cont, sizeof cont - 1, 0, CK_E_FORMAT, 8 + 23, NULL, "UTF-8");
}

static void raw_control_chars(void)
{
    static const char ctl[] = "{\"a\x01\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    REJECT_BYTES(ctl, sizeof ctl - 1, 1, CK_E_FORMAT, 8 + 3, NULL, "control character 0x01");
    static const char esc[] = "{\"abcdefghijklmnop\x1b[31m\":1}";
    REJECT_BYTES(esc, sizeof esc - 1, 0, CK_E_FORMAT, 8 + 18, NULL, "control character 0x1b");
    static const char del_ok[] = "{\"a\x7f\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    ck_st_file f;
    ck_error e;
    CHECK(parse_bytes(del_ok, sizeof del_ok - 1, 1, &f, &e) == 0); /* DEL is legal JSON */
    ck_st_close(&f);
    /* tab, LF, CR are whitespace between tokens but not allowed raw inside strings */
    const char *tab = "{\"a\tb\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    REJECT(tab, 1, CK_E_FORMAT, 8 + 3, NULL, "control character inside a JSON string");
    const char *lf = "{\"a\":{\"dtype\":\"U8\n\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    REJECT(lf, 1, CK_E_FORMAT, at(lf, "\n"), NULL, "control character inside a JSON string");
}

static void nul_padding(void)
{
    static const char pad[] = "{}\0\0\0\0\0\0";
    REJECT_BYTES(pad, 8, 0, CK_E_FORMAT, 8 + 2, NULL, "control character 0x00");
    static const char lead[] = "\0{}";
    REJECT_BYTES(lead, 3, 0, CK_E_FORMAT, 8, NULL, "control character 0x00");
}

static void bad_json(void)
{
    /* every syntax error is reported at the first byte that cannot continue a JSON text */
    const char *j1 = "{\"a\":}";
    REJECT(j1, 0, CK_E_FORMAT, at(j1, "}"), NULL, "not valid JSON: expected a JSON value");
    const char *j2 = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},}";
    REJECT(j2, 1, CK_E_FORMAT, at(j2, ",}") + 1, NULL, "expected a string key");
    const char *j3 = "{\"a\" 1}";
    REJECT(j3, 0, CK_E_FORMAT, at(j3, "1"), NULL, "expected ':'");
    const char *j3b = "{\"a\":{\"dtype\":\"F32\",]}";
    REJECT(j3b, 0, CK_E_FORMAT, at(j3b, "]"), NULL, "expected a string key");
    const char *j3c = "{\"a\":[1 2]}";
    REJECT(j3c, 0, CK_E_FORMAT, at(j3c, "2"), NULL, "expected ',' or ']'");
    const char *j3d = "{\"a\":1]";
    REJECT(j3d, 0, CK_E_FORMAT, at(j3d, "]"), NULL, "expected ',' or '}'");
    const char *j3e = "{1:2}";
    REJECT(j3e, 0, CK_E_FORMAT, 9, NULL, "expected a string key");
    /* JSON that ends too early is reported at the end of the header */
    REJECT("{", 0, CK_E_FORMAT, 9, NULL, "ends before the value is complete");
    REJECT("{\"a\":[1,2", 0, CK_E_FORMAT, 8 + 9, NULL, "ends before the value is complete");
    REJECT("", 0, CK_E_FORMAT, 8, NULL, "ends before the value is complete");
    REJECT("    ", 0, CK_E_FORMAT, 12, NULL, "ends before the value is complete");
    const char *unterminated = "{\"abc";
    REJECT(unterminated, 0, CK_E_FORMAT, 9, NULL, "ends inside this string");
    const char *j4 = "{\"a\":tru}";
    REJECT(j4, 0, CK_E_FORMAT, at(j4, "tru"), NULL, "expected a JSON value");
    /* lexical rules cJSON relaxes but serde_json (the reference) does not */
    const char *j5 = "{\"a\":{\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]}}";
    REJECT(j5, 1, CK_E_FORMAT, at(j5, "01"), NULL, "malformed JSON number");
    const char *j6 = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1.],\"data_offsets\":[0,1]}}";
    REJECT(j6, 1, CK_E_FORMAT, at(j6, "1.]"), NULL, "malformed JSON number");
    const char *j6b = "{\"a\":[+1]}";
    REJECT(j6b, 0, CK_E_FORMAT, at(j6b, "+"), NULL, "expected a JSON value");
    const char *j6c = "{\"a\":[-]}";
    REJECT(j6c, 0, CK_E_FORMAT, at(j6c, "-"), NULL, "malformed JSON number");
    const char *j7 = "{\"a\\x\":1}";
    REJECT(j7, 0, CK_E_FORMAT, at(j7, "\\x"), NULL, "invalid escape");
    const char *j7b = "{\"a\\u12\":1}";
    REJECT(j7b, 0, CK_E_FORMAT, at(j7b, "\\u"), NULL, "invalid escape");
    const char *j8 = "{\"a\\ud800\":1}";
    REJECT(j8, 0, CK_E_FORMAT, at(j8, "\\ud800"), NULL, "surrogate");
    const char *j8b = "{\"a\\ud800\\u0041\":1}";
    REJECT(j8b, 0, CK_E_FORMAT, at(j8b, "\\ud800"), NULL, "surrogate");
    const char *j9 = "{\"a\\udc00\":1}";
    REJECT(j9, 0, CK_E_FORMAT, at(j9, "\\udc00"), NULL, "surrogate");
    const char *bom = "\xef\xbb\xbf{}";
    REJECT(bom, 0, CK_E_FORMAT, 8, NULL, "expected a JSON value");
    const char *single = "{'a':1}";
    REJECT(single, 0, CK_E_FORMAT, 9, NULL, "expected a string key");
    /* nesting: 127 levels pass (serde_json's limit), 128 do not, 100,000 do not crash */
    const char *prefix = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":";
    char nest[400];
    for (int arrays = 125; arrays <= 126; arrays++) { /* + 2 objects: 127 levels, then 128 */
        size_t pos = (size_t)snprintf(nest, sizeof nest, "%s", prefix);
        for (int k = 0; k < arrays; k++) nest[pos++] = '[';
        for (int k = 0; k < arrays; k++) nest[pos++] = ']';
        memcpy(nest + pos, "}}", 3);
        if (arrays == 125) {
            ck_st_file f;
            ACCEPT(nest, 1, &f);
            ck_st_close(&f);
        } else {
            REJECT(nest, 1, CK_E_FORMAT, 8 + (int64_t)strlen(prefix) + 125, NULL, "nested more than 127 levels");
        }
    }
    size_t deep = 100000;
    char *b = malloc(deep + 1);
    if (b) {
        memset(b, '[', deep);
        b[deep] = '\0';
        REJECT(b, 0, CK_E_FORMAT, 8 + 127, NULL, "nested more than 127 levels");
        for (size_t k = 0; k + 5 <= deep; k += 5) memcpy(b + k, "{\"a\":", 5);
        REJECT(b, 0, CK_E_FORMAT, 8 + 127 * 5, NULL, "nested more than 127 levels");
        free(b);
    }
}

static void trailing_garbage(void)
{
    const char *j = "{}   x";
    REJECT(j, 0, CK_E_FORMAT, at(j, "x"), NULL, "after the JSON value");
    const char *j2 = "{}{}";
    REJECT(j2, 0, CK_E_FORMAT, 10, NULL, "after the JSON value");
    const char *j3 = "{}  1 x";
    REJECT(j3, 0, CK_E_FORMAT, at(j3, "1"), NULL, "after the JSON value");
    const char *j4 = "{} \"open";
    REJECT(j4, 0, CK_E_FORMAT, at(j4, "\""), NULL, "after the JSON value");
}

static void top_level_not_object(void)
{
    REJECT("[]", 0, CK_E_FORMAT, 8, NULL, "not an object");
    REJECT("\"x\"", 0, CK_E_FORMAT, 8, NULL, "not an object");
    REJECT("null", 0, CK_E_FORMAT, 8, NULL, "not an object");
    REJECT("12", 0, CK_E_FORMAT, 8, NULL, "not an object");
}

/* ---- rejections: tensor entries --------------------------------------------------------- */

static void tensor_not_object(void)
{
    const char *j = "{\"ok\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"w\":[1,2]}";
    REJECT(j, 1, CK_E_FORMAT, at(j, "\"w\""), "w", "not a JSON object");
}

static void missing_fields(void)
{
    const char *j1 = "{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}";
    REJECT(j1, 1, CK_E_FORMAT, 8 + 1, "w", "missing field \"dtype\"");
    const char *j2 = "{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}";
    REJECT(j2, 1, CK_E_FORMAT, 8 + 1, "w", "missing field \"shape\"");
    const char *j3 = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}";
    REJECT(j3, 1, CK_E_FORMAT, 8 + 1, "w", "missing field \"data_offsets\"");
    const char *j4 = "{\"w\":{\"dtype\":8,\"shape\":[1],\"data_offsets\":[0,1]}}";
    REJECT(j4, 1, CK_E_FORMAT, 8 + 1, "w", "not a string");
    const char *j5 = "{\"w\":{\"dtype\":\"U8\",\"shape\":1,\"data_offsets\":[0,1]}}";
    REJECT(j5, 1, CK_E_FORMAT, 8 + 1, "w", "not an array");
}

static void unknown_dtype(void)
{
    const char *j = "{\"pad\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                    "\"w\":{\"dtype\":\"F8_E4M3FN\",\"shape\":[1],\"data_offsets\":[1,2]}}";
    REJECT(j, 2, CK_E_FORMAT, at(j, "\"w\""), "w", "unknown dtype \"F8_E4M3FN\"");
    const char *j2 = "{\"w\":{\"dtype\":\"\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    REJECT(j2, 1, CK_E_FORMAT, 9, "w", "unknown dtype");
}

static void bad_numbers(void)
{
    const char *neg = "{\"w\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}";
    REJECT(neg, 1, CK_E_FORMAT, 9, "w", "non-negative integer");
    const char *frac = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,1]}}";
    REJECT(frac, 1, CK_E_FORMAT, 9, "w", "non-negative integer");
    /* serde_json reads 1.0, 1e0 and -0 as floats: the reference refuses them for usize */
    const char *one_point_zero = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}";
    REJECT(one_point_zero, 1, CK_E_FORMAT, 9, "w", "non-negative integer");
    const char *exp = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1e0]}}";
    REJECT(exp, 1, CK_E_FORMAT, 9, "w", "non-negative integer");
    const char *negzero = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-0,1]}}";
    REJECT(negzero, 1, CK_E_FORMAT, 9, "w", "non-negative integer");
    const char *huge = "{\"w\":{\"dtype\":\"U8\",\"shape\":[9007199254740992,0],\"data_offsets\":[0,0]}}";
    REJECT(huge, 0, CK_E_FORMAT, 9, "w", "below 2^53");
    const char *huge_off = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551617]}}";
    REJECT(huge_off, 1, CK_E_FORMAT, 9, "w", "below 2^53");
    const char *overflow_double = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1e400],\"data_offsets\":[0,1]}}";
    REJECT(overflow_double, 1, CK_E_FORMAT, 9, "w", "non-negative integer");
    const char *string_dim = "{\"w\":{\"dtype\":\"U8\",\"shape\":[\"1\"],\"data_offsets\":[0,1]}}";
    REJECT(string_dim, 1, CK_E_FORMAT, 9, "w", "non-negative integer");
    /* the largest accepted dimension: 2^53 - 1 (with a zero beside it, so the size is 0) */
    ck_st_file f;
    ACCEPT("{\"w\":{\"dtype\":\"U8\",\"shape\":[9007199254740991,0],\"data_offsets\":[0,0]}}", 0, &f);
    CHECK(f.n_tensors == 1 && f.tensors[0].shape[0] == 9007199254740991ull);
    ck_st_close(&f);
    /* a float in a field serde ignores is fine */
    ACCEPT("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"scale\":0.5e-3}}", 1, &f);
    ck_st_close(&f);
}

static void data_offsets_length(void)
{
    const char *one = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1]}}";
    REJECT(one, 1, CK_E_FORMAT, 9, "w", "array of two integers");
    const char *three = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}";
    REJECT(three, 1, CK_E_FORMAT, 9, "w", "array of two integers");
    const char *none = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[]}}";
    REJECT(none, 1, CK_E_FORMAT, 9, "w", "array of two integers");
    const char *obj = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":{\"a\":0,\"b\":1}}}";
    REJECT(obj, 1, CK_E_FORMAT, 9, "w", "array of two integers");
}

static void too_many_dims(void)
{
    ck_st_file f;
    ACCEPT("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,2]}}", 2, &f);
    CHECK(f.n_tensors == 1 && f.tensors[0].ndim == 16);
    ck_st_close(&f);
    const char *j = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,2]}}";
    REJECT(j, 2, CK_E_UNSUPPORTED, 9, "w", "17 dimensions");
}

/* ---- rejections: layout (steps 7-11) ---------------------------------------------------- */

#define T(name, dt, shape, b, e) "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void overlapping(void)
{
    const char *j = "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[2]", 4, 12) "}";
    REJECT(j, 12, CK_E_FORMAT, at(j, "\"b\""), "b", "overlapping");
    /* identical ranges overlap too */
    const char *j2 = "{" T("a", "F32", "[1]", 0, 4) "," T("b", "F32", "[1]", 0, 4) "}";
    REJECT(j2, 4, CK_E_FORMAT, at(j2, "\"b\""), "b", "overlapping");
}

static void hole_at_start(void)
{
    const char *j = "{" T("a", "F32", "[1]", 4, 8) "}";
    REJECT(j, 8, CK_E_FORMAT, 9, "a", "hole");
}

static void hole_in_middle(void)
{
    const char *j = "{" T("b", "F32", "[1]", 8, 12) "," T("a", "F32", "[1]", 0, 4) "}";
    REJECT(j, 12, CK_E_FORMAT, at(j, "\"b\""), "b", "hole after byte 4");
}

static void end_before_begin(void)
{
    const char *j = "{" T("a", "F32", "[1]", 0, 4) "," T("b", "U8", "[0]", 4, 0) "}";
    REJECT(j, 4, CK_E_FORMAT, at(j, "\"b\""), "b", "end before they begin");
}

static void shape_product_overflow(void)
{
    const char *j = "{" T("w", "U8", "[4294967296,4294967296]", 0, 0) "}";
    REJECT(j, 0, CK_E_FORMAT, 9, "w", "overflows 64 bits");
    /* numel fits in 64 bits, numel x 32 bits does not */
    const char *j2 = "{" T("w", "F32", "[2147483648,2147483648]", 0, 0) "}";
    REJECT(j2, 0, CK_E_FORMAT, 9, "w", "overflows 64 bits");
    /* The reference multiplies left to right with checked_mul: an intermediate overflow is an
     * overflow even if a later 0 would make the product 0; a 0 first keeps every product at 0. */
    const char *j3 = "{" T("w", "F64", "[4294967296,4294967296,0]", 0, 0) "}";
    REJECT(j3, 0, CK_E_FORMAT, 9, "w", "overflows 64 bits");
    ck_st_file f;
    ACCEPT("{" T("w", "F64", "[0,4294967296,4294967296]", 0, 0) "}", 0, &f);
    ck_st_close(&f);
}

static void misaligned_subbyte(void)
{
    const char *j = "{" T("w", "F4", "[3]", 0, 2) "}";
    REJECT(j, 2, CK_E_FORMAT, 9, "w", "F4 tensor with an element count that does not fill whole bytes");
    const char *j2 = "{" T("w", "F6_E3M2", "[2]", 0, 2) "}";
    REJECT(j2, 2, CK_E_FORMAT, 9, "w", "does not fill whole bytes");
    ck_st_file f;
    ACCEPT("{" T("w", "F6_E2M3", "[4]", 0, 3) "}", 3, &f);
    CHECK(f.n_tensors == 1 && f.tensors[0].numel == 4);
    ck_st_close(&f);
}

static void size_mismatch(void)
{
    const char *j = "{" T("w", "F32", "[2]", 0, 4) "}";
    REJECT(j, 4, CK_E_FORMAT, 9, "w", "span 4 bytes but shape x dtype needs 8");
    const char *j2 = "{" T("a", "U8", "[4]", 0, 4) "," T("w", "BF16", "[3]", 4, 12) "}";
    REJECT(j2, 12, CK_E_FORMAT, at(j2, "\"w\""), "w", "needs 6");
}

static void trailing_bytes_after_data(void)
{
    const char *j = "{" T("w", "F32", "[1]", 0, 4) "}";
    int64_t end = 8 + (int64_t)strlen(j) + 4;
    REJECT(j, 5, CK_E_FORMAT, end, NULL, "1 bytes after the last tensor");
    REJECT("{}", 3, CK_E_FORMAT, 10, NULL, "3 bytes after");
}

static void truncated_data(void)
{
    const char *j = "{" T("a", "F32", "[1]", 0, 4) "," T("w", "F32", "[4]", 4, 20) "}";
    int64_t data_start = 8 + (int64_t)strlen(j);
    REJECT(j, 19, CK_E_FORMAT, data_start + 19, NULL, "truncated: tensors need 1 more bytes");
    REJECT(j, 0, CK_E_FORMAT, data_start, NULL, "need 20 more bytes");
}

/* ---- rejections: duplicates and names --------------------------------------------------- */

static void duplicate_tensor_names(void)
{
    const char *j = "{" T("w", "F32", "[1]", 0, 4) "," T("x", "F32", "[1]", 4, 8) "," T("w", "F32", "[1]", 8, 12) "}";
    REJECT(j, 12, CK_E_FORMAT, 9, "w", "duplicate tensor name");
    /* an exact copy of a zero-size entry: the reference would pass it (hash map keeps one) */
    const char *z = "{" T("z", "F32", "[0]", 0, 0) "," T("z", "F32", "[0]", 0, 0) "}";
    REJECT(z, 0, CK_E_FORMAT, 9, "z", "duplicate tensor name");
    /* the same name spelled with an escape is the same name */
    const char *esc = "{" T("ab", "F32", "[1]", 0, 4) ",\"a\\u0062\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    REJECT(esc, 8, CK_E_FORMAT, 9, "ab", "duplicate tensor name");
}

static void duplicate_metadata(void)
{
    const char *j = "{\"__metadata__\":{\"a\":\"1\"}," T("w", "U8", "[1]", 0, 1) ",\"__metadata__\":{\"b\":\"2\"}}";
    REJECT(j, 1, CK_E_FORMAT, 9, "__metadata__", "duplicate key \"__metadata__\"");
    const char *k = "{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\"}}";
    REJECT(k, 0, CK_E_FORMAT, 9, "__metadata__", "duplicate __metadata__ key \"a\"");
}

static void duplicate_field_in_entry(void)
{
    /* serde refuses a struct field given twice */
    const char *j = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"dtype\":\"F32\"}}";
    REJECT(j, 1, CK_E_FORMAT, 9, "w", "duplicate field \"dtype\"");
    const char *j2 = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"shape\":[1],\"data_offsets\":[0,1]}}";
    REJECT(j2, 1, CK_E_FORMAT, 9, "w", "duplicate field \"shape\"");
}

static void metadata_not_strings(void)
{
    const char *j = "{\"__metadata__\":{\"format\":\"pt\",\"epochs\":3}}";
    REJECT(j, 0, CK_E_FORMAT, 9, "__metadata__", "value of \"epochs\" is not a string");
    const char *j2 = "{\"__metadata__\":{\"o\":{\"x\":\"y\"}}}";
    REJECT(j2, 0, CK_E_FORMAT, 9, "__metadata__", "not a string");
    const char *j3 = "{\"__metadata__\":[\"a\"]}";
    REJECT(j3, 0, CK_E_FORMAT, 9, "__metadata__", "not a JSON object");
}

static void nul_in_name(void)
{
    const char *j = "{" T("ok", "U8", "[1]", 0, 1) ",\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}";
    REJECT(j, 2, CK_E_UNSUPPORTED, at(j, "\\u0000"), NULL, "NUL");
    /* an odd run of backslashes before u0000 still ends in an escape */
    const char *j2 = "{\"a\\\\\\u0000\":1}";
    REJECT(j2, 0, CK_E_UNSUPPORTED, at(j2, "\\u0000"), NULL, "NUL");
}

static void control_chars_escaped_in_error_key(void)
{
    /* A name with an escaped ESC passes JSON but must reach the error line escaped. */
    const char *j = "{\"\\u001b[31mred\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}";
    ck_st_file f;
    ck_error e;
    CHECK(parse(j, 4, &f, &e) == -1);
    CHECK(strchr(e.key, 0x1b) == NULL);
    CHECK(strstr(e.key, "\\x1b[31mred") != NULL);
    char line[1400];
    ck_error_format(&e, line, sizeof line);
    for (const char *p = line; *p; p++) CHECK((unsigned char)*p >= 0x20);
    CHECK(strstr(line, "t.safetensors: key '") == line);
    ck_st_close(&f);
}

static void error_line_format(void)
{
    const char *j = "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[2]", 4, 12) "}";
    ck_st_file f;
    ck_error e;
    CHECK(parse(j, 12, &f, &e) == -1);
    char line[1400], want[128];
    ck_error_format(&e, line, sizeof line);
    snprintf(want, sizeof want, "t.safetensors: key 'b' at byte %lld: data_offsets begin at 4", (long long)at(j, "\"b\""));
    if (strncmp(line, want, strlen(want)) != 0) fprintf(stderr, "  line: %s\n  want: %s...\n", line, want);
    CHECK(strncmp(line, want, strlen(want)) == 0);
    CHECK(strchr(line, '\n') == NULL);
    ck_st_close(&f);
}

static void close_is_idempotent(void)
{
    ck_st_file f;
    ck_error e;
    CHECK(parse("[", 0, &f, &e) == -1);
    ck_st_close(&f);
    ck_st_close(&f);
    ck_st_close(NULL);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/ckdoc-st.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }

    RUN_TEST("safetensors", worked_bytes_empty);
    RUN_TEST("safetensors", worked_bytes_attn0);
    RUN_TEST("safetensors", worked_bytes_attn0_padded);
    RUN_TEST("safetensors", worked_bytes_f4);
    RUN_TEST("safetensors", empty_header_padded);
    RUN_TEST("safetensors", scalar_shape);
    RUN_TEST("safetensors", zero_size_tensors_share_offset);
    RUN_TEST("safetensors", every_dtype);
    RUN_TEST("safetensors", metadata_strings);
    RUN_TEST("safetensors", whitespace_padding);
    RUN_TEST("safetensors", out_of_order_contiguous_accepted);
    RUN_TEST("safetensors", extra_fields_ignored_and_escaped_backslash_u0000);

    RUN_TEST("safetensors", file_too_small);
    RUN_TEST("safetensors", header_length_2_63);
    RUN_TEST("safetensors", header_length_over_limit);
    RUN_TEST("safetensors", header_length_past_eof);
    RUN_TEST("safetensors", truncated_and_trailing_files_on_disk);

    RUN_TEST("safetensors", invalid_utf8);
    RUN_TEST("safetensors", raw_control_chars);
    RUN_TEST("safetensors", nul_padding);
    RUN_TEST("safetensors", bad_json);
    RUN_TEST("safetensors", trailing_garbage);
    RUN_TEST("safetensors", top_level_not_object);

    RUN_TEST("safetensors", tensor_not_object);
    RUN_TEST("safetensors", missing_fields);
    RUN_TEST("safetensors", unknown_dtype);
    RUN_TEST("safetensors", bad_numbers);
    RUN_TEST("safetensors", data_offsets_length);
    RUN_TEST("safetensors", too_many_dims);

    RUN_TEST("safetensors", overlapping);
    RUN_TEST("safetensors", hole_at_start);
    RUN_TEST("safetensors", hole_in_middle);
    RUN_TEST("safetensors", end_before_begin);
    RUN_TEST("safetensors", shape_product_overflow);
    RUN_TEST("safetensors", misaligned_subbyte);
    RUN_TEST("safetensors", size_mismatch);
    RUN_TEST("safetensors", trailing_bytes_after_data);
    RUN_TEST("safetensors", truncated_data);

    RUN_TEST("safetensors", duplicate_tensor_names);
    RUN_TEST("safetensors", duplicate_metadata);
    RUN_TEST("safetensors", duplicate_field_in_entry);
    RUN_TEST("safetensors", metadata_not_strings);
    RUN_TEST("safetensors", nul_in_name);
    RUN_TEST("safetensors", control_chars_escaped_in_error_key);
    RUN_TEST("safetensors", error_line_format);
    RUN_TEST("safetensors", close_is_idempotent);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "  could not remove %s\n", tmpdir);
    TEST_EXIT();
}
