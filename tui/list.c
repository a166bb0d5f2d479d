/* List cursor arithmetic, kept apart so every pane scrolls the same way. */
#include "list.h"

static void follow(ck_list *l)
{
    size_t h = l->height > 0 ? (size_t)l->height : 1;
    if (l->n == 0) { l->cur = l->top = 0; return; }
    if (l->cur >= l->n) l->cur = l->n - 1;
    if (l->cur < l->top) l->top = l->cur;
    if (l->cur >= l->top + h) l->top = l->cur - h + 1;
    /* No empty space below the last row when the list could fill the pane. */
    if (l->top + h > l->n) l->top = l->n > h ? l->n - h : 0;
}

void ck_list_set_count(ck_list *l, size_t n)
{
    l->n = n;
    follow(l);
}

void ck_list_move(ck_list *l, long delta)
{
    if (l->n == 0) return;
    long c = (long)l->cur + delta;
    if (c < 0) c = 0;
    if (c >= (long)l->n) c = (long)l->n - 1;
    l->cur = (size_t)c;
    follow(l);
}

void ck_list_page(ck_list *l, int dir)
{
    long h = l->height > 1 ? l->height - 1 : 1;
    ck_list_move(l, dir * h);
}

void ck_list_home(ck_list *l)
{
    l->cur = 0;
    follow(l);
}

void ck_list_end(ck_list *l)
{
    l->cur = l->n ? l->n - 1 : 0;
    follow(l);
}

void ck_list_select(ck_list *l, size_t i)
{
    l->cur = i;
    follow(l);
}

void ck_list_set_height(ck_list *l, int height)
{
    l->height = height > 0 ? height : 1;
    follow(l);
}

void ck_list_scroll(ck_list *l, long delta)
{
    if (l->n == 0) return;
    size_t h = l->height > 0 ? (size_t)l->height : 1;
    long t = (long)l->top + delta, max_top = l->n > h ? (long)(l->n - h) : 0;
    if (t < 0) t = 0;
    if (t > max_top) t = max_top;
    l->top = (size_t)t;
    if (l->cur < l->top) l->cur = l->top;
    if (l->cur >= l->top + h) l->cur = l->top + h - 1;
}
