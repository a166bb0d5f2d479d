/* llama4, layouts.md §4.7, as Llama4ForConditionalGeneration stores its text tower (the
 * vision_model.* and multi_modal_projector.* tensors are left out): keys under
 * language_model.model.layers.N.; MoE layers every `interleave_moe_layer_step` (the Maverick
 * pattern) with a router, fused experts gate_up_proj [E, H, 2I] (gate columns then up columns) and
 * down_proj [E, I, H], i.e. [in, out], and a shared expert of size I; dense layers use
 * intermediate_size_mlp. use_qk_norm is a weightless L2 norm, so nothing is stored for it. */
#include "families.h"
#include "json_out.h"

#include <math.h>
#include <stdio.h>

typedef struct { int L, H, I, I_mlp, E, topk, step, nh, ng, d, V; } dims;

static bool is_moe(const dims *d, int l) { return (l + 1) % d->step == 0; }

static char *config(const dims *d)
{
    ckg_json j;
    ckg_j_init(&j);
    ckg_j_obj(&j, NULL);
    ckg_j_strs(&j, "architectures", (const char *[]){"Llama4ForConditionalGeneration"}, 1);
    ckg_j_str(&j, "model_type", "llama4");
    ckg_j_obj(&j, "text_config");
    ckg_j_bool(&j, "attention_bias", false);
    ckg_j_int(&j, "attention_chunk_size", 8192);
    ckg_j_raw(&j, "attention_dropout", "0.0");
    ckg_j_bool(&j, "attn_temperature_tuning", true);
    ckg_j_int(&j, "bos_token_id", 1);
    ckg_j_ints(&j, "eos_token_id", (const int[]){2, 7, 8}, 3);
    ckg_j_int(&j, "head_dim", d->d);
    ckg_j_str(&j, "hidden_act", "silu");
    ckg_j_int(&j, "hidden_size", d->H);
    ckg_j_raw(&j, "initializer_range", "0.02");
    ckg_j_int(&j, "interleave_moe_layer_step", d->step);
    ckg_j_int(&j, "intermediate_size", d->I);
    ckg_j_int(&j, "intermediate_size_mlp", d->I_mlp);
    ckg_j_int(&j, "max_position_embeddings", 1048576);
    ckg_j_str(&j, "model_type", "llama4_text");
    ckg_j_arr(&j, "moe_layers");
    for (int l = 0; l < d->L; l++)
        if (is_moe(d, l)) ckg_j_int(&j, NULL, l);
    ckg_j_end_arr(&j);
    ckg_j_arr(&j, "no_rope_layers");
    for (int l = 0; l < d->L; l++) ckg_j_int(&j, NULL, (l + 1) % 4 != 0); /* every 4th layer is NoPE */
    ckg_j_end_arr(&j);
    ckg_j_int(&j, "num_attention_heads", d->nh);
    ckg_j_int(&j, "num_experts_per_tok", d->topk);
    ckg_j_int(&j, "num_hidden_layers", d->L);
    ckg_j_int(&j, "num_key_value_heads", d->ng);
    ckg_j_int(&j, "num_local_experts", d->E);
    ckg_j_bool(&j, "output_router_logits", false);
    ckg_j_int(&j, "pad_token_id", d->V - 1);
    ckg_j_raw(&j, "rms_norm_eps", "1e-05");
    ckg_j_obj(&j, "rope_scaling");
    ckg_j_raw(&j, "factor", "16.0");
    ckg_j_raw(&j, "high_freq_factor", "1.0");
    ckg_j_raw(&j, "low_freq_factor", "1.0");
    ckg_j_int(&j, "original_max_position_embeddings", 8192);
    ckg_j_str(&j, "rope_type", "llama3");
    ckg_j_end_obj(&j);
    ckg_j_raw(&j, "rope_theta", "500000.0");
    ckg_j_raw(&j, "router_aux_loss_coef", "0.001");
    ckg_j_raw(&j, "router_jitter_noise", "0.0");
    ckg_j_str(&j, "torch_dtype", "bfloat16");
    ckg_j_bool(&j, "use_cache", true);
    ckg_j_bool(&j, "use_qk_norm", false);
    ckg_j_int(&j, "vocab_size", d->V);
    ckg_j_end_obj(&j);
    ckg_j_bool(&j, "tie_word_embeddings", false);
    ckg_j_str(&j, "torch_dtype", "bfloat16");
    ckg_j_str(&j, "transformers_version", "4.51.0.dev0");
    ckg_j_end_obj(&j);
    return ckg_j_finish(&j);
}

void ckg_fam_llama4(ckg_model *m, const ckg_opts *o)
{
    dims d = {o->layers ? o->layers : 4, 64, 48, 96, 4, 1, 2, 4, 2, 16, 256};
    uint64_t H = (uint64_t)d.H, I = (uint64_t)d.I, E = (uint64_t)d.E;
    ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.V, H), "language_model.model.embed_tokens.weight");
    for (int l = 0; l < d.L; l++) {
        char p[64], s[160];
        snprintf(p, sizeof p, "language_model.model.layers.%d.", l);
        ckg_add_norm(m, CK_BF16, H, "%sinput_layernorm.weight", p);
        ckg_gqa_attention(m, p, d.H, d.nh, d.ng, d.d, 0);
        ckg_add_norm(m, CK_BF16, H, "%spost_attention_layernorm.weight", p);
        if (!is_moe(&d, l)) {
            ckg_gated_mlp(m, CKG_Q_BF16, p, "feed_forward.gate_proj", "feed_forward.up_proj",
                          "feed_forward.down_proj", d.H, d.I_mlp);
            continue;
        }
        ckg_add(m, CK_BF16, CKG_SHAPE(E, H), "%sfeed_forward.router.weight", p);
        ckg_tensor *t = ckg_add(m, CK_BF16, CKG_SHAPE(E, H, 2 * I), "%sfeed_forward.experts.gate_up_proj", p);
        t->std = 1.0 / sqrt((double)H); /* [in, out]: the fan-in is dim 1, not the last dim */
        t = ckg_add(m, CK_BF16, CKG_SHAPE(E, I, H), "%sfeed_forward.experts.down_proj", p);
        t->std = 1.0 / sqrt((double)I);
        snprintf(s, sizeof s, "%sfeed_forward.shared_expert.", p);
        ckg_gated_mlp(m, CKG_Q_BF16, s, "gate_proj", "up_proj", "down_proj", d.H, d.I);
    }
    ckg_add_norm(m, CK_BF16, H, "language_model.model.norm.weight");
    ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.V, H), "language_model.lm_head.weight");
    m->shard_bytes = 96 * 1024;
    ckg_set_side_file(m, "config.json", config(&d));
}
