#include "dtype.h"

#include <string.h>

/* Bit widths and encodings: safetensors tensor.rs (`Dtype::bitsize`), PyTorch dtype names,
 * OCP MX spec for F4/F6/E8M0. FN variants (E4M3) have NaN but no infinity; FNUZ variants have
 * one NaN (0x80) and no negative zero. */
const ck_dtype_traits ck_dtype_table[CK_DTYPE_COUNT] = {
    /*              name          bits kind            exp man inf    nan    scale  torch */
    [CK_BOOL]        = {"BOOL",        8, CK_KIND_BOOL,    0,  0, false, false, false, "bool"},
    [CK_F4]          = {"F4",          4, CK_KIND_FLOAT,   2,  1, false, false, false, "float4_e2m1fn_x2"},
    [CK_F6_E2M3]     = {"F6_E2M3",     6, CK_KIND_FLOAT,   2,  3, false, false, false, ""},
    [CK_F6_E3M2]     = {"F6_E3M2",     6, CK_KIND_FLOAT,   3,  2, false, false, false, ""},
    [CK_U8]          = {"U8",          8, CK_KIND_UINT,    0,  0, false, false, false, "uint8"},
    [CK_I8]          = {"I8",          8, CK_KIND_INT,     0,  0, false, false, false, "int8"},
    [CK_F8_E5M2]     = {"F8_E5M2",     8, CK_KIND_FLOAT,   5,  2, true,  true,  false, "float8_e5m2"},
    [CK_F8_E4M3]     = {"F8_E4M3",     8, CK_KIND_FLOAT,   4,  3, false, true,  false, "float8_e4m3fn"},
    [CK_F8_E8M0]     = {"F8_E8M0",     8, CK_KIND_FLOAT,   8,  0, false, true,  true,  "float8_e8m0fnu"},
    [CK_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8, CK_KIND_FLOAT,   4,  3, false, true,  false, "float8_e4m3fnuz"},
    [CK_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8, CK_KIND_FLOAT,   5,  2, false, true,  false, "float8_e5m2fnuz"},
    [CK_I16]         = {"I16",        16, CK_KIND_INT,     0,  0, false, false, false, "int16"},
    [CK_U16]         = {"U16",        16, CK_KIND_UINT,    0,  0, false, false, false, "uint16"},
    [CK_F16]         = {"F16",        16, CK_KIND_FLOAT,   5, 10, true,  true,  false, "float16"},
    [CK_BF16]        = {"BF16",       16, CK_KIND_FLOAT,   8,  7, true,  true,  false, "bfloat16"},
    [CK_I32]         = {"I32",        32, CK_KIND_INT,     0,  0, false, false, false, "int32"},
    [CK_U32]         = {"U32",        32, CK_KIND_UINT,    0,  0, false, false, false, "uint32"},
    [CK_F32]         = {"F32",        32, CK_KIND_FLOAT,   8, 23, true,  true,  false, "float32"},
    [CK_C64]         = {"C64",        64, CK_KIND_COMPLEX, 8, 23, true,  true,  false, "complex64"},
    [CK_F64]         = {"F64",        64, CK_KIND_FLOAT,  11, 52, true,  true,  false, "float64"},
    [CK_I64]         = {"I64",        64, CK_KIND_INT,     0,  0, false, false, false, "int64"},
    [CK_U64]         = {"U64",        64, CK_KIND_UINT,    0,  0, false, false, false, "uint64"},
};

bool ck_dtype_from_name(const char *s, size_t len, ck_dtype *out)
{
    for (int d = 0; d < CK_DTYPE_COUNT; d++) {
        const char *name = ck_dtype_table[d].name;
        if (strlen(name) == len && memcmp(name, s, len) == 0) {
            *out = (ck_dtype)d;
            return true;
        }
    }
    return false;
}

int ck_tensor_size(ck_dtype dtype, const uint64_t *shape, int ndim, uint64_t *numel, uint64_t *nbytes)
{
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (__builtin_mul_overflow(n, shape[i], &n)) return -1;
    uint64_t bits;
    if (__builtin_mul_overflow(n, (uint64_t)ck_dtype_table[dtype].bits, &bits)) return -1;
    if (bits % 8 != 0) return -2;
    if (numel) *numel = n;
    if (nbytes) *nbytes = bits / 8;
    return 0;
}
