/* Recursive-descent evaluator for the spec expressions (grammar in expr.h). It evaluates while it
 * parses; branches that short-circuit (&&, ||, ??, ?:) are parsed with `live` false, which checks
 * their syntax but neither looks anything up nor reports semantic errors. */
#include "expr.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct {
    const char *text, *p;
    ck_expr_env *env;
    char *err;
    int errlen;
    bool failed;
    int nesting;
} parser;

static ck_value make_int(int64_t i) { return (ck_value){.type = CK_V_INT, .i = i}; }
static ck_value make_bool(bool b) { return (ck_value){.type = CK_V_BOOL, .i = b}; }

static ck_value fail(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static ck_value fail(parser *ps, const char *fmt, ...)
{
    if (!ps->failed) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(ps->err, (size_t)ps->errlen, "in \"%s\" at column %d: %s", ps->text,
                 (int)(ps->p - ps->text) + 1, msg);
        ps->failed = true;
    }
    return (ck_value){.type = CK_V_MISSING};
}

ck_value ck_value_from_json(const cJSON *j)
{
    if (!j) return (ck_value){.type = CK_V_MISSING};
    if (cJSON_IsNull(j)) return (ck_value){.type = CK_V_NULL};
    if (cJSON_IsBool(j)) return make_bool(cJSON_IsTrue(j));
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0) return make_int((int64_t)d);
        return (ck_value){.type = CK_V_FLOAT, .f = d};
    }
    if (cJSON_IsString(j)) return (ck_value){.type = CK_V_STR, .s = j->valuestring, .s_len = (int)strlen(j->valuestring)};
    return (ck_value){.type = CK_V_JSON, .json = j};
}

static void skip_ws(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t') ps->p++;
}

static bool accept(parser *ps, const char *tok)
{
    skip_ws(ps);
    size_t n = strlen(tok);
    if (strncmp(ps->p, tok, n) != 0) return false;
    /* "in" is a word: do not take it from the front of an identifier such as "intermediate". */
    if (isalpha((unsigned char)tok[0]) && (isalnum((unsigned char)ps->p[n]) || ps->p[n] == '_')) return false;
    ps->p += n;
    return true;
}

static const char *type_name(ck_vtype t)
{
    static const char *names[] = {"missing", "null", "boolean", "integer", "number", "string", "array/object"};
    return names[t];
}

/* An operand that must be an integer (booleans count as 0/1). */
static bool want_int(parser *ps, ck_value v, int64_t *out)
{
    if (ps->failed) return false;
    if (v.type == CK_V_INT || v.type == CK_V_BOOL) { *out = v.i; return true; }
    if (v.type == CK_V_MISSING) {
        if (v.s) fail(ps, "config field \"%.*s\" is missing", v.s_len, v.s);
        else fail(ps, "missing value");
    } else {
        fail(ps, "expected an integer, got a %s", type_name(v.type));
    }
    return false;
}

static bool truthy(parser *ps, ck_value v, bool *out)
{
    if (ps->failed) return false;
    if (v.type == CK_V_BOOL || v.type == CK_V_INT) { *out = v.i != 0; return true; }
    if (v.type == CK_V_NULL) { *out = false; return true; }
    if (v.type == CK_V_MISSING && v.s) { fail(ps, "config field \"%.*s\" is missing", v.s_len, v.s); return false; }
    fail(ps, "expected a truth value, got a %s", type_name(v.type));
    return false;
}

static bool values_equal(ck_value a, ck_value b)
{
    bool a_num = a.type == CK_V_INT || a.type == CK_V_BOOL, b_num = b.type == CK_V_INT || b.type == CK_V_BOOL;
    if (a_num && b_num) return a.i == b.i;
    if (a.type == CK_V_STR && b.type == CK_V_STR) return a.s_len == b.s_len && !memcmp(a.s, b.s, (size_t)a.s_len);
    if (a.type == CK_V_NULL && b.type == CK_V_NULL) return true;
    return false;
}

