/* Text helpers for the view model. */
#include "text.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "inspect/error.h"
#include "tui/style.h"

void ck_line_add(ck_line *l, ck_style s, const char *fmt, ...)
{
    if (l->n >= CK_LINE_CELLS) return;
    ck_cell *c = &l->c[l->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->text, sizeof c->text, fmt, ap);
    va_end(ap);
    c->style = s;
}

ck_style ck_style_of_severity(int sev)
{
    return sev >= 2 ? CK_S_ERROR : sev == 1 ? CK_S_WARN : sev == 0 ? CK_S_INFO : CK_S_OK;
}

void ck_human_size(char *buf, size_t size, uint64_t bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
        return;
    }
    /* tenths of the unit, rounded half up, in integers so that the output never depends on FP */
    int u = 0;
    unsigned __int128 div = 1024;
    while (u < 5 && (unsigned __int128)bytes * 10 + div / 2 >= div * 10240) u++, div *= 1024;
    unsigned long long tenths = (unsigned long long)(((unsigned __int128)bytes * 10 + div / 2) / div);
    snprintf(buf, size, "%llu.%llu %s", tenths / 10, tenths % 10, units[u]);
}

void ck_shape_str(char *buf, size_t size, const uint64_t *shape, int ndim)
{
    size_t o = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%llu", i ? ", " : "", (unsigned long long)shape[i]);
    if (o < size) snprintf(buf + o, size - o, "]");
}

/* Length of the well-formed UTF-8 sequence at s (1 to 4 bytes), with its code point; 0 when the
 * bytes are not one (stray continuation, overlong form, surrogate, beyond U+10FFFF, truncated). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) return *cp = s[0], 1;
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (!len || len > n || s[0] > 0xF4) return 0;
    uint32_t c = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = c << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

/* Code points a terminal may act on rather than draw: C0 and DEL, C1 (U+0080..U+009F: 8-bit CSI,
 * OSC...), and the bidirectional controls that reorder what follows them on the line. */
static bool is_control(uint32_t c)
{
    return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
           (c >= 0x2066 && c <= 0x2069);
}

static void escape_text(char *buf, size_t size, const char *s, size_t len, bool quotes)
{
    size_t o = 0;
    if (!size) return;
    for (size_t i = 0; i < len;) {
        const unsigned char *p = (const unsigned char *)s + i;
        uint32_t c = 0;
        size_t n = utf8_seq(p, len - i, &c);
        char tmp[12];
        size_t w;
        if (!n) w = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", p[0]), n = 1; /* not UTF-8: the byte */
        else if (is_control(c)) w = (size_t)snprintf(tmp, sizeof tmp, c < 0x80 ? "\\x%02x" : "\\u%04x", (unsigned)c);
        else if (quotes && (c == '\\' || c == '\'' || c == '"')) tmp[0] = '\\', tmp[1] = (char)c, w = 2;
        else memcpy(tmp, p, n), w = n;
        if (o + w >= size) break;
        memcpy(buf + o, tmp, w);
        o += w;
        i += n;
    }
    buf[o] = '\0';
}

void ck_esc(char *buf, size_t size, const char *s, size_t len)
{
    escape_text(buf, size, s, len, true);
}

void ck_shard_short(char *buf, size_t size, const char *name)
{
    unsigned long a, b;
    char tail[64];
    const char *p = strrchr(name, '-');
    /* "...-00002-of-00003.safetensors": the last "-NNNNN-of-" pair */
    const char *of = strstr(name, "-of-");
    if (of && p && of > name) {
        const char *q = of;
        while (q > name && q[-1] >= '0' && q[-1] <= '9') q--;
        if (q > name && q[-1] == '-' && sscanf(q, "%lu-of-%lu%63s", &a, &b, tail) >= 2) {
            snprintf(buf, size, "%lu/%lu", a, b);
            return;
        }
    }
    size_t n = strlen(name);
    if (n > 12 && !strcmp(name + n - 12, ".safetensors")) n -= 12;
    ck_esc(buf, size, name, n);
}

void ck_commas(char *buf, size_t size, uint64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 1 < size; i++) {
        if (i && (n - i) % 3 == 0 && o + 2 < size) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o < size ? o : size - 1] = '\0';
}

void ck_esc_ctl(char *buf, size_t size, const char *s)
{
    escape_text(buf, size, s, strlen(s), false);
}
