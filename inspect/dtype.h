/* One table of dtype traits, used everywhere a dtype matters. Code asks the table
 * (bits, kind, exponent bits, ...) instead of switching on dtypes. */
#ifndef CK_DTYPE_H
#define CK_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Enum order is the safetensors crate's `enum Dtype` order: the reference writer sorts tensors by
 * dtype DESCENDING in this order (then by name), and so does ours. Do not reorder. */
typedef enum {
    CK_BOOL,
    CK_F4,
    CK_F6_E2M3,
    CK_F6_E3M2,
    CK_U8,
    CK_I8,
    CK_F8_E5M2,
    CK_F8_E4M3,
    CK_F8_E8M0,
    CK_F8_E4M3FNUZ,
    CK_F8_E5M2FNUZ,
    CK_I16,
    CK_U16,
    CK_F16,
    CK_BF16,
    CK_I32,
    CK_U32,
    CK_F32,
    CK_C64,
    CK_F64,
    CK_I64,
    CK_U64,
    CK_DTYPE_COUNT
} ck_dtype;

typedef enum { CK_KIND_BOOL, CK_KIND_UINT, CK_KIND_INT, CK_KIND_FLOAT, CK_KIND_COMPLEX } ck_dtype_kind;

typedef struct {
    const char *name;      /* safetensors header string, exact and case-sensitive */
    unsigned bits;         /* bits per element (4 and 6 for the sub-byte floats) */
    ck_dtype_kind kind;
    unsigned exp_bits;     /* floats: exponent bits (0 otherwise) */
    unsigned man_bits;     /* floats: mantissa bits, without the implicit one */
    bool has_inf;          /* the encoding has an infinity */
    bool has_nan;          /* the encoding has a NaN */
    bool is_quant_scale;   /* a scale-only encoding (E8M0): no sign, no mantissa */
    const char *torch_name;/* PyTorch's dtype name, "" where PyTorch has none */
} ck_dtype_traits;

extern const ck_dtype_traits ck_dtype_table[CK_DTYPE_COUNT];

static inline const ck_dtype_traits *ck_dtype_info(ck_dtype d) { return &ck_dtype_table[d]; }
static inline const char *ck_dtype_name(ck_dtype d) { return ck_dtype_table[d].name; }
static inline bool ck_dtype_is_float(ck_dtype d) { return ck_dtype_table[d].kind == CK_KIND_FLOAT; }

/* Look a header string up (exact match of `len` bytes). Returns false for unknown strings. */
bool ck_dtype_from_name(const char *s, size_t len, ck_dtype *out);

/* Element count and byte size of a tensor of `dtype` and `shape`, with every overflow checked.
 * Returns 0 on success; -1 if numel*bits overflows 64 bits; -2 if the bit count is not a whole
 * number of bytes (sub-byte dtypes), which safetensors rejects as a misaligned slice. */
int ck_tensor_size(ck_dtype dtype, const uint64_t *shape, int ndim, uint64_t *numel, uint64_t *nbytes);

#endif
