/* The browser's view model without a terminal: build it from fixture checkpoints and drive it with
 * action ids, as the event loop would. Checks grouping, expert counts, status words, navigation,
 * search, filter, jump-from-finding, the plan (add, refuse duplicates, reorder, remove, save as
 * ckdoc.plan/1), read-only, the help generated from the key table, and the layout limits. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inspect/check.h"
#include "kernels/backend.h"
#include "kernels/tensor_eval.h"
#include "tests/check.h"
#include "tests/gen/fixtures.h"
#include "tui/layout.h"
#include "tui/model.h"
#include "tui/statjob.h"
#include "tui/text.h"

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

/* Run a job on `key` to the end. */
static bool run_job(ck_statjob *j, ck_checkpoint *ck, const char *key)
{
    const ck_entry *e = ck_checkpoint_find(ck, key);
    if (!e) {
        fprintf(stderr, "  no tensor %s\n", key);
        return false;
    }
    if (ck_statjob_start(j, ck, (long)(e - ck->entries)) < 0) {
        fprintf(stderr, "  %s: %s\n", key, j->error);
        return false;
    }
    for (int i = 0; i < 1000 && ck_statjob_state(j) == CK_JOB_RUNNING; i++) usleep(10000);
    ck_statjob_stop(j);
    if (ck_statjob_state(j) != CK_JOB_DONE) fprintf(stderr, "  %s: %s\n", key, j->error);
    return ck_statjob_state(j) == CK_JOB_DONE;
}

/* What `ckdoc stats` computes for the group that `key` heads. */
static bool reference_stats(ck_checkpoint *ck, const char *key, ck_tresult *r)
{
    ck_error err;
    ck_tgroup g;
    const ck_entry *e = ck_checkpoint_find(ck, key);
    if (!e) return false;
    ck_tgroup_find(ck, e, &g);
    ck_backend *be = ck_backend_cpu_create(1, &err);
    ck_teval *ev = be ? ck_teval_new(ck, be, 1, &err) : NULL;
    bool ok = ev && ck_teval_stats(ev, &g, CK_EVAL_HISTOGRAM | CK_EVAL_HASH, r, &err) == 0 && r->has_stats;
    ck_teval_free(ev);
    if (be) ck_backend_destroy(be);
    return ok;
}

static bool same_stats(const ck_stats *a, const ck_stats *b, bool exact_sums)
{
    bool ok = a->count == b->count && a->t.finite == b->t.finite && a->t.nan == b->t.nan && a->t.inf == b->t.inf &&
              a->t.zero == b->t.zero && a->t.min == b->t.min && a->t.max == b->t.max &&
              !memcmp(a->t.hist, b->t.hist, sizeof a->t.hist);
    if (exact_sums) return ok && a->mean == b->mean && a->std == b->std;
    /* the same values in another order (a transposed copy): sums agree to the rounding of the
     * float lanes inside a chunk (kernels/stats.h) */
    return ok && fabs(a->mean - b->mean) <= 1e-6 * (fabs(b->mean) + b->std) && fabs(a->std - b->std) <= 1e-6 * fabs(b->std);
}

/* Quantized tensors are dequantized with their scales: the browser's numbers are `ckdoc stats`'s
 * (the same group through ck_teval_stats, bit for bit), and for GPT-OSS's MXFP4 down_proj they
 * are those of the BF16 release of the same weights. FP8 block scales (DeepSeek-V3) and NVFP4
 * (Nemotron-H) too. Packed F4 is no longer refused. */
