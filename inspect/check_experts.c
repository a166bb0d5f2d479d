/* Expert checks: which experts of each MoE layer are there (and whether the gap is the signature
 * of an expert-parallel export that saved local ids), and which experts hold identical bytes (the
 * symptom of ranks overwriting each other's files). */
#include "check_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- missing experts ----------------------------------------------------------------- */

/* "0-63, 128, 130-131" (truncated with "..." when long). */
static void id_ranges(char *buf, size_t size, const unsigned char *mask, int64_t n, bool want)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int64_t i = 0; i < n; i++) {
        if ((mask[i] != 0) != want) continue;
        int64_t j = i;
        while (j + 1 < n && (mask[j + 1] != 0) == want) j++;
        int w = j > i ? snprintf(buf + o, size - o, "%s%lld-%lld", o ? ", " : "", (long long)i, (long long)j)
                      : snprintf(buf + o, size - o, "%s%lld", o ? ", " : "", (long long)i);
        if (w < 0 || (size_t)w >= size - o) {
            if (size > 4) snprintf(buf + size - 4, 4, "...");
            return;
        }
        o += (size_t)w;
        i = j;
    }
}

static void missing_experts(ck_check_ctx *c)
{
    const ck_expectation *x = c->x;
    int64_t L = x->layers, E = x->experts;
    if (E <= 0 || L <= 0) return;
    unsigned char *present = calloc((size_t)(L * E), 1), *expected = calloc((size_t)L, 1);
    if (!present || !expected) { free(present); free(expected); return; }
    for (size_t i = 0; i < x->n_items; i++) {
        const ck_expected *it = &x->items[i];
        if (it->expert < 0 || it->layer < 0 || it->layer >= L || it->expert >= E) continue;
        expected[it->layer] = 1;
        if (c->present[i] >= 0) present[it->layer * E + it->expert] = 1;
    }
    for (int64_t l = 0; l < L; l++) {
        if (!expected[l]) continue;
        const unsigned char *m = present + l * E;
        int64_t p = 0, first = -1, last = -1;
        for (int64_t e = 0; e < E; e++)
            if (m[e]) { p++; if (first < 0) first = e; last = e; }
        if (p == E) continue;
        /* Whole experts are gone: one finding for the layer instead of a MISSING_KEY per key. */
        for (size_t i = 0; i < x->n_items; i++) {
            const ck_expected *it = &x->items[i];
            if (it->layer == l && it->expert >= 0 && !m[it->expert] && c->present[i] == CK_ABSENT)
                c->present[i] = CK_ACCOUNTED;
        }
        char have[256], miss[256];
        id_ranges(have, sizeof have, m, E, true);
        id_ranges(miss, sizeof miss, m, E, false);
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddNumberToObject(ev, "present", (double)p);
        cJSON_AddNumberToObject(ev, "expected", (double)E);
        cJSON_AddStringToObject(ev, "present_ids", have);
        cJSON_AddStringToObject(ev, "missing_ids", miss);
        char key[64];
        snprintf(key, sizeof key, "layer %lld experts", (long long)l);
        bool block = p > 0 && last - first + 1 == p && E % p == 0 && first % p == 0 && E / p > 1;
        if (block) {
            int64_t ep = E / p;
            cJSON_AddNumberToObject(ev, "ep_size", (double)ep);
            cJSON *fix = cJSON_CreateObject();
            cJSON_AddStringToObject(fix, "action", "regather_ep");
            cJSON_AddNumberToObject(fix, "layer", (double)l);
            cJSON_AddNumberToObject(fix, "ep_size", (double)ep);
            cJSON_AddNumberToObject(fix, "present_first", (double)first);
            ck_finding_add(c->f, CK_F_MISSING_EXPERTS, CK_SEV_ERROR, key, (int)l, ev, fix,
                           "%lld of %lld experts present (ids %s): one block of E/%lld, the pattern of an expert-parallel "
                           "export with EP=%lld that saved local expert ids; re-gather the other ranks' shards",
                           (long long)p, (long long)E, have, (long long)ep, (long long)ep);
        } else {
            ck_finding_add(c->f, CK_F_MISSING_EXPERTS, CK_SEV_ERROR, key, (int)l, ev, NULL,
                           "%lld of %lld experts present; missing ids %s", (long long)p, (long long)E, miss);
        }
    }
    free(present);
    free(expected);
}

/* ---- duplicate experts ----------------------------------------------------------------- */

typedef struct {
    int rule;            /* projection */
    int layer;
    bool live;           /* has a fingerprint (read, and not all zero) */
    int expert;
    const ck_entry *e;
    uint64_t offset;     /* of this expert's bytes inside the entry (fused tensors hold all experts) */
    uint64_t nbytes;
    uint64_t print;      /* fingerprint of a sample */
} expert_blob;

#define SAMPLE 1024 /* bytes: 512 BF16 values; trained experts never share them */

