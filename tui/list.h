/* Cursor and scroll state of one list pane (tree, findings, plan): indexes only, no drawing. The
 * page height is whatever the last layout gave the pane, so PgUp/PgDn move by what is on screen. */
#ifndef CK_TUI_LIST_H
#define CK_TUI_LIST_H

#include <stddef.h>

typedef struct {
    size_t n;      /* rows */
    size_t cur;    /* selected row (0 when n == 0) */
    size_t top;    /* first row on screen */
    int height;    /* rows on screen, set by the layout every frame (>= 1) */
} ck_list;

void ck_list_set_count(ck_list *l, size_t n); /* keeps cur and top in range */
void ck_list_move(ck_list *l, long delta);    /* clamped, no wrap */
void ck_list_page(ck_list *l, int dir);       /* one screen up (-1) or down (+1) */
void ck_list_home(ck_list *l);
void ck_list_end(ck_list *l);
void ck_list_select(ck_list *l, size_t i);
void ck_list_set_height(ck_list *l, int height); /* and scroll so the cursor stays on screen */
void ck_list_scroll(ck_list *l, long delta);     /* mouse wheel: move the view, drag the cursor along */

#endif
