/* safetensors header reader and validator.
 *
 * The checks and their order follow the reference reader (huggingface/safetensors tensor.rs,
 * `read_metadata` + `Metadata::validate`), so that ckdoc accepts exactly the files the reference
 * accepts, with deliberate additions the reference only promises: duplicate tensor names (and
 * duplicate __metadata__ keys) are refused outright, and a JSON string holding a NUL character is
 * refused (C strings cannot hold it and silently truncating a name would alias two tensors). The
 * JSON itself is held to serde_json's rules, not cJSON's looser ones (json_validate_strict).
 *
 * JSON numbers arrive from cJSON as doubles: every integer we accept must be below 2^53, where a
 * double is still exact, so no offset or dimension is ever rounded. The safetensors JSON schema
 * caps them at 2^48 - 1 anyway. */
#include "safetensors.h"

#include "json_arena.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_EXACT_INTEGER 9007199254740992.0 /* 2^53 */

/* Bytes are 8 + i into the file: every offset reported is a file offset. */
#define HDR_OFFSET(i) ((int64_t)(8 + (i)))

/* ---- byte-level pre-checks ------------------------------------------------------------ */

/* One pass over the header bytes, before JSON parsing: the first byte that breaks UTF-8
 * (overlongs, surrogates and > U+10FFFF included) or is a raw control character. JSON allows
 * no raw control characters except the whitespace tab, LF and CR; cJSON is lenient about them,
 * so this scan makes us as strict as the reference's serde_json. Headers are mostly ASCII
 * letters and digits, so eight bytes are vetted at a time. Returns len if all is well, and sets
 * *is_control to say which rule broke. */
static size_t header_bytes_invalid_at(const uint8_t *s, size_t len, bool *is_control)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            /* No byte >= 0x80 and no byte < 0x20: the classic "has a byte less than n" test. */
            if (((w | ((w - ones * 0x20) & ~w)) & highs) == 0) { i += 8; continue; }
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') { *is_control = true; return i; }
            i++;
            continue;
        }
        *is_control = false;
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; }
        else return i;
        if (i + need >= len) return i;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += need + 1;
    }
    return len;
}

/* ---- strict JSON validation ----------------------------------------------------------- */

/* cJSON is more lenient than serde_json, which the reference reader uses: it accepts "01", "1.",
 * a UTF-8 byte-order mark and raw tabs/newlines inside strings, it reports some failures a byte or
 * more past the bad one, and it cannot tell "2" from "2.0", "2e0" or "-0" (serde_json reads those
 * as floats, which the reference refuses for shape and data_offsets). So the header is first
 * validated here, token by token and against the grammar, with serde_json's rules and its nesting
 * limit (127 levels); the offset of the first byte that cannot continue a JSON text is exact. Only
 * a valid text reaches cJSON. The ordinal (in text order) of every number that is not a plain
 * non-negative integer literal is recorded for mark_numbers. */
typedef struct {
    size_t *idx;
    size_t n, cap;
} num_list;

enum { LEX_OK, LEX_BAD, LEX_NUL, LEX_NOMEM };
#define JSON_MAX_DEPTH 127 /* serde_json's default recursion limit: 128 - 1 */

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static bool hex4(const uint8_t *s, size_t len, size_t at, unsigned *out)
{
    if (at > len || len - at < 4) return false;
    unsigned v = 0;
    for (size_t k = 0; k < 4; k++) {
        uint8_t c = s[at + k];
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return false;
        v = (v << 4) | d;
    }
    *out = v;
    return true;
}

