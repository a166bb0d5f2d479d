/* The browser's view model without a terminal: build it from fixture checkpoints and drive it with
 * action ids, as the event loop would. Checks grouping, expert counts, status words, navigation,
 * search, filter, jump-from-finding, the plan (add, refuse duplicates, reorder, remove, save as
 * ckdoc.plan/1), read-only, the help generated from the key table, and the layout limits. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <unistd.h>

#include "inspect/check.h"
#include "tests/check.h"
#include "tests/gen/fixtures.h"
#include "tui/layout.h"
#include "tui/model.h"
#include "tui/statjob.h"

static char root[] = "/tmp/ckdoc-tui-XXXXXX";

typedef struct {
    ck_checkpoint ck;
    ck_findings f;
    ck_expectation x;
    ck_model m;
    bool ok;
} fx;

static bool open_fixture(fx *t, const char *name, bool read_only)
{
    char dir[600];
    ck_error err;
    memset(t, 0, sizeof *t);
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    if (access(dir, F_OK) != 0 && ck_fixture_write(name, dir, &err) < 0) return false;
    if (ck_checkpoint_open(dir, 0, &t->ck, &err) < 0) return false;
    ck_check_options opt = {0};
    if (ck_check_run(&t->ck, &opt, &t->f, &t->x, &err) < 0) return false;
    ck_findings_sort(&t->f);
    t->ok = ck_model_init(&t->m, &t->ck, &t->f, &t->x, dir, read_only, true) == 0;
    /* the path is borrowed: keep a copy alive */
    t->m.path = strdup(dir);
    return t->ok;
}

static void close_fixture(fx *t)
{
    free((char *)t->m.path);
    ck_model_free(&t->m);
    ck_expectation_free(&t->x);
    ck_findings_free(&t->f);
    ck_checkpoint_close(&t->ck);
}

/* The visible row whose name cell is `name` (after indentation and expander), or -1. */
static long row_named(ck_model *m, const char *name)
{
    for (size_t v = 0; v < m->tree.n_vis; v++) {
        ck_row_view rv;
        ck_tree_row(&m->tree, m->ck, m->tree.vis[v], &rv);
        const char *t = rv.c[CK_COL_NAME].text;
        while (*t == ' ') t++;
        if (!strcmp(t, name) || ((t[0] == '+' || t[0] == '-') && !strcmp(t + 2, name))) return (long)v;
    }
    return -1;
}

static const char *cell(ck_model *m, long row, ck_col c)
{
    static ck_row_view rv;
    if (row < 0) return "(no row)";
    ck_tree_row(&m->tree, m->ck, m->tree.vis[row], &rv);
    return rv.c[c].text;
}

static const char *selected_key(ck_model *m)
{
    static char key[600];
    int node = ck_model_selected_node(m);
    if (node < 0 || !m->tree.nodes[node].key) return "(none)";
    snprintf(key, sizeof key, "%.*s", (int)m->tree.nodes[node].key_len, m->tree.nodes[node].key);
    return key;
}

static void select_row(ck_model *m, long row)
{
    if (row >= 0) ck_list_select(&m->list[CK_PANE_TREE], (size_t)row);
}

static int finding_index(ck_model *m, ck_code code)
{
    for (size_t i = 0; i < m->f->n; i++)
        if (m->f->items[i].code == code) return (int)i;
    return -1;
}

