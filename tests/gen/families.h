/* One builder per model family (fam_*.c): each lists the tensors of a checkpoint as the family's
 * Hugging Face release stores them (layouts.md §4) and writes a config.json with the real
 * release's field names and structure, at toy sizes unless `full_size` asks for the real ones. */
#ifndef CKG_FAMILIES_H
#define CKG_FAMILIES_H

#include <stdbool.h>

#include "builder.h"

typedef struct {
    bool full_size;  /* the real release's shapes (gpt_oss: 120b; deepseek_v3: V3/R1), written sparse */
    bool square;     /* gpt_oss: hidden == intermediate, like the real models */
    bool bf16;       /* gpt_oss: experts in the HF BF16 module form instead of the released MXFP4 */
    int layers;      /* 0: the family's default */
} ckg_opts;

typedef void (*ckg_family_fn)(ckg_model *m, const ckg_opts *o);

void ckg_fam_llama(ckg_model *m, const ckg_opts *o);
void ckg_fam_qwen3(ckg_model *m, const ckg_opts *o);
void ckg_fam_qwen3_moe(ckg_model *m, const ckg_opts *o);
void ckg_fam_mixtral(ckg_model *m, const ckg_opts *o);
void ckg_fam_gpt_oss(ckg_model *m, const ckg_opts *o);
void ckg_fam_deepseek_v3(ckg_model *m, const ckg_opts *o);
void ckg_fam_llama4(ckg_model *m, const ckg_opts *o);
void ckg_fam_nemotron_h(ckg_model *m, const ckg_opts *o);

/* ---- blocks several families share (blocks.c); `p` is a layer prefix ending in '.' ---- */
enum { CKG_ATTN_QK_NORM = 1u << 0, CKG_ATTN_BIAS = 1u << 1 };
/* self_attn.{q,k,v,o}_proj (+ biases, + q_norm/k_norm [d]), all BF16. */
void ckg_gqa_attention(ckg_model *m, const char *p, int H, int nh, int ng, int d, unsigned flags);
/* <p>{gate}/{up} [I, H] and <p>{down} [H, I], each "<name>.weight" (and scales for quantized forms). */
void ckg_gated_mlp(ckg_model *m, ckg_quant q, const char *p, const char *gate, const char *up,
                   const char *down, int H, int I);

#endif
