/* Terminal ownership (htop's CRT.c pattern). Signal handlers call endwin() first: it is not
 * async-signal-safe, but a shell left in raw mode with no echo is worse, and htop and tig do the
 * same; the signal is then re-raised with its default action so the exit status stays honest. */
#include "term.h"

#include <curses.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui/keys.h"
#include "tui/style.h"

static bool active, colour, utf8;
static int saved_stderr = -1;
static FILE *stderr_buf;
static SCREEN *screen;
static FILE *tty_in;

static void restore_stderr(void)
{
    if (saved_stderr < 0) return;
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    saved_stderr = -1;
}

static void on_fatal(int sig)
{
    if (active) endwin();
    active = false;
    restore_stderr();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGABRT, SIGFPE};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &sa, NULL);
}

bool ck_term_has_colour(void) { return colour; }
bool ck_term_utf8(void) { return utf8; }

/* Colour pairs: one per style, set up in draw.c's table order (pair = style + 1). */
void ck_draw_init_colours(void);

int ck_term_init(const ck_term_options *o, char *why, int why_size)
{
    setlocale(LC_ALL, "");
    utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
    if (!getenv("ESCDELAY")) setenv("ESCDELAY", "25", 1); /* Esc closes overlays without a visible lag */
    setenv("NCURSES_NO_UTF8_ACS", "1", 0);               /* box lines as Unicode, also in captures */
    /* Keys come from the terminal even when stdin is a pipe (ncdu, tig). */
    FILE *in = stdin;
    if (!isatty(STDIN_FILENO)) in = tty_in = fopen("/dev/tty", "r");
    if (!in || !isatty(STDOUT_FILENO)) {
        snprintf(why, (size_t)why_size, "the browser needs a terminal (try 'ckdoc check PATH' or 'ckdoc ls PATH')");
        if (tty_in) fclose(tty_in), tty_in = NULL;
        return -1;
    }
    screen = newterm(NULL, stdout, in);
    if (!screen) {
        snprintf(why, (size_t)why_size, "cannot start the terminal (TERM=%s)", getenv("TERM") ? getenv("TERM") : "");
        return -1;
    }
    set_term(screen);
    active = true;
    install_signals();
    /* Library code never prints, but a stray message must not tear the screen: keep it for later. */
    stderr_buf = tmpfile();
    if (stderr_buf) {
        fflush(stderr);
        saved_stderr = dup(STDERR_FILENO);
        dup2(fileno(stderr_buf), STDERR_FILENO);
    }
    cbreak(); /* not raw(): Ctrl-C still raises SIGINT, so even a stuck browser can be stopped */
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    curs_set(0);
    define_key("\033[Z", KEY_BTAB);
    colour = o->colour && has_colors();
    if (colour) {
        start_color();
        use_default_colors();
        ck_draw_init_colours();
    }
    if (o->mouse) {
        mousemask(BUTTON1_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
        mouseinterval(0);
    }
    return 0;
}

static FILE *null_out;

int ck_term_init_offscreen(int rows, int cols, char *why, int why_size)
{
    if (!setlocale(LC_ALL, "C.UTF-8")) setlocale(LC_ALL, "");
    utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
    setenv("NCURSES_NO_UTF8_ACS", "1", 0);
    null_out = fopen("/dev/null", "w");
    tty_in = fopen("/dev/null", "r");
    screen = null_out && tty_in ? newterm("xterm-256color", null_out, tty_in) : NULL;
    if (!screen) {
        snprintf(why, (size_t)why_size, "cannot start an off-screen xterm-256color terminal");
        return -1;
    }
    set_term(screen);
    active = true;
    resizeterm(rows, cols);
    noecho();
    curs_set(0);
    colour = has_colors();
    if (colour) {
        start_color();
        use_default_colors();
        ck_draw_init_colours();
    }
    return 0;
}

void ck_term_end(void)
{
    if (active) {
        endwin();
        active = false;
    }
    if (screen) delscreen(screen), screen = NULL;
    if (tty_in) fclose(tty_in), tty_in = NULL;
    if (null_out) fclose(null_out), null_out = NULL;
    restore_stderr();
    if (stderr_buf) {
        /* what was written while the screen was ours, shown now that the shell has it back */
        rewind(stderr_buf);
        char buf[4096];
        size_t n, total = 0;
        while ((n = fread(buf, 1, sizeof buf, stderr_buf)) > 0) {
            if (!total) fputs(">>>>>>>>>> stderr output >>>>>>>>>>\n", stderr);
            fwrite(buf, 1, n, stderr);
            total += n;
        }
        if (total) fputs("<<<<<<<<<< stderr output <<<<<<<<<<\n", stderr);
        fclose(stderr_buf);
        stderr_buf = NULL;
    }
}

ck_event ck_term_read(int timeout_ms)
{
    ck_event ev = {CK_EV_NONE, 0, 0, 0, 0};
    timeout(timeout_ms);
    int ch = getch();
    if (ch == ERR) return ev;
    ev.type = CK_EV_KEY;
    switch (ch) {
    case KEY_UP: ev.key = CK_KEY_UP; break;
    case KEY_DOWN: ev.key = CK_KEY_DOWN; break;
    case KEY_LEFT: ev.key = CK_KEY_LEFT; break;
    case KEY_RIGHT: ev.key = CK_KEY_RIGHT; break;
    case KEY_PPAGE: ev.key = CK_KEY_PGUP; break;
    case KEY_NPAGE: ev.key = CK_KEY_PGDN; break;
    case KEY_HOME: case KEY_FIND: ev.key = CK_KEY_HOME; break;
    case KEY_END: case KEY_SELECT: ev.key = CK_KEY_END; break;
    case KEY_ENTER: case '\n': case '\r': ev.key = CK_KEY_ENTER; break;
    case '\t': ev.key = CK_KEY_TAB; break;
    case KEY_BTAB: ev.key = CK_KEY_BTAB; break;
    case 27: ev.key = CK_KEY_ESC; break;
    case KEY_BACKSPACE: case 127: case 8: ev.key = CK_KEY_BACKSPACE; break;
    case KEY_F(1): ev.key = CK_KEY_F1; break;
    case KEY_RESIZE: ev.type = CK_EV_RESIZE; break;
    case KEY_MOUSE: {
        MEVENT me;
        if (getmouse(&me) != OK) { ev.type = CK_EV_NONE; break; }
        ev.type = CK_EV_MOUSE;
        ev.x = me.x, ev.y = me.y;
        ev.button = me.bstate & BUTTON4_PRESSED ? 4 : me.bstate & BUTTON5_PRESSED ? 5 : me.bstate & BUTTON1_PRESSED ? 1 : 0;
        break;
    }
    default:
        if (ch >= KEY_MIN) ev.type = CK_EV_NONE;
        else ev.key = ch;
    }
    return ev;
}

void ck_term_size(int *rows, int *cols)
{
    *rows = LINES;
    *cols = COLS;
}

void ck_term_clear(void)
{
    clearok(curscr, TRUE);
}