static void test_grouping_and_status(void)
{
    fx t;
    CHECK(open_fixture(&t, "demo", false));
    if (!t.ok) return;
    ck_model *m = &t.m;
    /* layers start collapsed: the first screen is an overview */
    CHECK_EQ_U64(m->tree.n_vis, 9);
    CHECK_STR(cell(m, 0, CK_COL_NAME), "- embeddings");
    CHECK(row_named(m, "layer 0") == 2);
    CHECK(row_named(m, "layer 2") == 4);
    CHECK(row_named(m, "norms") == 5);
    CHECK(row_named(m, "head") == 7);
    CHECK_STR(cell(m, row_named(m, "layer 0"), CK_COL_STATUS), "2 info");
    CHECK_STR(cell(m, row_named(m, "layer 1"), CK_COL_STATUS), "1 error");
    CHECK_STR(cell(m, row_named(m, "layer 2"), CK_COL_STATUS), "1 error");
    CHECK_STR(cell(m, row_named(m, "layer 0"), CK_COL_SHAPE), "33 tensors");
    CHECK_STR(cell(m, 1, CK_COL_DTYPE), "BF16");
    CHECK_STR(cell(m, 1, CK_COL_SHAPE), "[256, 64]");
    CHECK_STR(cell(m, 1, CK_COL_SIZE), "32.0 KiB");
    CHECK_STR(cell(m, 1, CK_COL_STATUS), "ok");

    /* expand layer 2: sub-groups, experts collapsed to one row with its count */
    select_row(m, row_named(m, "layer 2"));
    CHECK(ck_model_act(m, CK_A_ENTER) & CK_R_REDRAW);
    CHECK(row_named(m, "attention") >= 0);
    CHECK(row_named(m, "mlp") >= 0);
    CHECK(row_named(m, "norms") >= 0);
    long ex = row_named(m, "experts 2/8 !");
    CHECK(ex >= 0);
    CHECK_STR(cell(m, ex, CK_COL_STATUS), "missing");
    CHECK_STR(cell(m, ex, CK_COL_SHAPE), "6 tensors");
    /* collapse again with h on the group */
    select_row(m, row_named(m, "layer 2"));
    ck_model_act(m, CK_A_COLLAPSE);
    CHECK(row_named(m, "experts 2/8 !") < 0);

    /* layer 1: all experts there, one transposed */
    select_row(m, row_named(m, "layer 1"));
    ck_model_act(m, CK_A_EXPAND);
    long ex1 = row_named(m, "experts 8/8");
    CHECK(ex1 >= 0);
    CHECK_STR(cell(m, ex1, CK_COL_STATUS), "1 error");
    /* square tensors of every layer carry the mark, not only the one the finding names */
    CHECK_STR(cell(m, row_named(m, "self_attn.k_proj.weight"), CK_COL_STATUS), "square?");
    CHECK_STR(cell(m, row_named(m, "self_attn.q_proj.weight"), CK_COL_STATUS), "ok");
    close_fixture(&t);
}

static void test_navigation(void)
{
    fx t;
    CHECK(open_fixture(&t, "demo", false));
    if (!t.ok) return;
    ck_model *m = &t.m;
    ck_list *l = &m->list[CK_PANE_TREE];
    ck_list_set_height(l, 4);
    CHECK(ck_model_key(m, 'j') & CK_R_REDRAW);
    CHECK_EQ_U64(l->cur, 1);
    ck_model_key(m, CK_KEY_DOWN);
    CHECK_EQ_U64(l->cur, 2);
    ck_model_key(m, 'G');
    CHECK_EQ_U64(l->cur, 8);
    CHECK_EQ_U64(l->top, 5); /* the cursor stays on screen */
    ck_model_key(m, 'g');
    CHECK_EQ_U64(l->cur, 0);
    CHECK_EQ_U64(l->top, 0);
    ck_model_key(m, CK_KEY_PGDN);
    CHECK_EQ_U64(l->cur, 3);
    ck_model_key(m, 'k');
    CHECK_EQ_U64(l->cur, 2);
    ck_model_key(m, CK_KEY_UP), ck_model_key(m, CK_KEY_UP), ck_model_key(m, CK_KEY_UP);
    CHECK_EQ_U64(l->cur, 0); /* clamped, no wrap */
    ck_model_key(m, '+');
    CHECK(m->tree.n_vis > 80);
    ck_model_key(m, '-');
    CHECK_EQ_U64(m->tree.n_vis, 6); /* embeddings, 3 layers, norms, head */
    /* Tab cycles the panes; keys are looked up for the focused pane */
    ck_model_key(m, CK_KEY_TAB);
    CHECK(m->focus == CK_PANE_FINDINGS);
    CHECK(ck_model_context(m) == CK_CTX_FINDINGS);
    ck_model_key(m, CK_KEY_TAB);
    CHECK(m->focus == CK_PANE_PLAN);
    ck_model_key(m, CK_KEY_BTAB), ck_model_key(m, CK_KEY_BTAB);
    CHECK(m->focus == CK_PANE_TREE);
    CHECK(ck_model_key(m, 'q') & CK_R_QUIT);
    CHECK(ck_model_key(m, '?') & CK_R_HELP);
    CHECK(ck_model_key(m, '/') & CK_R_ASK_SEARCH);
    CHECK(ck_model_key(m, 'f') & CK_R_ASK_FILTER);
    CHECK(ck_model_key(m, 12) & CK_R_CLEAR);
    close_fixture(&t);
}

