/* check --reference: settle the orientation of square tensors numerically. Shape cannot tell
 * [in, out] from [out, in] when in == out (GPT-OSS down_proj: 2880 x 2880), and a round trip
 * through a converter that gets it wrong still matches itself. Another checkpoint of the same
 * model, in any layout or quantization, can: both are decoded to f32 (MXFP4/NVFP4/FP8 with their
 * scales), brought to [out, in], and compared under both hypotheses. The right one has a cosine
 * near 1, the wrong one near 0 for trained (or random) weights. */
#include "check_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/tensor_eval.h"

#define MAX_SLICES 4     /* experts compared per fused tensor: first, last and two between */
#define DECISIVE 0.9     /* a cosine above this under one hypothesis ... */
#define MARGIN 0.3       /* ... and this much above the other settles it */

/* The reference's tensor for the same rule and layer (plain, or the quantized weight). */
static const ck_entry *reference_entry(const ck_checkpoint *ref, const ck_expectation *xr, const ck_expected *x,
                                       const ck_expected **xr_item)
{
    for (size_t i = 0; i < xr->n_items; i++) {
        const ck_expected *y = &xr->items[i];
        if (y->rule != x->rule || y->layer != x->layer || y->expert != x->expert) continue;
        if (y->part != CK_PART_PLAIN && y->part != CK_PART_QWEIGHT) continue;
        const ck_entry *e = ck_checkpoint_find(ref, y->key);
        if (e && e->has_header) {
            *xr_item = y;
            return e;
        }
    }
    return NULL;
}

/* Does the reference's decoded matrix come out [in, out]? Plain tensors follow their rule's
 * layout; quantized weights decode to [out, in] (blocks and scales run along `in`). */
static bool decoded_in_out(const ck_expected *y, const ck_tgroup *g)
{
    if (g->fmt != CK_GROUP_RAW) return false;
    return (y->flags & CK_EXP_IN_OUT) != 0;
}

typedef struct {
    ck_teval *ea, *er;
    float *a, *r, *rt;    /* rt: r transposed */
    uint64_t cap;         /* floats in a, r and rt */
} workspace;

/* Compare one square tensor: returns 0 and sets the two cosines, or -1 when it cannot. */
static int compare(ck_check_ctx *c, workspace *w, const ck_entry *ea, const ck_expected *x, const ck_entry *er,
                   const ck_expected *y, double *cos_labelled, double *cos_swapped, char *why, size_t why_len)
{
    ck_tgroup ga, gr;
    ck_tgroup_find(c->ck, ea, &ga);
    ck_tgroup_find(c->opt->reference, er, &gr);
    uint64_t n = x->shape[x->ndim - 1];
    if (ga.cols != n || gr.cols != n || ga.rows != gr.rows || ga.rows % n) {
        snprintf(why, why_len, "the reference's %s decodes to [%llu, %llu], not [%llu, %llu]", er->name,
                 (unsigned long long)gr.rows, (unsigned long long)gr.cols, (unsigned long long)ga.rows,
                 (unsigned long long)ga.cols);
        return -1;
    }
    if (n * n > w->cap || n * n > CK_EVAL_WINDOW) {
        snprintf(why, why_len, "matrices of %llu x %llu are too large to compare", (unsigned long long)n, (unsigned long long)n);
        return -1;
    }
    uint64_t slices = ga.rows / n;
    uint64_t pick[MAX_SLICES];
    int n_pick = 0;
    for (int k = 0; k < MAX_SLICES && (uint64_t)k < slices; k++) {
        uint64_t s = slices <= MAX_SLICES ? (uint64_t)k : (uint64_t)k * (slices - 1) / (MAX_SLICES - 1);
        if (n_pick == 0 || pick[n_pick - 1] != s) pick[n_pick++] = s;
    }
    /* The back end's compare (kernels/ops.h): a[i][j] against r[i][j] (direct) and r[j][i] (cross). */
    ck_backend *be = c->opt->backend;
    ck_compare direct, cross;
    ck_compare_init(&direct);
    ck_compare_init(&cross);
    ck_error err;
    for (int k = 0; k < n_pick; k++) {
        if (ck_teval_decode(w->ea, &ga, pick[k] * n, n, w->a, &err) < 0 ||
            ck_teval_decode(w->er, &gr, pick[k] * n, n, w->r, &err) < 0 ||
            be->ops->transpose(be, CK_F32, w->r, w->rt, 1, n, n, &err) < 0 ||
            be->ops->compare(be, w->a, w->r, n * n, &direct, &err) < 0 ||
            be->ops->compare(be, w->a, w->rt, n * n, &cross, &err) < 0) {
            snprintf(why, why_len, "cannot decode or compare: %.200s", err.msg);
            return -1;
        }
    }
    ck_compare_finish(&direct);
    ck_compare_finish(&cross);
    if (!(direct.norm_a > 0 && direct.norm_b > 0)) {
        snprintf(why, why_len, "one of the tensors is all zeros");
        return -1;
    }
    /* Same orientation convention on both sides: the labelled hypothesis pairs elements directly. */
    bool same = ((x->flags & CK_EXP_IN_OUT) != 0) == decoded_in_out(y, &gr);
    *cos_labelled = same ? direct.cosine : cross.cosine;
    *cos_swapped = same ? cross.cosine : direct.cosine;
    return 0;
}

