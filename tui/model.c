/* View model: actions on the panes. Every action returns reaction flags instead of drawing, as
 * htop's Htop_Reaction does; the event loop decides what to repaint or ask. */
#include "model.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/text.h"

static void refresh_findings(ck_model *m)
{
    size_t v = 0;
    for (size_t i = 0; i < m->f->n; i++)
        if ((int)m->f->items[i].severity >= m->min_sev) m->fvis[v++] = (int)i;
    m->n_fvis = v;
    ck_list_set_count(&m->list[CK_PANE_FINDINGS], v);
}

static void sync_tree(ck_model *m, int keep_node)
{
    ck_list *l = &m->list[CK_PANE_TREE];
    ck_list_set_count(l, m->tree.n_vis);
    if (keep_node >= 0) ck_list_select(l, ck_tree_vis_index(&m->tree, keep_node));
}

int ck_model_init(ck_model *m, ck_checkpoint *ck, const ck_findings *f, const ck_expectation *x, const char *path,
                  bool read_only, bool ascii)
{
    memset(m, 0, sizeof *m);
    m->ck = ck, m->f = f, m->x = x, m->path = path, m->read_only = read_only;
    m->min_sev = CK_SEV_INFO;
    for (int p = 0; p < CK_PANE_COUNT; p++) m->list[p].height = 10;
    snprintf(m->plan_path, sizeof m->plan_path, "ckdoc-plan.json");
    m->fvis = malloc((f->n + 1) * sizeof *m->fvis);
    if (!m->fvis || ck_tree_build(&m->tree, ck, f, x, ascii) < 0) {
        free(m->fvis);
        m->fvis = NULL;
        return -1;
    }
    refresh_findings(m);
    sync_tree(m, -1);
    return 0;
}

void ck_model_free(ck_model *m)
{
    ck_tree_free(&m->tree);
    ck_plan_free(&m->plan);
    free(m->fvis);
    cJSON_Delete(m->spec_doc);
    memset(m, 0, sizeof *m);
}

void ck_model_message(ck_model *m, ck_style s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->message, sizeof m->message, fmt, ap);
    va_end(ap);
    m->message_style = s;
}

ck_context ck_model_context(const ck_model *m)
{
    static const ck_context ctx[] = {CK_CTX_TREE, CK_CTX_FINDINGS, CK_CTX_PLAN};
    return ctx[m->focus];
}

int ck_model_selected_node(const ck_model *m)
{
    const ck_list *l = &m->list[CK_PANE_TREE];
    return l->cur < m->tree.n_vis ? m->tree.vis[l->cur] : -1;
}

int ck_model_selected_finding(const ck_model *m)
{
    const ck_list *l = &m->list[CK_PANE_FINDINGS];
    return l->cur < m->n_fvis ? m->fvis[l->cur] : -1;
}

long ck_model_selected_entry(const ck_model *m)
{
    int node = ck_model_selected_node(m);
    return node >= 0 ? m->tree.nodes[node].entry : -1;
}

void ck_model_focus(ck_model *m, ck_pane p)
{
    m->focus = p;
}

void ck_model_set_min_sev(ck_model *m, int sev)
{
    int keep = ck_model_selected_finding(m);
    m->min_sev = sev;
    refresh_findings(m);
    for (size_t i = 0; i < m->n_fvis; i++)
        if (m->fvis[i] == keep) ck_list_select(&m->list[CK_PANE_FINDINGS], i);
}

bool ck_model_jump(ck_model *m, int fi)
{
    if (fi < 0 || (size_t)fi >= m->f->n) return false;
    int node = m->tree.finding_node[fi];
    if (node < 0) {
        char key[300];
        ck_esc(key, sizeof key, m->f->items[fi].key, strlen(m->f->items[fi].key));
        ck_model_message(m, CK_S_WARN, "%s is about %s, not a row of the tree", ck_code_names[m->f->items[fi].code],
                         key[0] ? key : "the whole checkpoint");
        return false;
    }
    /* A filter that hides the row would make the jump land nowhere: drop it. */
    if (m->tree.filtering && !m->tree.nodes[node].matches) {
        m->filter[0] = '\0';
        ck_tree_filter(&m->tree, NULL);
    }
    ck_tree_reveal(&m->tree, node);
    sync_tree(m, node);
    m->focus = CK_PANE_TREE;
    return true;
}

/* The finding whose fix `a` stages: the selected finding, or the tree row's worst finding with a
 * fix (a row can have several findings; the first one with a fix in severity order wins). */
