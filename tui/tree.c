/* The key tree: classify every key into the group it belongs to as the model is built, sort, and
 * emit nodes in display order (a parent before its children, so a collapsed subtree is skipped in
 * one step through `end`). Findings are matched to rows by key, by layer for the per-layer expert
 * findings, and by spec rule for SQUARE_AMBIGUOUS (one finding speaks for every tensor of its
 * rule); keys the findings call missing get rows of their own. */
#include "tree.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/summary.h"
#include "tui/text.h"

typedef struct {
    const char *name;
    size_t len;
    long entry;
    const ck_expected *x;
    int top, layer, sub, expert;
    size_t prefix; /* bytes of "...layers.N." */
} item;

static bool contains(const char *s, size_t len, const char *needle)
{
    return memmem(s, len, needle, strlen(needle)) != NULL;
}

/* `comp` is one whole dot-separated component of the name. */
static bool has_component(const char *s, size_t len, const char *comp)
{
    size_t m = strlen(comp);
    for (const char *p = s, *end = s + len; (p = memmem(p, (size_t)(end - p), comp, m)); p++)
        if ((p == s || p[-1] == '.') && (p + m == end || p[m] == '.')) return true;
    return false;
}

static int expert_id(const char *s, size_t len)
{
    static const char pat[] = "experts.";
    for (const char *p = s, *end = s + len; (p = memmem(p, (size_t)(end - p), pat, 8)); p++) {
        if (p != s && p[-1] != '.') continue;
        const char *q = p + 8;
        long v = 0;
        int digits = 0;
        while (q < end && *q >= '0' && *q <= '9' && digits < 9) v = v * 10 + (*q++ - '0'), digits++;
        if (digits && q < end && *q == '.') return (int)v;
    }
    return -1;
}

static void classify(item *it)
{
    const char *s = it->name;
    size_t len = it->len, after = 0;
    long layer = ck_layer_of(s, len, &after);
    it->layer = (int)layer;
    it->expert = -1;
    it->prefix = 0;
    it->sub = CK_SUB_OTHER;
    if (layer >= 0) {
        it->top = CK_TOP_LAYERS;
        it->prefix = after;
        const char *r = s + after;
        size_t rl = len - after;
        if (has_component(r, rl, "experts")) {
            it->sub = CK_SUB_EXPERTS;
            it->expert = expert_id(r, rl);
        } else if (contains(r, rl, "norm")) {
            it->sub = CK_SUB_NORMS;
        } else if (contains(r, rl, "attn") || contains(r, rl, "attention") || contains(r, rl, "q_proj") ||
                   contains(r, rl, "k_proj") || contains(r, rl, "v_proj") || contains(r, rl, "o_proj") ||
                   contains(r, rl, "qkv")) {
            it->sub = CK_SUB_ATTN;
        } else if (contains(r, rl, "mlp") || contains(r, rl, "ffn") || contains(r, rl, "feed_forward") ||
                   contains(r, rl, "moe") || contains(r, rl, "shared_expert") || contains(r, rl, "gate_proj") ||
                   contains(r, rl, "up_proj") || contains(r, rl, "down_proj") || contains(r, rl, "router")) {
            it->sub = CK_SUB_MLP;
        }
    } else if (contains(s, len, "embed") || has_component(s, len, "wte") || has_component(s, len, "tok_embeddings")) {
        it->top = CK_TOP_EMBED;
    } else if (has_component(s, len, "lm_head") || (len == 13 && !memcmp(s, "output.weight", 13))) {
        it->top = CK_TOP_HEAD;
    } else if (contains(s, len, "norm")) {
        it->top = CK_TOP_NORMS;
    } else {
        it->top = CK_TOP_OTHER;
    }
}

static int cmp_item(const void *pa, const void *pb)
{
    const item *a = pa, *b = pb;
    if (a->top != b->top) return a->top < b->top ? -1 : 1;
    if (a->layer != b->layer) return a->layer < b->layer ? -1 : 1;
    if (a->sub != b->sub) return a->sub < b->sub ? -1 : 1;
    if (a->expert != b->expert) return a->expert < b->expert ? -1 : 1;
    size_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->name, b->name, m);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static const char *const top_names[] = {"embeddings", "layers", "norms", "head", "other"};