/* The string whose opening quote is at *i; leaves *i past the closing quote. */
static int lex_string(const uint8_t *s, size_t len, size_t *i, size_t *at, const char **why)
{
    size_t p = *i + 1;
    for (;;) {
        if (p >= len) { *at = *i; *why = "it ends inside this string"; return LEX_BAD; }
        uint8_t c = s[p];
        if (c == '"') break;
        if (c != '\\') {
            if (c < 0x20) { *at = p; *why = "raw control character inside a JSON string"; return LEX_BAD; }
            p++;
            continue;
        }
        *at = p;
        uint8_t e = p + 1 < len ? s[p + 1] : 0;
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
            p += 2;
            continue;
        }
        unsigned cp, lo;
        if (e != 'u' || !hex4(s, len, p + 2, &cp)) { *why = "invalid escape in a JSON string"; return LEX_BAD; }
        if (cp == 0) { *why = "a JSON string in the header holds a NUL character (\\u0000)"; return LEX_NUL; }
        if (cp >= 0xDC00 && cp <= 0xDFFF) { *why = "lone UTF-16 surrogate escape in a JSON string"; return LEX_BAD; }
        p += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (p + 1 >= len || s[p] != '\\' || s[p + 1] != 'u' || !hex4(s, len, p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                *why = "lone UTF-16 surrogate escape in a JSON string";
                return LEX_BAD;
            }
            p += 6;
        }
    }
    *i = p + 1;
    return LEX_OK;
}

/* The number starting at *i (a '-' or a digit); *plain says whether it is a bare integer literal. */
static bool lex_number(const uint8_t *s, size_t len, size_t *i, bool *plain)
{
    size_t p = *i;
    *plain = s[p] != '-';
    if (s[p] == '-') p++;
    if (p >= len || !is_digit(s[p])) return false;
    if (s[p] == '0') {
        p++;
        if (p < len && is_digit(s[p])) return false; /* leading zero */
    } else {
        while (p < len && is_digit(s[p])) p++;
    }
    if (p < len && s[p] == '.') {
        *plain = false;
        if (++p >= len || !is_digit(s[p])) return false;
        while (p < len && is_digit(s[p])) p++;
    }
    if (p < len && (s[p] == 'e' || s[p] == 'E')) {
        *plain = false;
        p++;
        if (p < len && (s[p] == '+' || s[p] == '-')) p++;
        if (p >= len || !is_digit(s[p])) return false;
        while (p < len && is_digit(s[p])) p++;
    }
    *i = p;
    return true;
}

/* Returns LEX_OK, or another LEX_* with *at the offset of the first bad byte and *why what is
 * wrong with it. A text that stops early is reported at its end (`len`). */
