/* What the view model hands the drawing code: text cells, each with a style from one enum. The
 * mapping from a style to colours (or to bold/reverse/underline in monochrome) lives in draw.c, so
 * nothing here knows about curses. */
#ifndef CK_TUI_STYLE_H
#define CK_TUI_STYLE_H

#include <stddef.h>

typedef enum {
    CK_S_NORMAL,
    CK_S_DIM,        /* secondary text: shapes of groups, disabled keys in help */
    CK_S_GROUP,      /* a group row's name */
    CK_S_OK,
    CK_S_INFO,
    CK_S_WARN,
    CK_S_ERROR,
    CK_S_MISSING,    /* a row for a key the checkpoint lacks */
    CK_S_HEADER,     /* the title bar */
    CK_S_FOOTER,
    CK_S_KEY,        /* a key name in hints and help */
    CK_S_TITLE,      /* a pane title, pane not focused */
    CK_S_TITLE_FOCUS,
    CK_S_CURSOR,     /* the selected row of the focused pane */
    CK_S_CURSOR_DIM, /* the selected row of another pane */
    CK_S_LABEL,      /* "shape:" in the detail pane */
    CK_S_BAR,        /* histogram bars */
    CK_S_HEAT0, CK_S_HEAT1, CK_S_HEAT2, CK_S_HEAT3, CK_S_HEAT4, /* heatmap, cold to hot */
    CK_S_COUNT
} ck_style;

#define CK_CELL_MAX 384

typedef struct {
    char text[CK_CELL_MAX]; /* UTF-8, already escaped: never holds control characters */
    ck_style style;
} ck_cell;

/* One line of a text pane: up to CK_LINE_CELLS cells drawn one after the other. */
#define CK_LINE_CELLS 4
typedef struct {
    ck_cell c[CK_LINE_CELLS];
    int n;
} ck_line;

/* Append a printf-formatted cell to a line (dropped when the line is full). */
void ck_line_add(ck_line *l, ck_style s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Style of a finding severity (0 info, 1 warn, 2 error; -1 none). */
ck_style ck_style_of_severity(int sev);

#endif
