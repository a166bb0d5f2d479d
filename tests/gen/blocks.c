/* Blocks several families share: grouped-query attention and the gated (SwiGLU) MLP. */
#include "families.h"

void ckg_gqa_attention(ckg_model *m, const char *p, int H, int nh, int ng, int d, unsigned flags)
{
    /* HF nn.Linear weights are [out, in] (layouts.md §0.3). */
    const struct { const char *name; int out, in; } proj[] = {
        {"q_proj", nh * d, H}, {"k_proj", ng * d, H}, {"v_proj", ng * d, H}, {"o_proj", H, nh * d},
    };
    for (int i = 0; i < 4; i++) {
        ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)proj[i].out, (uint64_t)proj[i].in), "%sself_attn.%s.weight", p,
                proj[i].name);
        if (flags & CKG_ATTN_BIAS) {
            ckg_tensor *b = ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)proj[i].out), "%sself_attn.%s.bias", p,
                                    proj[i].name);
            b->std = 0.02;
        }
    }
    if (flags & CKG_ATTN_QK_NORM) {
        ckg_add_norm(m, CK_BF16, (uint64_t)d, "%sself_attn.q_norm.weight", p);
        ckg_add_norm(m, CK_BF16, (uint64_t)d, "%sself_attn.k_norm.weight", p);
    }
}

void ckg_gated_mlp(ckg_model *m, ckg_quant q, const char *p, const char *gate, const char *up,
                   const char *down, int H, int I)
{
    ckg_linear(m, q, (uint64_t)I, (uint64_t)H, "%s%s", p, gate);
    ckg_linear(m, q, (uint64_t)I, (uint64_t)H, "%s%s", p, up);
    ckg_linear(m, q, (uint64_t)H, (uint64_t)I, "%s%s", p, down);
}