static int json_validate_strict(const uint8_t *s, size_t len, num_list *nonint, size_t *at, const char **why)
{
    enum { VALUE, VALUE_OR_CLOSE, KEY, KEY_OR_CLOSE, COLON, COMMA_OR_CLOSE, DONE } state = VALUE;
    bool is_object[JSON_MAX_DEPTH + 1]; /* per open container: object (true) or array */
    size_t depth = 0, i = 0, ordinal = 0;
    for (;;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
        if (i >= len) break;
        uint8_t c = s[i];
        *at = i;
        switch (state) {
        case DONE:
            *why = "unexpected bytes after the JSON value";
            return LEX_BAD;
        case COLON:
            if (c != ':') { *why = "expected ':' after an object key"; return LEX_BAD; }
            i++;
            state = VALUE;
            continue;
        case COMMA_OR_CLOSE:
            if (c == ',') {
                i++;
                state = is_object[depth - 1] ? KEY : VALUE;
                continue;
            }
            if (c == (is_object[depth - 1] ? '}' : ']')) {
                i++;
                depth--;
                state = depth ? COMMA_OR_CLOSE : DONE;
                continue;
            }
            *why = is_object[depth - 1] ? "expected ',' or '}' in an object" : "expected ',' or ']' in an array";
            return LEX_BAD;
        case KEY_OR_CLOSE:
        case KEY:
            if (c == '}' && state == KEY_OR_CLOSE) {
                i++;
                depth--;
                state = depth ? COMMA_OR_CLOSE : DONE;
                continue;
            }
            if (c != '"') { *why = "expected a string key in an object"; return LEX_BAD; }
            {
                int r = lex_string(s, len, &i, at, why);
                if (r != LEX_OK) return r;
            }
            state = COLON;
            continue;
        case VALUE_OR_CLOSE:
        case VALUE:
            if (c == ']' && state == VALUE_OR_CLOSE) {
                i++;
                depth--;
                state = depth ? COMMA_OR_CLOSE : DONE;
                continue;
            }
            if (c == '{' || c == '[') {
                if (depth == JSON_MAX_DEPTH) {
                    *why = "nested more than 127 levels deep (the reference reader's limit)";
                    return LEX_BAD;
                }
                is_object[depth++] = c == '{';
                i++;
                state = c == '{' ? KEY_OR_CLOSE : VALUE_OR_CLOSE;
                continue;
            }
            if (c == '"') {
                int r = lex_string(s, len, &i, at, why);
                if (r != LEX_OK) return r;
            } else if (c == '-' || is_digit(c)) {
                bool plain;
                if (!lex_number(s, len, &i, &plain)) { *why = "malformed JSON number"; return LEX_BAD; }
                if (!plain) {
                    if (nonint->n == nonint->cap) {
                        size_t cap = nonint->cap ? 2 * nonint->cap : 16;
                        size_t *p = realloc(nonint->idx, cap * sizeof *p);
                        if (!p) return LEX_NOMEM;
                        nonint->idx = p;
                        nonint->cap = cap;
                    }
                    nonint->idx[nonint->n++] = ordinal;
                }
                ordinal++;
            } else if (len - i >= 4 && (!memcmp(s + i, "true", 4) || !memcmp(s + i, "null", 4))) {
                i += 4;
            } else if (len - i >= 5 && !memcmp(s + i, "false", 5)) {
                i += 5;
            } else {
                *why = "expected a JSON value";
                return LEX_BAD;
            }
            state = depth ? COMMA_OR_CLOSE : DONE;
            continue;
        }
    }
    if (state != DONE) {
        *at = len;
        *why = "it ends before the value is complete";
        return LEX_BAD;
    }
    return LEX_OK;
}

/* Number nodes appear in cJSON's tree in pre-order exactly as their tokens appear in the text, so
 * the scan's ordinals map onto them. Each is marked through valueint, which nothing else here
 * reads: 1 for a plain integer literal, 0 otherwise. Depth is bounded by cJSON's nesting limit. */
static void mark_numbers(cJSON *node, const num_list *nonint, size_t *ordinal, size_t *next_bad)
{
    for (; node; node = node->next) {
        if (cJSON_IsNumber(node)) {
            bool bad = *next_bad < nonint->n && nonint->idx[*next_bad] == *ordinal;
            if (bad) (*next_bad)++;
            node->valueint = bad ? 0 : 1;
            (*ordinal)++;
        }
        if (node->child) mark_numbers(node->child, nonint, ordinal, next_bad);
    }
}

/* Where a tensor's key stands in the header, for error messages only (cold path): the first
 * occurrence of "name" followed by optional whitespace and a colon. Falls back to the header's
 * first byte when the name was written with escapes we do not reproduce. */
