/* Drawing: turns the view model into a curses screen. Only this file and term.c call curses. */
#ifndef CK_TUI_DRAW_H
#define CK_TUI_DRAW_H

#include "tui/layout.h"
#include "tui/model.h"
#include "tui/statjob.h"

typedef enum { CK_OV_NONE, CK_OV_HELP, CK_OV_STATS } ck_overlay;

typedef struct {
    ck_overlay overlay;
    int help_top;            /* first help line shown */
    const char *prompt;      /* a prompt in the footer ("/", "filter: ", ...), or NULL */
    const char *input;       /* what has been typed at it */
    ck_statjob *job;         /* statistics overlay */
    long job_entry;
} ck_ui;

void ck_draw(ck_model *m, const ck_frame *L, const ck_ui *ui, int rows, int cols);
/* Help lines (key table and status marks) in the order the overlay shows them. */
size_t ck_draw_help_lines(ck_line *out, size_t max, bool read_only);

#endif