static const char *const sub_names[] = {"attention", "mlp", "experts", "norms", "other"};

static int add_node(ck_tree *t, ck_node_kind kind, int parent, const char *label, size_t label_len)
{
    ck_node *n = &t->nodes[t->n];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->parent = parent;
    n->depth = parent >= 0 ? t->nodes[parent].depth + 1 : 0;
    /* a tensor row's label is the tail of its key, which outlives the tree: no copy (100,000
     * tensors would be 100,000 allocations) */
    n->own_label = kind != CK_NODE_TENSOR;
    n->label = n->own_label ? strndup(label, label_len) : label;
    n->label_len = label_len;
    n->entry = -1;
    n->layer = parent >= 0 ? t->nodes[parent].layer : -1;
    n->expert = -1;
    n->finding = -1;
    n->sev = -1;
    n->expanded = kind == CK_NODE_GROUP;
    return (int)t->n++;
}

/* Codes that say a key is absent, so the key gets a row of its own. */
static bool is_missing_code(ck_code c)
{
    return c == CK_F_MISSING_KEY || c == CK_F_EXPERT_BIAS_MISSING || c == CK_F_QUANT_SCALE_MISSING ||
           c == CK_F_TIED_WEIGHTS;
}

static int cmp_node_key(const void *pa, const void *pb, void *ctx)
{
    const ck_node *nodes = ctx, *a = &nodes[*(const int *)pa], *b = &nodes[*(const int *)pb];
    size_t m = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, m);
    return c ? c : (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

int ck_tree_find_key(const ck_tree *t, const char *key, size_t len)
{
    size_t lo = 0, hi = t->n_by_key;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const ck_node *n = &t->nodes[t->by_key[mid]];
        size_t m = n->key_len < len ? n->key_len : len;
        int c = memcmp(n->key, key, m);
        if (!c) c = (n->key_len > len) - (n->key_len < len);
        if (!c) return t->by_key[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

static void count_experts(ck_tree *t, const ck_expectation *x, const ck_checkpoint *ck, int g)
{
    ck_node *n = &t->nodes[g];
    int64_t distinct = 0, last = -1, max_id = -1, fused = -1;
    for (int i = g + 1; i < n->end; i++) {
        const ck_node *c = &t->nodes[i];
        if (c->kind != CK_NODE_TENSOR || c->entry < 0) continue;
        if (c->expert >= 0) {
            if (c->expert != last) distinct++, last = c->expert;
            if (c->expert > max_id) max_id = c->expert;
        } else if (c->x && !strcmp(c->x->role, "fused_expert")) {
            const ck_entry *e = &ck->entries[c->entry];
            if (e->has_header && e->ndim >= 1 && (fused < 0 || (int64_t)e->shape[0] < fused)) fused = (int64_t)e->shape[0];
        }
    }
    int64_t expected = x && x->experts > 0 ? x->experts : max_id + 1;
    n->experts_present = distinct ? distinct : fused >= 0 ? fused : 0;
    n->experts_expected = expected > n->experts_present ? expected : n->experts_present;
}

static int cmp_bytes(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* ck_expectation_find for catalog entries in key order: the expectations are sorted by key too, so
 * one forward walk finds them all (a binary search per key was a fifth of building the tree of a
 * 100,000-tensor checkpoint). Falls back to the search when the order does not hold. */
static const ck_expected *expectation_of(const ck_expectation *x, const ck_entry *e, const ck_entry *prev, size_t *xi)
{
    if (prev && cmp_bytes(prev->name, prev->name_len, e->name, e->name_len) > 0) *xi = 0;
    if (*xi == 0 || *xi > x->n_items) { /* (re)start where a binary search would land */
        size_t lo = 0, hi = x->n_items;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (cmp_bytes(x->items[mid].key, strlen(x->items[mid].key), e->name, e->name_len) < 0) lo = mid + 1;
            else hi = mid;
        }
        *xi = lo;
    }
    while (*xi < x->n_items) {
        const char *k = x->items[*xi].key;
        int c = cmp_bytes(k, strlen(k), e->name, e->name_len);
        if (c > 0) break;
        if (c == 0) return &x->items[*xi];
        ++*xi;
    }
    return NULL;
}

int ck_tree_build(ck_tree *t, const ck_checkpoint *ck, const ck_findings *f, const ck_expectation *x, bool ascii)
{
    memset(t, 0, sizeof *t);
    t->ascii = ascii;
    t->f = f;
    int *entry_node = NULL; /* tensor row of each catalog entry */
    size_t cap = ck->n_entries + f->n;
    item *items = calloc(cap + 1, sizeof *items);
    t->finding_node = malloc((f->n + 1) * sizeof *t->finding_node);
    if (!items || !t->finding_node) goto nomem;
    t->n_findings = f->n;
    size_t n = 0;
    bool have_x = x && x->items;
    size_t xi = 0; /* catalog and expectation are both sorted by key: walk them side by side */
    for (size_t i = 0; i < ck->n_entries; i++) {
        const ck_entry *e = &ck->entries[i];
        items[n] = (item){e->name, e->name_len, (long)i, have_x ? expectation_of(x, e, i ? &ck->entries[i - 1] : NULL, &xi) : NULL};
        classify(&items[n++]);
    }
    for (size_t i = 0; i < f->n; i++) {
        const ck_finding *fd = &f->items[i];
        size_t len = strlen(fd->key);
        if (!is_missing_code(fd->code) || !len || ck_checkpoint_find(ck, fd->key)) continue;
        items[n] = (item){fd->key, len, -1, have_x ? ck_expectation_find(x, fd->key, len) : NULL};
        classify(&items[n++]);
    }
    qsort(items, n, sizeof *items, cmp_item);
    /* two findings about one absent key: one row (equal keys sort next to each other) */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (!(kept && items[i].entry < 0 && items[kept - 1].entry < 0 && items[i].len == items[kept - 1].len &&
              !memcmp(items[i].name, items[kept - 1].name, items[i].len)))
            items[kept++] = items[i];
    n = kept;

    /* at most: every item, a group per item, a layer and a sub-group per item */
    t->nodes = calloc(3 * n + 8, sizeof *t->nodes);
    t->vis = malloc((3 * n + 8) * sizeof *t->vis);
    t->by_key = malloc((n + 1) * sizeof *t->by_key);
    entry_node = malloc((ck->n_entries + 1) * sizeof *entry_node);
    size_t n_missing = 0;
    if (!t->nodes || !t->vis || !t->by_key || !entry_node) goto nomem;
    int cur_top = -1, cur_layer = -1, cur_sub = -1, top_node = -1, layer_node = -1, sub_node = -1;
    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        int parent;
        if (it->top != CK_TOP_LAYERS) {
            if (it->top != cur_top) {
                top_node = add_node(t, CK_NODE_GROUP, -1, top_names[it->top], strlen(top_names[it->top]));
                cur_top = it->top;
            }
            parent = top_node;
        } else {
            if (cur_top != CK_TOP_LAYERS || it->layer != cur_layer) {
                char label[32];
                int w = snprintf(label, sizeof label, "layer %d", it->layer);
                layer_node = add_node(t, CK_NODE_LAYER, -1, label, (size_t)w);
                if (!t->nodes[layer_node].label) goto nomem;
                t->nodes[layer_node].layer = it->layer;
                cur_top = CK_TOP_LAYERS, cur_layer = it->layer, cur_sub = -1;
            }
            if (it->sub != cur_sub) {
                sub_node = add_node(t, it->sub == CK_SUB_EXPERTS ? CK_NODE_EXPERTS : CK_NODE_GROUP, layer_node,
                                    sub_names[it->sub], strlen(sub_names[it->sub]));
                t->nodes[sub_node].expanded = it->sub != CK_SUB_EXPERTS;
                cur_sub = it->sub;
            }
            parent = sub_node;
        }
        int k = add_node(t, CK_NODE_TENSOR, parent, it->name + it->prefix, it->len - it->prefix);
        ck_node *nd = &t->nodes[k];
        nd->key = it->name, nd->key_len = it->len, nd->entry = it->entry, nd->x = it->x;
        nd->layer = it->layer, nd->expert = it->expert;
        if (it->entry >= 0) entry_node[it->entry] = k;
        else t->by_key[n - ++n_missing] = k; /* rows for absent keys: at the end, sorted below */
    }
    free(items);
    items = NULL;
    /* by_key: the catalog is in key order already (checked; sorted if not), so only the few rows
     * for absent keys need sorting, then one merge */
    size_t n_present = n - n_missing;
    int *present = malloc((n_present + 1) * sizeof *present);
    if (!present) goto nomem;
    bool in_order = true;
    for (size_t i = 0; i < n_present; i++) {
        present[i] = entry_node[i];
        if (i && in_order && cmp_node_key(&present[i - 1], &present[i], t->nodes) > 0) in_order = false;
    }
    if (!in_order) qsort_r(present, n_present, sizeof *present, cmp_node_key, t->nodes);
    int *missing = t->by_key + n_present;
    qsort_r(missing, n_missing, sizeof *missing, cmp_node_key, t->nodes);
    int *tmp_missing = malloc((n_missing + 1) * sizeof *tmp_missing);
    if (!tmp_missing) { free(present); goto nomem; }
    memcpy(tmp_missing, missing, n_missing * sizeof *missing);
    for (size_t a = 0, b = 0, o = 0; o < n; o++)
        t->by_key[o] = b >= n_missing || (a < n_present && cmp_node_key(&present[a], &tmp_missing[b], t->nodes) <= 0)
                           ? present[a++] : tmp_missing[b++];
    t->n_by_key = n;
    free(present);
    free(tmp_missing);
    free(entry_node);
    entry_node = NULL;

    for (size_t i = 0; i < t->n; i++) t->nodes[i].end = (int)i + 1;
    for (size_t i = t->n; i-- > 0;) {
        ck_node *c = &t->nodes[i];
        if (c->parent >= 0 && t->nodes[c->parent].end < c->end) t->nodes[c->parent].end = c->end;
    }

    /* findings to rows: by key, else (a finding about a layer) by layer, through the layer rows in
     * layer order; no scan of the nodes per finding */
    int *layer_rows = malloc((t->n + 1) * sizeof *layer_rows);
    size_t n_layer_rows = 0;
    if (!layer_rows) goto nomem;
    for (size_t i = 0; i < t->n; i = (size_t)t->nodes[i].end)
        if (t->nodes[i].kind == CK_NODE_LAYER) layer_rows[n_layer_rows++] = (int)i;
    int max_rule = -1;
    for (size_t i = 0; i < f->n; i++) {
        const ck_finding *fd = &f->items[i];
        int node = fd->key[0] ? ck_tree_find_key(t, fd->key, strlen(fd->key)) : -1;
        if (node < 0 && fd->layer >= 0) {
            size_t lo = 0, hi = n_layer_rows;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (t->nodes[layer_rows[mid]].layer < fd->layer) lo = mid + 1;
                else hi = mid;
            }
            if (lo < n_layer_rows && t->nodes[layer_rows[lo]].layer == fd->layer) {
                node = layer_rows[lo];
                if (fd->code == CK_F_MISSING_EXPERTS || fd->code == CK_F_DUPLICATE_EXPERTS)
                    for (int j = node + 1; j < t->nodes[layer_rows[lo]].end; j = t->nodes[j].end)
                        if (t->nodes[j].kind == CK_NODE_EXPERTS) node = j;
            }
        }
        t->finding_node[i] = node;
        if (node < 0) continue;
        ck_node *nd = &t->nodes[node];
        if (nd->finding < 0 || (int)fd->severity > nd->sev) nd->finding = (int)i, nd->sev = (int)fd->severity;
        if (fd->code == CK_F_SQUARE_AMBIGUOUS && nd->x && nd->x->rule > max_rule) max_rule = nd->x->rule;
    }
    free(layer_rows);
    /* one SQUARE_AMBIGUOUS finding stands for every tensor of its rule (the first one per rule) */
    if (max_rule >= 0) {
        int *by_rule = malloc(((size_t)max_rule + 1) * sizeof *by_rule);
        if (!by_rule) goto nomem;
        for (int r = 0; r <= max_rule; r++) by_rule[r] = -1;
        for (size_t i = 0; i < f->n; i++) {
            int node = t->finding_node[i];
            if (f->items[i].code != CK_F_SQUARE_AMBIGUOUS || node < 0 || !t->nodes[node].x || t->nodes[node].x->rule < 0) continue;
            if (by_rule[t->nodes[node].x->rule] < 0) by_rule[t->nodes[node].x->rule] = (int)i;
        }
        for (size_t k = 0; k < t->n; k++) {
            ck_node *c = &t->nodes[k];
            int fi = c->kind == CK_NODE_TENSOR && c->entry >= 0 && c->x && c->x->rule >= 0 && c->x->rule <= max_rule ? by_rule[c->x->rule] : -1;
            if (fi >= 0 && c->finding < 0) c->finding = fi, c->sev = (int)f->items[fi].severity;
        }
        free(by_rule);
    }

    for (size_t i = 0; i < t->n; i++) {
        ck_node *c = &t->nodes[i];
        c->worst = c->sev;
        c->problems = c->sev >= 0;
        c->tensors = c->kind == CK_NODE_TENSOR;
        c->bytes = c->entry >= 0 && ck->entries[c->entry].has_header ? ck->entries[c->entry].nbytes : 0;
    }
    for (size_t i = t->n; i-- > 0;) {
        ck_node *c = &t->nodes[i];
        if (c->kind == CK_NODE_EXPERTS) count_experts(t, x, ck, (int)i);
        if (c->parent < 0) continue;
        ck_node *p = &t->nodes[c->parent];
        p->tensors += c->tensors;
        p->bytes += c->bytes;
        if (c->worst > p->worst) p->worst = c->worst, p->problems = c->problems;
        else if (c->worst == p->worst && c->worst >= 0) p->problems += c->problems;
    }
    ck_tree_filter(t, NULL);
    return 0;
nomem:
    free(items);
    free(entry_node);
    ck_tree_free(t);
    return -1;
}

void ck_tree_free(ck_tree *t)
{
    for (size_t i = 0; t->nodes && i < t->n; i++)
        if (t->nodes[i].own_label) free((char *)t->nodes[i].label);
    free(t->nodes);
    free(t->vis);
    free(t->by_key);
    free(t->finding_node);
    memset(t, 0, sizeof *t);
}

void ck_tree_refresh(ck_tree *t)
{
    size_t v = 0;
    for (size_t i = 0; i < t->n;) {
        const ck_node *c = &t->nodes[i];
        if (t->filtering && c->matches == 0) { i = (size_t)c->end; continue; }
        t->vis[v++] = (int)i;
        i = c->kind != CK_NODE_TENSOR && !c->expanded ? (size_t)c->end : i + 1;
    }
    t->n_vis = v;
}

size_t ck_tree_vis_index(const ck_tree *t, int node)
{
    for (int want = node; want >= 0; want = t->nodes[want].parent) {
        /* vis is in node order: binary search */
        size_t lo = 0, hi = t->n_vis;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (t->vis[mid] < want) lo = mid + 1;
            else hi = mid;
        }
        if (lo < t->n_vis && t->vis[lo] == want) return lo;
    }
    return 0;
}

