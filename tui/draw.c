/* Drawing. One style table gives each style a colour pair and a monochrome attribute (bold,
 * reverse, underline, dim), chosen once by whether colours are on; meaning never rests on colour
 * alone (every status is also a word). Text is clipped by code points: names are escaped, so a
 * tensor name can never move the cursor or change modes. */
#include "draw.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "inspect/error.h"
#include "tui/term.h"
#include "tui/text.h"

typedef struct {
    short fg, bg;
    attr_t colour_attr, mono_attr;
} style_def;

static const style_def styles[CK_S_COUNT] = {
    [CK_S_NORMAL] = {-1, -1, A_NORMAL, A_NORMAL},
    [CK_S_DIM] = {-1, -1, A_DIM, A_DIM},
    [CK_S_GROUP] = {COLOR_BLUE, -1, A_BOLD, A_BOLD},
    [CK_S_OK] = {COLOR_GREEN, -1, A_NORMAL, A_NORMAL},
    [CK_S_INFO] = {COLOR_CYAN, -1, A_NORMAL, A_NORMAL},
    [CK_S_WARN] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [CK_S_ERROR] = {COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE},
    [CK_S_MISSING] = {COLOR_MAGENTA, -1, A_NORMAL, A_UNDERLINE},
    [CK_S_HEADER] = {COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE},
    [CK_S_FOOTER] = {COLOR_BLACK, COLOR_WHITE, A_NORMAL, A_REVERSE},
    [CK_S_KEY] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [CK_S_TITLE] = {COLOR_WHITE, COLOR_BLUE, A_NORMAL, A_UNDERLINE},
    [CK_S_TITLE_FOCUS] = {COLOR_BLACK, COLOR_YELLOW, A_BOLD, A_REVERSE | A_BOLD},
    [CK_S_CURSOR] = {COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE},
    [CK_S_CURSOR_DIM] = {COLOR_BLACK, COLOR_WHITE, A_NORMAL, A_UNDERLINE},
    [CK_S_LABEL] = {COLOR_CYAN, -1, A_NORMAL, A_BOLD},
    [CK_S_BAR] = {COLOR_GREEN, -1, A_NORMAL, A_NORMAL},
    [CK_S_HEAT0] = {COLOR_BLUE, -1, A_NORMAL, A_DIM},
    [CK_S_HEAT1] = {COLOR_CYAN, -1, A_NORMAL, A_NORMAL},
    [CK_S_HEAT2] = {COLOR_GREEN, -1, A_NORMAL, A_NORMAL},
    [CK_S_HEAT3] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [CK_S_HEAT4] = {COLOR_RED, -1, A_BOLD, A_BOLD},
};

void ck_draw_init_colours(void)
{
    for (int s = 0; s < CK_S_COUNT; s++) init_pair((short)(s + 1), styles[s].fg, styles[s].bg);
}

static attr_t attr_of(ck_style s)
{
    if (ck_term_has_colour()) return styles[s].colour_attr | COLOR_PAIR(s + 1);
    return styles[s].mono_attr;
}

/* Bytes of `s` that fit in `cols` columns (one column per code point), and the columns used. */
static size_t fit(const char *s, int cols, int *used)
{
    size_t i = 0;
    int c = 0;
    while (s[i] && c < cols) {
        i++;
        while ((s[i] & 0xC0) == 0x80) i++;
        c++;
    }
    *used = c;
    return i;
}

static int text_cols(const char *s)
{
    int c = 0;
    for (; *s; s++) c += (*s & 0xC0) != 0x80;
    return c;
}

/* Draw `s` at (y, x) within w columns; returns the columns used. */
static int put(int y, int x, int w, const char *s, attr_t a)
{
    if (w <= 0) return 0;
    int used;
    size_t n = fit(s, w, &used);
    attrset(a);
    mvaddnstr(y, x, s, (int)n);
    return used;
}

static void fill(int y, int x, int w, attr_t a)
{
    attrset(a);
    for (int i = 0; i < w; i++) mvaddch(y, x + i, ' ');
}

static void title(const ck_rect *r, const char *text, bool focus)
{
    attr_t a = attr_of(focus ? CK_S_TITLE_FOCUS : CK_S_TITLE);
    fill(r->y, r->x, r->w, a);
    put(r->y, r->x + 1, r->w - 1, text, a);
}