static void test_search_and_filter(void)
{
    fx t;
    CHECK(open_fixture(&t, "demo", false));
    if (!t.ok) return;
    ck_model *m = &t.m;
    ck_model_search(m, "down_proj", 1);
    CHECK_STR(selected_key(m), "model.layers.0.mlp.experts.0.down_proj.weight");
    ck_model_key(m, 'n');
    CHECK_STR(selected_key(m), "model.layers.0.mlp.experts.1.down_proj.weight");
    ck_model_key(m, 'N');
    CHECK_STR(selected_key(m), "model.layers.0.mlp.experts.0.down_proj.weight");
    ck_model_key(m, 'N'); /* wraps to the last match: layer 2, expert 1 */
    CHECK_STR(selected_key(m), "model.layers.2.mlp.experts.1.down_proj.weight");
    ck_model_search(m, "layers.1.*experts.3.*down", 1); /* a glob */
    CHECK_STR(selected_key(m), "model.layers.1.mlp.experts.3.down_proj.weight");
    ck_model_search(m, "no such tensor", 1);
    CHECK(strstr(m->message, "not found") != NULL);

    size_t hits = ck_tree_filter(&m->tree, "*experts.3.*");
    CHECK_EQ_U64(hits, 6); /* layers 0 and 1; layer 2 lost expert 3 */
    ck_model_filter(m, "*experts.3.*");
    CHECK(row_named(m, "embeddings") < 0);
    CHECK(row_named(m, "layer 2") < 0);
    CHECK(row_named(m, "mlp.experts.3.down_proj.weight") >= 0);
    CHECK(strstr(m->message, "6 tensors") != NULL);
    ck_model_filter(m, "");
    CHECK(row_named(m, "embeddings") >= 0);
    close_fixture(&t);
}

static void test_jump_from_finding(void)
{
    fx t;
    CHECK(open_fixture(&t, "demo", false));
    if (!t.ok) return;
    ck_model *m = &t.m;
    ck_model_key(m, CK_KEY_TAB);
    CHECK(m->focus == CK_PANE_FINDINGS);
    /* findings are sorted: errors first */
    CHECK_EQ_U64(m->n_fvis, 4);
    ck_line ln;
    ck_model_finding_line(m, 0, &ln);
    CHECK_STR(ln.c[1].text, "TRANSPOSED");
    ck_model_key(m, CK_KEY_ENTER);
    CHECK(m->focus == CK_PANE_TREE);
    CHECK_STR(selected_key(m), "model.layers.1.mlp.experts.3.down_proj.weight");
    long row = (long)m->list[CK_PANE_TREE].cur;
    CHECK_STR(cell(m, row, CK_COL_STATUS), "transposed");
    CHECK_STR(cell(m, row, CK_COL_SHAPE), "[48, 64]");
    /* the detail pane: expected shape and the rule it came from, the verdict and its fix */
    ck_line d[64];
    size_t n = ck_model_detail(m, d, 64);
    bool expected = false, rule = false, verdict = false, fix = false;
    for (size_t i = 0; i < n; i++) {
        const char *label = d[i].c[0].text, *val = d[i].n > 1 ? d[i].c[1].text : "";
        if (!strncmp(label, "expected", 8)) expected = strstr(val, "[64, 48]") != NULL;
        if (!strncmp(label, "rule", 4)) rule = strstr(val, "qwen3_moe") && strstr(val, "down_proj");
        if (!strncmp(label, "verdict", 7)) verdict = strstr(val, "TRANSPOSED") != NULL;
        if (!strncmp(label, "fix", 3)) fix = strstr(val, "transpose") != NULL;
    }
    CHECK(expected && rule && verdict && fix);

    /* the missing experts of layer 2 land on the layer's experts row, which opens */
    ck_model_focus(m, CK_PANE_FINDINGS);
    ck_model_key(m, 'j');
    ck_model_key(m, CK_KEY_ENTER);
    int node = ck_model_selected_node(m);
    CHECK(node >= 0 && m->tree.nodes[node].kind == CK_NODE_EXPERTS && m->tree.nodes[node].layer == 2);
    /* severity filter: 1 = errors only */
    ck_model_key(m, '1');
    CHECK_EQ_U64(m->n_fvis, 2);
    ck_model_key(m, '3');
    CHECK_EQ_U64(m->n_fvis, 4);
    close_fixture(&t);
}