static int fix_source(const ck_model *m)
{
    if (m->focus == CK_PANE_FINDINGS) return ck_model_selected_finding(m);
    int node = ck_model_selected_node(m);
    if (node < 0) return -1;
    for (size_t i = 0; i < m->f->n; i++)
        if (m->tree.finding_node[i] == node && m->f->items[i].fix) return (int)i;
    return m->tree.nodes[node].finding;
}

static unsigned add_fix(ck_model *m)
{
    int fi = fix_source(m);
    if (fi < 0) {
        ck_model_message(m, CK_S_WARN, "nothing to stage here: no finding");
        return CK_R_REDRAW;
    }
    const ck_finding *f = &m->f->items[fi];
    int rc = ck_plan_add(&m->plan, f);
    if (rc < 0) ck_model_message(m, CK_S_WARN, "%s has no suggested fix to stage", ck_code_names[f->code]);
    else if (rc == 0) ck_model_message(m, CK_S_INFO, "that fix is already in the plan");
    else {
        char d[400];
        ck_plan_describe(&m->plan, m->plan.n - 1, d, sizeof d);
        ck_model_message(m, CK_S_OK, "staged: %s (%zu in the plan; w saves)", d, m->plan.n);
    }
    ck_list_set_count(&m->list[CK_PANE_PLAN], m->plan.n);
    return CK_R_REDRAW;
}

static void set_all_expanded(ck_model *m, bool on)
{
    int keep = ck_model_selected_node(m);
    for (size_t i = 0; i < m->tree.n; i++)
        if (m->tree.nodes[i].kind != CK_NODE_TENSOR) m->tree.nodes[i].expanded = on;
    ck_tree_refresh(&m->tree);
    sync_tree(m, keep);
}

static unsigned tree_expand(ck_model *m, int mode) /* 1 expand, 0 collapse, 2 toggle */
{
    int node = ck_model_selected_node(m);
    if (node < 0) return 0;
    ck_node *n = &m->tree.nodes[node];
    if (n->kind == CK_NODE_TENSOR || (mode == 0 && !n->expanded)) {
        if (mode == 0 && n->parent >= 0) sync_tree(m, n->parent); /* h on a leaf: go to its group */
        return CK_R_REDRAW;
    }
    n->expanded = mode == 2 ? !n->expanded : mode == 1;
    ck_tree_refresh(&m->tree);
    sync_tree(m, node);
    return CK_R_REDRAW;
}

static unsigned plan_jump(ck_model *m)
{
    size_t i = m->list[CK_PANE_PLAN].cur;
    if (i >= m->plan.n) return 0;
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(m->plan.items[i], "key");
    int node = cJSON_IsString(key) ? ck_tree_find_key(&m->tree, key->valuestring, strlen(key->valuestring)) : -1;
    if (node < 0) {
        ck_model_message(m, CK_S_INFO, "this action names no single tensor");
        return CK_R_REDRAW;
    }
    ck_tree_reveal(&m->tree, node);
    sync_tree(m, node);
    m->focus = CK_PANE_TREE;
    return CK_R_REDRAW;
}

