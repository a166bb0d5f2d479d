/* Layout arithmetic. */
#include "layout.h"

#include <string.h>

static ck_rect rect(int y, int x, int h, int w)
{
    return (ck_rect){y, x, h, w, h > 1 && w > 0};
}

void ck_layout_compute(ck_frame *L, int rows, int cols, ck_pane focus)
{
    memset(L, 0, sizeof *L);
    if (rows < CK_MIN_ROWS || cols < CK_MIN_COLS) {
        L->too_small = true;
        return;
    }
    L->header = rect(0, 0, 1, cols), L->header.shown = true;
    L->footer = rect(rows - 1, 0, 1, cols), L->footer.shown = true;
    int body = rows - 2, top = body * 55 / 100, bottom = body - top;
    L->wide = cols >= 120;
    if (L->wide) {
        int left = cols * 66 / 100;
        L->pane[CK_PANE_TREE] = rect(1, 0, top, left);
        L->detail = rect(1, left, top, cols - left);
        L->pane[CK_PANE_FINDINGS] = rect(1 + top, 0, bottom, left);
        L->pane[CK_PANE_PLAN] = rect(1 + top, left, bottom, cols - left);
    } else {
        L->pane[CK_PANE_TREE] = rect(1, 0, top, cols);
        ck_rect below = rect(1 + top, 0, bottom, cols);
        if (focus == CK_PANE_TREE) L->detail = below;
        else L->pane[focus] = below;
    }
}

int ck_layout_hit(const ck_frame *L, int y, int x, int *row)
{
    for (int p = 0; p < CK_PANE_COUNT; p++) {
        const ck_rect *r = &L->pane[p];
        if (r->shown && y > r->y && y < r->y + r->h && x >= r->x && x < r->x + r->w) {
            *row = y - r->y - 1;
            return p;
        }
    }
    return -1;
}