static void test_plan(void)
{
    fx t;
    CHECK(open_fixture(&t, "demo", false));
    if (!t.ok) return;
    ck_model *m = &t.m;
    /* a on the tree row of the transposed tensor */
    ck_model_jump(m, finding_index(m, CK_F_TRANSPOSED));
    ck_model_key(m, 'a');
    CHECK_EQ_U64(m->plan.n, 1);
    CHECK(m->plan.dirty);
    ck_model_key(m, 'a'); /* the same fix twice is one action */
    CHECK_EQ_U64(m->plan.n, 1);
    /* a on a finding without a fix */
    ck_model_focus(m, CK_PANE_FINDINGS);
    ck_list_select(&m->list[CK_PANE_FINDINGS], 2);
    ck_model_key(m, 'a');
    CHECK_EQ_U64(m->plan.n, 1);
    CHECK(strstr(m->message, "no suggested fix") != NULL);
    /* a on MISSING_EXPERTS in the findings pane */
    ck_list_select(&m->list[CK_PANE_FINDINGS], 1);
    ck_model_key(m, 'a');
    CHECK_EQ_U64(m->plan.n, 2);
    ck_line ln;
    ck_model_plan_line(m, 1, &ln);
    CHECK_STR(ln.c[1].text, "regather_ep layer 2 (EP=4)");
    /* reorder, remove */
    ck_model_focus(m, CK_PANE_PLAN);
    ck_list_select(&m->list[CK_PANE_PLAN], 1);
    ck_model_key(m, 'K');
    CHECK_EQ_U64(m->list[CK_PANE_PLAN].cur, 0);
    ck_model_plan_line(m, 0, &ln);
    CHECK_STR(ln.c[1].text, "regather_ep layer 2 (EP=4)");
    ck_model_key(m, 'J');
    ck_model_plan_line(m, 0, &ln);
    CHECK(!strncmp(ln.c[1].text, "transpose ", 10));
    CHECK(ck_model_key(m, 'q') & CK_R_ASK_QUIT); /* unsaved */
    /* save: the same JSON as check --emit-plan, through the atomic writer */
    char path[700];
    snprintf(path, sizeof path, "%s/plan.json", root);
    CHECK(ck_model_key(m, 'w') & CK_R_ASK_SAVE);
    CHECK(ck_model_save(m, path) == 0);
    CHECK(!m->plan.dirty);
    CHECK(ck_model_key(m, 'q') & CK_R_QUIT);
    FILE *fp = fopen(path, "r");
    char buf[4096] = "";
    size_t n = fp ? fread(buf, 1, sizeof buf - 1, fp) : 0;
    if (fp) fclose(fp);
    buf[n] = '\0';
    cJSON *doc = cJSON_Parse(buf);
    CHECK(doc != NULL);
    CHECK_STR(cJSON_GetObjectItem(doc, "schema")->valuestring, "ckdoc.plan/1");
    CHECK_STR(cJSON_GetObjectItem(doc, "source")->valuestring, m->path);
    cJSON *acts = cJSON_GetObjectItem(doc, "actions");
    CHECK_EQ_U64(cJSON_GetArraySize(acts), 2);
    cJSON *a0 = cJSON_GetArrayItem(acts, 0), *a1 = cJSON_GetArrayItem(acts, 1);
    CHECK_STR(cJSON_GetObjectItem(a0, "action")->valuestring, "transpose");
    CHECK_STR(cJSON_GetObjectItem(a0, "key")->valuestring, "model.layers.1.mlp.experts.3.down_proj.weight");
    CHECK_STR(cJSON_GetObjectItem(a0, "finding")->valuestring, "TRANSPOSED");
    CHECK_STR(cJSON_GetObjectItem(a1, "action")->valuestring, "regather_ep");
    CHECK_EQ_U64(cJSON_GetObjectItem(a1, "ep_size")->valueint, 4);
    cJSON_Delete(doc);
    ck_model_key(m, 'd');
    CHECK_EQ_U64(m->plan.n, 1);
    CHECK(m->plan.dirty);
    close_fixture(&t);
}

