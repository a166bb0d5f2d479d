#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ck_escape(char *dst, size_t size, const char *src, size_t src_len)
{
    size_t out = 0;
    if (size == 0) return;
    for (size_t i = 0; i < src_len; i++) {
        unsigned char c = (unsigned char)src[i];
        char tmp[8];
        size_t n;
        if (c < 0x20 || c == 0x7f) n = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", c);
        else if (c == '\\' || c == '\'' || c == '"') { tmp[0] = '\\'; tmp[1] = (char)c; n = 2; }
        else { tmp[0] = (char)c; n = 1; }
        if (out + n >= size) break;
        memcpy(dst + out, tmp, n);
        out += n;
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
