/* Plan list operations. Actions are kept as cJSON objects so that whatever a finding's fix holds
 * (keys, dims, layer, ep_size, ...) reaches the file unchanged. */
#include "plan.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repair/atomic.h"
#include "tui/text.h"

int ck_plan_add(ck_plan *p, const ck_finding *f)
{
    if (!f->fix) return -1;
    cJSON *a = cJSON_Duplicate(f->fix, 1);
    if (!a) return -1;
    cJSON_AddStringToObject(a, "finding", ck_code_names[f->code]);
    for (size_t i = 0; i < p->n; i++)
        if (cJSON_Compare(p->items[i], a, 1)) {
            cJSON_Delete(a);
            return 0;
        }
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        cJSON **items = realloc(p->items, cap * sizeof *items);
        if (!items) { cJSON_Delete(a); return -1; }
        p->items = items, p->cap = cap;
    }
    p->items[p->n++] = a;
    p->dirty = true;
    return 1;
}

void ck_plan_remove(ck_plan *p, size_t i)
{
    if (i >= p->n) return;
    cJSON_Delete(p->items[i]);
    memmove(p->items + i, p->items + i + 1, (p->n - i - 1) * sizeof *p->items);
    p->n--;
    p->dirty = true;
}

size_t ck_plan_move(ck_plan *p, size_t i, int dir)
{
    if (i >= p->n) return i;
    size_t j = dir < 0 ? (i ? i - 1 : i) : (i + 1 < p->n ? i + 1 : i);
    if (j == i) return i;
    cJSON *t = p->items[i];
    p->items[i] = p->items[j];
    p->items[j] = t;
    p->dirty = true;
    return j;
}

char *ck_plan_to_json(const ck_plan *p, const char *source)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "ckdoc.plan/1");
    cJSON_AddStringToObject(root, "source", source);
    cJSON *actions = cJSON_AddArrayToObject(root, "actions");
    for (size_t i = 0; i < p->n; i++) cJSON_AddItemToArray(actions, cJSON_Duplicate(p->items[i], 1));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

int ck_plan_save(ck_plan *p, const char *source, const char *path, ck_error *err)
{
    char *text = ck_plan_to_json(p, source);
    if (!text) return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    size_t len = strlen(text);
    /* one trailing newline, as text files end */
    char *out = realloc(text, len + 2);
    if (!out) { free(text); return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory"); }
    out[len] = '\n', out[len + 1] = '\0';
    int rc = ck_atomic_write_file(path, out, len + 1, err);
    free(out);
    if (rc == 0) p->dirty = false;
    return rc;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

void ck_plan_describe(const ck_plan *p, size_t i, char *buf, size_t size)
{
    if (i >= p->n) { snprintf(buf, size, "?"); return; }
    const cJSON *a = p->items[i];
    const char *action = str(a, "action"), *key = str(a, "key"), *from = str(a, "from"), *to = str(a, "to");
    char k[600], k2[600];
    const cJSON *layer = cJSON_GetObjectItemCaseSensitive(a, "layer"), *ep = cJSON_GetObjectItemCaseSensitive(a, "ep_size");
    if (key) {
        ck_esc(k, sizeof k, key, strlen(key));
        snprintf(buf, size, "%s %s", action ? action : "?", k);
    } else if (from && to) {
        ck_esc(k, sizeof k, from, strlen(from));
        ck_esc(k2, sizeof k2, to, strlen(to));
        snprintf(buf, size, "%s %s -> %s", action ? action : "?", k, k2);
    } else if (cJSON_IsNumber(layer)) {
        snprintf(buf, size, "%s layer %d%s", action ? action : "?", layer->valueint, "");
        if (cJSON_IsNumber(ep)) {
            size_t o = strlen(buf);
            snprintf(buf + o, size - o, " (EP=%d)", ep->valueint);
        }
    } else {
        snprintf(buf, size, "%s", action ? action : "?");
    }
}

void ck_plan_free(ck_plan *p)
{
    for (size_t i = 0; i < p->n; i++) cJSON_Delete(p->items[i]);
    free(p->items);
    memset(p, 0, sizeof *p);
}