unsigned ck_model_act(ck_model *m, ck_action a)
{
    ck_list *l = &m->list[m->focus];
    if (m->read_only && (ck_action_flags(a) & CK_KF_WRITES)) {
        ck_model_message(m, CK_S_WARN, "read-only mode: nothing can be staged or saved");
        return CK_R_REDRAW;
    }
    switch (a) {
    case CK_A_NONE: case CK_A_COUNT: return 0;
    case CK_A_UP: ck_list_move(l, -1); return CK_R_REDRAW;
    case CK_A_DOWN: ck_list_move(l, 1); return CK_R_REDRAW;
    case CK_A_PGUP: ck_list_page(l, -1); return CK_R_REDRAW;
    case CK_A_PGDN: ck_list_page(l, 1); return CK_R_REDRAW;
    case CK_A_HOME: ck_list_home(l); return CK_R_REDRAW;
    case CK_A_END: ck_list_end(l); return CK_R_REDRAW;
    case CK_A_NEXT_PANE: m->focus = (ck_pane)((m->focus + 1) % CK_PANE_COUNT); return CK_R_REDRAW;
    case CK_A_PREV_PANE: m->focus = (ck_pane)((m->focus + CK_PANE_COUNT - 1) % CK_PANE_COUNT); return CK_R_REDRAW;
    case CK_A_EXPAND: return m->focus == CK_PANE_TREE ? tree_expand(m, 1) : 0;
    case CK_A_COLLAPSE: return m->focus == CK_PANE_TREE ? tree_expand(m, 0) : 0;
    case CK_A_TOGGLE: return m->focus == CK_PANE_TREE ? tree_expand(m, 2) : 0;
    case CK_A_EXPAND_ALL: set_all_expanded(m, true); return CK_R_REDRAW;
    case CK_A_COLLAPSE_ALL: set_all_expanded(m, false); return CK_R_REDRAW;
    case CK_A_ENTER:
        if (m->focus == CK_PANE_TREE) {
            int node = ck_model_selected_node(m);
            if (node >= 0 && m->tree.nodes[node].kind == CK_NODE_TENSOR) return CK_R_STATS;
            return tree_expand(m, 2);
        }
        if (m->focus == CK_PANE_FINDINGS) { ck_model_jump(m, ck_model_selected_finding(m)); return CK_R_REDRAW; }
        return plan_jump(m);
    case CK_A_ADD_FIX: return add_fix(m);
    case CK_A_DELETE:
        if (m->focus != CK_PANE_PLAN || !m->plan.n) return 0;
        ck_plan_remove(&m->plan, l->cur);
        ck_list_set_count(l, m->plan.n);
        ck_model_message(m, CK_S_INFO, "removed from the plan (%zu left)", m->plan.n);
        return CK_R_REDRAW;
    case CK_A_MOVE_DOWN: case CK_A_MOVE_UP:
        if (m->focus != CK_PANE_PLAN || !m->plan.n) return 0;
        ck_list_select(l, ck_plan_move(&m->plan, l->cur, a == CK_A_MOVE_UP ? -1 : 1));
        return CK_R_REDRAW;
    case CK_A_SAVE: return CK_R_ASK_SAVE;
    case CK_A_STATS:
        if (ck_model_selected_entry(m) < 0) {
            ck_model_message(m, CK_S_WARN, "statistics need a tensor row that is present in the checkpoint");
            return CK_R_REDRAW;
        }
        return CK_R_STATS;
    case CK_A_SEARCH: return CK_R_ASK_SEARCH;
    case CK_A_SEARCH_NEXT: ck_model_search(m, m->search, 1); return CK_R_REDRAW;
    case CK_A_SEARCH_PREV: ck_model_search(m, m->search, -1); return CK_R_REDRAW;
    case CK_A_FILTER: return CK_R_ASK_FILTER;
    case CK_A_SEV_ERROR: ck_model_set_min_sev(m, CK_SEV_ERROR); return CK_R_REDRAW;
    case CK_A_SEV_WARN: ck_model_set_min_sev(m, CK_SEV_WARN); return CK_R_REDRAW;
    case CK_A_SEV_ALL: ck_model_set_min_sev(m, CK_SEV_INFO); return CK_R_REDRAW;
    case CK_A_HELP: return CK_R_HELP;
    case CK_A_QUIT: return m->plan.dirty && m->plan.n ? CK_R_ASK_QUIT : CK_R_QUIT;
    case CK_A_REDRAW: return CK_R_REDRAW | CK_R_CLEAR;
    case CK_A_DETAIL_DOWN: ck_model_detail_scroll(m, 3); return CK_R_REDRAW;
    case CK_A_DETAIL_UP: ck_model_detail_scroll(m, -3); return CK_R_REDRAW;
    }
    return 0;
}

unsigned ck_model_key(ck_model *m, int key)
{
    m->message[0] = '\0';
    return ck_model_act(m, ck_key_action(key, ck_model_context(m)));
}

void ck_model_search(ck_model *m, const char *text, int dir)
{
    if (text != m->search) snprintf(m->search, sizeof m->search, "%s", text ? text : "");
    if (!m->search[0]) {
        ck_model_message(m, CK_S_INFO, "no search yet: press /");
        return;
    }
    /* a fresh search starts at the cursor itself; n and N start after it */
    int from = ck_model_selected_node(m);
    int node = ck_tree_search(&m->tree, from, m->search, dir);
    char s[300];
    ck_esc(s, sizeof s, m->search, strlen(m->search));
    if (node < 0) {
        ck_model_message(m, CK_S_WARN, "not found: %s", s);
        return;
    }
    ck_tree_reveal(&m->tree, node);
    sync_tree(m, node);
    m->focus = CK_PANE_TREE;
    ck_model_message(m, CK_S_INFO, "/%s  (n next, N previous)", s);
}

void ck_model_filter(ck_model *m, const char *glob)
{
    int keep = ck_model_selected_node(m);
    snprintf(m->filter, sizeof m->filter, "%s", glob ? glob : "");
    size_t hits = ck_tree_filter(&m->tree, m->filter);
    sync_tree(m, keep);
    char g[300];
    ck_esc(g, sizeof g, m->filter, strlen(m->filter));
    if (!m->filter[0]) ck_model_message(m, CK_S_INFO, "filter cleared");
    else ck_model_message(m, hits ? CK_S_INFO : CK_S_WARN, "filter %s: %zu tensor%s", g, hits, hits == 1 ? "" : "s");
    m->focus = CK_PANE_TREE;
}