/* Hash the first SAMPLE bytes and the length, read with pread: one page per expert finds the
 * candidates, and a full comparison then confirms
 * them, so the result is exact. All-zero samples are left to --deep's ALL_ZERO check (sparse or
 * never-written tensors would all be "duplicates"). */
static bool fingerprint(ck_checkpoint *ck, expert_blob *b)
{
    static const uint8_t zeros[SAMPLE];
    uint8_t buf[SAMPLE];
    uint64_t n = b->nbytes;
    size_t len = (size_t)(n < SAMPLE ? n : SAMPLE);
    if (ck_entry_read(ck, b->e, b->offset, buf, len) < 0 || !memcmp(buf, zeros, len)) return false;
    b->print = XXH3_64bits_withSeed(buf, len, n);
    return true;
}

typedef struct {
    ck_checkpoint *ck;
    expert_blob *blobs;
    size_t from, to;
} fp_job;

static void *fingerprint_range(void *arg)
{
    fp_job *j = arg;
    for (size_t i = j->from; i < j->to; i++) j->blobs[i].live = fingerprint(j->ck, &j->blobs[i]);
    return NULL;
}

static void fingerprint_all(ck_checkpoint *ck, expert_blob *blobs, size_t n, int threads)
{
    enum { MAX_READERS = 8 };
    int k = threads > 0 ? threads : 4;
    if (k < 2) k = 2; /* the reads wait on storage, not on a core */
    if (k > MAX_READERS) k = MAX_READERS;
    if ((size_t)k > n) k = n ? (int)n : 1;
    fp_job jobs[MAX_READERS];
    pthread_t tid[MAX_READERS];
    bool started[MAX_READERS] = {false};
    for (int t = 0; t < k; t++) {
        jobs[t] = (fp_job){ck, blobs, n * (size_t)t / (size_t)k, n * (size_t)(t + 1) / (size_t)k};
        started[t] = t > 0 && pthread_create(&tid[t], NULL, fingerprint_range, &jobs[t]) == 0;
        if (t > 0 && !started[t]) fingerprint_range(&jobs[t]);
    }
    fingerprint_range(&jobs[0]);
    for (int t = 1; t < k; t++)
        if (started[t]) pthread_join(tid[t], NULL);
}

/* Byte-for-byte, through the mapping (only for candidates). */
static bool same_bytes(ck_checkpoint *ck, const expert_blob *a, const expert_blob *b)
{
    const uint8_t *pa = ck_entry_data(ck, a->e), *pb = ck_entry_data(ck, b->e);
    return pa && pb && a->nbytes == b->nbytes && !memcmp(pa + a->offset, pb + b->offset, a->nbytes);
}

static int cmp_blob(const void *pa, const void *pb)
{
    const expert_blob *a = pa, *b = pb;
    if (a->rule != b->rule) return a->rule < b->rule ? -1 : 1;
    if (a->print != b->print) return a->print < b->print ? -1 : 1;
    if (a->nbytes != b->nbytes) return a->nbytes < b->nbytes ? -1 : 1;
    return (a->expert > b->expert) - (a->expert < b->expert);
}

static const char *rule_short_name(const ck_expectation *x, const ck_expected *it)
{
    (void)x;
    /* the last dotted component that is not "weight": "down_proj" of "...experts.3.down_proj.weight" */
    const char *k = it->key, *end = k + strlen(k);
    if (end - k > 7 && !strcmp(end - 7, ".weight")) end -= 7;
    const char *dot = end;
    while (dot > k && dot[-1] != '.') dot--;
    static _Thread_local char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(end - dot), dot);
    return name;
}

static void duplicates_in_layer(ck_check_ctx *c, int64_t layer, expert_blob *blobs, size_t n)
{
    qsort(blobs, n, sizeof *blobs, cmp_blob);
    cJSON *groups = NULL;
    char summary[512];
    size_t so = 0, n_groups = 0;
    summary[0] = '\0';
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && blobs[j].rule == blobs[i].rule && blobs[j].print == blobs[i].print && blobs[j].nbytes == blobs[i].nbytes) j++;
        if (j - i > 1) {
            /* Confirm byte for byte against the run's first member. */
            cJSON *ids = cJSON_CreateArray();
            int members = 0;
            for (size_t k = i; k < j; k++) {
                if (k > i && !same_bytes(c->ck, &blobs[k], &blobs[i])) continue;
                cJSON_AddItemToArray(ids, cJSON_CreateNumber(blobs[k].expert));
                members++;
            }
            if (members > 1) {
                const ck_expected *it = NULL;
                for (size_t q = 0; q < c->x->n_items && !it; q++)
                    if (c->x->items[q].rule == blobs[i].rule) it = &c->x->items[q];
                const char *proj = it ? rule_short_name(c->x, it) : "?";
                if (!groups) groups = cJSON_CreateArray();
                cJSON *g = cJSON_CreateObject();
                cJSON_AddStringToObject(g, "projection", proj);
                cJSON_AddItemToObject(g, "experts", ids);
                cJSON_AddItemToArray(groups, g);
                if (n_groups++ < 4 && so < sizeof summary) {
                    int w = snprintf(summary + so, sizeof summary - so, "%s%s: experts", so ? "; " : "", proj);
                    if (w > 0) so += (size_t)w;
                    for (const cJSON *id = ids->child; id && so < sizeof summary; id = id->next) {
                        w = snprintf(summary + so, sizeof summary - so, " %d", (int)id->valuedouble);
                        if (w > 0) so += (size_t)w;
                    }
                }
            } else {
                cJSON_Delete(ids);
            }
        }
        i = j;
    }
    if (!groups) return;
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddItemToObject(ev, "groups", groups);
    char key[64];
    snprintf(key, sizeof key, "layer %lld experts", (long long)layer);
    ck_finding_add(c->f, CK_F_DUPLICATE_EXPERTS, CK_SEV_ERROR, key, (int)layer, ev, NULL,
                   "experts with byte-identical weights (%s%s): a symptom of ranks overwriting each other's experts; "
                   "re-export from the training checkpoint",
                   summary, n_groups > 4 ? "; ..." : "");
}

