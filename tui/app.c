/* The browser's event loop: open and check the checkpoint, then draw, read one event, act, and
 * draw again. The layout is recomputed from the terminal size on every frame, so KEY_RESIZE needs
 * no handling beyond the next frame. Prompts (search, filter, save path, quit confirmation) and
 * overlays (help, statistics) are small states of this loop; everything else is the model's. */
#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckdoc.h"
#include "inspect/check.h"
#include "tui/draw.h"
#include "tui/layout.h"
#include "tui/model.h"
#include "tui/statjob.h"
#include "tui/term.h"

static const char usage_text[] =
    "usage: ckdoc PATH [--read-only] [--no-color] [--no-mouse] [--ascii] [--plan FILE]\n"
    "       ckdoc --keys   (the key table, in Markdown)\n"
    "  Browse a checkpoint: its tensors grouped by layer, the findings of 'ckdoc check', and a repair\n"
    "  plan staged from their fixes. Press ? inside for the keys.\n";

typedef enum { P_NONE, P_SEARCH, P_FILTER, P_SAVE, P_QUIT } prompt_kind;

typedef struct {
    ck_model *m;
    ck_ui ui;
    ck_statjob job;
    prompt_kind prompt;
    char input[1100];
    bool quit;
} app;

static void start_prompt(app *a, prompt_kind k, const char *initial)
{
    static const char *const labels[] = {"", "/", "filter (glob, empty clears): ", "save plan to: ", ""};
    a->prompt = k;
    snprintf(a->input, sizeof a->input, "%s", initial ? initial : "");
    a->ui.prompt = labels[k];
    a->ui.input = a->input;
    if (k == P_QUIT) {
        static char q[160];
        snprintf(q, sizeof q, "the plan has %zu unsaved action%s: quit anyway? (y/n) ", a->m->plan.n, a->m->plan.n == 1 ? "" : "s");
        a->ui.prompt = q;
    }
}

static void end_prompt(app *a)
{
    a->prompt = P_NONE;
    a->ui.prompt = NULL;
    a->ui.input = NULL;
}

static void prompt_key(app *a, int key)
{
    if (a->prompt == P_QUIT) {
        a->quit = key == 'y' || key == 'Y';
        end_prompt(a);
        return;
    }
    size_t len = strlen(a->input);
    if (key == CK_KEY_ESC) {
        end_prompt(a);
    } else if (key == CK_KEY_BACKSPACE) {
        while (len && (a->input[len - 1] & 0xC0) == 0x80) len--; /* a whole UTF-8 character */
        if (len) len--;
        a->input[len] = '\0';
    } else if (key == CK_KEY_ENTER) {
        prompt_kind k = a->prompt;
        end_prompt(a);
        if (k == P_SEARCH) ck_model_search(a->m, a->input, 1);
        else if (k == P_FILTER) ck_model_filter(a->m, a->input);
        else if (k == P_SAVE && a->input[0]) ck_model_save(a->m, a->input);
    } else if (key >= 32 && key < 256 && key != 127 && len + 1 < sizeof a->input) {
        a->input[len] = (char)key;
        a->input[len + 1] = '\0';
    }
}

static void react(app *a, unsigned r)
{
    if (r & CK_R_QUIT) a->quit = true;
    if (r & CK_R_ASK_QUIT) start_prompt(a, P_QUIT, NULL);
    if (r & CK_R_ASK_SEARCH) start_prompt(a, P_SEARCH, NULL);
    if (r & CK_R_ASK_FILTER) start_prompt(a, P_FILTER, a->m->filter);
    if (r & CK_R_ASK_SAVE) start_prompt(a, P_SAVE, a->m->plan_path);
    if (r & CK_R_HELP) a->ui.overlay = CK_OV_HELP, a->ui.help_top = 0;
    if (r & CK_R_CLEAR) ck_term_clear();
    if (r & CK_R_STATS) {
        long e = ck_model_selected_entry(a->m);
        if (e >= 0) {
            ck_statjob_start(&a->job, a->m->ck, e); /* a failure shows in the overlay */
            a->ui.overlay = CK_OV_STATS;
            a->ui.job = &a->job;
            a->ui.job_entry = e;
        }
    }
}