static ck_value parse_expr(parser *ps, bool live);

static ck_value call(parser *ps, const char *name, int len, bool live)
{
    ck_value args[4];
    int n = 0;
    skip_ws(ps);
    if (!accept(ps, ")")) {
        do {
            if (n == 4) return fail(ps, "too many arguments");
            args[n++] = parse_expr(ps, live);
        } while (accept(ps, ","));
        if (!accept(ps, ")")) return fail(ps, "expected ')' after arguments");
    }
    if (!live || ps->failed) return make_int(0);
#define IS(fn, argc) (len == (int)strlen(fn) && !strncmp(name, fn, (size_t)len) && n == (argc))
    int64_t a, b;
    if (IS("cdiv", 2)) {
        if (!want_int(ps, args[0], &a) || !want_int(ps, args[1], &b)) return args[0];
        if (b <= 0 || a < 0) return fail(ps, "cdiv(%lld, %lld) needs a >= 0 and b > 0", (long long)a, (long long)b);
        return make_int(a / b + (a % b != 0));
    }
    if (IS("min", 2) || IS("max", 2)) {
        if (!want_int(ps, args[0], &a) || !want_int(ps, args[1], &b)) return args[0];
        return make_int(name[1] == 'i' ? (a < b ? a : b) : (a > b ? a : b));
    }
    if (IS("has", 1)) return make_bool(args[0].type != CK_V_MISSING && args[0].type != CK_V_NULL);
    if (IS("len", 1)) {
        if (args[0].type == CK_V_STR) return make_int(args[0].s_len);
        if (args[0].type == CK_V_JSON) return make_int(cJSON_GetArraySize(args[0].json));
        return fail(ps, "len() of a %s", type_name(args[0].type));
    }
    if (IS("at", 2)) {
        if (!want_int(ps, args[1], &b)) return args[1];
        if (args[0].type == CK_V_STR) {
            if (b < 0 || b >= args[0].s_len) return fail(ps, "index %lld outside a string of %d characters", (long long)b, args[0].s_len);
            return (ck_value){.type = CK_V_STR, .s = args[0].s + b, .s_len = 1};
        }
        if (args[0].type == CK_V_JSON && cJSON_IsArray(args[0].json)) {
            const cJSON *item = cJSON_GetArrayItem(args[0].json, (int)b);
            if (b < 0 || !item) return fail(ps, "index %lld outside the array", (long long)b);
            return ck_value_from_json(item);
        }
        return fail(ps, "at() of a %s", type_name(args[0].type));
    }
#undef IS
    return fail(ps, "unknown function %.*s/%d", len, name, n);
}

static ck_value parse_primary(parser *ps, bool live)
{
    skip_ws(ps);
    const char *start = ps->p;
    if (isdigit((unsigned char)*ps->p)) {
        int64_t v = 0;
        while (isdigit((unsigned char)*ps->p)) {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *ps->p - '0', &v))
                return fail(ps, "integer literal too large");
            ps->p++;
        }
        return make_int(v);
    }
    if (*ps->p == '"' || *ps->p == '\'') {
        char q = *ps->p++;
        const char *s = ps->p;
        while (*ps->p && *ps->p != q) ps->p++;
        if (!*ps->p) return fail(ps, "unterminated string");
        ck_value v = {.type = CK_V_STR, .s = s, .s_len = (int)(ps->p - s)};
        ps->p++;
        return v;
    }
    if (isalpha((unsigned char)*ps->p) || *ps->p == '_') {
        while (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '.') ps->p++;
        int len = (int)(ps->p - start);
        if (accept(ps, "(")) return call(ps, start, len, live);
        if (len == 4 && !strncmp(start, "true", 4)) return make_bool(true);
        if (len == 5 && !strncmp(start, "false", 5)) return make_bool(false);
        if (len == 4 && !strncmp(start, "null", 4)) return (ck_value){.type = CK_V_NULL};
        if (!live) return make_int(0);
        ck_value v = {.type = CK_V_MISSING};
        if (!ps->env->lookup(ps->env->ctx, start, len, &v)) v = (ck_value){.type = CK_V_MISSING};
        if (v.type == CK_V_MISSING) { v.s = start; v.s_len = len; }
        return v;
    }
    if (accept(ps, "(")) {
        ck_value v = parse_expr(ps, live);
        if (!accept(ps, ")")) return fail(ps, "expected ')'");
        return v;
    }
    return fail(ps, *ps->p ? "unexpected character '%c'" : "unexpected end%c", *ps->p ? *ps->p : '.');
}