void ck_tree_reveal(ck_tree *t, int node)
{
    for (int p = node >= 0 ? t->nodes[node].parent : -1; p >= 0; p = t->nodes[p].parent) t->nodes[p].expanded = true;
    ck_tree_refresh(t);
}

/* Filters match the whole key (as `ls --filter`); searches match anywhere, so a search glob is
 * wrapped in stars by the caller. */
static bool key_matches(const ck_node *c, const char *needle, bool glob)
{
    char key[1024];
    size_t len = c->key_len < sizeof key - 1 ? c->key_len : sizeof key - 1;
    memcpy(key, c->key, len);
    key[len] = '\0';
    if (glob) return fnmatch(needle, key, 0) == 0;
    return strstr(key, needle) != NULL;
}

int ck_tree_search(const ck_tree *t, int from, const char *needle, int dir)
{
    if (!needle || !*needle || t->n == 0) return -1;
    bool glob = strpbrk(needle, "*?[") != NULL;
    char pat[600];
    if (glob) {
        snprintf(pat, sizeof pat, "*%s*", needle);
        needle = pat;
    }
    long n = (long)t->n, i = from < 0 ? (dir > 0 ? -1 : 0) : from;
    for (long step = 0; step < n; step++) {
        i = ((i + dir) % n + n) % n;
        const ck_node *c = &t->nodes[i];
        if (c->kind != CK_NODE_TENSOR || (t->filtering && !c->matches)) continue;
        if (key_matches(c, needle, glob)) return (int)i;
    }
    return -1;
}

