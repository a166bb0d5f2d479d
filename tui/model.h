/* The browser's view model: the tree, findings and plan panes with their cursors, focus, search,
 * filter and messages, and the actions keys map to. It knows nothing of curses: draw.c turns it
 * into a screen, and tests/unit/test_tui_model.c drives it with action ids alone. */
#ifndef CK_TUI_MODEL_H
#define CK_TUI_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "inspect/checkpoint.h"
#include "inspect/findings.h"
#include "inspect/spec.h"
#include "tui/keys.h"
#include "tui/list.h"
#include "tui/plan.h"
#include "tui/style.h"
#include "tui/tree.h"

struct cJSON;

typedef enum { CK_PANE_TREE, CK_PANE_FINDINGS, CK_PANE_PLAN, CK_PANE_COUNT } ck_pane;

/* What the event loop must do after an action (several may be set). */
enum {
    CK_R_REDRAW = 1u << 0,
    CK_R_QUIT = 1u << 1,
    CK_R_ASK_SEARCH = 1u << 2, /* read a search string, then ck_model_search */
    CK_R_ASK_FILTER = 1u << 3, /* read a glob, then ck_model_filter */
    CK_R_ASK_SAVE = 1u << 4,   /* read a path (default m->plan_path), then ck_model_save */
    CK_R_ASK_QUIT = 1u << 5,   /* the plan is unsaved: confirm, then quit */
    CK_R_STATS = 1u << 6,      /* start statistics of ck_model_selected_entry */
    CK_R_HELP = 1u << 7,
    CK_R_CLEAR = 1u << 8,      /* repaint every cell (Ctrl-L) */
};

typedef struct {
    ck_checkpoint *ck;          /* borrowed, like f and x */
    const ck_findings *f;
    const ck_expectation *x;
    const char *path;
    bool read_only;
    ck_tree tree;
    ck_list list[CK_PANE_COUNT];
    int *fvis;                  /* findings shown under the severity filter */
    size_t n_fvis;
    int min_sev;                /* CK_SEV_INFO shows all */
    ck_plan plan;
    ck_pane focus;
    char search[256];
    char filter[256];
    char plan_path[1024];       /* default for `w`: the last path saved to */
    char message[512];
    ck_style message_style;
    struct cJSON *spec_doc;     /* the family spec's JSON, for "the rule it came from" */
    size_t detail_top;          /* first detail line shown (J/K, wheel) */
    long detail_owner;          /* what it was scrolled on: another selection starts at the top */
} ck_model;

/* One item of the footer: the key hints on the left, the counts on the right. A click on an item
 * with a key acts as that key (as htop's function bar). */
typedef struct {
    char key_text[16];          /* "Enter", drawn bold; may be empty */
    char text[48];              /* ":open", or " 2 errors" */
    ck_style style;
    int x, w;                   /* columns on the footer line */
    int key;                    /* the key a click presses; 0 when not clickable */
} ck_footer_item;

int ck_model_init(ck_model *m, ck_checkpoint *ck, const ck_findings *f, const ck_expectation *x, const char *path,
                  bool read_only, bool ascii);
void ck_model_free(ck_model *m);

ck_context ck_model_context(const ck_model *m);
/* Look the key up in the table for the focused pane and act. */
unsigned ck_model_key(ck_model *m, int key);
unsigned ck_model_act(ck_model *m, ck_action a);

/* Completions of the prompts the actions ask for. */
void ck_model_search(ck_model *m, const char *text, int dir);
void ck_model_filter(ck_model *m, const char *glob);
int ck_model_save(ck_model *m, const char *path);

void ck_model_focus(ck_model *m, ck_pane p);
void ck_model_set_min_sev(ck_model *m, int sev);
/* Show finding `fi` in the tree: expand its layer, select its row, focus the tree. */
bool ck_model_jump(ck_model *m, int fi);

int ck_model_selected_node(const ck_model *m);    /* tree node under the cursor, or -1 */
int ck_model_selected_finding(const ck_model *m); /* finding index under the findings cursor, or -1 */
/* The catalog entry under the tree cursor, or -1. */
long ck_model_selected_entry(const ck_model *m);

void ck_model_message(ck_model *m, ck_style s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Rows of the findings and plan panes (row = position in the pane's list). */
void ck_model_finding_line(const ck_model *m, size_t row, ck_line *out);
void ck_model_plan_line(const ck_model *m, size_t row, ck_line *out);
/* Title bar and the footer's counts. */
void ck_model_header(const ck_model *m, ck_line *out);
void ck_model_status(const ck_model *m, ck_line *out);

/* The detail pane for what is selected in the focused pane (detail.c). */
size_t ck_model_detail(ck_model *m, ck_line *out, size_t max);
/* Scroll the detail pane by `delta` lines; the first line to show of the n built now (clamped, and
 * back to 0 when the selection changed since the last scroll). */
void ck_model_detail_scroll(ck_model *m, long delta);
size_t ck_model_detail_top(ck_model *m, size_t n);

/* The footer's items for a line of `cols` columns; hints are left out when `hints` is false (a
 * prompt or a message has the left side). Returns the number of items. */
size_t ck_model_footer(const ck_model *m, int cols, bool hints, ck_footer_item *out, size_t max);
/* The key a click at column x of the footer presses, or 0. */
int ck_model_footer_key(const ck_model *m, int cols, bool hints, int x);

#endif
