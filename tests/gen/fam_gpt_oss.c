/* gpt_oss, layouts.md §4.5, in either of its two on-disk forms:
 *  - MXFP4 (the release): mlp.experts.{gate_up,down}_proj_blocks U8 [E, rows, K/32, 16] and
 *    _scales U8 (E8M0) [E, rows, K/32], rows x K = [out, in]; plus quantization_config;
 *  - BF16 (the HF module form): gate_up_proj [E, H, 2I] (gate/up interleaved in the last dim) and
 *    down_proj [E, I, H], i.e. [in, out].
 * Both forms of one size hold the same weights: the BF16 tensors are transpose(dequant(MXFP4)),
 * computed from the MXFP4 tensors' seeds (fill CKG_FILL_MXFP4_T). Config: the field set of
 * shared/real/gpt-oss-20b/config.json. */
#include "families.h"
#include "json_out.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct { int L, H, I, E, topk, nh, ng, d, V; int eos, pad; } dims;

static char *config(const dims *d, bool mxfp4)
{
    ckg_json j;
    ckg_j_init(&j);
    ckg_j_obj(&j, NULL);
    ckg_j_strs(&j, "architectures", (const char *[]){"GptOssForCausalLM"}, 1);
    ckg_j_bool(&j, "attention_bias", true);
    ckg_j_raw(&j, "attention_dropout", "0.0");
    ckg_j_int(&j, "eos_token_id", d->eos);
    ckg_j_int(&j, "experts_per_token", d->topk);
    ckg_j_int(&j, "head_dim", d->d);
    ckg_j_str(&j, "hidden_act", "silu");
    ckg_j_int(&j, "hidden_size", d->H);
    ckg_j_int(&j, "initial_context_length", 4096);
    ckg_j_raw(&j, "initializer_range", "0.02");
    ckg_j_int(&j, "intermediate_size", d->I);
    ckg_j_arr(&j, "layer_types");
    for (int l = 0; l < d->L; l++) ckg_j_str(&j, NULL, l % 2 ? "full_attention" : "sliding_attention");
    ckg_j_end_arr(&j);
    ckg_j_int(&j, "max_position_embeddings", 131072);
    ckg_j_str(&j, "model_type", "gpt_oss");
    ckg_j_int(&j, "num_attention_heads", d->nh);
    ckg_j_int(&j, "num_experts_per_tok", d->topk);
    ckg_j_int(&j, "num_hidden_layers", d->L);
    ckg_j_int(&j, "num_key_value_heads", d->ng);
    ckg_j_int(&j, "num_local_experts", d->E);
    ckg_j_bool(&j, "output_router_logits", false);
    ckg_j_int(&j, "pad_token_id", d->pad);
    if (mxfp4) {
        ckg_j_obj(&j, "quantization_config");
        ckg_j_strs(&j, "modules_to_not_convert",
                   (const char *[]){"model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens",
                                    "lm_head"},
                   4);
        ckg_j_str(&j, "quant_method", "mxfp4");
        ckg_j_end_obj(&j);
    }
    ckg_j_raw(&j, "rms_norm_eps", "1e-05");
    ckg_j_obj(&j, "rope_scaling");
    ckg_j_raw(&j, "beta_fast", "32.0");
    ckg_j_raw(&j, "beta_slow", "1.0");
    ckg_j_raw(&j, "factor", "32.0");
    ckg_j_int(&j, "original_max_position_embeddings", 4096);
    ckg_j_str(&j, "rope_type", "yarn");
    ckg_j_bool(&j, "truncate", false);
    ckg_j_end_obj(&j);
    ckg_j_int(&j, "rope_theta", 150000);
    ckg_j_raw(&j, "router_aux_loss_coef", "0.9");
    ckg_j_int(&j, "sliding_window", 128);
    ckg_j_raw(&j, "swiglu_limit", "7.0");
    ckg_j_bool(&j, "tie_word_embeddings", false);
    ckg_j_str(&j, "transformers_version", "4.55.0.dev0");
    ckg_j_bool(&j, "use_cache", true);
    ckg_j_int(&j, "vocab_size", d->V);
    ckg_j_end_obj(&j);
    return ckg_j_finish(&j);
}

/* One expert projection: `rows` x `K` is [out, in] in MXFP4 terms. */
static void experts(ckg_model *m, const char *p, const char *what, int E, int rows, int K, bool bf16)
{
    uint64_t e = (uint64_t)E, r = (uint64_t)rows, k = (uint64_t)K;
    char blocks[160], scales[160];
    snprintf(blocks, sizeof blocks, "%smlp.experts.%s_blocks", p, what);
    snprintf(scales, sizeof scales, "%smlp.experts.%s_scales", p, what);
    ckg_tensor *bias = ckg_add(m, CK_BF16, CKG_SHAPE(e, r), "%smlp.experts.%s_bias", p, what);
    bias->std = 0.02;
    if (bf16) {
        ckg_tensor *t = ckg_add(m, CK_BF16, CKG_SHAPE(e, k, r), "%smlp.experts.%s", p, what);
        t->fill = CKG_FILL_MXFP4_T;
        t->aux_seed[0] = ckg_hash(blocks);
        t->aux_seed[1] = ckg_hash(scales);
        return;
    }
    ckg_add(m, CK_U8, CKG_SHAPE(e, r, k / 32, 16), "%s", blocks)->fill = CKG_FILL_BYTES;
    ckg_add(m, CK_U8, CKG_SHAPE(e, r, k / 32), "%s", scales)->fill = CKG_FILL_E8M0;
}

void ckg_fam_gpt_oss(ckg_model *m, const ckg_opts *o)
{
    /* Toy: H != I by default, so that shape alone settles orientation; `square` makes H == I like
     * every real size, where only the data can. Full size: gpt-oss-120b. */
    dims d = {2, 64, 96, 4, 2, 4, 2, 16, 256, 254, 255};
    if (o->square) d.I = d.H;
    if (o->full_size) d = (dims){36, 2880, 2880, 128, 4, 64, 8, 64, 201088, 200002, 199999};
    if (o->layers) d.L = o->layers;
    uint64_t V = (uint64_t)d.V, H = (uint64_t)d.H;

    ckg_add(m, CK_BF16, CKG_SHAPE(V, H), "model.embed_tokens.weight");
    for (int l = 0; l < d.L; l++) {
        char p[64];
        snprintf(p, sizeof p, "model.layers.%d.", l);
        ckg_add_norm(m, CK_BF16, H, "%sinput_layernorm.weight", p);
        ckg_gqa_attention(m, p, d.H, d.nh, d.ng, d.d, CKG_ATTN_BIAS);
        ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.nh), "%sself_attn.sinks", p)->std = 1.0;
        ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.E), "%smlp.router.bias", p)->std = 0.02;
        ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.E, H), "%smlp.router.weight", p);
        experts(m, p, "gate_up_proj", d.E, 2 * d.I, d.H, o->bf16);
        experts(m, p, "down_proj", d.E, d.H, d.I, o->bf16);
        ckg_add_norm(m, CK_BF16, H, "%spost_attention_layernorm.weight", p);
    }
    ckg_add_norm(m, CK_BF16, H, "model.norm.weight");
    ckg_add(m, CK_BF16, CKG_SHAPE(V, H), "lm_head.weight");
    if (o->full_size) {
        m->sparse = true;
        m->n_shards = 15; /* as the 120b release */
    } else {
        m->shard_bytes = 160 * 1024;
    }
    ckg_set_side_file(m, "config.json", config(&d, !o->bf16));
}