size_t ck_tree_filter(ck_tree *t, const char *glob)
{
    t->filtering = glob && *glob;
    for (size_t i = 0; i < t->n; i++) {
        ck_node *c = &t->nodes[i];
        c->matches = c->kind == CK_NODE_TENSOR && (!t->filtering || key_matches(c, glob, true));
    }
    for (size_t i = t->n; i-- > 0;)
        if (t->nodes[i].parent >= 0) t->nodes[t->nodes[i].parent].matches += t->nodes[i].matches;
    size_t total = 0;
    for (size_t i = 0; i < t->n; i++) {
        ck_node *c = &t->nodes[i];
        if (c->parent < 0) total += c->matches;
        if (t->filtering && c->kind != CK_NODE_TENSOR && c->matches) c->expanded = true;
    }
    ck_tree_refresh(t);
    return total;
}

const char *ck_status_word(ck_code code)
{
    switch (code) {
    case CK_F_TRANSPOSED: return "transposed";
    case CK_F_SQUARE_AMBIGUOUS: return "square?";
    case CK_F_SHAPE_MISMATCH: return "shape";
    case CK_F_MISSING_KEY: case CK_F_EXPERT_BIAS_MISSING: return "missing";
    case CK_F_QUANT_SCALE_MISSING: return "no scale";
    case CK_F_QUANT_SCALE_SHAPE: return "scale shape";
    case CK_F_QUANT_SCALE_INVALID: return "bad scale";
    case CK_F_QUANT_CONFIG_MISMATCH: return "quant cfg";
    case CK_F_QUANT_UNSUPPORTED: return "quant?";
    case CK_F_DTYPE_MISMATCH: return "dtype";
    case CK_F_UNEXPECTED_KEY: return "unexpected";
    case CK_F_MISSING_EXPERTS: return "missing";
    case CK_F_DUPLICATE_EXPERTS: return "duplicate";
    case CK_F_TIED_WEIGHTS: return "tied";
    case CK_F_NONFINITE: return "nan/inf";
    case CK_F_ALL_ZERO: return "all zero";
    case CK_F_HEADER_INVALID: return "bad header";
    case CK_F_INDEX_MISMATCH: return "index";
    default: return "issue";
    }
}

