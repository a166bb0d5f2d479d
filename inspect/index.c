/* model.safetensors.index.json parser. The tree is parsed into a JSON arena (a DeepSeek-V3 index
 * is ~9 MB and 92,000 keys), then copied into flat arrays: one allocation for every string, one
 * for the entries, one for the shard names. */
#include "index.h"

#include "json_arena.h"
#include "jsonfile.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXACT_INTEGER 9007199254740992.0 /* 2^53: beyond it a double no longer holds every integer */

/* Offset of the `nth` (0-based) appearance of "key" used as an object key, or -1. Only error
 * paths call this, so a linear scan is fine; keys written with escapes are not found. */
static int64_t key_offset(const char *text, size_t len, const char *key, int nth)
{
    size_t klen = strlen(key);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q || (size_t)(end - q) < klen + 2) break;
        if (!memcmp(q + 1, key, klen) && q[klen + 1] == '"') {
            const char *r = q + klen + 2;
            while (r < end && (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')) r++;
            if (r < end && *r == ':' && nth-- == 0) return q - text;
        }
        p = q + 1;
    }
    return -1;
}

/* Why a shard file name could reach outside the index's directory or fool a terminal; NULL if
 * it is fine. The index names bare files: anything else is either a bug or an attack. */
static const char *bad_shard_name(const char *s)
{
    if (!s[0]) return "empty shard file name";
    if (!strcmp(s, ".") || !strcmp(s, "..")) return "shard file name is \".\" or \"..\"";
    if (s[0] == '/') return "shard file name is an absolute path";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '/' || *p == '\\') return "shard file name holds a path separator";
        if (*p < 0x20 || *p == 0x7f) return "shard file name holds a control character";
    }
    return NULL;
}

typedef struct {
    const char *key, *shard;
    size_t key_len;
    uint32_t id; /* run number, then shard number */
} raw_entry;

typedef struct {
    const char *shard;
    uint32_t run;
} shard_run;