static void test_stats_dequantized(void)
{
    static ck_statjob j;
    ck_tresult ref;
    fx q, b;
    CHECK(open_fixture(&q, "gpt_oss", false));
    CHECK(open_fixture(&b, "gpt_oss-bf16", false));
    if (q.ok && b.ok) {
        const char *blocks = "model.layers.1.mlp.experts.down_proj_blocks";
        CHECK(run_job(&j, &q.ck, blocks));
        CHECK(j.grouped && j.g.fmt == CK_GROUP_MXFP4);
        CHECK_EQ_U64(j.st.count, 4 * 64 * 96);
        CHECK(j.g.ndim == 3 && j.g.shape[2] == 96);
        char what[200];
        ck_statjob_describe(&j, what, sizeof what);
        CHECK_STR(what, "MXFP4 dequantized (U8 codes, U8 scales)");
        CHECK(reference_stats(&q.ck, blocks, &ref));
        CHECK(same_stats(&j.st, &ref.st, true));
        /* real values, not codes: codes are 0..255 */
        CHECK(j.st.t.min == -0.75f && j.st.t.max == 0.75f);
        CHECK(j.heat_max > 0 && j.heat_max < 1);
        CHECK(reference_stats(&b.ck, "model.layers.1.mlp.experts.down_proj", &ref));
        CHECK(same_stats(&j.st, &ref.st, false));
        static ck_statjob jb;
        CHECK(run_job(&jb, &b.ck, "model.layers.1.mlp.experts.down_proj"));
        CHECK(same_stats(&j.st, &jb.st, false));
        CHECK(same_stats(&jb.st, &ref.st, true));
    }
    close_fixture(&q);
    close_fixture(&b);

    static const struct { const char *fixture, *key; ck_group_fmt fmt; } quant[] = {
        {"deepseek_v3", "model.layers.1.mlp.experts.3.down_proj.weight", CK_GROUP_FP8},
        {"deepseek_v3", "model.layers.0.self_attn.q_a_proj.weight", CK_GROUP_FP8},
        {"nemotron_h-nvfp4", NULL, CK_GROUP_NVFP4},
    };
    for (size_t i = 0; i < sizeof quant / sizeof *quant; i++) {
        fx t;
        CHECK(open_fixture(&t, quant[i].fixture, false));
        if (!t.ok) continue;
        const char *key = quant[i].key;
        if (!key) /* the first NVFP4 weight of the fixture */
            for (size_t k = 0; k < t.ck.n_entries && !key; k++) {
                ck_tgroup g;
                if (ck_tgroup_find(&t.ck, &t.ck.entries[k], &g) && g.fmt == quant[i].fmt) key = t.ck.entries[k].name;
            }
        CHECK(key != NULL);
        if (key && run_job(&j, &t.ck, key)) {
            CHECK(j.grouped && j.g.fmt == quant[i].fmt);
            CHECK(reference_stats(&t.ck, key, &ref));
            CHECK(same_stats(&j.st, &ref.st, true));
            CHECK(j.st.std > 0);
        } else {
            CHECK(!"job ran");
        }
        close_fixture(&t);
    }
}

/* Text that a terminal can only draw: well-formed UTF-8, no C0, DEL, C1 or bidi controls. */
static bool drawable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c;
        int n = *p < 0x80 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC2 ? 2 : 0;
        if (!n) return false;
        c = n == 1 ? *p : (uint32_t)(*p & (0x7F >> n));
        for (int i = 1; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80) return false;
            c = c << 6 | (p[i] & 0x3F);
        }
        if (c < 0x20 || (c >= 0x7F && c <= 0x9F) || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069)) return false;
        p += n;
    }
    return true;
}

static bool line_drawable(const ck_line *l)
{
    for (int c = 0; c < l->n; c++)
        if (!drawable(l->c[c].text)) {
            fprintf(stderr, "  not drawable: %s\n", l->c[c].text);
            return false;
        }
    return true;
}

/* Tensor names (and a shard's file name) that would drive a terminal: clear the screen, set the
 * title, return the carriage, delete, 8-bit CSI, right-to-left override, invalid UTF-8. Every cell
 * the view model hands the drawing code shows them escaped. */