static ck_value parse_unary(parser *ps, bool live)
{
    if (++ps->nesting > MAX_DEPTH) return fail(ps, "expression nested too deeply");
    ck_value r;
    if (accept(ps, "!")) {
        ck_value v = parse_unary(ps, live);
        bool b = false;
        r = (!live || !truthy(ps, v, &b)) ? make_bool(false) : make_bool(!b);
    } else if (accept(ps, "-")) {
        ck_value v = parse_unary(ps, live);
        int64_t i = 0;
        r = (!live || !want_int(ps, v, &i)) ? make_int(0) : make_int(-i);
    } else {
        r = parse_primary(ps, live);
    }
    ps->nesting--;
    return r;
}

static ck_value parse_prod(parser *ps, bool live)
{
    ck_value v = parse_unary(ps, live);
    for (;;) {
        char op;
        if (accept(ps, "*")) op = '*';
        else if (accept(ps, "/")) op = '/';
        else if (accept(ps, "%")) op = '%';
        else return v;
        ck_value w = parse_unary(ps, live);
        if (!live) continue;
        int64_t a, b, r = 0;
        if (!want_int(ps, v, &a) || !want_int(ps, w, &b)) return v;
        if (op == '*') {
            if (__builtin_mul_overflow(a, b, &r)) return fail(ps, "overflow in %lld * %lld", (long long)a, (long long)b);
        } else {
            if (b == 0) return fail(ps, "division by zero");
            if (op == '/' && a % b != 0)
                return fail(ps, "%lld / %lld is not a whole number", (long long)a, (long long)b);
            r = op == '/' ? a / b : a % b;
        }
        v = make_int(r);
    }
}

static ck_value parse_sum(parser *ps, bool live)
{
    ck_value v = parse_prod(ps, live);
    for (;;) {
        bool plus;
        if (accept(ps, "+")) plus = true;
        else if (accept(ps, "-")) plus = false;
        else return v;
        ck_value w = parse_prod(ps, live);
        if (!live) continue;
        int64_t a, b, r;
        if (!want_int(ps, v, &a) || !want_int(ps, w, &b)) return v;
        if (plus ? __builtin_add_overflow(a, b, &r) : __builtin_sub_overflow(a, b, &r))
            return fail(ps, "overflow");
        v = make_int(r);
    }
}

static ck_value parse_cmp(parser *ps, bool live)
{
    ck_value v = parse_sum(ps, live);
    static const char *ops[] = {"==", "!=", "<=", ">=", "<", ">", "in"};
    for (int k = 0; k < 7; k++) {
        if (!accept(ps, ops[k])) continue;
        ck_value w = parse_sum(ps, live);
        if (!live || ps->failed) return make_bool(false);
        if (k == 6) { /* x in array (a missing or null list holds nothing) */
            if (w.type == CK_V_MISSING || w.type == CK_V_NULL) return make_bool(false);
            if (w.type != CK_V_JSON || !cJSON_IsArray(w.json)) return fail(ps, "'in' needs an array on its right");
            for (const cJSON *e = w.json->child; e; e = e->next)
                if (values_equal(v, ck_value_from_json(e))) return make_bool(true);
            return make_bool(false);
        }
        if (k < 2) {
            if (v.type == CK_V_MISSING && v.s) return fail(ps, "config field \"%.*s\" is missing", v.s_len, v.s);
            if (w.type == CK_V_MISSING && w.s) return fail(ps, "config field \"%.*s\" is missing", w.s_len, w.s);
            return make_bool(values_equal(v, w) == (k == 0));
        }
        int64_t a, b;
        if (!want_int(ps, v, &a) || !want_int(ps, w, &b)) return make_bool(false);
        bool r = k == 2 ? a <= b : k == 3 ? a >= b : k == 4 ? a < b : a > b;
        return make_bool(r);
    }
    return v;
}