static int by_key(const void *a, const void *b)
{
    const raw_entry *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int r = memcmp(x->key, y->key, n);
    return r ? r : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static int by_shard(const void *a, const void *b)
{
    const shard_run *x = a, *y = b;
    return strcmp(x->shard, y->shard);
}

static int count_key(const cJSON *obj, const char *key)
{
    int n = 0;
    for (const cJSON *c = obj->child; c; c = c->next) n += !strcmp(c->string, key);
    return n;
}

static int read_metadata(const char *path, const char *text, size_t len, const cJSON *meta, ck_index *out, ck_error *err)
{
    if (!cJSON_IsObject(meta))
        return ck_error_set(err, CK_E_FORMAT, path, "metadata", key_offset(text, len, "metadata", 0),
                            "\"metadata\" is not an object");
    if (count_key(meta, "total_size") > 1)
        return ck_error_set(err, CK_E_FORMAT, path, "total_size", key_offset(text, len, "total_size", 1),
                            "duplicate key \"total_size\"");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(meta, "total_size");
    if (!ts) return 0;
    int64_t at = key_offset(text, len, "total_size", 0);
    if (!cJSON_IsNumber(ts))
        return ck_error_set(err, CK_E_FORMAT, path, "total_size", at, "\"total_size\" is not a number");
    double v = ts->valuedouble;
    if (!(v >= 0.0) || v >= MAX_EXACT_INTEGER || v != (double)(uint64_t)v)
        return ck_error_set(err, CK_E_FORMAT, path, "total_size", at,
                            "\"total_size\" must be a whole number from 0 to 2^53-1, not %.17g", v);
    out->total_size = (uint64_t)v;
    out->has_total_size = true;
    return 0;
}

static int build(const char *path, const char *text, size_t len, const cJSON *root, ck_index *out, ck_error *err)
{
    if (!cJSON_IsObject(root)) return ck_error_set(err, CK_E_FORMAT, path, NULL, 0, "the index is not a JSON object");
    if (count_key(root, "weight_map") > 1)
        return ck_error_set(err, CK_E_FORMAT, path, "weight_map", key_offset(text, len, "weight_map", 1),
                            "duplicate key \"weight_map\"");
    if (count_key(root, "metadata") > 1)
        return ck_error_set(err, CK_E_FORMAT, path, "metadata", key_offset(text, len, "metadata", 1),
                            "duplicate key \"metadata\"");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (meta && read_metadata(path, text, len, meta, out, err) < 0) return -1;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!wm) return ck_error_set(err, CK_E_FORMAT, path, NULL, 0, "missing \"weight_map\"");
    if (!cJSON_IsObject(wm))
        return ck_error_set(err, CK_E_FORMAT, path, "weight_map", key_offset(text, len, "weight_map", 0),
                            "\"weight_map\" is not an object");

    size_t n = 0, bytes = 0;
    for (const cJSON *c = wm->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return ck_error_set(err, CK_E_FORMAT, path, c->string, key_offset(text, len, c->string, 0),
                                "weight_map value is not a string");
        const char *why = bad_shard_name(c->valuestring);
        if (why) return ck_error_set(err, CK_E_FORMAT, path, c->string, key_offset(text, len, c->string, 0), "%s", why);
        n++;
        bytes += strlen(c->string) + 1 + strlen(c->valuestring) + 1;
    }

    raw_entry *raw = malloc((n ? n : 1) * sizeof *raw);
    shard_run *runs = malloc((n ? n : 1) * sizeof *runs);
    uint32_t *run_shard = malloc((n ? n : 1) * sizeof *run_shard);
    out->arena = malloc(bytes ? bytes : 1);
    out->entries = malloc((n ? n : 1) * sizeof *out->entries);
    out->shards = malloc((n ? n : 1) * sizeof *out->shards);
    if (!raw || !runs || !run_shard || !out->arena || !out->entries || !out->shards) {
        free(raw);
        free(runs);
        free(run_shard);
        return ck_error_set(err, CK_E_NOMEM, path, NULL, -1, "out of memory");
    }

    /* Shard numbers: consecutive keys mostly share a shard, so only the runs of equal names
     * are sorted (a few hundred for 92,000 keys), not every entry. */
    size_t i = 0, n_runs = 0;
    for (const cJSON *c = wm->child; c; c = c->next, i++) {
        if (!n_runs || strcmp(runs[n_runs - 1].shard, c->valuestring))
            runs[n_runs] = (shard_run){c->valuestring, (uint32_t)n_runs}, n_runs++;
        raw[i] = (raw_entry){c->string, c->valuestring, strlen(c->string), (uint32_t)(n_runs - 1)};
    }
    qsort(runs, n_runs, sizeof *runs, by_shard);
    char *a = out->arena;
    for (i = 0; i < n_runs; i++) {
        if (i == 0 || strcmp(runs[i - 1].shard, runs[i].shard)) {
            size_t sl = strlen(runs[i].shard) + 1;
            memcpy(a, runs[i].shard, sl);
            out->shards[out->n_shards++] = a;
            a += sl;
        }
        run_shard[runs[i].run] = (uint32_t)(out->n_shards - 1);
    }
    for (i = 0; i < n; i++) raw[i].id = run_shard[raw[i].id];
    free(runs);
    free(run_shard);

    /* Writers sort weight_map, so check before sorting. cJSON keeps duplicate keys as separate
     * children: sorted, they sit next to each other. */
    bool sorted = true;
    for (i = 1; i < n && sorted; i++) sorted = by_key(&raw[i - 1], &raw[i]) < 0;
    if (!sorted) qsort(raw, n, sizeof *raw, by_key);
    for (i = 1; i < n; i++)
        if (!by_key(&raw[i - 1], &raw[i])) {
            int rc = ck_error_set(err, CK_E_FORMAT, path, raw[i].key, key_offset(text, len, raw[i].key, 1),
                                  "duplicate key in weight_map");
            free(raw);
            return rc;
        }
    for (i = 0; i < n; i++) {
        memcpy(a, raw[i].key, raw[i].key_len + 1);
        out->entries[i] = (ck_index_entry){a, raw[i].key_len, raw[i].id};
        a += raw[i].key_len + 1;
    }
    out->n_entries = n;
    free(raw);
    return 0;
}

int ck_index_parse(const char *path, const char *text, size_t len, ck_index *out, ck_error *err)
{
    memset(out, 0, sizeof *out);
    ck_json_arena arena = {0};
    cJSON *root = ck_json_parse_strict(path, text, len, &arena, err);
    if (!root) {
        ck_json_arena_free(&arena);
        return -1;
    }
    int rc = build(path, text, len, root, out, err);
    ck_json_arena_free(&arena);
    if (rc < 0) ck_index_free(out);
    return rc;
}

void ck_index_free(ck_index *idx)
{
    if (!idx) return;
    free(idx->entries);
    free(idx->shards);
    free(idx->arena);
    memset(idx, 0, sizeof *idx);
}