void ck_check_reference(ck_check_ctx *c)
{
    if (!c->opt->reference || !c->opt->backend || c->n_squares == 0) return;
    ck_checkpoint *ref = c->opt->reference;
    ck_error err;
    const cJSON *rconfig = ref->config.json;
    ck_expectation xr;
    if (!rconfig || ck_spec_expand(c->x->spec, rconfig, ref->hf_quant_config.json, &xr, &err) < 0) {
        ck_finding_add(c->f, CK_F_CONFIG_INVALID, CK_SEV_ERROR, ref->path, -1, NULL, NULL,
                       "the reference's config.json cannot be read as a %s config: %s", c->x->family,
                       rconfig ? err.msg : "missing or invalid");
        return;
    }
    workspace w = {0};
    uint64_t biggest = 0;
    for (size_t i = 0; i < c->n_squares; i++) {
        uint64_t n = c->x->items[c->squares[i]].shape[c->x->items[c->squares[i]].ndim - 1];
        if (n * n > biggest) biggest = n * n;
    }
    if (biggest > CK_EVAL_WINDOW) biggest = CK_EVAL_WINDOW;
    w.cap = biggest;
    w.a = malloc(biggest * sizeof *w.a);
    w.r = malloc(biggest * sizeof *w.r);
    w.rt = malloc(biggest * sizeof *w.rt);
    w.ea = ck_teval_new(c->ck, c->opt->backend, c->opt->threads, &err);
    w.er = w.ea ? ck_teval_new(ref, c->opt->backend, c->opt->threads, &err) : NULL;
    if (!w.a || !w.r || !w.rt || !w.ea || !w.er) goto out;

    for (size_t i = 0; i < c->n_squares; i++) {
        const ck_expected *x = &c->x->items[c->squares[i]];
        const ck_entry *ea = &c->ck->entries[c->present[c->squares[i]]];
        const ck_expected *y = NULL;
        const ck_entry *er = reference_entry(ref, &xr, x, &y);
        if (!er) continue; /* the reference lacks it: stays ambiguous */
        double cl = 0, cs = 0;
        char why[400];
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "reference", ref->path);
        cJSON_AddStringToObject(ev, "reference_key", er->name);
        if (compare(c, &w, ea, x, er, y, &cl, &cs, why, sizeof why) < 0) {
            cJSON_AddStringToObject(ev, "why", why);
            ck_finding_add(c->f, CK_F_SQUARE_AMBIGUOUS, CK_SEV_WARN, x->key, x->layer, ev, NULL,
                           "square tensor could not be compared with the reference: %s", why);
            c->square_state[i] = CK_SQUARE_TRANSPOSED; /* reported here; keep it out of the summary */
            continue;
        }
        cJSON_AddNumberToObject(ev, "cosine_as_labelled", round(cl * 1e6) / 1e6);
        cJSON_AddNumberToObject(ev, "cosine_transposed", round(cs * 1e6) / 1e6);
        if (cl > DECISIVE && cl - cs > MARGIN) {
            c->square_state[i] = CK_SQUARE_VERIFIED;
            cJSON_Delete(ev);
        } else if (cs > DECISIVE && cs - cl > MARGIN) {
            c->square_state[i] = CK_SQUARE_TRANSPOSED;
            cJSON *fix = ck_fix_transpose(x->key);
            ck_finding_add(c->f, CK_F_TRANSPOSED, CK_SEV_ERROR, x->key, x->layer, ev, fix,
                           "square tensor stored in the wrong orientation: against the reference its cosine is %.4f as "
                           "labelled and %.4f transposed",
                           cl, cs);
        } else {
            c->square_state[i] = CK_SQUARE_TRANSPOSED; /* reported here */
            ck_finding_add(c->f, CK_F_SQUARE_AMBIGUOUS, CK_SEV_WARN, x->key, x->layer, ev, NULL,
                           "the reference does not settle the orientation: cosine %.4f as labelled, %.4f transposed "
                           "(is it the same model?)",
                           cl, cs);
        }
    }
    /* One line of good news per rule, so a clean result is visible and not silent. */
    size_t verified = 0;
    const ck_expected *first = NULL;
    for (size_t i = 0; i < c->n_squares; i++)
        if (c->square_state[i] == CK_SQUARE_VERIFIED) {
            verified++;
            if (!first) first = &c->x->items[c->squares[i]];
        }
    if (verified) {
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "reference", ref->path);
        cJSON_AddNumberToObject(ev, "verified", (double)verified);
        ck_finding_add(c->f, CK_F_SQUARE_AMBIGUOUS, CK_SEV_INFO, first->key, first->layer, ev, NULL,
                       "%zu square tensors verified against the reference: their orientation is as labelled", verified);
    }