static void test_read_only(void)
{
    fx t;
    CHECK(open_fixture(&t, "demo", true));
    if (!t.ok) return;
    ck_model *m = &t.m;
    ck_model_jump(m, finding_index(m, CK_F_TRANSPOSED));
    ck_model_key(m, 'a');
    CHECK_EQ_U64(m->plan.n, 0);
    CHECK(strstr(m->message, "read-only") != NULL);
    CHECK(!(ck_model_key(m, 'w') & CK_R_ASK_SAVE));
    CHECK(ck_model_key(m, 'q') & CK_R_QUIT);
    close_fixture(&t);
}

static void test_missing_rows(void)
{
    fx t;
    CHECK(open_fixture(&t, "deepseek_v3-no-expert-bias", false));
    if (!t.ok) return;
    ck_model *m = &t.m;
    int fi = finding_index(m, CK_F_EXPERT_BIAS_MISSING);
    CHECK(fi >= 0);
    CHECK(ck_model_jump(m, fi));
    int node = ck_model_selected_node(m);
    CHECK(node >= 0 && m->tree.nodes[node].entry == -1);
    CHECK(strstr(selected_key(m), "e_score_correction_bias") != NULL);
    CHECK_STR(cell(m, (long)m->list[CK_PANE_TREE].cur, CK_COL_STATUS), "missing");
    CHECK(ck_model_selected_entry(m) < 0);
    ck_model_key(m, 's'); /* no data to reduce: a message, not a job */
    CHECK(strstr(m->message, "statistics need") != NULL);
    close_fixture(&t);
}

static void test_broken_config_is_a_finding(void)
{
    fx t;
    CHECK(open_fixture(&t, "llama-config-truncated", false));
    if (!t.ok) return;
    ck_model *m = &t.m;
    CHECK(finding_index(m, CK_F_CONFIG_INVALID) >= 0);
    CHECK(m->tree.n_vis > 0); /* the tensors are still browsable */
    ck_model_focus(m, CK_PANE_FINDINGS);
    ck_model_key(m, CK_KEY_ENTER); /* about config.json: a message instead of a jump */
    CHECK(m->focus == CK_PANE_FINDINGS);
    CHECK(strstr(m->message, "not a row") != NULL);
    close_fixture(&t);
}

/* Statistics run on a worker thread: the result equals what a direct reduction gives, and a job
 * can be stopped (cancelled) at any time. */
