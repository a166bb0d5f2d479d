/* Where each pane goes, computed from the terminal size on every frame (nothing cached, so a
 * resize is just the next frame). Pure arithmetic: unit-testable without a terminal.
 *
 *   wide (>= 120 columns)            narrow (80..119 columns)
 *   header                           header
 *   tree            | detail         tree
 *   findings        | plan           detail, findings or plan (the focused one; tree: detail)
 *   footer                           footer
 */
#ifndef CK_TUI_LAYOUT_H
#define CK_TUI_LAYOUT_H

#include <stdbool.h>

#include "tui/model.h"

#define CK_MIN_ROWS 24
#define CK_MIN_COLS 80

typedef struct {
    int y, x, h, w; /* h includes the pane's title line */
    bool shown;
} ck_rect;

typedef struct {
    bool too_small, wide;
    ck_rect header, footer, detail, pane[CK_PANE_COUNT];
} ck_frame;

void ck_layout_compute(ck_frame *L, int rows, int cols, ck_pane focus);
/* The pane whose content area holds screen cell (y, x), and the row in it; -1 if none. */
int ck_layout_hit(const ck_frame *L, int y, int x, int *row);

#endif
