/* The default key bindings, as data. Vim keys and arrows move; nothing destructive sits on a
 * movement key; every key that writes is flagged so --read-only can refuse it and the help can
 * show it dimmed. */
#include "keys.h"

#include <stdio.h>
#include <string.h>

#define G CK_CTX_GLOBAL
#define T CK_CTX_TREE
#define F CK_CTX_FINDINGS
#define P CK_CTX_PLAN
#define W CK_KF_WRITES

const ck_binding ck_bindings[] = {
    {'j', G, CK_A_DOWN, 0, "move down"},
    {CK_KEY_DOWN, G, CK_A_DOWN, 0, NULL},
    {'k', G, CK_A_UP, 0, "move up"},
    {CK_KEY_UP, G, CK_A_UP, 0, NULL},
    {CK_KEY_PGDN, G, CK_A_PGDN, 0, "one page down"},
    {4, G, CK_A_PGDN, 0, NULL}, /* Ctrl-D */
    {CK_KEY_PGUP, G, CK_A_PGUP, 0, "one page up"},
    {21, G, CK_A_PGUP, 0, NULL}, /* Ctrl-U */
    {'g', G, CK_A_HOME, 0, "first row"},
    {CK_KEY_HOME, G, CK_A_HOME, 0, NULL},
    {'G', G, CK_A_END, 0, "last row"},
    {CK_KEY_END, G, CK_A_END, 0, NULL},
    {CK_KEY_TAB, G, CK_A_NEXT_PANE, 0, "next pane (tree, findings, plan)"},
    {CK_KEY_BTAB, G, CK_A_PREV_PANE, 0, "previous pane"},
    {'/', G, CK_A_SEARCH, 0, "search tensor names (substring, or a glob with * ? [)"},
    {'n', G, CK_A_SEARCH_NEXT, 0, "next match"},
    {'N', G, CK_A_SEARCH_PREV, 0, "previous match"},
    {'f', G, CK_A_FILTER, 0, "filter the tree by a glob (empty clears)"},
    {'1', G, CK_A_SEV_ERROR, 0, "findings: errors only"},
    {'2', G, CK_A_SEV_WARN, 0, "findings: errors and warnings"},
    {'3', G, CK_A_SEV_ALL, 0, "findings: all"},
    {'w', G, CK_A_SAVE, W, "save the plan (ckdoc.plan/1 JSON)"},
    {'?', G, CK_A_HELP, 0, "this help"},
    {CK_KEY_F1, G, CK_A_HELP, 0, NULL},
    {CK_KEY_CTRL_L, G, CK_A_REDRAW, 0, "redraw the screen"},
    {'q', G, CK_A_QUIT, 0, "quit (asks when the plan is not saved)"},

    {CK_KEY_ENTER, T, CK_A_ENTER, 0, "open: expand or collapse a group; on a tensor, its statistics"},
    {' ', T, CK_A_TOGGLE, 0, "expand or collapse a group"},
    {'l', T, CK_A_EXPAND, 0, "expand a group"},
    {CK_KEY_RIGHT, T, CK_A_EXPAND, 0, NULL},
    {'h', T, CK_A_COLLAPSE, 0, "collapse, or go to the parent group"},
    {CK_KEY_LEFT, T, CK_A_COLLAPSE, 0, NULL},
    {'+', T, CK_A_EXPAND_ALL, 0, "expand every group"},
    {'-', T, CK_A_COLLAPSE_ALL, 0, "collapse every group"},
    {'s', T, CK_A_STATS, 0, "value statistics, histogram and heatmap of the tensor"},
    {'a', T, CK_A_ADD_FIX, W, "add the row's suggested fix to the plan"},
    {'J', T, CK_A_DETAIL_DOWN, 0, "scroll the detail pane down"},
    {'K', T, CK_A_DETAIL_UP, 0, "scroll the detail pane up"},

    {CK_KEY_ENTER, F, CK_A_ENTER, 0, "jump to the key in the tree"},
    {' ', F, CK_A_ENTER, 0, NULL},
    {'a', F, CK_A_ADD_FIX, W, "add the finding's suggested fix to the plan"},
    {'J', F, CK_A_DETAIL_DOWN, 0, "scroll the detail pane down"},
    {'K', F, CK_A_DETAIL_UP, 0, "scroll the detail pane up"},

    {'d', P, CK_A_DELETE, W, "remove the action from the plan"},
    {CK_KEY_ENTER, P, CK_A_ENTER, 0, "jump to the action's key"},
    {'J', P, CK_A_MOVE_DOWN, W, "move the action down"},
    {'K', P, CK_A_MOVE_UP, W, "move the action up"},
};
const size_t ck_n_bindings = sizeof ck_bindings / sizeof *ck_bindings;

#undef G
#undef T
#undef F
#undef P
#undef W

ck_action ck_key_action(int key, ck_context ctx)
{
    for (size_t i = 0; i < ck_n_bindings; i++)
        if (ck_bindings[i].key == key && ck_bindings[i].ctx == ctx) return ck_bindings[i].action;
    for (size_t i = 0; i < ck_n_bindings; i++)
        if (ck_bindings[i].key == key && ck_bindings[i].ctx == CK_CTX_GLOBAL) return ck_bindings[i].action;
    return CK_A_NONE;
}