out:
    ck_teval_free(w.ea);
    ck_teval_free(w.er);
    free(w.a);
    free(w.r);
    free(w.rt);
    ck_expectation_free(&xr);
}

/* ---- evidence from the weights alone -------------------------------------------------------- */

/* In a SwiGLU MLP, unit j's up-projection weights can be scaled by c and its down-projection
 * weights by 1/c without changing the function; weight decay then balances the two norms, so in
 * trained weights the norm of unit j's up weights tracks the norm of unit j's down weights. Under
 * the labelled orientation unit j is one row of down_proj ([in, out]), under the other one column:
 * the correlation of per-unit norms shows which. Random (untrained) weights show neither, and the
 * finding says so. */

static double pearson(const double *a, const double *b, uint64_t n)
{
    double ma = 0, mb = 0;
    for (uint64_t i = 0; i < n; i++) ma += a[i], mb += b[i];
    ma /= (double)n, mb /= (double)n;
    double sab = 0, saa = 0, sbb = 0;
    for (uint64_t i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

/* Sum of squares of each column of rows [r0, r0 + rows) of a group (streamed in windows). */
static int column_squares(ck_teval *ev, const ck_tgroup *g, uint64_t r0, uint64_t rows, float *buf, double *cols_out,
                          double *rows_out, ck_error *err)
{
    uint64_t step = CK_EVAL_WINDOW / g->cols;
    if (step == 0) return ck_error_set(err, CK_E_UNSUPPORTED, NULL, g->m[0]->name, -1, "rows too long");
    memset(cols_out, 0, g->cols * sizeof *cols_out);
    for (uint64_t r = 0; r < rows; r += step) {
        uint64_t k = rows - r < step ? rows - r : step;
        if (ck_teval_decode(ev, g, r0 + r, k, buf, err) < 0) return -1;
        for (uint64_t i = 0; i < k; i++) {
            double row = 0;
            for (uint64_t j = 0; j < g->cols; j++) {
                double v = buf[i * g->cols + j];
                cols_out[j] += v * v;
                row += v * v;
            }
            if (rows_out) rows_out[r + i] = sqrt(row);
        }
    }
    for (uint64_t j = 0; j < g->cols; j++) cols_out[j] = sqrt(cols_out[j]);
    return 0;
}

/* Correlations for one square fused tensor, averaged over up to `max_experts` experts. */
static int unit_norms(ck_check_ctx *c, ck_teval *ev, float *buf, const ck_expected *x, int max_experts, double *labelled,
                      double *swapped)
{
    char pkey[600];
    int split;
    if (!(x->flags & CK_EXP_IN_OUT) || ck_spec_units_partner(c->x, x, pkey, sizeof pkey, &split) < 0) return -1;
    const ck_entry *de = &c->ck->entries[c->present[x - c->x->items]], *pe = ck_checkpoint_find(c->ck, pkey);
    if (!pe || !pe->has_header) return -1;
    ck_tgroup gd, gp;
    if (ck_tgroup_find(c->ck, de, &gd) || ck_tgroup_find(c->ck, pe, &gp)) return -1; /* plain tensors only */
    uint64_t n = x->shape[x->ndim - 1], experts = gd.rows / n;
    if (!experts || gp.cols != 2 * n || gp.rows % experts) return -1;
    uint64_t H = gp.rows / experts;
    double *pcols = malloc(gp.cols * sizeof *pcols), *dcols = malloc(n * sizeof *dcols), *drows = malloc(n * sizeof *drows),
           *up = malloc(n * sizeof *up);
    int rc = -1, used = 0;
    double sum_l = 0, sum_s = 0;
    ck_error err;
    if (!pcols || !dcols || !drows || !up) goto out;
    for (int k = 0; k < max_experts && (uint64_t)k < experts; k++) {
        uint64_t e = max_experts == 1 ? 0 : (uint64_t)k * (experts - 1) / (uint64_t)(max_experts - 1);
        if (column_squares(ev, &gp, e * H, H, buf, pcols, NULL, &err) < 0) goto out;
        if (column_squares(ev, &gd, e * n, n, buf, dcols, drows, &err) < 0) goto out;
        for (uint64_t j = 0; j < n; j++) up[j] = split == CK_UNITS_INTERLEAVED ? pcols[2 * j + 1] : pcols[n + j];
        /* Labelled [in, out]: unit j is row j. */
        sum_l += pearson(up, drows, n);
        sum_s += pearson(up, dcols, n);
        used++;
    }
    if (used) {
        *labelled = sum_l / used;
        *swapped = sum_s / used;
        rc = 0;
    }
out:
    free(pcols), free(dcols), free(drows), free(up);
    return rc;
}

cJSON *ck_square_weight_evidence(ck_check_ctx *c, int rule, char *verdict, size_t verdict_len)
{
    if (!c->opt->backend) return NULL;
    size_t members = 0;
    for (size_t i = 0; i < c->n_squares; i++)
        if (c->x->items[c->squares[i]].rule == rule) members++;
    if (!members) return NULL;
    ck_error err;
    ck_teval *ev = ck_teval_new(c->ck, c->opt->backend, c->opt->threads, &err);
    float *buf = malloc(CK_EVAL_WINDOW * sizeof *buf);
    cJSON *per = cJSON_CreateArray();
    double sum_l = 0, sum_s = 0;
    int used = 0;
    /* Default: three tensors (first, middle, last), one expert each; --deep: all, two experts each. */
    size_t seen = 0;
    for (size_t i = 0; ev && buf && i < c->n_squares; i++) {
        const ck_expected *x = &c->x->items[c->squares[i]];
        if (x->rule != rule) continue;
        size_t idx = seen++;
        if (!c->opt->deep && !(idx == 0 || idx == members / 2 || idx == members - 1)) continue;
        double l, s;
        if (unit_norms(c, ev, buf, x, c->opt->deep ? 2 : 1, &l, &s) < 0) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", x->key);
        cJSON_AddNumberToObject(o, "as_labelled", round(l * 1e4) / 1e4);
        cJSON_AddNumberToObject(o, "transposed", round(s * 1e4) / 1e4);
        cJSON_AddItemToArray(per, o);
        sum_l += l, sum_s += s, used++;
    }
    ck_teval_free(ev);
    free(buf);
    if (!used) {
        cJSON_Delete(per);
        return NULL;
    }
    double l = sum_l / used, s = sum_s / used;
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "method", "correlation of per-unit up-projection norms with down_proj rows (as labelled) "
                                          "or columns (transposed)");
    cJSON_AddNumberToObject(out, "as_labelled", round(l * 1e4) / 1e4);
    cJSON_AddNumberToObject(out, "transposed", round(s * 1e4) / 1e4);
    cJSON_AddItemToObject(out, "tensors", per);
    if (l > 0.5 && l - s > 0.3)
        snprintf(verdict, verdict_len, "moderate: the weights favour the labelled orientation (unit-norm correlation %.2f vs %.2f)", l, s);
    else if (s > 0.5 && s - l > 0.3)
        snprintf(verdict, verdict_len, "moderate: the weights favour the TRANSPOSED orientation (unit-norm correlation %.2f as labelled vs %.2f transposed)", l, s);
    else
        snprintf(verdict, verdict_len, "inconclusive: unit-norm correlation %.2f as labelled vs %.2f transposed (untrained or unusual weights)", l, s);
    return out;
}