static ck_value parse_and(parser *ps, bool live)
{
    ck_value v = parse_cmp(ps, live);
    while (accept(ps, "&&")) {
        bool a = false;
        bool left_true = live && truthy(ps, v, &a) && a;
        ck_value w = parse_cmp(ps, left_true);
        if (!live) continue;
        bool b = false;
        v = make_bool(left_true && truthy(ps, w, &b) && b);
    }
    return v;
}

static ck_value parse_or(parser *ps, bool live)
{
    ck_value v = parse_and(ps, live);
    while (accept(ps, "||")) {
        bool a = false;
        bool left_true = live && truthy(ps, v, &a) && a;
        ck_value w = parse_and(ps, live && !left_true && !ps->failed);
        if (!live) continue;
        bool b = false;
        v = make_bool(left_true || (truthy(ps, w, &b) && b));
    }
    return v;
}

/* "a ?? b": b where a is missing or null. Looser than arithmetic and logic, so that
 * "head_dim ?? H / nh" means head_dim ?? (H / nh). */
static ck_value parse_coalesce(parser *ps, bool live)
{
    ck_value v = parse_or(ps, live);
    while (accept(ps, "??")) {
        bool take = live && !ps->failed && (v.type == CK_V_MISSING || v.type == CK_V_NULL);
        ck_value alt = parse_or(ps, take);
        if (take) v = alt;
    }
    return v;
}

static ck_value parse_expr(parser *ps, bool live)
{
    if (++ps->nesting > MAX_DEPTH) return fail(ps, "expression nested too deeply");
    ck_value c = parse_coalesce(ps, live);
    if (accept(ps, "?")) {
        bool b = false;
        bool ok = live && truthy(ps, c, &b);
        ck_value t = parse_expr(ps, ok && b);
        if (!accept(ps, ":")) return fail(ps, "expected ':' in a conditional");
        ck_value f = parse_expr(ps, ok && !b);
        c = !live ? make_int(0) : b ? t : f;
    }
    ps->nesting--;
    return c;
}

int ck_expr_eval(const char *text, ck_expr_env *env, ck_value *out, char *errbuf, int errlen)
{
    if (env->depth > MAX_DEPTH) {
        snprintf(errbuf, (size_t)errlen, "in \"%s\": variables refer to each other too deeply (a cycle?)", text);
        return -1;
    }
    parser ps = {text, text, env, errbuf, errlen, false, 0};
    ck_value v = parse_expr(&ps, true);
    skip_ws(&ps);
    if (!ps.failed && *ps.p) fail(&ps, "unexpected '%s'", ps.p);
    if (ps.failed) return -1;
    *out = v;
    return 0;
}

int ck_expr_int(const char *text, ck_expr_env *env, int64_t *out, char *errbuf, int errlen)
{
    ck_value v;
    if (ck_expr_eval(text, env, &v, errbuf, errlen) < 0) return -1;
    parser ps = {text, text + strlen(text), env, errbuf, errlen, false, 0};
    return want_int(&ps, v, out) ? 0 : -1;
}

int ck_expr_bool(const char *text, ck_expr_env *env, bool *out, char *errbuf, int errlen)
{
    ck_value v;
    if (ck_expr_eval(text, env, &v, errbuf, errlen) < 0) return -1;
    parser ps = {text, text + strlen(text), env, errbuf, errlen, false, 0};
    return truthy(&ps, v, out) ? 0 : -1;
}
