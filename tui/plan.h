/* The staged repair plan: an ordered list of actions (the findings' suggested fixes), saved as the
 * same "ckdoc.plan/1" JSON that `ckdoc check --emit-plan` writes and `ckdoc repair --plan` reads. */
#ifndef CK_TUI_PLAN_H
#define CK_TUI_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "inspect/error.h"
#include "inspect/findings.h"

struct cJSON;

typedef struct {
    struct cJSON **items; /* owned action objects, each with "finding": CODE added */
    size_t n, cap;
    bool dirty;           /* changed since the last save (or since opening) */
} ck_plan;

/* Stage a finding's fix. Returns 1 when added, 0 when an equal action is already staged, -1 when
 * the finding has no fix (or out of memory). */
int ck_plan_add(ck_plan *p, const ck_finding *f);
void ck_plan_remove(ck_plan *p, size_t i);
/* Swap action i with its neighbour (dir -1 up, +1 down); returns the new index of the action. */
size_t ck_plan_move(ck_plan *p, size_t i, int dir);
/* The document, cJSON-printed (caller frees), as ck_plan_json prints it. */
char *ck_plan_to_json(const ck_plan *p, const char *source);
/* Write atomically (repair/atomic.h); clears dirty on success. */
int ck_plan_save(ck_plan *p, const char *source, const char *path, ck_error *err);
/* One line describing action i: "transpose model.layers.1....weight" (escaped). */
void ck_plan_describe(const ck_plan *p, size_t i, char *buf, size_t size);
void ck_plan_free(ck_plan *p);

#endif