static int64_t key_offset(const uint8_t *hdr, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    const uint8_t *p = hdr, *end = hdr + len;
    while (p + nlen + 2 <= end) {
        const uint8_t *q = memchr(p, '"', (size_t)(end - p));
        if (!q || q + nlen + 2 > end) break;
        if (memcmp(q + 1, name, nlen) == 0 && q[nlen + 1] == '"') {
            const uint8_t *r = q + nlen + 2;
            while (r < end && (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')) r++;
            if (r < end && *r == ':') return HDR_OFFSET(q - hdr);
        }
        p = q + 1;
    }
    return HDR_OFFSET(0);
}

/* ---- small arena: every string of one file in one allocation ------------------------- */

typedef struct {
    char *base;
    size_t used, cap;
} arena;

static char *arena_strdup(arena *a, const char *s, size_t n)
{
    char *dst = a->base + a->used;
    memcpy(dst, s, n);
    dst[n] = '\0';
    a->used += n + 1;
    return dst;
}

/* ---- field readers -------------------------------------------------------------------- */

typedef struct {
    const char *path;
    const uint8_t *hdr;
    size_t hdr_len;
    ck_error *err;
} parse_ctx;

static int fail_at_key(parse_ctx *c, const char *key, const char *what)
{
    return ck_error_set(c->err, CK_E_FORMAT, c->path, key, key ? key_offset(c->hdr, c->hdr_len, key) : 8,
                        "%s", what);
}

/* A JSON number that is a non-negative integer below 2^53. */
static bool exact_uint(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item) || item->valueint != 1) return false; /* see mark_numbers */
    double v = item->valuedouble;
    if (!(v >= 0.0) || v >= MAX_EXACT_INTEGER || v != (double)(uint64_t)v) return false;
    *out = (uint64_t)v;
    return true;
}

static int read_tensor(parse_ctx *c, const cJSON *item, ck_st_tensor *t)
{
    const char *key = item->string;
    char msg[160];
    if (!cJSON_IsObject(item)) return fail_at_key(c, key, "tensor entry is not a JSON object");

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!dtype) return fail_at_key(c, key, "missing field \"dtype\"");
    if (!shape) return fail_at_key(c, key, "missing field \"shape\"");
    if (!offs) return fail_at_key(c, key, "missing field \"data_offsets\"");
    /* serde refuses a struct field given twice; cJSON would silently take the first. */
    int seen[3] = {0, 0, 0};
    for (const cJSON *f = item->child; f; f = f->next) {
        int k = !strcmp(f->string, "dtype") ? 0 : !strcmp(f->string, "shape") ? 1 : !strcmp(f->string, "data_offsets") ? 2 : -1;
        if (k >= 0 && seen[k]++) {
            snprintf(msg, sizeof msg, "duplicate field \"%s\" in the tensor entry", f->string);
            return fail_at_key(c, key, msg);
        }
    }

    if (!cJSON_IsString(dtype)) return fail_at_key(c, key, "\"dtype\" is not a string");
    if (!ck_dtype_from_name(dtype->valuestring, strlen(dtype->valuestring), &t->dtype)) {
        char esc[64];
        ck_escape(esc, sizeof esc, dtype->valuestring, strlen(dtype->valuestring));
        snprintf(msg, sizeof msg, "unknown dtype \"%s\"", esc);
        return fail_at_key(c, key, msg);
    }

    if (!cJSON_IsArray(shape)) return fail_at_key(c, key, "\"shape\" is not an array");
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > CK_MAX_DIMS) {
        snprintf(msg, sizeof msg, "shape has %d dimensions; ckdoc supports at most %d", ndim, CK_MAX_DIMS);
        return ck_error_set(c->err, CK_E_UNSUPPORTED, c->path, key, key_offset(c->hdr, c->hdr_len, key), "%s", msg);
    }
    t->ndim = 0;
    for (const cJSON *d = shape->child; d; d = d->next) {
        if (!exact_uint(d, &t->shape[t->ndim]))
            return fail_at_key(c, key, "\"shape\" holds something other than a non-negative integer below 2^53");
        t->ndim++;
    }

    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return fail_at_key(c, key, "\"data_offsets\" is not an array of two integers");
    if (!exact_uint(offs->child, &t->begin) || !exact_uint(offs->child->next, &t->end))
        return fail_at_key(c, key, "\"data_offsets\" holds something other than a non-negative integer below 2^53");
    return 0;
}

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int read_metadata(parse_ctx *c, const cJSON *item, ck_st_file *out, arena *a)
{
    if (!cJSON_IsObject(item)) return fail_at_key(c, "__metadata__", "__metadata__ is not a JSON object");
    size_t n = (size_t)cJSON_GetArraySize(item);
    out->metadata = calloc(n ? n : 1, sizeof *out->metadata);
    if (!out->metadata) return ck_error_set(c->err, CK_E_NOMEM, c->path, NULL, -1, "out of memory");
    for (const cJSON *kv = item->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv)) {
            char msg[400], esc[256];
            ck_escape(esc, sizeof esc, kv->string, strlen(kv->string));
            snprintf(msg, sizeof msg, "__metadata__ value of \"%s\" is not a string", esc);
            return fail_at_key(c, "__metadata__", msg);
        }
        ck_kv *dst = &out->metadata[out->n_metadata++];
        dst->key = arena_strdup(a, kv->string, strlen(kv->string));
        dst->value = arena_strdup(a, kv->valuestring, strlen(kv->valuestring));
    }
    out->has_metadata = true;
    /* Duplicate keys are disallowed by the format; serde would keep the last one silently. */
    if (out->n_metadata > 1) {
        const char **keys = malloc(out->n_metadata * sizeof *keys);
        if (!keys) return ck_error_set(c->err, CK_E_NOMEM, c->path, NULL, -1, "out of memory");
        for (size_t i = 0; i < out->n_metadata; i++) keys[i] = out->metadata[i].key;
        qsort(keys, out->n_metadata, sizeof *keys, str_ptr_cmp);
        for (size_t i = 1; i < out->n_metadata; i++) {
            if (!strcmp(keys[i - 1], keys[i])) {
                char msg[400], esc[256];
                ck_escape(esc, sizeof esc, keys[i], strlen(keys[i]));
                snprintf(msg, sizeof msg, "duplicate __metadata__ key \"%s\"", esc);
                free(keys);
                return fail_at_key(c, "__metadata__", msg);
            }
        }
        free(keys);
    }
    return 0;
}