int ck_model_save(ck_model *m, const char *path)
{
    if (m->read_only) {
        ck_model_message(m, CK_S_WARN, "read-only mode: nothing can be saved");
        return -1;
    }
    ck_error err;
    char p[600];
    ck_esc(p, sizeof p, path, strlen(path));
    if (ck_plan_save(&m->plan, m->path, path, &err) < 0) {
        char line[1400];
        ck_error_format(&err, line, sizeof line);
        ck_model_message(m, CK_S_ERROR, "cannot save the plan: %s", line);
        return -1;
    }
    snprintf(m->plan_path, sizeof m->plan_path, "%s", path);
    ck_model_message(m, CK_S_OK, "plan saved to %s (%zu action%s)", p, m->plan.n, m->plan.n == 1 ? "" : "s");
    return 0;
}

void ck_model_finding_line(const ck_model *m, size_t row, ck_line *out)
{
    static const char *const sev[] = {"info", "warn", "error"};
    *out = (ck_line){0};
    if (row >= m->n_fvis) return;
    const ck_finding *f = &m->f->items[m->fvis[row]];
    char key[CK_CELL_MAX];
    ck_esc(key, sizeof key, f->key, strlen(f->key));
    ck_line_add(out, ck_style_of_severity((int)f->severity), "%s", sev[f->severity]);
    ck_line_add(out, ck_style_of_severity((int)f->severity), "%s", ck_code_names[f->code]);
    ck_line_add(out, CK_S_NORMAL, "%s", key);
    ck_line_add(out, f->fix ? CK_S_OK : CK_S_DIM, "%s", f->fix ? "fix" : "");
}

void ck_model_plan_line(const ck_model *m, size_t row, ck_line *out)
{
    *out = (ck_line){0};
    if (row >= m->plan.n) return;
    char d[CK_CELL_MAX];
    ck_plan_describe(&m->plan, row, d, sizeof d);
    ck_line_add(out, CK_S_DIM, "%zu.", row + 1);
    ck_line_add(out, CK_S_NORMAL, "%s", d);
}

void ck_model_header(const ck_model *m, ck_line *out)
{
    char path[600], n1[32];
    *out = (ck_line){0};
    ck_esc(path, sizeof path, m->path, strlen(m->path));
    ck_commas(n1, sizeof n1, m->ck->n_entries);
    /* a long path gives way to the summary: keep its end, where the checkpoint's name is */
    size_t plen = strlen(path);
    ck_line_add(out, CK_S_HEADER, " ckdoc  %s%s", plen > 40 ? "..." : "", plen > 40 ? path + plen - 37 : path);
    if (m->tree.pending)
        ck_line_add(out, CK_S_HEADER, "  %s tensors in %zu shard%s; checking...", n1, m->ck->n_shards, m->ck->n_shards == 1 ? "" : "s");
    else if (m->x && m->x->family)
        ck_line_add(out, CK_S_HEADER, "  %s, %lld layers%s%.0lld%s%s%s; %s tensors in %zu shard%s", m->x->family,
                    (long long)m->x->layers, m->x->experts ? ", " : "", (long long)m->x->experts,
                    m->x->experts ? " experts" : "", m->x->quant_name[0] ? ", " : "", m->x->quant_name, n1,
                    m->ck->n_shards, m->ck->n_shards == 1 ? "" : "s");
    else
        ck_line_add(out, CK_S_HEADER, "  no family spec; %s tensors in %zu shard%s", n1, m->ck->n_shards,
                    m->ck->n_shards == 1 ? "" : "s");
    if (m->read_only) ck_line_add(out, CK_S_HEADER, "  [read-only]");
}

static long detail_owner(const ck_model *m)
{
    long sel = m->focus == CK_PANE_TREE ? ck_model_selected_node(m)
             : m->focus == CK_PANE_FINDINGS ? ck_model_selected_finding(m) : (long)m->list[CK_PANE_PLAN].cur;
    return (long)m->focus << 40 | (sel & 0xFFFFFFFFFFL);
}

void ck_model_detail_scroll(ck_model *m, long delta)
{
    long owner = detail_owner(m);
    if (owner != m->detail_owner) m->detail_top = 0, m->detail_owner = owner;
    long top = (long)m->detail_top + delta;
    m->detail_top = top < 0 ? 0 : (size_t)top; /* the upper bound needs the lines: ck_model_detail_top */
}

