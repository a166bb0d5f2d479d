/* JSON writer: see json_out.h. */
#include "json_out.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ckg_j_init(ckg_json *j)
{
    memset(j, 0, sizeof *j);
    j->empty[0] = true;
}

static void put(ckg_json *j, const char *s, size_t n)
{
    if (j->failed) return;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 1024;
        while (j->len + n + 1 > cap) cap *= 2;
        char *b = realloc(j->buf, cap);
        if (!b) {
            j->failed = true;
            return;
        }
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void puts_(ckg_json *j, const char *s) { put(j, s, strlen(s)); }

static void indent(ckg_json *j)
{
    put(j, "\n", 1);
    for (int i = 0; i < j->depth; i++) put(j, "  ", 2);
}

static void quoted(ckg_json *j, const char *s)
{
    put(j, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(j, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            puts_(j, esc);
        } else {
            put(j, (const char *)&c, 1);
        }
    }
    put(j, "\"", 1);
}

/* Separator, newline, indentation and key before any value. */
static void start_value(ckg_json *j, const char *key)
{
    if (j->depth > 0) {
        if (!j->empty[j->depth]) put(j, ",", 1);
        indent(j);
    }
    j->empty[j->depth] = false;
    if (key) {
        quoted(j, key);
        put(j, ": ", 2);
    }
}

static void open_(ckg_json *j, const char *key, const char *bracket)
{
    start_value(j, key);
    puts_(j, bracket);
    if (j->depth + 1 >= CKG_JSON_MAX_DEPTH) {
        j->failed = true;
        return;
    }
    j->empty[++j->depth] = true;
}

static void close_(ckg_json *j, const char *bracket)
{
    if (j->depth <= 0) {
        j->failed = true;
        return;
    }
    bool was_empty = j->empty[j->depth--];
    if (!was_empty) indent(j);
    puts_(j, bracket);
}

void ckg_j_obj(ckg_json *j, const char *key) { open_(j, key, "{"); }
void ckg_j_arr(ckg_json *j, const char *key) { open_(j, key, "["); }
void ckg_j_end_obj(ckg_json *j) { close_(j, "}"); }
void ckg_j_end_arr(ckg_json *j) { close_(j, "]"); }

void ckg_j_int(ckg_json *j, const char *key, long long v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    ckg_j_raw(j, key, b);
}

void ckg_j_raw(ckg_json *j, const char *key, const char *literal)
{
    start_value(j, key);
    puts_(j, literal);
}

void ckg_j_str(ckg_json *j, const char *key, const char *s)
{
    start_value(j, key);
    quoted(j, s);
}

void ckg_j_bool(ckg_json *j, const char *key, bool v) { ckg_j_raw(j, key, v ? "true" : "false"); }
void ckg_j_null(ckg_json *j, const char *key) { ckg_j_raw(j, key, "null"); }

void ckg_j_strs(ckg_json *j, const char *key, const char *const *items, size_t n)
{
    ckg_j_arr(j, key);
    for (size_t i = 0; i < n; i++) ckg_j_str(j, NULL, items[i]);
    ckg_j_end_arr(j);
}

void ckg_j_ints(ckg_json *j, const char *key, const int *items, size_t n)
{
    ckg_j_arr(j, key);
    for (size_t i = 0; i < n; i++) ckg_j_int(j, NULL, items[i]);
    ckg_j_end_arr(j);
}

char *ckg_j_finish(ckg_json *j)
{
    put(j, "\n", 1);
    if (j->failed || j->depth != 0) {
        free(j->buf);
        j->buf = NULL;
        return NULL;
    }
    char *out = j->buf;
    j->buf = NULL;
    return out;
}