/* ---- sorting -------------------------------------------------------------------------- */

static _Thread_local const ck_st_tensor *sort_base;

static int by_name_cmp(const void *pa, const void *pb)
{
    const ck_st_tensor *a = &sort_base[*(const size_t *)pa], *b = &sort_base[*(const size_t *)pb];
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int r = memcmp(a->name, b->name, n);
    if (r) return r;
    return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/* Reference order: (begin, end). Ties (zero-size tensors sharing an offset) by name, so the
 * order is total and deterministic. */
static int by_offset_cmp(const void *pa, const void *pb)
{
    const ck_st_tensor *a = pa, *b = pb;
    if (a->begin != b->begin) return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int r = memcmp(a->name, b->name, n);
    if (r) return r;
    return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/* qsort has no context argument in C11, and files may be opened from several threads at once, so
 * the comparator finds its array through a thread-local pointer. */
static int sort_by_name(ck_st_file *f)
{
    f->by_name = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof *f->by_name);
    if (!f->by_name) return -1;
    for (size_t i = 0; i < f->n_tensors; i++) f->by_name[i] = i;
    sort_base = f->tensors;
    qsort(f->by_name, f->n_tensors, sizeof *f->by_name, by_name_cmp);
    sort_base = NULL;
    return 0;
}

/* ---- the header ----------------------------------------------------------------------- */

static int validate_layout(parse_ctx *c, ck_st_file *out, uint64_t data_len)
{
    char msg[200];
    uint64_t expect_begin = 0;
    for (size_t i = 0; i < out->n_tensors; i++) {
        ck_st_tensor *t = &out->tensors[i];
        if (t->begin != expect_begin || t->end < t->begin) {
            if (t->end < t->begin)
                snprintf(msg, sizeof msg, "data_offsets [%llu, %llu] end before they begin",
                         (unsigned long long)t->begin, (unsigned long long)t->end);
            else if (t->begin > expect_begin)
                snprintf(msg, sizeof msg, "data_offsets begin at %llu, leaving a hole after byte %llu of the data section",
                         (unsigned long long)t->begin, (unsigned long long)expect_begin);
            else
                snprintf(msg, sizeof msg, "data_offsets begin at %llu, overlapping the previous tensor (which ends at %llu)",
                         (unsigned long long)t->begin, (unsigned long long)expect_begin);
            return fail_at_key(c, t->name, msg);
        }
        uint64_t nbytes;
        int r = ck_tensor_size(t->dtype, t->shape, t->ndim, &t->numel, &nbytes);
        if (r == -1) return fail_at_key(c, t->name, "shape x dtype size overflows 64 bits");
        if (r == -2) {
            snprintf(msg, sizeof msg, "%s tensor with an element count that does not fill whole bytes",
                     ck_dtype_name(t->dtype));
            return fail_at_key(c, t->name, msg);
        }
        if (t->end - t->begin != nbytes) {
            snprintf(msg, sizeof msg, "data_offsets [%llu, %llu] span %llu bytes but shape x dtype needs %llu",
                     (unsigned long long)t->begin, (unsigned long long)t->end,
                     (unsigned long long)(t->end - t->begin), (unsigned long long)nbytes);
            return fail_at_key(c, t->name, msg);
        }
        expect_begin = t->end;
    }
    if (expect_begin != data_len) {
        return ck_error_set(c->err, CK_E_FORMAT, c->path, NULL,
                            (int64_t)(out->data_start + (expect_begin < data_len ? expect_begin : data_len)),
                            expect_begin < data_len
                                ? "%llu bytes after the last tensor's data (file is %llu bytes, tensors end at byte %llu)"
                                : "file truncated: tensors need %llu more bytes (file is %llu bytes, tensors end at byte %llu)",
                            (unsigned long long)(expect_begin < data_len ? data_len - expect_begin
                                                                         : expect_begin - data_len),
                            (unsigned long long)out->file_size,
                            (unsigned long long)(out->data_start + expect_begin));
    }
    return 0;
}

int ck_st_parse_header(const char *path, const uint8_t *hdr, uint64_t hdr_len, uint64_t file_size,
                       ck_st_file *out, ck_error *err)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    out->path = strdup(path ? path : "");
    if (!out->path) return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    out->file_size = file_size;
    out->header_len = hdr_len;
    out->data_start = 8 + hdr_len;
    parse_ctx c = {path, hdr, (size_t)hdr_len, err};

    if (hdr_len > CK_ST_MAX_HEADER)
        return ck_error_set(err, CK_E_FORMAT, path, NULL, 0, "header length %llu exceeds the 100,000,000-byte limit",
                            (unsigned long long)hdr_len);
    if (file_size < 8 + hdr_len)
        return ck_error_set(err, CK_E_FORMAT, path, NULL, 0, "header length %llu runs past the end of the file (%llu bytes)",
                            (unsigned long long)hdr_len, (unsigned long long)file_size);
    bool is_control = false;
    size_t bad = header_bytes_invalid_at(hdr, (size_t)hdr_len, &is_control);
    if (bad < hdr_len && is_control)
        return ck_error_set(err, CK_E_FORMAT, path, NULL, HDR_OFFSET(bad),
                            "control character 0x%02x in the header JSON", hdr[bad]);
    if (bad < hdr_len)
        return ck_error_set(err, CK_E_FORMAT, path, NULL, HDR_OFFSET(bad), "header is not valid UTF-8");
    /* The validator also refuses a \u0000 escape: C strings cannot carry it. */
    num_list nonint = {NULL, 0, 0};
    size_t lex_at = 0;
    const char *lex_why = NULL;
    int lex = json_validate_strict(hdr, (size_t)hdr_len, &nonint, &lex_at, &lex_why);
    if (lex != LEX_OK) {
        free(nonint.idx);
        if (lex == LEX_NOMEM) return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
        return ck_error_set(err, lex == LEX_NUL ? CK_E_UNSUPPORTED : CK_E_FORMAT, path, NULL, HDR_OFFSET(lex_at),
                            "%s%s", lex == LEX_NUL ? "" : "header is not valid JSON: ", lex_why);
    }

    /* The text is valid JSON now; cJSON failing on it can only mean it ran out of memory. */
    const char *parse_end = NULL;
    ck_json_arena json_arena = {0};
    cJSON *root = ck_json_parse_in_arena(&json_arena, (const char *)hdr, (size_t)hdr_len, &parse_end);
    if (!root) {
        free(nonint.idx);
        ck_json_arena_free(&json_arena);
        size_t at = parse_end ? (size_t)((const uint8_t *)parse_end - hdr) : 0;
        if (at > hdr_len) at = hdr_len;
        return ck_error_set(err, CK_E_FORMAT, path, NULL, HDR_OFFSET(at), "header is not valid JSON");
    }
    size_t ordinal = 0, next_bad = 0;
    mark_numbers(root, &nonint, &ordinal, &next_bad);
    free(nonint.idx);
    /* Only JSON whitespace may follow the value (the reference writer pads with spaces). */
    for (size_t i = (size_t)((const uint8_t *)parse_end - hdr); i < hdr_len; i++) {
        if (hdr[i] != ' ' && hdr[i] != '\t' && hdr[i] != '\n' && hdr[i] != '\r') {
            ck_json_arena_free(&json_arena);
            return ck_error_set(err, CK_E_FORMAT, path, NULL, HDR_OFFSET(i), "unexpected bytes after the header JSON");
        }
    }
    if (!cJSON_IsObject(root)) {
        ck_json_arena_free(&json_arena);
        return ck_error_set(err, CK_E_FORMAT, path, NULL, 8, "header JSON is not an object");
    }

    /* One pass to size the arena and the tensor array, one to fill them. */
    size_t n_items = 0, string_bytes = 0;
    for (const cJSON *item = root->child; item; item = item->next) {
        n_items++;
        string_bytes += strlen(item->string) + 1;
        if (cJSON_IsObject(item) && !strcmp(item->string, "__metadata__"))
            for (const cJSON *kv = item->child; kv; kv = kv->next)
                string_bytes += strlen(kv->string) + 1 + (cJSON_IsString(kv) ? strlen(kv->valuestring) : 0) + 1;
    }
    arena a = {malloc(string_bytes ? string_bytes : 1), 0, string_bytes};
    out->arena = a.base;
    out->tensors = calloc(n_items ? n_items : 1, sizeof *out->tensors);
    if (!a.base || !out->tensors) {
        ck_json_arena_free(&json_arena);
        return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    }

    for (const cJSON *item = root->child; item; item = item->next) {
        if (!strcmp(item->string, "__metadata__")) {
            if (out->has_metadata) {
                ck_json_arena_free(&json_arena);
                return fail_at_key(&c, "__metadata__", "duplicate key \"__metadata__\"");
            }
            if (read_metadata(&c, item, out, &a) < 0) { ck_json_arena_free(&json_arena); return -1; }
            continue;
        }
        ck_st_tensor *t = &out->tensors[out->n_tensors];
        if (read_tensor(&c, item, t) < 0) { ck_json_arena_free(&json_arena); return -1; }
        t->name_len = strlen(item->string);
        t->name = arena_strdup(&a, item->string, t->name_len);
        out->n_tensors++;
    }
    ck_json_arena_free(&json_arena);

    /* Data order first, then one name sort that serves both the duplicate check (which must come
     * before the layout check: a duplicate would otherwise show up as a misleading overlap) and
     * ck_st_find. */
    qsort(out->tensors, out->n_tensors, sizeof *out->tensors, by_offset_cmp);
    if (sort_by_name(out) < 0) return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    for (size_t i = 1; i < out->n_tensors; i++) {
        const ck_st_tensor *prev = &out->tensors[out->by_name[i - 1]], *cur = &out->tensors[out->by_name[i]];
        if (prev->name_len == cur->name_len && !memcmp(prev->name, cur->name, cur->name_len))
            return fail_at_key(&c, cur->name, "duplicate tensor name in the header");
    }
    if (validate_layout(&c, out, file_size - out->data_start) < 0) return -1;
    return 0;
}

