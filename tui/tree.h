/* The key tree: the catalog grouped as the model is built (embeddings, layer N with attention /
 * mlp / experts / norms, final norms, head, other), with rows for keys the findings say are
 * missing, and a status per row derived from the findings. Pure data: no curses, no drawing. */
#ifndef CK_TUI_TREE_H
#define CK_TUI_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inspect/checkpoint.h"
#include "inspect/findings.h"
#include "inspect/spec.h"
#include "tui/style.h"

typedef enum { CK_NODE_GROUP, CK_NODE_LAYER, CK_NODE_EXPERTS, CK_NODE_TENSOR } ck_node_kind;

/* Top-level groups, in display order; the sub-groups of a layer, in display order. */
typedef enum { CK_TOP_EMBED, CK_TOP_LAYERS, CK_TOP_NORMS, CK_TOP_HEAD, CK_TOP_OTHER } ck_top_group;
typedef enum { CK_SUB_ATTN, CK_SUB_MLP, CK_SUB_EXPERTS, CK_SUB_NORMS, CK_SUB_OTHER } ck_sub_group;

typedef struct {
    ck_node_kind kind;
    int parent;            /* -1 at the top */
    int depth;
    int end;               /* one past the last descendant: nodes are stored in display order */
    const char *label;     /* group name, or the key without its "...layers.N." prefix (raw bytes) */
    size_t label_len;
    bool own_label;        /* label was allocated (group rows); tensor rows point into their key */
    const char *key;       /* tensor rows: the full key (raw bytes; escape before showing) */
    size_t key_len;
    long entry;            /* catalog index, or -1 for a missing key */
    const ck_expected *x;  /* the expectation the key matched, or NULL */
    int layer;             /* -1 outside layers */
    int expert;            /* expert id of a per-expert key, else -1 */
    bool expanded;
    int finding;           /* the worst finding about this row itself, or -1 */
    int sev;               /* its severity, -1 when none */
    /* over the subtree (a tensor counts itself) */
    int worst;             /* worst severity, -1 when clean */
    uint32_t problems;     /* tensor rows at severity `worst` */
    uint64_t tensors, bytes;
    uint32_t matches;      /* tensor rows matching the filter (all, when there is none) */
    /* experts rows */
    int64_t experts_present, experts_expected;
} ck_node;

typedef struct {
    ck_node *nodes;
    size_t n;
    int *vis;              /* visible rows: node indices */
    size_t n_vis;
    int *by_key;           /* tensor nodes sorted by key, for lookups */
    size_t n_by_key;
    int *finding_node;     /* per finding: the row it is about, or -1 */
    size_t n_findings;
    const ck_findings *f;  /* borrowed */
    bool ascii;            /* expander glyphs "+"/"-" instead of triangles */
    bool filtering;
    bool pending;          /* the checks have not run yet: status cells say so instead of "ok" */
} ck_tree;

typedef enum { CK_COL_NAME, CK_COL_DTYPE, CK_COL_SHAPE, CK_COL_SIZE, CK_COL_SHARD, CK_COL_STATUS, CK_COL_COUNT } ck_col;

typedef struct {
    int indent;            /* columns of indentation before the name */
    ck_cell c[CK_COL_COUNT];
} ck_row_view;

/* Build from an opened checkpoint, the (sorted) findings of ck_check_run and its expectation
 * (x->items may be NULL when no spec applied). Borrows all three: they must outlive the tree. */
int ck_tree_build(ck_tree *t, const ck_checkpoint *ck, const ck_findings *f, const ck_expectation *x, bool ascii);
void ck_tree_free(ck_tree *t);

/* Recompute the visible rows after expanding, collapsing or filtering. */
void ck_tree_refresh(ck_tree *t);
/* Position of node `node` among the visible rows, or of its nearest visible ancestor; 0 if none. */
size_t ck_tree_vis_index(const ck_tree *t, int node);
/* Expand every ancestor of `node` (so that it becomes visible) and refresh. */
void ck_tree_reveal(ck_tree *t, int node);
/* Tensor node with this exact key, or -1. */
int ck_tree_find_key(const ck_tree *t, const char *key, size_t len);
/* Next (dir +1) or previous (-1) tensor node after `from` whose key contains `needle`
 * (a glob when it holds * ? or [), wrapping around; -1 if none. Honours the filter. */
int ck_tree_search(const ck_tree *t, int from, const char *needle, int dir);
/* Keep only tensors whose key matches `glob` (fnmatch, no flags); NULL or "" clears. Groups holding
 * matches are expanded. Returns the number of matching tensors. */
size_t ck_tree_filter(ck_tree *t, const char *glob);

/* The cells of node `i` (shard names from ck). */
void ck_tree_row(const ck_tree *t, const ck_checkpoint *ck, int i, ck_row_view *out);
/* Short status word of a finding code ("transposed", "missing", ...). */
const char *ck_status_word(ck_code code);

#endif
