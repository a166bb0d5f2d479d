/* The key table: every binding is one row {key, context, action, flags, help}. The event loop
 * looks keys up here, and the help overlay (and docs/tui.md's table) is generated from it, so the
 * help cannot drift from the bindings. Key codes are ckdoc's own (term.c translates curses codes),
 * which keeps this file, and its tests, free of curses. */
#ifndef CK_TUI_KEYS_H
#define CK_TUI_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "tui/style.h"

/* Special keys: above every Unicode code point, so a printable key is its own code. */
enum {
    CK_KEY_UP = 0x110001, CK_KEY_DOWN, CK_KEY_LEFT, CK_KEY_RIGHT, CK_KEY_PGUP, CK_KEY_PGDN, CK_KEY_HOME, CK_KEY_END,
    CK_KEY_ENTER, CK_KEY_TAB, CK_KEY_BTAB, CK_KEY_ESC, CK_KEY_BACKSPACE, CK_KEY_RESIZE, CK_KEY_F1,
    CK_KEY_CTRL_L = 12,
};

/* Actions; the reactions to them are the model's business (model.h). */
typedef enum {
    CK_A_NONE,
    CK_A_UP, CK_A_DOWN, CK_A_PGUP, CK_A_PGDN, CK_A_HOME, CK_A_END,
    CK_A_EXPAND, CK_A_COLLAPSE, CK_A_ENTER, CK_A_TOGGLE, CK_A_EXPAND_ALL, CK_A_COLLAPSE_ALL,
    CK_A_NEXT_PANE, CK_A_PREV_PANE,
    CK_A_ADD_FIX, CK_A_DELETE, CK_A_MOVE_DOWN, CK_A_MOVE_UP, CK_A_SAVE,
    CK_A_STATS, CK_A_SEARCH, CK_A_SEARCH_NEXT, CK_A_SEARCH_PREV, CK_A_FILTER,
    CK_A_SEV_ERROR, CK_A_SEV_WARN, CK_A_SEV_ALL,
    CK_A_HELP, CK_A_QUIT, CK_A_REDRAW, CK_A_DETAIL_DOWN, CK_A_DETAIL_UP,
    CK_A_COUNT
} ck_action;

/* Where a binding applies. Pane contexts are looked up first, then CK_CTX_GLOBAL. */
typedef enum { CK_CTX_GLOBAL, CK_CTX_TREE, CK_CTX_FINDINGS, CK_CTX_PLAN, CK_CTX_COUNT } ck_context;

enum {
    CK_KF_WRITES = 1u << 0, /* stages or saves: unavailable with --read-only */
};

typedef struct {
    int key;
    ck_context ctx;
    ck_action action;
    unsigned flags;
    const char *help; /* one line; aliases of one action share the first row's text */
} ck_binding;

extern const ck_binding ck_bindings[];
extern const size_t ck_n_bindings;

/* The action bound to `key` in `ctx` (or globally); CK_A_NONE if none. */
ck_action ck_key_action(int key, ck_context ctx);
/* Flags of the first binding of `action` (CK_KF_WRITES). */
unsigned ck_action_flags(ck_action a);
/* "j", "Down", "PgDn", "Enter", "Space", "Tab", "S-Tab", "C-l" */
const char *ck_key_name(int key, char *buf, size_t size);
const char *ck_context_name(ck_context c);

/* The help overlay's lines, generated from the table: a title per context, then one line per
 * action with all its keys. Keys that --read-only disables are dimmed (and say so). Returns the
 * number of lines written (at most max). */
size_t ck_help_lines(ck_line *out, size_t max, bool read_only);

/* The key table as Markdown (docs/tui.md and the README carry this output; a test compares them).
 * Returns the length it needed (as snprintf). */
size_t ck_keys_markdown(char *buf, size_t size);

#endif