/* ---- tree ---------------------------------------------------------------------------------- */

static void draw_tree(ck_model *m, const ck_rect *r)
{
    char t[300];
    ck_list *l = &m->list[CK_PANE_TREE];
    ck_list_set_height(l, r->h - 1);
    /* columns, most useful first, kept while the name still gets 30 columns */
    static const int want[CK_COL_COUNT] = {0, 9, 15, 10, 6, 12};
    int width[CK_COL_COUNT] = {0};
    int name_w = r->w - 1;
    static const ck_col order[] = {CK_COL_STATUS, CK_COL_SIZE, CK_COL_DTYPE, CK_COL_SHAPE, CK_COL_SHARD};
    for (size_t k = 0; k < sizeof order / sizeof *order; k++)
        if (name_w - want[order[k]] >= 30) width[order[k]] = want[order[k]], name_w -= want[order[k]];
    width[CK_COL_NAME] = name_w;
    if (m->filter[0]) {
        char g[260];
        ck_esc(g, sizeof g, m->filter, strlen(m->filter));
        snprintf(t, sizeof t, "Tree  %zu rows  filter: %s", m->tree.n_vis, g);
    } else {
        snprintf(t, sizeof t, "Tree  %zu rows", m->tree.n_vis);
    }
    title(r, t, m->focus == CK_PANE_TREE);
    for (int row = 0; row < r->h - 1; row++) {
        int y = r->y + 1 + row;
        size_t v = l->top + (size_t)row;
        fill(y, r->x, r->w, attr_of(CK_S_NORMAL));
        if (v >= m->tree.n_vis) continue;
        ck_row_view rv;
        ck_tree_row(&m->tree, m->ck, m->tree.vis[v], &rv);
        bool cur = v == l->cur;
        ck_style cs = m->focus == CK_PANE_TREE ? CK_S_CURSOR : CK_S_CURSOR_DIM;
        if (cur) fill(y, r->x, r->w, attr_of(cs));
        int x = r->x + 1;
        int nw = width[CK_COL_NAME] - 1;
        int ind = rv.indent < nw - 8 ? rv.indent : 0;
        put(y, x + ind, nw - ind - 1, rv.c[CK_COL_NAME].text, attr_of(cur ? cs : rv.c[CK_COL_NAME].style));
        x += width[CK_COL_NAME];
        static const ck_col cols[] = {CK_COL_DTYPE, CK_COL_SHAPE, CK_COL_SIZE, CK_COL_SHARD, CK_COL_STATUS};
        for (size_t k = 0; k < sizeof cols / sizeof *cols; k++) {
            ck_col c = cols[k];
            if (!width[c]) continue;
            const ck_cell *cell = &rv.c[c];
            attr_t a = attr_of(cur ? cs : cell->style);
            int w = width[c] - 1, tc = text_cols(cell->text);
            int at = c == CK_COL_SIZE && tc < w ? w - tc : 0; /* sizes right-aligned */
            put(y, x + at, w - at, cell->text, a);
            x += width[c];
        }
    }
}

/* ---- findings and plan --------------------------------------------------------------------- */

static void draw_findings(ck_model *m, const ck_rect *r)
{
    char t[200];
    static const char *const sev[] = {"all", "warnings and errors", "errors"};
    ck_list *l = &m->list[CK_PANE_FINDINGS];
    ck_list_set_height(l, r->h - 1);
    snprintf(t, sizeof t, "Findings  %zu of %zu (%s; 1 2 3)", m->n_fvis, m->f->n, sev[m->min_sev]);
    title(r, t, m->focus == CK_PANE_FINDINGS);
    for (int row = 0; row < r->h - 1; row++) {
        int y = r->y + 1 + row;
        size_t v = l->top + (size_t)row;
        fill(y, r->x, r->w, attr_of(CK_S_NORMAL));
        if (v >= m->n_fvis) {
            if (row == 0 && m->n_fvis == 0)
                put(y, r->x + 1, r->w - 2, m->tree.pending ? "checking..." : m->f->n ? "none at this severity" : "no findings: the checkpoint looks right",
                    attr_of(m->tree.pending ? CK_S_DIM : CK_S_OK));
            continue;
        }
        ck_line ln;
        ck_model_finding_line(m, v, &ln);
        bool cur = v == l->cur;
        ck_style cs = m->focus == CK_PANE_FINDINGS ? CK_S_CURSOR : CK_S_CURSOR_DIM;
        if (cur) fill(y, r->x, r->w, attr_of(cs));
        int w[4] = {6, 22, r->w - 1 - 6 - 22 - 4, 4};
        int x = r->x + 1;
        for (int c = 0; c < 4 && c < ln.n; c++) {
            put(y, x, w[c] - 1, ln.c[c].text, attr_of(cur ? cs : ln.c[c].style));
            x += w[c];
        }
    }
}

