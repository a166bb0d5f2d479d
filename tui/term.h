/* The terminal owner: the only module that starts and ends curses. It restores the terminal on
 * exit and on SIGINT, SIGTERM, SIGSEGV, SIGBUS, SIGABRT; it keeps stderr in a buffer while curses
 * is active (a stray library message would garble the screen) and prints it after teardown; and it
 * turns curses input into ckdoc key codes (tui/keys.h) and events. */
#ifndef CK_TUI_TERM_H
#define CK_TUI_TERM_H

#include <stdbool.h>

typedef enum { CK_EV_NONE, CK_EV_KEY, CK_EV_MOUSE, CK_EV_RESIZE } ck_ev_type;

typedef struct {
    ck_ev_type type;
    int key;          /* CK_EV_KEY: a ckdoc key code (a byte of text, or CK_KEY_*) */
    int x, y;         /* CK_EV_MOUSE */
    int button;       /* 1 left press, 4 wheel up, 5 wheel down */
} ck_event;

typedef struct {
    bool colour;      /* colours wanted (no --no-color, no NO_COLOR) */
    bool mouse;
} ck_term_options;

/* Start curses. Returns 0, or -1 with a one-line reason in `why` (no terminal). */
int ck_term_init(const ck_term_options *o, char *why, int why_size);
/* For `ckdoc --bench-ui`: a real curses screen of rows x cols (xterm-256color, colours, UTF-8)
 * whose output goes to /dev/null and whose input is empty, so that a frame costs what it costs on
 * a terminal, minus the terminal. No signal handlers, no stderr capture. */
int ck_term_init_offscreen(int rows, int cols, char *why, int why_size);
/* End curses and print whatever went to stderr meanwhile. Safe to call twice. */
void ck_term_end(void);
bool ck_term_has_colour(void);
bool ck_term_utf8(void);
/* Wait up to timeout_ms (-1: forever) for input. */
ck_event ck_term_read(int timeout_ms);
/* The terminal's size now (curses' LINES and COLS). */
void ck_term_size(int *rows, int *cols);
/* Repaint every cell on the next refresh (Ctrl-L). */
void ck_term_clear(void);
#endif
