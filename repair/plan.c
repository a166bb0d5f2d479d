/* ckdoc.plan/1: read, check the schema and every action's fields. */
#include "plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

const char *const ck_raction_names[CK_ACT_COUNT] = {
    [CK_ACT_TRANSPOSE] = "transpose",
    [CK_ACT_RENAME] = "rename",
    [CK_ACT_DROP] = "drop",
    [CK_ACT_RESET_EXPERT_BIAS] = "reset_expert_bias",
    [CK_ACT_CAST] = "cast",
    [CK_ACT_REGATHER_EP] = "regather_ep",
};

#define CK_PLAN_MAX_BYTES (64u << 20)

int ck_rplan_cast_dtype_ok(ck_dtype d)
{
    return d == CK_F32 || d == CK_F16 || d == CK_BF16 || d == CK_F8_E4M3 || d == CK_F8_E5M2;
}

static int act_error(ck_error *err, const char *path, size_t i, const char *act, const char *key, const char *fmt,
                     ...) __attribute__((format(printf, 6, 7)));
static int act_error(ck_error *err, const char *path, size_t i, const char *act, const char *key, const char *fmt,
                     ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char what[80];
    ck_escape(what, sizeof what, act ? act : "?", act ? strlen(act) : 1);
    return ck_error_set(err, CK_E_USAGE, path, key, -1, "action %zu (%s): %s", i, what, msg);
}

/* A name a new tensor may take: UTF-8, no control characters, not the metadata key. */
static const char *bad_new_name(const char *s)
{
    if (!*s) return "is empty";
    if (!strcmp(s, "__metadata__")) return "is reserved by the safetensors format";
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (!n || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4)) return "is not UTF-8";
        uint32_t cp = n == 1 ? c : c & (0x7fu >> n);
        for (size_t k = 1; k < n; k++) {
            if ((p[k] & 0xc0) != 0x80) return "is not UTF-8";
            cp = cp << 6 | (p[k] & 0x3f);
        }
        if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return "is not UTF-8";
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || (cp >= 0x202a && cp <= 0x202e) ||
            (cp >= 0x2066 && cp <= 0x2069))
            return "holds control characters";
        p += n;
    }
    return NULL;
}

static const char *get_string(const cJSON *a, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, field);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static int parse_action(const char *path, size_t i, const cJSON *a, ck_raction *out, ck_error *err)
{
    if (!cJSON_IsObject(a)) return act_error(err, path, i, NULL, NULL, "an action must be a JSON object");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(a, "action");
    if (!cJSON_IsString(name) || !name->valuestring)
        return act_error(err, path, i, NULL, NULL, "missing \"action\" (a string)");
    const char *act = name->valuestring;
    int kind = -1;
    for (int k = 0; k < CK_ACT_COUNT; k++)
        if (!strcmp(act, ck_raction_names[k])) kind = k;
    if (kind < 0)
        return act_error(err, path, i, act, NULL,
                         "unknown action (known: transpose, rename, drop, reset_expert_bias, cast, regather_ep)");
    out->kind = (ck_raction_kind)kind;
    if (kind == CK_ACT_REGATHER_EP)
        return act_error(err, path, i, act, get_string(a, "key"),
                         "regather_ep needs the other expert-parallel ranks' shards; not supported yet");

    const char *key_field = kind == CK_ACT_RENAME ? "from" : "key";
    const cJSON *kv = cJSON_GetObjectItemCaseSensitive(a, key_field);
    if (!kv) return act_error(err, path, i, act, NULL, "missing \"%s\"", key_field);
    if (!cJSON_IsString(kv) || !kv->valuestring || !*kv->valuestring)
        return act_error(err, path, i, act, NULL, "\"%s\" must be a non-empty string", key_field);
    const char *key = kv->valuestring;
    if (!(out->key = strdup(key))) return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");

    switch (out->kind) {
    case CK_ACT_TRANSPOSE: {
        const cJSON *dims = cJSON_GetObjectItemCaseSensitive(a, "dims");
        if (dims) {
            const cJSON *d0 = cJSON_GetArrayItem(dims, 0), *d1 = cJSON_GetArrayItem(dims, 1);
            if (!cJSON_IsArray(dims) || cJSON_GetArraySize(dims) != 2 || !cJSON_IsNumber(d0) || !cJSON_IsNumber(d1) ||
                d0->valuedouble != -2 || d1->valuedouble != -1)
                return act_error(err, path, i, act, key, "\"dims\" must be [-2, -1] (the last two dimensions)");
        }
        break;
    }
    case CK_ACT_RENAME: {
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(a, "to");
        if (!to) return act_error(err, path, i, act, key, "missing \"to\"");
        if (!cJSON_IsString(to) || !to->valuestring) return act_error(err, path, i, act, key, "\"to\" must be a string");
        const char *why = bad_new_name(to->valuestring);
        if (why) return act_error(err, path, i, act, to->valuestring, "the new name %s", why);
        if (!(out->to = strdup(to->valuestring))) return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
        break;
    }
    case CK_ACT_DROP:
        break;
    case CK_ACT_RESET_EXPERT_BIAS:
    case CK_ACT_CAST: {
        if (out->kind == CK_ACT_RESET_EXPERT_BIAS) {
            const char *why = bad_new_name(key);
            if (why) return act_error(err, path, i, act, key, "the new tensor's name %s", why);
        }
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(a, "dtype");
        if (!dt) return act_error(err, path, i, act, key, "missing \"dtype\"");
        if (!cJSON_IsString(dt) || !dt->valuestring ||
            !ck_dtype_from_name(dt->valuestring, strlen(dt->valuestring), &out->dtype))
            return act_error(err, path, i, act, key, "\"dtype\" must be a safetensors dtype name (F32, BF16, ...)");
        if (out->kind == CK_ACT_CAST) {
            if (!ck_rplan_cast_dtype_ok(out->dtype))
                return act_error(err, path, i, act, key, "cast goes to F32, F16, BF16, F8_E4M3 or F8_E5M2, not %s",
                                 ck_dtype_name(out->dtype));
            break;
        }
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(a, "shape");
        if (!shape) return act_error(err, path, i, act, key, "missing \"shape\"");
        if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > CK_MAX_DIMS)
            return act_error(err, path, i, act, key, "\"shape\" must be an array of at most %d sizes", CK_MAX_DIMS);
        int nd = 0;
        const cJSON *d;
        cJSON_ArrayForEach(d, shape)
        {
            if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 9007199254740992.0 ||
                d->valuedouble != (double)(uint64_t)d->valuedouble)
                return act_error(err, path, i, act, key, "\"shape\" holds %s", "something that is not a size");
            out->shape[nd++] = (uint64_t)d->valuedouble;
        }
        out->ndim = nd;
        uint64_t numel, nbytes;
        if (ck_tensor_size(out->dtype, out->shape, nd, &numel, &nbytes) != 0)
            return act_error(err, path, i, act, key, "shape and dtype give no valid size");
        break;
    }
    default:
        break;
    }
    return 0;
}

