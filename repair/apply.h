/* A repair plan turned into per-shard work against one opened checkpoint. A repair is a small
 * program: shards none of whose tensors change are copied byte for byte; a shard with changes is
 * rewritten by the streaming writer, its unchanged tensors streamed from the mmapped input and the
 * changed ones computed (transposes and casts through the back end), window by window. */
#ifndef CK_APPLY_H
#define CK_APPLY_H

#include <stdbool.h>
#include <stdio.h>

#include "../inspect/checkpoint.h"
#include "../kernels/backend.h"
#include "plan.h"

typedef struct ck_repair ck_repair;

/* Replay the plan's actions, in order, on the checkpoint's catalog (later actions see the names
 * earlier ones gave). Fails, naming the plan file, action index and key, when a key is absent, a
 * new name is taken, or an action cannot apply to the tensor (dtype, rank). `be` is asked what
 * it supports (it is used again by ck_repair_write). */
int ck_repair_build(ck_checkpoint *ck, const ck_rplan *plan, ck_backend *be, ck_repair **out, ck_error *err);
void ck_repair_free(ck_repair *r);

/* What would be written: every output file with copy / rewrite / write, and the tensors that
 * change. */
void ck_repair_describe(const ck_repair *r, const char *outdir, FILE *out);

typedef struct {
    size_t shards_copied, shards_rewritten, files_copied, tensors_changed;
} ck_repair_summary;

void ck_repair_summarize(const ck_repair *r, ck_repair_summary *s);

/* Write the repaired checkpoint into `outdir` (created; must not exist or be empty). Every file
 * goes through repair/atomic.h. On failure the files already written stay (each is whole). */
int ck_repair_write(ck_repair *r, const char *outdir, ck_error *err);

#endif
