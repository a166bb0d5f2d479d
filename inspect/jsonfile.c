#include "jsonfile.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

size_t ck_json_prescan(const char *text, size_t len, const char **why)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t backslashes = 0; /* run of backslashes just before i: "\\u0000" is text, not a NUL */
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    for (size_t i = 0; i < len;) {
        /* Fast path, eight bytes at a time: no byte >= 0x80, none < 0x20, no backslash. */
        if (backslashes == 0 && i + 8 <= len) {
            uint64_t w, x;
            memcpy(&w, s + i, 8);
            x = w ^ (ones * '\\');
            if ((((w | ((w - ones * 0x20) & ~w)) | ((x - ones) & ~x)) & highs) == 0) { i += 8; continue; }
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
                *why = "raw control character (JSON requires it escaped)";
                return i;
            }
            if (c == 'u' && backslashes % 2 == 1 && i + 4 < len && !memcmp(s + i + 1, "0000", 4)) {
                *why = "\\u0000 escape (a NUL character cannot be held)";
                return i - 1;
            }
            backslashes = c == '\\' ? backslashes + 1 : 0;
            i++;
            continue;
        }
        backslashes = 0;
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; }
        else { *why = "invalid UTF-8"; return i; }
        if (i + need >= len) { *why = "invalid UTF-8 (sequence cut short)"; return i; }
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) { *why = "invalid UTF-8"; return i; }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            *why = "invalid UTF-8 (overlong, surrogate or out of range)";
            return i;
        }
        i += need + 1;
    }
    return len;
}

void ck_json_line_col(const char *text, size_t len, size_t offset, unsigned *line, unsigned *col)
{
    unsigned l = 1;
    size_t line_start = 0;
    if (offset > len) offset = len;
    for (size_t i = 0; i < offset; i++)
        if (text[i] == '\n') { l++; line_start = i + 1; }
    *line = l;
    *col = (unsigned)(offset - line_start + 1);
}

/* Does the text stop inside an unfinished value (open string, array or object), as a file cut off
 * mid-write does? *tail gets where the unfinished part starts to matter: the open string's quote,
 * or the last token. cJSON reports such failures at varying places; this lets us say "truncated"
 * and point at the end of the file instead. */
static bool ends_unfinished(const char *s, size_t len, size_t *tail)
{
    bool in_str = false, esc = false;
    long depth = 0;
    size_t last_token = 0, str_start = 0;
    bool seen = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
        seen = true;
        last_token = i;
        if (c == '"') { in_str = true; str_start = i; }
        else if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') depth--;
    }
    *tail = in_str ? str_start : last_token;
    return !seen || in_str || depth > 0;
}

static int fail_at(const char *path, const char *text, size_t len, size_t at, ck_error *err, const char *what)
{
    unsigned line, col;
    ck_json_line_col(text, len, at, &line, &col);
    return ck_error_set(err, CK_E_FORMAT, path, NULL, (int64_t)at, "%s (line %u, column %u)", what, line, col);
}

struct cJSON *ck_json_parse_strict(const char *path, const char *text, size_t len, ck_json_arena *arena,
                                   ck_error *err)
{
    const char *why = NULL;
    size_t bad = ck_json_prescan(text, len, &why);
    const char *end = NULL;
    cJSON *root = arena ? ck_json_parse_in_arena(arena, text, len, &end)
                        : cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - text) : 0, tail;
        if (at > len) at = len;
        if (bad < len && bad <= at) { fail_at(path, text, len, bad, err, why); return NULL; }
        if (ends_unfinished(text, len, &tail) && at >= tail) {
            fail_at(path, text, len, len, err, "unexpected end of file: the JSON is truncated");
            return NULL;
        }
        fail_at(path, text, len, at, err, "not valid JSON");
        return NULL;
    }
    size_t at = (size_t)(end - text);
    while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r')) at++;
    if (bad < len || at < len) {
        if (!arena) cJSON_Delete(root);
        if (bad < len && bad <= at) fail_at(path, text, len, bad, err, why);
        else fail_at(path, text, len, at, err, "unexpected data after the JSON value");
        return NULL;
    }
    return root;
}

int ck_read_small_file(const char *path, char **text, size_t *len, ck_error *err)
{
    *text = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ck_error_set(err, CK_E_IO, path, NULL, -1, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ck_error_set(err, CK_E_IO, path, NULL, -1, "not a regular file");
    }
    if ((uint64_t)st.st_size > CK_JSON_FILE_MAX) {
        close(fd);
        return ck_error_set(err, CK_E_UNSUPPORTED, path, NULL, -1, "%lld bytes: larger than the %u-byte limit for JSON files",
                            (long long)st.st_size, CK_JSON_FILE_MAX);
    }
    size_t cap = (size_t)st.st_size, got = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    }
    /* Read to EOF rather than trusting st_size: a file still being written may have grown. */
    for (;;) {
        if (got == cap) {
            if (cap >= CK_JSON_FILE_MAX) break;
            size_t ncap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) { free(buf); close(fd); return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory"); }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return ck_error_set(err, CK_E_IO, path, NULL, (int64_t)got, "read failed: %s", strerror(e));
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return 0;
}

int ck_json_file_load(const char *path, ck_json_file *f)
{
    memset(f, 0, sizeof *f);
    f->error.offset = -1;
    f->path = strdup(path);
    if (!f->path) return ck_error_set(&f->error, CK_E_NOMEM, path, NULL, -1, "out of memory");
    struct stat st;
    if (stat(path, &st) < 0 && (errno == ENOENT || errno == ENOTDIR)) return 0;
    f->present = true;
    if (ck_read_small_file(path, &f->text, &f->text_len, &f->error) < 0) return -1;
    f->json = ck_json_parse_strict(path, f->text, f->text_len, NULL, &f->error);
    return f->json ? 0 : -1;
}

void ck_json_file_free(ck_json_file *f)
{
    if (!f) return;
    cJSON_Delete(f->json);
    free(f->text);
    free(f->path);
    memset(f, 0, sizeof *f);
}