int ck_rplan_parse(const char *path, const char *text, size_t len, ck_rplan *out, ck_error *err)
{
    memset(out, 0, sizeof *out);
    if (!(out->path = strdup(path))) return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        ck_error_set(err, CK_E_FORMAT, path, NULL, end ? (int64_t)(end - text) : -1, "not valid JSON");
        ck_rplan_free(out);
        return -1;
    }
    int rc = -1;
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
    const cJSON *actions = cJSON_GetObjectItemCaseSensitive(root, "actions");
    if (!cJSON_IsObject(root)) {
        ck_error_set(err, CK_E_FORMAT, path, NULL, -1, "a plan is a JSON object");
    } else if (!cJSON_IsString(schema) || !schema->valuestring) {
        ck_error_set(err, CK_E_FORMAT, path, NULL, -1, "no \"schema\": this is not a ckdoc plan (want \"%s\")",
                     CK_PLAN_SCHEMA);
    } else if (strcmp(schema->valuestring, CK_PLAN_SCHEMA) != 0) {
        char got[80];
        ck_escape(got, sizeof got, schema->valuestring, strlen(schema->valuestring));
        ck_error_set(err, CK_E_FORMAT, path, NULL, -1, "schema \"%s\" is not supported (want \"%s\")", got,
                     CK_PLAN_SCHEMA);
    } else if (!cJSON_IsArray(actions)) {
        ck_error_set(err, CK_E_FORMAT, path, NULL, -1, "\"actions\" must be an array");
    } else {
        size_t n = (size_t)cJSON_GetArraySize(actions);
        out->actions = calloc(n ? n : 1, sizeof *out->actions);
        if (!out->actions) {
            ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
        } else {
            const cJSON *a;
            rc = 0;
            cJSON_ArrayForEach(a, actions)
            {
                if (parse_action(path, out->n, a, &out->actions[out->n], err) < 0) {
                    out->n++;
                    rc = -1;
                    break;
                }
                out->n++;
            }
        }
    }
    cJSON_Delete(root);
    if (rc < 0) ck_rplan_free(out);
    return rc;
}

int ck_rplan_load(const char *path, ck_rplan *out, ck_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return ck_error_set(err, CK_E_IO, path, NULL, -1, "cannot open the plan: %s", strerror(errno));
    char *buf = malloc(CK_PLAN_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    }
    size_t len = fread(buf, 1, CK_PLAN_MAX_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad) rc = ck_error_set(err, CK_E_IO, path, NULL, -1, "cannot read the plan");
    else if (len > CK_PLAN_MAX_BYTES) rc = ck_error_set(err, CK_E_FORMAT, path, NULL, -1, "the plan is over 64 MiB");
    else rc = ck_rplan_parse(path, buf, len, out, err);
    free(buf);
    return rc;
}

void ck_rplan_free(ck_rplan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->actions[i].key);
        free(p->actions[i].to);
    }
    free(p->actions);
    free(p->path);
    memset(p, 0, sizeof *p);
}