int ck_st_open(const char *path, ck_st_file *out, ck_error *err)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    /* O_NONBLOCK: opening a FIFO (or a symlink to one) must not hang; fstat refuses it next. It
     * changes nothing for regular files. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ck_error_set(err, CK_E_IO, path, NULL, -1, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return ck_error_set(err, CK_E_IO, path, NULL, -1, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ck_error_set(err, CK_E_FORMAT, path, NULL, -1, "not a regular file");
    }
    uint64_t size = (uint64_t)st.st_size;
    uint8_t len_bytes[8];
    if (size < 8) {
        close(fd);
        return ck_error_set(err, CK_E_FORMAT, path, NULL, 0,
                            "file is %llu bytes, too small for the 8-byte header length", (unsigned long long)size);
    }
    if (pread(fd, len_bytes, 8, 0) != 8) {
        close(fd);
        return ck_error_set(err, CK_E_IO, path, NULL, 0, "cannot read the header length");
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | len_bytes[i];
    if (n > CK_ST_MAX_HEADER || n > size - 8) {
        close(fd);
        return ck_error_set(err, CK_E_FORMAT, path, NULL, 0,
                            n > CK_ST_MAX_HEADER ? "header length %llu exceeds the 100,000,000-byte limit (file is %llu bytes)"
                                                 : "header length %llu runs past the end of the file (%llu bytes)",
                            (unsigned long long)n, (unsigned long long)size);
    }
    uint8_t *hdr = malloc(n ? n : 1);
    if (!hdr) {
        close(fd);
        return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory for a %llu-byte header", (unsigned long long)n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, hdr + got, n - got, (off_t)(8 + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(hdr);
            close(fd);
            return ck_error_set(err, CK_E_IO, path, NULL, (int64_t)(8 + got), "cannot read the header");
        }
        got += (size_t)r;
    }
    int rc = ck_st_parse_header(path, hdr, n, size, out, err);
    free(hdr);
    if (rc < 0) {
        close(fd);
        return -1;
    }
    out->fd = fd;
    return 0;
}

const uint8_t *ck_st_data(ck_st_file *f, size_t i, ck_error *err)
{
    if (i >= f->n_tensors) {
        ck_error_set(err, CK_E_USAGE, f->path, NULL, -1, "tensor index %zu out of range", i);
        return NULL;
    }
    if (!f->map) {
        if (f->fd < 0) {
            ck_error_set(err, CK_E_USAGE, f->path, NULL, -1, "file was not opened from disk");
            return NULL;
        }
        void *m = mmap(NULL, (size_t)f->file_size, PROT_READ, MAP_SHARED, f->fd, 0);
        if (m == MAP_FAILED) {
            ck_error_set(err, CK_E_IO, f->path, NULL, -1, "cannot mmap: %s", strerror(errno));
            return NULL;
        }
        f->map = m;
        f->map_len = (size_t)f->file_size;
    }
    return (const uint8_t *)f->map + f->data_start + f->tensors[i].begin;
}

long ck_st_find(const ck_st_file *f, const char *name)
{
    size_t len = strlen(name), lo = 0, hi = f->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ck_st_tensor *t = &f->tensors[f->by_name[mid]];
        size_t n = t->name_len < len ? t->name_len : len;
        int r = memcmp(t->name, name, n);
        if (!r) r = (t->name_len > len) - (t->name_len < len);
        if (!r) return (long)f->by_name[mid];
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

void ck_st_close(ck_st_file *f)
{
    if (!f) return;
    if (f->map) munmap(f->map, f->map_len);
    if (f->fd >= 0) close(f->fd);
    free(f->path);
    free(f->tensors);
    free(f->metadata);
    free(f->by_name);
    free(f->arena);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}
