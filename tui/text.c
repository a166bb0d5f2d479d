/* Text helpers for the view model. */
#include "text.h"

#include <stdarg.h>
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

void ck_esc(char *buf, size_t size, const char *s, size_t len)
{
    ck_escape(buf, size, s, len);
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
    ck_escape(buf, size, name, n);
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
    size_t o = 0;
    for (; *s && o + 5 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch == 0x7f) o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
        else buf[o++] = (char)ch;
    }
    if (size) buf[o < size ? o : size - 1] = '\0';
}