static void duplicate_experts(ck_check_ctx *c)
{
    const ck_expectation *x = c->x;
    if (c->opt->index_only || x->experts <= 1) return;
    size_t cap = 1024, n = 0;
    expert_blob *blobs = malloc(cap * sizeof *blobs);
    if (!blobs) return;
    /* Items of each layer, found once: a layer-by-layer scan of all items would be
     * layers x items (6 million steps for DeepSeek-V3). */
    size_t *start = calloc((size_t)x->layers + 2, sizeof *start), *order = malloc((x->n_items + 1) * sizeof *order);
    if (!start || !order) {
        free(start), free(order), free(blobs);
        return;
    }
    for (size_t i = 0; i < x->n_items; i++)
        if (x->items[i].layer >= 0 && x->items[i].layer < x->layers) start[x->items[i].layer + 1]++;
    for (int64_t l = 0; l < x->layers; l++) start[l + 1] += start[l];
    size_t *fill = calloc((size_t)x->layers + 1, sizeof *fill);
    if (!fill) {
        free(start), free(order), free(blobs);
        return;
    }
    for (size_t i = 0; i < x->n_items; i++) {
        int l = x->items[i].layer;
        if (l >= 0 && l < x->layers) order[start[l] + fill[l]++] = i;
    }
    free(fill);
    /* Every expert weight of every layer first, in layer order... */
    for (int64_t l = 0; l < x->layers; l++) {
        for (size_t oi = start[l]; oi < start[l + 1]; oi++) {
            size_t i = order[oi];
            const ck_expected *it = &x->items[i];
            if (c->present[i] < 0) continue;
            /* The weights carry the evidence; biases and scales would only repeat it. */
            if (it->part != CK_PART_PLAIN && it->part != CK_PART_QWEIGHT) continue;
            size_t kl = strlen(it->key);
            if ((kl > 5 && !strcmp(it->key + kl - 5, "_bias")) || (kl > 5 && !strcmp(it->key + kl - 5, ".bias"))) continue;
            bool fused = !strcmp(it->role, "fused_expert");
            if (it->expert < 0 && !fused) continue;
            const ck_entry *e = &c->ck->entries[c->present[i]];
            if (!e->has_header || e->nbytes == 0) continue;
            uint64_t slices = fused ? e->shape[0] : 1;
            if (fused && (e->ndim < 2 || slices < 2 || e->nbytes % slices)) continue;
            for (uint64_t sl = 0; sl < slices; sl++) {
                if (n == cap) {
                    expert_blob *p = realloc(blobs, 2 * cap * sizeof *p);
                    if (!p) { free(blobs), free(start), free(order); return; }
                    blobs = p;
                    cap *= 2;
                }
                uint64_t len = e->nbytes / slices;
                blobs[n++] = (expert_blob){it->rule, (int)l, false, fused ? (int)sl : it->expert, e, sl * len, len, 0};
            }
        }
    }
    /* ...then their samples read by several threads: tens of thousands of small random reads,
     * which cold storage serves far faster in parallel. Each result depends only on its blob. */
    fingerprint_all(c->ck, blobs, n, c->opt->threads);
    /* ...then the candidates of each layer. */
    for (size_t a = 0; a < n;) {
        size_t b = a, live = a;
        while (b < n && blobs[b].layer == blobs[a].layer) {
            if (blobs[b].live) blobs[live++] = blobs[b];
            b++;
        }
        if (live - a > 1) duplicates_in_layer(c, blobs[a].layer, blobs + a, live - a);
        a = b;
    }
    free(start);
    free(order);
    free(blobs);
}

void ck_check_experts(ck_check_ctx *c)
{
    missing_experts(c);
    duplicate_experts(c);
}