static void mouse(app *a, const ck_frame *L, const ck_event *ev)
{
    int row;
    if (ev->button == 1 && ev->y == L->footer.y && L->footer.shown) { /* the footer's items act as their keys */
        int key = ck_model_footer_key(a->m, L->footer.w, !a->m->message[0], ev->x - L->footer.x);
        if (key) react(a, ck_model_key(a->m, key));
        return;
    }
    const ck_rect *d = &L->detail;
    if ((ev->button == 4 || ev->button == 5) && d->shown && ev->y > d->y && ev->y < d->y + d->h && ev->x >= d->x &&
        ev->x < d->x + d->w) {
        ck_model_detail_scroll(a->m, ev->button == 4 ? -3 : 3);
        return;
    }
    int p = ck_layout_hit(L, ev->y, ev->x, &row);
    if (p < 0) return;
    ck_list *l = &a->m->list[p];
    if (ev->button == 4 || ev->button == 5) {
        ck_list_scroll(l, ev->button == 4 ? -3 : 3);
        return;
    }
    if (ev->button != 1) return;
    size_t i = l->top + (size_t)row;
    if (i >= l->n) {
        ck_model_focus(a->m, (ck_pane)p);
        return;
    }
    /* A click selects; a click on the selected row of the focused pane opens it, like Enter. */
    bool again = a->m->focus == (ck_pane)p && l->cur == i;
    ck_model_focus(a->m, (ck_pane)p);
    ck_list_select(l, i);
    if (again) react(a, ck_model_act(a->m, CK_A_ENTER));
}

static void overlay_key(app *a, int key)
{
    if (a->ui.overlay == CK_OV_HELP) {
        if (key == 'j' || key == CK_KEY_DOWN) a->ui.help_top++;
        else if ((key == 'k' || key == CK_KEY_UP) && a->ui.help_top > 0) a->ui.help_top--;
        else if (key == CK_KEY_PGDN || key == ' ') a->ui.help_top += 10;
        else if (key == CK_KEY_PGUP) a->ui.help_top = a->ui.help_top > 10 ? a->ui.help_top - 10 : 0;
        else if (key == 'q' || key == '?' || key == CK_KEY_ESC || key == CK_KEY_F1) a->ui.overlay = CK_OV_NONE;
        return;
    }
    if (key == 'q' || key == CK_KEY_ESC || key == 's' || key == CK_KEY_ENTER) {
        ck_statjob_stop(&a->job); /* cancels a running job */
        a->ui.overlay = CK_OV_NONE;
        if (key == 'q' && ck_statjob_state(&a->job) == CK_JOB_CANCELLED) ck_model_message(a->m, CK_S_INFO, "statistics cancelled");
    }
}

/* One event, as the loop handles it. */
static void dispatch(app *a, const ck_frame *L, const ck_event *ev)
{
    if (ev->type == CK_EV_NONE || ev->type == CK_EV_RESIZE) return;
    if (L->too_small) {
        if (ev->type == CK_EV_KEY && ev->key == 'q') react(a, ck_model_act(a->m, CK_A_QUIT));
        return;
    }
    if (ev->type == CK_EV_MOUSE) {
        if (a->ui.overlay == CK_OV_NONE && a->prompt == P_NONE) mouse(a, L, ev);
        return;
    }
    if (a->prompt != P_NONE) prompt_key(a, ev->key);
    else if (a->ui.overlay != CK_OV_NONE) overlay_key(a, ev->key);
    else if (ev->key == CK_KEY_ESC) a->m->message[0] = '\0';
    else react(a, ck_model_key(a->m, ev->key));
}

/* Lay out and draw one frame; returns whether a statistics job is running (the loop then wakes
 * up to move its progress bar). */
static bool frame(app *a, ck_frame *L)
{
    int rows, cols;
    ck_term_size(&rows, &cols);
    ck_layout_compute(L, rows, cols, a->m->focus);
    /* Read the job state before drawing: a job that ends between the two would otherwise leave
     * its last drawn frame (still running) on screen until the next key. */
    bool busy = a->ui.overlay == CK_OV_STATS && ck_statjob_state(&a->job) == CK_JOB_RUNNING;
    ck_draw(a->m, L, &a->ui, rows, cols);
    return busy;
}

static int run(app *a)
{
    while (!a->quit) {
        ck_frame L;
        bool busy = frame(a, &L);
        ck_event ev = ck_term_read(busy ? 100 : -1);
        dispatch(a, &L, &ev);
    }
    return 0;
}

/* ---- ckdoc --bench-ui PATH: the speed figures of `make bench` -----------------------------------
 * The real code path (open, check, view model, curses drawing) on an off-screen curses terminal,
 * then a scripted session of key presses, each followed by a full frame, all timed in-process.
 * Prints key=value lines that tests/bench/run.sh reads. */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct {
    double start, opened, modelled, first, checked; /* checked: the view with the findings is ready */
    int rows, cols;
} bench_times;

static int cmp_double(const void *x, const void *y)
{
    double p = *(const double *)x, q = *(const double *)y;
    return (p > q) - (p < q);
}