unsigned ck_action_flags(ck_action a)
{
    for (size_t i = 0; i < ck_n_bindings; i++)
        if (ck_bindings[i].action == a) return ck_bindings[i].flags;
    return 0;
}

const char *ck_key_name(int key, char *buf, size_t size)
{
    static const struct { int key; const char *name; } named[] = {
        {CK_KEY_UP, "Up"}, {CK_KEY_DOWN, "Down"}, {CK_KEY_LEFT, "Left"}, {CK_KEY_RIGHT, "Right"},
        {CK_KEY_PGUP, "PgUp"}, {CK_KEY_PGDN, "PgDn"}, {CK_KEY_HOME, "Home"}, {CK_KEY_END, "End"},
        {CK_KEY_ENTER, "Enter"}, {CK_KEY_TAB, "Tab"}, {CK_KEY_BTAB, "S-Tab"}, {CK_KEY_ESC, "Esc"},
        {CK_KEY_BACKSPACE, "Backspace"}, {CK_KEY_F1, "F1"}, {' ', "Space"},
    };
    for (size_t i = 0; i < sizeof named / sizeof *named; i++)
        if (named[i].key == key) return snprintf(buf, size, "%s", named[i].name), buf;
    if (key > 0 && key < 32) snprintf(buf, size, "C-%c", 'a' + key - 1);
    else if (key < 0x80) snprintf(buf, size, "%c", key);
    else snprintf(buf, size, "U+%04X", (unsigned)key);
    return buf;
}

const char *ck_context_name(ck_context c)
{
    static const char *const names[] = {"Everywhere", "Tree", "Findings", "Plan"};
    return c < CK_CTX_COUNT ? names[c] : "?";
}

size_t ck_help_lines(ck_line *out, size_t max, bool read_only)
{
    size_t n = 0;
    for (int ctx = 0; ctx < CK_CTX_COUNT; ctx++) {
        if (n < max) {
            out[n] = (ck_line){0};
            ck_line_add(&out[n++], CK_S_TITLE_FOCUS, "%s", ck_context_name((ck_context)ctx));
        }
        for (size_t i = 0; i < ck_n_bindings && n < max; i++) {
            const ck_binding *b = &ck_bindings[i];
            if ((int)b->ctx != ctx) continue;
            bool seen = false; /* aliases are listed with the first binding of the action */
            for (size_t k = 0; k < i && !seen; k++) seen = ck_bindings[k].ctx == b->ctx && ck_bindings[k].action == b->action;
            if (seen) continue;
            char keys[64] = "", name[32];
            size_t o = 0;
            for (size_t k = i; k < ck_n_bindings; k++) {
                if (ck_bindings[k].ctx != b->ctx || ck_bindings[k].action != b->action) continue;
                o += (size_t)snprintf(keys + o, sizeof keys - o, "%s%s", o ? ", " : "", ck_key_name(ck_bindings[k].key, name, sizeof name));
                if (o >= sizeof keys) o = sizeof keys - 1;
            }
            bool off = read_only && (b->flags & CK_KF_WRITES);
            out[n] = (ck_line){0};
            ck_line_add(&out[n], off ? CK_S_DIM : CK_S_KEY, "  %-16s", keys);
            ck_line_add(&out[n], off ? CK_S_DIM : CK_S_NORMAL, "%s%s", b->help ? b->help : "", off ? " (read-only)" : "");
            n++;
        }
    }
    return n;
}

size_t ck_keys_markdown(char *buf, size_t size)
{
    size_t o = 0;
#define OUT(...) o += (size_t)snprintf(o < size ? buf + o : NULL, o < size ? size - o : 0, __VA_ARGS__)
    OUT("| Pane | Keys | Action |\n|---|---|---|\n");
    for (int ctx = 0; ctx < CK_CTX_COUNT; ctx++)
        for (size_t i = 0; i < ck_n_bindings; i++) {
            const ck_binding *b = &ck_bindings[i];
            if ((int)b->ctx != ctx) continue;
            bool seen = false;
            for (size_t k = 0; k < i && !seen; k++) seen = ck_bindings[k].ctx == b->ctx && ck_bindings[k].action == b->action;
            if (seen) continue;
            OUT("| %s | ", ck_context_name(b->ctx));
            const char *sep = "";
            for (size_t k = i; k < ck_n_bindings; k++) {
                if (ck_bindings[k].ctx != b->ctx || ck_bindings[k].action != b->action) continue;
                char name[32];
                ck_key_name(ck_bindings[k].key, name, sizeof name);
                OUT("%s`%s`", sep, !strcmp(name, "|") ? "\\|" : name);
                sep = ", ";
            }
            OUT(" | %s%s |\n", b->help ? b->help : "", b->flags & CK_KF_WRITES ? " (not with `--read-only`)" : "");
        }
#undef OUT
    return o;
}