static void draw_plan(ck_model *m, const ck_rect *r)
{
    char t[200];
    ck_list *l = &m->list[CK_PANE_PLAN];
    ck_list_set_height(l, r->h - 1);
    snprintf(t, sizeof t, "Plan  %zu action%s%s", m->plan.n, m->plan.n == 1 ? "" : "s",
             m->read_only ? "  (read-only)" : m->plan.dirty && m->plan.n ? "  (unsaved: w)" : "");
    title(r, t, m->focus == CK_PANE_PLAN);
    for (int row = 0; row < r->h - 1; row++) {
        int y = r->y + 1 + row;
        size_t v = l->top + (size_t)row;
        fill(y, r->x, r->w, attr_of(CK_S_NORMAL));
        if (v >= m->plan.n) {
            if (row == 0 && !m->plan.n)
                put(y, r->x + 1, r->w - 2, m->read_only ? "read-only: nothing can be staged" : "empty: a on a finding with a fix stages it", attr_of(CK_S_DIM));
            continue;
        }
        ck_line ln;
        ck_model_plan_line(m, v, &ln);
        bool cur = v == l->cur;
        ck_style cs = m->focus == CK_PANE_PLAN ? CK_S_CURSOR : CK_S_CURSOR_DIM;
        if (cur) fill(y, r->x, r->w, attr_of(cs));
        int x = r->x + 1;
        x += put(y, x, 4, ln.c[0].text, attr_of(cur ? cs : ln.c[0].style)) + 1;
        put(y, x, r->x + r->w - x - 1, ln.c[1].text, attr_of(cur ? cs : ln.c[1].style));
    }
}

/* ---- detail -------------------------------------------------------------------------------- */

/* Returns how many of the lines were drawn whole. */
static size_t draw_lines_wrapped(const ck_rect *r, const ck_line *lines, size_t n, int y0)
{
    int y = y0, bottom = r->y + r->h;
    size_t whole = 0;
    for (size_t i = 0; i < n && y < bottom; i++) {
        fill(y, r->x, r->w, attr_of(CK_S_NORMAL));
        int x = r->x + 1, right = r->x + r->w - 1;
        int indent = 0;
        for (int c = 0; c < lines[i].n && y < bottom; c++) {
            const char *s = lines[i].c[c].text;
            attr_t a = attr_of(lines[i].c[c].style);
            if (c == 0) indent = text_cols(s);
            /* the last cell wraps, continuing under the label */
            while (*s && y < bottom) {
                int used;
                size_t bytes = fit(s, right - x, &used);
                if (s[bytes] && c == lines[i].n - 1) { /* break at a space if one is near */
                    size_t b = bytes;
                    while (b > bytes / 2 && s[b] != ' ' && s[b] != ',') b--;
                    if (b > bytes / 2) bytes = b + 1;
                }
                attrset(a);
                mvaddnstr(y, x, s, (int)bytes);
                int ucols;
                char tmp[CK_CELL_MAX];
                snprintf(tmp, sizeof tmp, "%.*s", (int)bytes, s);
                ucols = text_cols(tmp);
                s += bytes;
                x += ucols;
                if (*s && c == lines[i].n - 1) {
                    if (++y >= bottom) break;
                    fill(y, r->x, r->w, attr_of(CK_S_NORMAL));
                    x = r->x + 1 + (indent < r->w / 2 ? indent : 2);
                } else if (*s) {
                    break;
                }
            }
        }
        if (y < bottom) whole++;
        y++;
    }
    for (; y < bottom; y++) fill(y, r->x, r->w, attr_of(CK_S_NORMAL));
    return whole;
}