static int bench(app *a, const bench_times *bt)
{
    ck_frame L;
    frame(a, &L);
    double full = now_ms();
    printf("size=%dx%d tensors=%zu findings=%zu tree_nodes=%zu\n", bt->cols, bt->rows, a->m->ck->n_entries, a->m->f->n,
           a->m->tree.n);
    /* first screen: the tree drawn, checks pending; full screen: drawn again with the findings */
    printf("open_ms=%.2f model_ms=%.2f first_frame_ms=%.2f first_screen_ms=%.2f check_and_model_ms=%.2f full_screen_ms=%.2f\n",
           bt->opened - bt->start, bt->modelled - bt->opened, bt->first - bt->modelled, bt->first - bt->start,
           bt->checked - bt->first, full - bt->start);
    /* A session: move, page, jump to the ends, expand and collapse (one group, then every group),
     * findings and their jumps, the plan, a search typed key by key with n/N, statistics started
     * and cancelled, help, filter cleared. */
    enum { K_SEARCH = 0x120000 };
    static const int script[] = {
        'j', 'j', 'j', 'j', 'j', 'j', 'j', 'j', 'k', 'k', CK_KEY_PGDN, CK_KEY_PGDN, CK_KEY_PGUP, 'G', 'g',
        CK_KEY_ENTER, 'j', 'j', CK_KEY_ENTER, 'l', 'j', 'h', 'h', '+', CK_KEY_PGDN, CK_KEY_PGDN, 'G', '-', 'g',
        CK_KEY_TAB, 'j', 'j', CK_KEY_ENTER, CK_KEY_TAB, CK_KEY_ENTER, CK_KEY_TAB, 'G', CK_KEY_ENTER, CK_KEY_TAB, '3', '1',
        CK_KEY_TAB, CK_KEY_BTAB, CK_KEY_BTAB, K_SEARCH, 'n', 'n', 'N', 's', CK_KEY_ESC, '?', 'j', 'j', 'q',
        'j', 'k', CK_KEY_END, CK_KEY_HOME,
    };
    static const char search[] = "experts.200.down";
    size_t max_keys = sizeof script / sizeof *script + sizeof search + 2;
    double *dt = calloc(max_keys, sizeof *dt);
    char (*what)[24] = calloc(max_keys, sizeof *what);
    if (!dt || !what) {
        free(dt), free(what);
        return CK_EXIT_INTERNAL;
    }
    size_t n = 0;
    for (size_t i = 0; i < sizeof script / sizeof *script; i++) {
        int keys[sizeof search + 2], nk = 0;
        if (script[i] == K_SEARCH) {
            keys[nk++] = '/';
            for (const char *c = search; *c; c++) keys[nk++] = *c;
            keys[nk++] = CK_KEY_ENTER;
        } else {
            keys[nk++] = script[i];
        }
        for (int k = 0; k < nk; k++) {
            ck_event ev = {CK_EV_KEY, keys[k], 0, 0, 0};
            double t0 = now_ms();
            dispatch(a, &L, &ev);
            frame(a, &L);
            dt[n] = now_ms() - t0;
            ck_key_name(keys[k], what[n], sizeof what[n]);
            fprintf(stderr, "key %-6s %7.3f ms\n", what[n], dt[n]); /* per key, for a closer look */
            n++;
        }
    }
    size_t slow = 0;
    for (size_t i = 0; i < n; i++)
        if (dt[i] > dt[slow]) slow = i;
    printf("slowest_key=%s\n", what[slow]);
    qsort(dt, n, sizeof *dt, cmp_double);
    printf("keys=%zu key_median_ms=%.3f key_p95_ms=%.3f key_max_ms=%.3f\n", n, dt[n / 2], dt[(n * 95) / 100], dt[n - 1]);
    free(dt);
    free(what);
    return CK_EXIT_OK;
}