static void test_hostile_names(void)
{
    char dir[600], file[700];
    snprintf(dir, sizeof dir, "%s/hostile", root);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(file, sizeof file, "%s/w\xff\xfe\x1b[2J.safetensors", dir); /* the file name is hostile too */
    static const char *const names[] = {
        "\\u001b[2J", "\\u001b]0;pwned\\u0007x", "a\\rb.weight", "del\\u007f.weight", "c1\\u009b31m.weight",
        "rtl\\u202egnp.exe.weight", "model.layers.0.mlp.\\u001b[31mred.weight", "ok.weight",
    };
    size_t n = sizeof names / sizeof *names;
    char hdr[2048];
    size_t o = (size_t)snprintf(hdr, sizeof hdr, "{");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(hdr + o, sizeof hdr - o, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%zu,%zu]}",
                              i ? "," : "", names[i], 8 * i, 8 * i + 8);
    o += (size_t)snprintf(hdr + o, sizeof hdr - o, "}");
    while (o % 8) hdr[o++] = ' ';
    FILE *fp = fopen(file, "wb");
    CHECK(fp != NULL);
    if (!fp) return;
    uint64_t len = o;
    static const float zeros[64];
    fwrite(&len, 8, 1, fp);
    fwrite(hdr, 1, o, fp);
    fwrite(zeros, 8, n, fp);
    fclose(fp);

    fx t;
    CHECK(open_fixture(&t, "hostile", false));
    if (!t.ok) return;
    ck_model *m = &t.m;
    CHECK_EQ_U64(m->ck->n_entries, n);
    ck_model_key(m, '+');
    bool clear = false, title = false, cr = false, del = false, c1 = false, rtl = false, layer = false, shard = false;
    for (size_t v = 0; v < m->tree.n_vis; v++) {
        ck_row_view rv;
        ck_tree_row(&m->tree, m->ck, m->tree.vis[v], &rv);
        for (int c = 0; c < CK_COL_COUNT; c++) CHECK(drawable(rv.c[c].text));
        const char *name = rv.c[CK_COL_NAME].text;
        clear |= strstr(name, "\\x1b[2J") != NULL;
        title |= strstr(name, "\\x1b]0;pwned\\x07x") != NULL;
        cr |= strstr(name, "a\\x0db.weight") != NULL;
        del |= strstr(name, "del\\x7f.weight") != NULL;
        c1 |= strstr(name, "c1\\u009b31m.weight") != NULL;
        rtl |= strstr(name, "rtl\\u202egnp.exe.weight") != NULL;
        layer |= strstr(name, "\\x1b[31mred.weight") != NULL;
        shard |= strstr(rv.c[CK_COL_SHARD].text, "w\\xff\\xfe\\x1b[2J") != NULL;
        /* the detail pane of every row */
        ck_list_select(&m->list[CK_PANE_TREE], v);
        ck_line d[64];
        size_t nd = ck_model_detail(m, d, 64);
        for (size_t i = 0; i < nd; i++) CHECK(line_drawable(&d[i]));
    }
    CHECK(clear && title && cr && del && c1 && rtl && layer && shard);
    ck_line l;
    ck_model_header(m, &l);
    CHECK(line_drawable(&l));
    for (size_t i = 0; i < m->n_fvis; i++) {
        ck_model_finding_line(m, i, &l);
        CHECK(line_drawable(&l));
    }
    ck_model_search(m, "pwned", 1);
    CHECK(strstr(selected_key(m), "pwned") != NULL);
    close_fixture(&t);

    /* the escaping itself: bytes that are not UTF-8 one by one, valid text untouched */
    char out[200];
    ck_esc(out, sizeof out, "bad\xff\xfe|\xc0\xaf|\xed\xa0\x80|\xe2\x82", 15);
    CHECK_STR(out, "bad\\xff\\xfe|\\xc0\\xaf|\\xed\\xa0\\x80|\\xe2\\x82");
    ck_esc(out, sizeof out, "caf\xc3\xa9 \xe2\x96\xb8 \xf0\x9f\x99\x82", 14);
    CHECK_STR(out, "caf\xc3\xa9 \xe2\x96\xb8 \xf0\x9f\x99\x82");
    ck_esc_ctl(out, sizeof out, "key 'a\rb' \xc2\x9b");
    CHECK_STR(out, "key 'a\\x0db' \\u009b");
}

