#include "error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1 for ASCII), or 0 if the bytes there are not one;
 * the code point goes to *cp. */
static size_t utf8_at(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) len = 2, c &= 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, c &= 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, c &= 0x07;
    else return 0;
    if (n < len) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[k] & 0x3F);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

/* Code points a terminal may act on, or that reorder what is shown: C1 controls (U+0080..U+009F,
 * e.g. U+009B is CSI to some terminals) and the bidirectional embeddings, overrides and isolates. */
static bool unsafe_code_point(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x200E || cp == 0x200F || cp == 0x061C;
}

void ck_escape(char *dst, size_t size, const char *src, size_t src_len)
{
    size_t out = 0;
    if (size == 0) return;
    const unsigned char *s = (const unsigned char *)src;
    for (size_t i = 0; i < src_len;) {
        unsigned char c = s[i];
        unsigned cp = 0;
        size_t len = utf8_at(s + i, src_len - i, &cp);
        char tmp[16];
        size_t n;
        if (len == 0) n = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", c), len = 1; /* not UTF-8 */
        else if (c < 0x20 || c == 0x7f) n = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", c);
        else if (len > 1 && unsafe_code_point(cp)) n = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", cp);
        else if (c == '\\' || c == '\'' || c == '"') tmp[0] = '\\', tmp[1] = (char)c, n = 2;
        else memcpy(tmp, s + i, len), n = len;
        if (out + n >= size) break;
        memcpy(dst + out, tmp, n);
        out += n;
        i += len;
    }
    dst[out] = '\0';
}

int ck_error_set(ck_error *err, ck_errcode code, const char *file, const char *key,
                 int64_t offset, const char *fmt, ...)
{
    if (!err) return -1;
    err->code = code;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    if (key) ck_escape(err->key, sizeof err->key, key, strlen(key));
    else err->key[0] = '\0';
    err->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

void ck_error_format(const ck_error *err, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
#define APPEND(...) do { if (n < size) { int w = snprintf(buf + n, size - n, __VA_ARGS__); \
                         if (w > 0) n += (size_t)w; } } while (0)
    if (err->file[0]) APPEND("%s: ", err->file);
    if (err->key[0]) APPEND("key '%s'%s", err->key, err->offset >= 0 ? " at " : ": ");
    if (err->offset >= 0) APPEND("byte %lld: ", (long long)err->offset);
    APPEND("%s", err->msg);
#undef APPEND
}