static void test_stats_job(void)
{
    fx t;
    CHECK(open_fixture(&t, "demo", false));
    if (!t.ok) return;
    ck_model *m = &t.m;
    ck_model_jump(m, finding_index(m, CK_F_TRANSPOSED));
    CHECK(ck_model_key(m, 's') & CK_R_STATS);
    long e = ck_model_selected_entry(m);
    CHECK(e >= 0);
    static ck_statjob j;
    CHECK(ck_statjob_start(&j, &t.ck, e) == 0);
    for (int i = 0; i < 500 && ck_statjob_state(&j) == CK_JOB_RUNNING; i++) usleep(10000);
    CHECK(ck_statjob_state(&j) == CK_JOB_DONE);
    CHECK_EQ_U64(j.st.count, 48 * 64);
    CHECK(j.st.t.min < 0 && j.st.t.max > 0 && j.st.std > 0);
    uint64_t in_bins = 0;
    for (int b = 0; b < CK_HIST_BINS; b++) in_bins += j.st.t.hist[b];
    CHECK_EQ_U64(in_bins, 48 * 64);
    CHECK(j.heat_rows == 12 && j.heat_cols == 48 && j.heat_max > 0);
    CHECK(ck_statjob_progress(&j) == 1.0);
    ck_statjob_stop(&j);
    /* restart on another tensor, stop at once: never a crash, ends cancelled or done */
    CHECK(ck_statjob_start(&j, &t.ck, 0) == 0);
    ck_statjob_stop(&j);
    CHECK(ck_statjob_state(&j) == CK_JOB_CANCELLED || ck_statjob_state(&j) == CK_JOB_DONE);
    close_fixture(&t);
}

static void test_help_from_key_table(void)
{
    ck_line lines[128];
    size_t n = ck_help_lines(lines, 128, true);
    /* every binding with help text appears once, with every key of its action */
    size_t with_help = 0;
    for (size_t i = 0; i < ck_n_bindings; i++) with_help += ck_bindings[i].help != NULL;
    CHECK_EQ_U64(n, with_help + CK_CTX_COUNT);
    bool save_dim = false, down_keys = false;
    for (size_t i = 0; i < n; i++) {
        if (lines[i].n < 2) continue;
        if (strstr(lines[i].c[1].text, "save the plan")) save_dim = lines[i].c[0].style == CK_S_DIM && strstr(lines[i].c[1].text, "read-only");
        if (strstr(lines[i].c[1].text, "move down")) down_keys = strstr(lines[i].c[0].text, "j, Down") != NULL;
    }
    CHECK(save_dim);
    CHECK(down_keys);
    CHECK(ck_key_action('s', CK_CTX_TREE) == CK_A_STATS);
    CHECK(ck_key_action('d', CK_CTX_PLAN) == CK_A_DELETE);
    CHECK(ck_key_action('d', CK_CTX_TREE) == CK_A_NONE);
}

static void test_layout(void)
{
    ck_frame L;
    ck_layout_compute(&L, 23, 80, CK_PANE_TREE);
    CHECK(L.too_small);
    ck_layout_compute(&L, 24, 79, CK_PANE_TREE);
    CHECK(L.too_small);
    ck_layout_compute(&L, 24, 80, CK_PANE_TREE);
    CHECK(!L.too_small && !L.wide && L.detail.shown && !L.pane[CK_PANE_FINDINGS].shown);
    ck_layout_compute(&L, 24, 80, CK_PANE_FINDINGS);
    CHECK(L.pane[CK_PANE_FINDINGS].shown && !L.detail.shown);
    ck_layout_compute(&L, 40, 120, CK_PANE_TREE);
    CHECK(L.wide && L.pane[CK_PANE_PLAN].shown && L.detail.shown);
    int row;
    CHECK(ck_layout_hit(&L, 3, 5, &row) == CK_PANE_TREE && row == 1);
    CHECK(ck_layout_hit(&L, 0, 5, &row) == -1);
}

int main(void)
{
    if (!mkdtemp(root)) return 1;
    RUN_TEST("tui", test_grouping_and_status);
    RUN_TEST("tui", test_navigation);
    RUN_TEST("tui", test_search_and_filter);
    RUN_TEST("tui", test_jump_from_finding);
    RUN_TEST("tui", test_plan);
    RUN_TEST("tui", test_read_only);
    RUN_TEST("tui", test_missing_rows);
    RUN_TEST("tui", test_broken_config_is_a_finding);
    RUN_TEST("tui", test_stats_job);
    RUN_TEST("tui", test_help_from_key_table);
    RUN_TEST("tui", test_layout);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "  could not remove %s\n", root);
    TEST_EXIT();
}