static void draw_detail(ck_model *m, const ck_frame *L)
{
    const ck_rect *r = &L->detail;
    char t[160];
    if (L->wide) snprintf(t, sizeof t, "Detail");
    else snprintf(t, sizeof t, "Detail   (Tab: findings %zu, plan %zu)", m->n_fvis, m->plan.n);
    ck_line lines[64];
    size_t n = ck_model_detail(m, lines, 64);
    size_t top = ck_model_detail_top(m, n);
    size_t whole = draw_lines_wrapped(r, lines + top, n - top, r->y + 1);
    if (top > 0 || top + whole < n) { /* more than fits: say where we are and how to move */
        size_t len = strlen(t);
        snprintf(t + len, sizeof t - len, "  lines %zu-%zu of %zu (J/K)", top + 1, top + whole, n);
    }
    title(r, t, false);
}

/* ---- overlays ------------------------------------------------------------------------------ */

static void frame_box(int y, int x, int h, int w, const char *t)
{
    attr_t a = attr_of(CK_S_NORMAL);
    for (int i = 0; i < h; i++) fill(y + i, x, w, a);
    attrset(a);
    mvaddch(y, x, ACS_ULCORNER), mvaddch(y, x + w - 1, ACS_URCORNER);
    mvaddch(y + h - 1, x, ACS_LLCORNER), mvaddch(y + h - 1, x + w - 1, ACS_LRCORNER);
    mvhline(y, x + 1, ACS_HLINE, w - 2), mvhline(y + h - 1, x + 1, ACS_HLINE, w - 2);
    mvvline(y + 1, x, ACS_VLINE, h - 2), mvvline(y + 1, x + w - 1, ACS_VLINE, h - 2);
    put(y, x + 2, w - 4, t, attr_of(CK_S_TITLE_FOCUS));
}

size_t ck_draw_help_lines(ck_line *out, size_t max, bool read_only)
{
    size_t n = ck_help_lines(out, max, read_only);
    static const struct { const char *word, *meaning; ck_style s; } marks[] = {
        {"ok", "matches its expected shape, dtype and orientation", CK_S_OK},
        {"transposed", "stored as the transpose of the expected shape", CK_S_ERROR},
        {"square?", "square: the shape cannot tell the orientation", CK_S_INFO},
        {"missing", "expected but absent (a row is shown for it)", CK_S_ERROR},
        {"no scale", "quantized weight without its scale; bad scale / scale shape", CK_S_ERROR},
        {"shape", "shape differs from what config.json implies", CK_S_ERROR},
        {"unexpected", "present but not in the family spec", CK_S_WARN},
        {"2/8 !", "experts present / expected in a layer", CK_S_ERROR},
    };
    if (n < max) { out[n] = (ck_line){0}; ck_line_add(&out[n++], CK_S_TITLE_FOCUS, "Status column"); }
    for (size_t i = 0; i < sizeof marks / sizeof *marks && n < max; i++) {
        out[n] = (ck_line){0};
        ck_line_add(&out[n], marks[i].s, "  %-16s", marks[i].word);
        ck_line_add(&out[n++], CK_S_NORMAL, "%s", marks[i].meaning);
    }
    return n;
}

static void draw_help(const ck_model *m, const ck_ui *ui, int rows, int cols)
{
    ck_line lines[128];
    size_t n = ck_draw_help_lines(lines, 128, m->read_only);
    int w = cols - 8 < 84 ? cols - 8 : 84, h = rows - 4;
    int y = 2, x = (cols - w) / 2;
    frame_box(y, x, h, w, " Keys  (j/k scroll, ? or q closes) ");
    for (int i = 0; i < h - 2; i++) {
        size_t li = (size_t)ui->help_top + (size_t)i;
        if (li >= n) break;
        int cx = x + 2;
        for (int c = 0; c < lines[li].n; c++) cx += put(y + 1 + i, cx, x + w - 2 - cx, lines[li].c[c].text, attr_of(lines[li].c[c].style));
    }
}

