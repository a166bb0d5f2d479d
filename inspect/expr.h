/* Shape expressions of the family specs: small integer/boolean expressions over config.json
 * fields, e.g. "nh * d", "cdiv(H, 128)", "n >= first_k_dense_replace",
 * "!(n in mlp_only_layers) && E > 0 && (n + 1) % decoder_sparse_step == 0", "head_dim ?? H / nh".
 *
 * Grammar (lowest precedence first):
 *   expr    := cond
 *   cond    := coalesce ( '?' expr ':' expr )?
 *   coalesce:= or ( '??' or )*                   a missing or null left side takes the right
 *   or      := and ( '||' and )*
 *   and     := cmp ( '&&' cmp )*
 *   cmp     := sum ( ('=='|'!='|'<'|'<='|'>'|'>='|'in') sum )?
 *   sum     := prod ( ('+'|'-') prod )*
 *   prod    := unary ( ('*'|'/'|'%') unary )*
 *   unary   := ('!'|'-') unary | primary
 *   primary := INT | STRING | IDENT | IDENT '(' args ')' | '(' expr ')'
 * Identifiers resolve through a caller-supplied lookup (spec variables, then config fields).
 * Functions: cdiv(a,b) ceil division, min, max, len(x), at(x,i) (array or string element),
 * has(name) (is the config field present and not null).
 * '/' must divide exactly: a shape that is not a whole number is a spec or config error, never
 * silently truncated. Arithmetic overflow is an error too. */
#ifndef CK_EXPR_H
#define CK_EXPR_H

#include <stdbool.h>
#include <stdint.h>

struct cJSON;

typedef enum { CK_V_MISSING, CK_V_NULL, CK_V_BOOL, CK_V_INT, CK_V_FLOAT, CK_V_STR, CK_V_JSON } ck_vtype;

typedef struct {
    ck_vtype type;
    int64_t i;                  /* BOOL (0/1) and INT */
    double f;                   /* FLOAT */
    const char *s;              /* STR: borrowed (config or expression text), s_len bytes */
    int s_len;
    const struct cJSON *json;   /* JSON: an array or object from the config */
} ck_value;

/* Resolve an identifier of `len` bytes. Return false if unknown (the value becomes MISSING). */
typedef bool (*ck_lookup_fn)(void *ctx, const char *name, int len, ck_value *out);

typedef struct {
    ck_lookup_fn lookup;
    void *ctx;
    int depth;                  /* recursion guard for variables defined by expressions */
} ck_expr_env;

/* Evaluate `text`. Returns 0 and sets *out, or -1 with a message in errbuf (which names the
 * expression and the position). */
int ck_expr_eval(const char *text, ck_expr_env *env, ck_value *out, char *errbuf, int errlen);

/* Convenience: evaluate to an integer / a truth value (INT non-zero or BOOL true). */
int ck_expr_int(const char *text, ck_expr_env *env, int64_t *out, char *errbuf, int errlen);
int ck_expr_bool(const char *text, ck_expr_env *env, bool *out, char *errbuf, int errlen);

/* A cJSON value as an expression value (numbers that are whole become INT). */
ck_value ck_value_from_json(const struct cJSON *j);

#endif