/* The footer: hints on the left and counts on the right, each a click target acting as its key;
 * the detail pane scrolls with J/K and starts at the top again for another selection. */
static void test_footer_and_detail_scroll(void)
{
    fx t;
    CHECK(open_fixture(&t, "demo", false));
    if (!t.ok) return;
    ck_model *m = &t.m;
    ck_footer_item it[24];
    size_t n = ck_model_footer(m, 120, true, it, 24);
    int slash = -1, errors = -1;
    for (size_t i = 0; i < n; i++) {
        if (it[i].key == '/') slash = (int)i;
        if (it[i].key == '1') errors = (int)i;
        CHECK(it[i].x >= 0 && it[i].x + it[i].w <= 120);
        if (i) CHECK(it[i].x >= it[i - 1].x + it[i - 1].w || it[i].key_text[0]); /* no overlap */
    }
    CHECK(slash >= 0 && errors >= 0);
    if (slash >= 0 && errors >= 0) {
        CHECK_STR(it[slash].key_text, "/");
        CHECK_STR(it[slash].text, ":search");
        CHECK(strstr(it[errors].text, "2 errors") != NULL);
        CHECK(ck_model_footer_key(m, 120, true, it[slash].x) == '/');
        CHECK(ck_model_footer_key(m, 120, true, it[slash].x + it[slash].w - 1) == '/');
        CHECK(ck_model_footer_key(m, 120, true, it[errors].x + 2) == '1');
        CHECK(ck_model_footer_key(m, 120, false, it[slash].x) == 0); /* a message has the left side */
        CHECK(ck_model_footer_key(m, 120, true, 0) == 0);
        /* a click is the key: the search prompt, the severity filter */
        CHECK(ck_model_key(m, ck_model_footer_key(m, 120, true, it[slash].x)) & CK_R_ASK_SEARCH);
        ck_model_key(m, ck_model_footer_key(m, 120, true, it[errors].x));
        CHECK_EQ_U64(m->n_fvis, 2);
    }
    /* hints that do not fit are left out, never cut */
    n = ck_model_footer(m, 80, true, it, 24);
    for (size_t i = 0; i < n; i++) CHECK(it[i].x + it[i].w <= 80);

    /* the transposed expert's detail has more lines than a short pane */
    ck_model_jump(m, finding_index(m, CK_F_TRANSPOSED));
    ck_line d[64];
    size_t nd = ck_model_detail(m, d, 64);
    CHECK(nd > 6);
    CHECK_EQ_U64(ck_model_detail_top(m, nd), 0);
    ck_model_key(m, 'J');
    CHECK_EQ_U64(ck_model_detail_top(m, nd), 3);
    ck_model_key(m, 'J'), ck_model_key(m, 'J'), ck_model_key(m, 'J'), ck_model_key(m, 'J');
    CHECK_EQ_U64(ck_model_detail_top(m, nd), nd - 1); /* clamped */
    ck_model_key(m, 'K');
    CHECK_EQ_U64(ck_model_detail_top(m, nd), nd - 4);
    ck_model_key(m, 'j'); /* another row: from the top */
    CHECK_EQ_U64(ck_model_detail_top(m, ck_model_detail(m, d, 64)), 0);
    CHECK(ck_key_action('J', CK_CTX_PLAN) == CK_A_MOVE_DOWN); /* the plan keeps J/K for reordering */
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
    RUN_TEST("tui", test_stats_dequantized);
    RUN_TEST("tui", test_hostile_names);
    RUN_TEST("tui", test_footer_and_detail_scroll);
    RUN_TEST("tui", test_help_from_key_table);
    RUN_TEST("tui", test_layout);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "  could not remove %s\n", root);
    TEST_EXIT();
}