size_t ck_model_detail_top(ck_model *m, size_t n)
{
    if (detail_owner(m) != m->detail_owner) m->detail_top = 0;
    if (m->detail_top >= n) m->detail_top = n ? n - 1 : 0;
    return m->detail_top;
}

size_t ck_model_footer(const ck_model *m, int cols, bool hints, ck_footer_item *out, size_t max)
{
    size_t n = 0;
    ck_line st;
    ck_model_status(m, &st);
    static const int status_keys[] = {'1', '2', '3', 0};
    int sw = 0;
    for (int c = 0; c < st.n; c++) sw += (int)strlen(st.c[c].text); /* ASCII */
    int x = cols - sw - 1;
    for (int c = 0; c < st.n && n < max; c++, n++) {
        ck_footer_item *it = &out[n];
        memset(it, 0, sizeof *it);
        snprintf(it->text, sizeof it->text, "%s", st.c[c].text);
        it->style = st.c[c].style;
        it->x = x, it->w = (int)strlen(it->text);
        it->key = m->tree.pending ? 0 : status_keys[c];
        x += it->w;
    }
    if (!hints) return n;
    static const struct { int key; const char *name, *label; } tree[] = {
        {'?', "?", "help"}, {CK_KEY_ENTER, "Enter", "open"}, {'/', "/", "search"}, {'f', "f", "filter"},
        {'s', "s", "stats"}, {'a', "a", "stage"}, {'J', "J", "detail"}, {CK_KEY_TAB, "Tab", "pane"}, {'q', "q", "quit"}, {0, NULL, NULL},
    }, findings[] = {
        {'?', "?", "help"}, {CK_KEY_ENTER, "Enter", "jump"}, {'a', "a", "stage fix"}, {'1', "1", "errors"},
        {'2', "2", "warnings"}, {'3', "3", "all"}, {CK_KEY_TAB, "Tab", "pane"}, {'q', "q", "quit"}, {0, NULL, NULL},
    }, plan[] = {
        {'?', "?", "help"}, {'d', "d", "remove"}, {'J', "J", "down"}, {'K', "K", "up"}, {'w', "w", "save"},
        {CK_KEY_ENTER, "Enter", "jump"}, {CK_KEY_TAB, "Tab", "pane"}, {'q', "q", "quit"}, {0, NULL, NULL},
    };
    const __typeof__(tree[0]) *h = m->focus == CK_PANE_TREE ? tree : m->focus == CK_PANE_FINDINGS ? findings : plan;
    int room = cols - sw - 3;
    x = 1;
    for (; h->name && n < max; h++) {
        int w = (int)(strlen(h->name) + 1 + strlen(h->label));
        if (x + w > room) break;
        ck_footer_item *it = &out[n++];
        memset(it, 0, sizeof *it);
        snprintf(it->key_text, sizeof it->key_text, "%s", h->name);
        snprintf(it->text, sizeof it->text, ":%s", h->label);
        it->style = CK_S_FOOTER;
        it->x = x, it->w = w, it->key = h->key;
        x += w + 2;
    }
    return n;
}

int ck_model_footer_key(const ck_model *m, int cols, bool hints, int x)
{
    ck_footer_item items[24];
    size_t n = ck_model_footer(m, cols, hints, items, 24);
    for (size_t i = 0; i < n; i++)
        if (x >= items[i].x && x < items[i].x + items[i].w) return items[i].key;
    return 0;
}

void ck_model_status(const ck_model *m, ck_line *out)
{
    *out = (ck_line){0};
    if (m->tree.pending) {
        ck_line_add(out, CK_S_FOOTER, " checking...");
        return;
    }
    ck_line_add(out, m->f->by_severity[CK_SEV_ERROR] ? CK_S_ERROR : CK_S_FOOTER, " %zu error%s",
                m->f->by_severity[CK_SEV_ERROR], m->f->by_severity[CK_SEV_ERROR] == 1 ? "" : "s");
    ck_line_add(out, m->f->by_severity[CK_SEV_WARN] ? CK_S_WARN : CK_S_FOOTER, " %zu warn",
                m->f->by_severity[CK_SEV_WARN]);
    ck_line_add(out, CK_S_INFO, " %zu info", m->f->by_severity[CK_SEV_INFO]);
    ck_line_add(out, m->plan.dirty && m->plan.n ? CK_S_WARN : CK_S_FOOTER, " plan %zu%s", m->plan.n,
                m->plan.dirty && m->plan.n ? " unsaved" : "");
}