static void draw_stats(ck_model *m, const ck_ui *ui, int rows, int cols)
{
    ck_statjob *j = ui->job;
    int w = cols - 4 < 100 ? cols - 4 : 100, h = rows - 2 < 30 ? rows - 2 : 30;
    int y = (rows - h) / 2, x = (cols - w) / 2;
    char t[400], key[300];
    const ck_entry *e = &m->ck->entries[ui->job_entry];
    ck_esc(key, sizeof key, e->name, e->name_len);
    snprintf(t, sizeof t, " Values: %s ", key);
    frame_box(y, x, h, w, t);
    int cy = y + 2, cx = x + 2, iw = w - 4;
    ck_job_state st = ck_statjob_state(j);
    if (st == CK_JOB_RUNNING) {
        double p = ck_statjob_progress(j);
        int bw = iw - 20;
        int done = (int)(p * bw);
        put(cy, cx, iw, "reading and reducing the values...", attr_of(CK_S_NORMAL));
        attrset(attr_of(CK_S_BAR));
        mvaddch(cy + 2, cx, '[');
        for (int i = 0; i < bw; i++) mvaddch(cy + 2, cx + 1 + i, i < done ? '#' : ' ');
        mvaddch(cy + 2, cx + 1 + bw, ']');
        snprintf(t, sizeof t, " %3d%%", (int)(p * 100));
        put(cy + 2, cx + bw + 2, 8, t, attr_of(CK_S_NORMAL));
        put(cy + 4, cx, iw, "Esc or q cancels", attr_of(CK_S_DIM));
        return;
    }
    if (st != CK_JOB_DONE) {
        put(cy, cx, iw, st == CK_JOB_CANCELLED ? "cancelled" : "could not compute statistics:", attr_of(CK_S_WARN));
        if (st == CK_JOB_FAILED) put(cy + 1, cx, iw, j->error, attr_of(CK_S_NORMAL));
        put(cy + 3, cx, iw, "Esc or q closes", attr_of(CK_S_DIM));
        return;
    }
    const ck_stats *s = &j->st;
    char sh[160], what[200];
    ck_shape_str(sh, sizeof sh, j->g.shape, j->g.ndim);
    ck_statjob_describe(j, what, sizeof what);
    snprintf(t, sizeof t, "%s %s   %llu values", what, sh, (unsigned long long)s->count);
    put(cy++, cx, iw, t, attr_of(CK_S_NORMAL));
    snprintf(t, sizeof t, "min %-12.6g max %-12.6g mean %-12.6g std %-12.6g", (double)s->t.min, (double)s->t.max, s->mean, s->std);
    put(cy++, cx, iw, t, attr_of(CK_S_NORMAL));
    snprintf(t, sizeof t, "nan %llu   inf %llu   zero %llu", (unsigned long long)s->t.nan, (unsigned long long)s->t.inf,
             (unsigned long long)s->t.zero);
    put(cy++, cx, iw, t, attr_of(s->t.nan || s->t.inf ? CK_S_ERROR : CK_S_NORMAL));
    cy++;
    /* histogram: 64 bins, 6 rows of eighth blocks */
    put(cy++, cx, iw, "histogram (64 bins over [min, max])", attr_of(CK_S_LABEL));
    uint64_t hmax = 1;
    for (int b = 0; b < CK_HIST_BINS; b++) if (s->t.hist[b] > hmax) hmax = s->t.hist[b];
    static const char *const eighths[] = {" ", "\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84", "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88"};
    const int HR = 6;
    for (int row = 0; row < HR; row++) {
        attrset(attr_of(CK_S_BAR));
        for (int b = 0; b < CK_HIST_BINS && b < iw; b++) {
            int level = (int)((double)s->t.hist[b] / (double)hmax * HR * 8 + 0.5); /* in eighths of a row */
            int here = level - (HR - 1 - row) * 8;
            here = here < 0 ? 0 : here > 8 ? 8 : here;
            if (ck_term_utf8()) mvaddstr(cy + row, cx + b, eighths[here]);
            else mvaddch(cy + row, cx + b, here >= 4 ? '#' : ' ');
        }
    }
    cy += HR;
    snprintf(t, sizeof t, "%-.4g", (double)s->t.min);
    put(cy, cx, 20, t, attr_of(CK_S_DIM));
    snprintf(t, sizeof t, "%.4g", (double)s->t.max);
    put(cy, cx + CK_HIST_BINS - text_cols(t), 20, t, attr_of(CK_S_DIM));
    cy += 2;
    if (cy + 2 >= y + h - 1) return;
    snprintf(t, sizeof t, "heatmap: mean |x| over %d x %d cells of the [rows, last dim] matrix", j->heat_rows, j->heat_cols);
    put(cy++, cx, iw, t, attr_of(CK_S_LABEL));
    static const char *const shade_u[] = {" ", "\xe2\x96\x91", "\xe2\x96\x92", "\xe2\x96\x93", "\xe2\x96\x88"};
    static const char shade_a[] = " .:*#";
    for (int r = 0; r < j->heat_rows && cy < y + h - 1; r++, cy++)
        for (int c = 0; c < j->heat_cols && c < iw; c++) {
            int lv = j->heat_max > 0 ? (int)(j->heat[r][c] / j->heat_max * 4 + 0.5) : 0;
            attrset(attr_of((ck_style)(CK_S_HEAT0 + lv)));
            if (ck_term_utf8()) mvaddstr(cy, cx + c, shade_u[lv]);
            else mvaddch(cy, cx + c, (chtype)shade_a[lv]);
        }
}