int ck_cmd_browse(int argc, char **argv)
{
    const char *path = NULL, *plan = NULL;
    bench_times bt = {now_ms(), 0, 0, 0, 0, 60, 200};
    bool bench_mode = false;
    bool read_only = false, no_color = getenv("NO_COLOR") && getenv("NO_COLOR")[0], no_mouse = false, ascii = false;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--read-only")) read_only = true;
        else if (!strcmp(s, "--no-color")) no_color = true;
        else if (!strcmp(s, "--no-mouse")) no_mouse = true;
        else if (!strcmp(s, "--ascii")) ascii = true;
        else if (!strcmp(s, "-h") || !strcmp(s, "--help")) { fputs(usage_text, stdout); return CK_EXIT_OK; }
        else if (!strcmp(s, "--keys")) { /* the key table in Markdown, for docs/tui.md */
            char buf[16384];
            size_t n = ck_keys_markdown(buf, sizeof buf);
            fwrite(buf, 1, n < sizeof buf ? n : sizeof buf - 1, stdout);
            return CK_EXIT_OK;
        }
        else if (!strcmp(s, "--plan") && i + 1 < argc) plan = argv[++i];
        else if (!strcmp(s, "--bench-ui")) bench_mode = true; /* not in the usage: tests/bench/run.sh */
        else if (!strcmp(s, "--bench-size") && i + 1 < argc) {
            if (sscanf(argv[++i], "%dx%d", &bt.cols, &bt.rows) != 2 || bt.cols < 1 || bt.rows < 1) {
                fprintf(stderr, "ckdoc: --bench-size takes COLSxROWS, not '%s'\n", argv[i]);
                return CK_EXIT_INPUT;
            }
        }
        else if (s[0] == '-' && s[1]) { fprintf(stderr, "ckdoc: unknown option '%s'\n%s", s, usage_text); return CK_EXIT_INPUT; }
        else if (path) { fprintf(stderr, "ckdoc: more than one PATH: '%s'\n%s", s, usage_text); return CK_EXIT_INPUT; }
        else path = s;
    }
    if (!path) { fputs(usage_text, stderr); return CK_EXIT_INPUT; }

    ck_checkpoint ck;
    ck_error err;
    char line[1400];
    if (ck_checkpoint_open(path, 0, &ck, &err) < 0) {
        ck_error_format(&err, line, sizeof line);
        fprintf(stderr, "ckdoc: %s\n", line);
        return CK_EXIT_INPUT;
    }
    bt.opened = now_ms();
    /* The first screen comes before the checks: the tree of a 100,000-tensor checkpoint is ready in
     * a fraction of the time `check` takes (which reads every quantization scale), so the browser
     * draws it at once with the statuses pending, runs the checks, then rebuilds the view with
     * the findings. No key is handled in between, so nothing of the first view is lost. */
    int status = CK_EXIT_OK;
    ck_check_options opt = {0};
    ck_findings none = {0}, f = {0};
    ck_expectation x;
    bool checked = false;
    memset(&x, 0, sizeof x);
    ck_model m;
    app a;
    memset(&a, 0, sizeof a);
    a.m = &m;
    ck_term_options to = {!no_color, !no_mouse};
    char why[300];
    if (ck_model_init(&m, &ck, &none, NULL, path, read_only, ascii) < 0) {
        fprintf(stderr, "ckdoc: out of memory\n");
        ck_checkpoint_close(&ck);
        return CK_EXIT_INTERNAL;
    }
    m.tree.pending = true;
    bt.modelled = now_ms();
    if (bench_mode ? ck_term_init_offscreen(bt.rows, bt.cols, why, sizeof why) < 0 : ck_term_init(&to, why, sizeof why) < 0) {
        fprintf(stderr, "ckdoc: %s\n", why);
        ck_model_free(&m);
        ck_checkpoint_close(&ck);
        return bench_mode ? CK_EXIT_INTERNAL : CK_EXIT_INPUT;
    }
    /* triangles need UTF-8: ASCII expanders otherwise */
    bool tree_ascii = ascii || !ck_term_utf8();
    m.tree.ascii = tree_ascii;
    ck_frame L;
    frame(&a, &L);
    bt.first = now_ms();
    /* Unreadable shards and invalid configs are findings here, as in `check`: the browser shows them. */
    if (ck_check_run(&ck, &opt, &f, &x, &err) < 0) {
        ck_error_format(&err, line, sizeof line);
        status = CK_EXIT_INTERNAL;
    } else {
        checked = true;
        ck_findings_sort(&f);
        ck_model_free(&m);
        if (ck_model_init(&m, &ck, &f, &x, path, read_only, tree_ascii) < 0) {
            snprintf(line, sizeof line, "out of memory");
            status = CK_EXIT_INTERNAL;
        } else {
            if (plan) snprintf(m.plan_path, sizeof m.plan_path, "%s", plan);
            snprintf(line, sizeof line, "out of memory"); /* the only way the loop or the bench fails */
            bt.checked = now_ms();
            status = bench_mode ? bench(&a, &bt) : run(&a);
        }
    }
    ck_statjob_stop(&a.job);
    ck_term_end();
    if (status == CK_EXIT_INTERNAL) fprintf(stderr, "ckdoc: internal error: %s\n", line);
    ck_model_free(&m);
    if (checked) ck_expectation_free(&x);
    ck_findings_free(&f);
    ck_checkpoint_close(&ck);
    return status;
}
