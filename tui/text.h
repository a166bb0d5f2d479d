/* Small text helpers shared by the view model's parts: sizes, shapes, shard names, escaping. */
#ifndef CK_TUI_TEXT_H
#define CK_TUI_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Binary units with one decimal, rounded half up, as `ckdoc ls` prints them. */
void ck_human_size(char *buf, size_t size, uint64_t bytes);
/* "[48, 64]" */
void ck_shape_str(char *buf, size_t size, const uint64_t *shape, int ndim);
/* A shard file name shortened for a column: "model-00002-of-00003.safetensors" -> "2/3", anything
 * else loses its ".safetensors" suffix. Escaped. */
void ck_shard_short(char *buf, size_t size, const char *name);
/* Escape raw bytes (tensor names, file names: they come from the files) for display, as
 * ck_escape does (control bytes as \xNN, backslash and quotes backslashed), and further: bytes
 * that are not well-formed UTF-8 become \xNN, and C1 controls (U+0080..U+009F) and bidirectional
 * controls become \uNNNN, so that nothing drawn can move the cursor, change modes, set the title
 * or reorder the line. */
void ck_esc(char *buf, size_t size, const char *s, size_t len);
/* Our own text that may quote names (messages, cJSON output): the same, except that quotes and
 * backslashes stay as they are. */
void ck_esc_ctl(char *buf, size_t size, const char *s);
/* Number with thousands separators: 91,991 */
void ck_commas(char *buf, size_t size, uint64_t v);

#endif