static void set_cell(ck_cell *c, ck_style s, const char *text)
{
    snprintf(c->text, sizeof c->text, "%s", text);
    c->style = s;
}

static void group_status(const ck_node *n, ck_cell *c)
{
    static const char *const what[] = {"info", "warning", "error"};
    if (n->worst < 0) { set_cell(c, CK_S_OK, "ok"); return; }
    snprintf(c->text, sizeof c->text, "%u %s%s", n->problems, what[n->worst],
             n->problems == 1 || n->worst == 0 ? "" : "s");
    c->style = ck_style_of_severity(n->worst);
}

void ck_tree_row(const ck_tree *t, const ck_checkpoint *ck, int i, ck_row_view *out)
{
    const ck_node *n = &t->nodes[i];
    memset(out, 0, sizeof *out);
    out->indent = 2 * n->depth;
    char buf[CK_CELL_MAX];
    if (n->kind != CK_NODE_TENSOR) {
        const char *glyph = t->ascii ? (n->expanded ? "-" : "+") : (n->expanded ? "\xe2\x96\xbe" : "\xe2\x96\xb8");
        if (n->kind == CK_NODE_EXPERTS)
            snprintf(out->c[CK_COL_NAME].text, CK_CELL_MAX, "%s %s %lld/%lld%s", glyph, n->label,
                     (long long)n->experts_present, (long long)n->experts_expected,
                     n->experts_present < n->experts_expected ? " !" : "");
        else
            snprintf(out->c[CK_COL_NAME].text, CK_CELL_MAX, "%s %s", glyph, n->label);
        out->c[CK_COL_NAME].style = CK_S_GROUP;
        snprintf(buf, sizeof buf, "%llu tensor%s", (unsigned long long)n->tensors, n->tensors == 1 ? "" : "s");
        set_cell(&out->c[CK_COL_SHAPE], CK_S_DIM, buf);
        ck_human_size(buf, sizeof buf, n->bytes);
        set_cell(&out->c[CK_COL_SIZE], CK_S_DIM, buf);
        /* a finding about the group itself (missing or duplicate experts) names itself */
        if (t->pending)
            set_cell(&out->c[CK_COL_STATUS], CK_S_DIM, "...");
        else if (n->sev >= 0 && n->sev >= n->worst)
            set_cell(&out->c[CK_COL_STATUS], ck_style_of_severity(n->sev), ck_status_word(t->f->items[n->finding].code));
        else
            group_status(n, &out->c[CK_COL_STATUS]);
        return;
    }
    /* no expander on a leaf: two spaces keep the names aligned with the group names */
    memcpy(out->c[CK_COL_NAME].text, "  ", 2);
    ck_esc(out->c[CK_COL_NAME].text + 2, CK_CELL_MAX - 2, n->label, n->label_len);
    if (n->entry < 0) {
        out->c[CK_COL_NAME].style = CK_S_MISSING;
        if (n->x && (n->x->flags & CK_EXP_HAS_DTYPE)) set_cell(&out->c[CK_COL_DTYPE], CK_S_DIM, ck_dtype_name(n->x->dtype));
        if (n->x) {
            ck_shape_str(buf, sizeof buf, n->x->shape, n->x->ndim);
            set_cell(&out->c[CK_COL_SHAPE], CK_S_DIM, buf);
        }
        set_cell(&out->c[CK_COL_SIZE], CK_S_DIM, "-");
        set_cell(&out->c[CK_COL_SHARD], CK_S_DIM, "-");
    } else {
        const ck_entry *e = &ck->entries[n->entry];
        out->c[CK_COL_NAME].style = CK_S_NORMAL;
        if (e->has_header) {
            set_cell(&out->c[CK_COL_DTYPE], CK_S_NORMAL, ck_dtype_name(e->dtype));
            ck_shape_str(buf, sizeof buf, e->shape, e->ndim);
            set_cell(&out->c[CK_COL_SHAPE], CK_S_NORMAL, buf);
            ck_human_size(buf, sizeof buf, e->nbytes);
            set_cell(&out->c[CK_COL_SIZE], CK_S_NORMAL, buf);
        } else {
            set_cell(&out->c[CK_COL_DTYPE], CK_S_DIM, "?");
            set_cell(&out->c[CK_COL_SHAPE], CK_S_DIM, "?");
            set_cell(&out->c[CK_COL_SIZE], CK_S_DIM, "?");
        }
        if (e->shard < ck->n_shards) {
            ck_shard_short(buf, sizeof buf, ck->shards[e->shard].name);
            set_cell(&out->c[CK_COL_SHARD], CK_S_DIM, buf);
        }
    }
    if (t->pending) set_cell(&out->c[CK_COL_STATUS], CK_S_DIM, "...");
    else if (n->sev < 0) set_cell(&out->c[CK_COL_STATUS], CK_S_OK, "ok");
    else set_cell(&out->c[CK_COL_STATUS], ck_style_of_severity(n->sev), ck_status_word(t->f->items[n->finding].code));
}