/* ---- frame --------------------------------------------------------------------------------- */

static void draw_footer(ck_model *m, const ck_ui *ui, const ck_rect *r)
{
    attr_t base = attr_of(CK_S_FOOTER);
    fill(r->y, r->x, r->w, base);
    bool hints = !ui->prompt && !m->message[0];
    ck_footer_item items[24];
    size_t n = ck_model_footer(m, r->w, hints, items, 24);
    int sw = 0;
    for (size_t i = 0; i < n; i++) {
        const ck_footer_item *it = &items[i];
        if (it->key_text[0]) { /* a hint: the key in bold, then what it does */
            int x = r->x + it->x;
            x += put(r->y, x, r->w - x, it->key_text, base | A_BOLD);
            put(r->y, x, r->w - x, it->text, base);
        } else { /* a count on the right */
            bool plain = it->style == CK_S_FOOTER || !ck_term_has_colour() || (i == 3);
            put(r->y, r->x + it->x, it->w, it->text, plain ? base : attr_of(it->style));
            sw += it->w;
        }
    }
    int room = r->w - sw - 3;
    if (ui->prompt) {
        char in[600];
        snprintf(in, sizeof in, "%s%s_", ui->prompt, ui->input ? ui->input : "");
        int len = text_cols(in);
        const char *show = in;
        while (len > room && *show) { show++; len = text_cols(show); } /* keep the end of long input */
        put(r->y, r->x + 1, room, show, attr_of(CK_S_TITLE_FOCUS));
    } else if (m->message[0]) {
        put(r->y, r->x + 1, room, m->message, ck_term_has_colour() ? attr_of(CK_S_FOOTER) | A_BOLD : base | A_BOLD);
    }
}

void ck_draw(ck_model *m, const ck_frame *L, const ck_ui *ui, int rows, int cols)
{
    erase();
    if (L->too_small) {
        char t[200];
        attrset(A_NORMAL);
        snprintf(t, sizeof t, "ckdoc needs at least %dx%d; this terminal is %dx%d.", CK_MIN_COLS, CK_MIN_ROWS, cols, rows);
        put(rows / 2 - 1 > 0 ? rows / 2 - 1 : 0, 1, cols - 2, t, A_BOLD);
        put(rows / 2 > 0 ? rows / 2 : 0, 1, cols - 2, "Enlarge the window, or press q to quit.", A_NORMAL);
        refresh();
        return;
    }
    ck_line hd;
    ck_model_header(m, &hd);
    fill(0, 0, cols, attr_of(CK_S_HEADER));
    int x = 0;
    for (int c = 0; c < hd.n; c++) x += put(0, x, cols - x, hd.c[c].text, attr_of(CK_S_HEADER) | (c == 0 ? A_BOLD : 0));
    if (L->pane[CK_PANE_TREE].shown) draw_tree(m, &L->pane[CK_PANE_TREE]);
    if (L->pane[CK_PANE_FINDINGS].shown) draw_findings(m, &L->pane[CK_PANE_FINDINGS]);
    if (L->pane[CK_PANE_PLAN].shown) draw_plan(m, &L->pane[CK_PANE_PLAN]);
    if (L->detail.shown) draw_detail(m, L);
    draw_footer(m, ui, &L->footer);
    if (ui->overlay == CK_OV_HELP) draw_help(m, ui, rows, cols);
    else if (ui->overlay == CK_OV_STATS && ui->job) draw_stats(m, ui, rows, cols);
    refresh();
}
