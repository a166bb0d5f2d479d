/* deepseek_v3, layouts.md §4.6, in the FP8 release form: every 2-D linear is F8_E4M3 with a
 * weight_scale_inv F32 [ceil(out/128), ceil(in/128)]; norms, embeddings, lm_head and the router
 * are BF16; mlp.gate.e_score_correction_bias is F32 [E]. Multi-head latent attention with q-LoRA;
 * the first `first_k_dense_replace` layers are dense, the rest routed + shared experts; layer L is
 * the MTP layer (enorm, hnorm, eh_proj, shared_head, its own embed_tokens, a full MoE decoder layer:
 * with these, the full size has the release's 91,991 tensors). Config: shared/real/DeepSeek-R1. */
#include "families.h"
#include "json_out.h"

#include <stdio.h>

typedef struct {
    int L, H, I, Im, E, n_shared, first_dense, topk, n_group, topk_group;
    int nh, q_lora, kv_lora, qk_nope, qk_rope, v_head, V;
} dims;

static char *config(const dims *d)
{
    ckg_json j;
    ckg_j_init(&j);
    ckg_j_obj(&j, NULL);
    ckg_j_strs(&j, "architectures", (const char *[]){"DeepseekV3ForCausalLM"}, 1);
    ckg_j_bool(&j, "attention_bias", false);
    ckg_j_raw(&j, "attention_dropout", "0.0");
    ckg_j_obj(&j, "auto_map");
    ckg_j_str(&j, "AutoConfig", "configuration_deepseek.DeepseekV3Config");
    ckg_j_str(&j, "AutoModel", "modeling_deepseek.DeepseekV3Model");
    ckg_j_str(&j, "AutoModelForCausalLM", "modeling_deepseek.DeepseekV3ForCausalLM");
    ckg_j_end_obj(&j);
    ckg_j_raw(&j, "aux_loss_alpha", "0.001");
    ckg_j_int(&j, "bos_token_id", 0);
    ckg_j_int(&j, "eos_token_id", 1);
    ckg_j_int(&j, "ep_size", 1);
    ckg_j_int(&j, "first_k_dense_replace", d->first_dense);
    ckg_j_str(&j, "hidden_act", "silu");
    ckg_j_int(&j, "hidden_size", d->H);
    ckg_j_raw(&j, "initializer_range", "0.02");
    ckg_j_int(&j, "intermediate_size", d->I);
    ckg_j_int(&j, "kv_lora_rank", d->kv_lora);
    ckg_j_int(&j, "max_position_embeddings", 163840);
    ckg_j_str(&j, "model_type", "deepseek_v3");
    ckg_j_int(&j, "moe_intermediate_size", d->Im);
    ckg_j_int(&j, "moe_layer_freq", 1);
    ckg_j_int(&j, "n_group", d->n_group);
    ckg_j_int(&j, "n_routed_experts", d->E);
    ckg_j_int(&j, "n_shared_experts", d->n_shared);
    ckg_j_bool(&j, "norm_topk_prob", true);
    ckg_j_int(&j, "num_attention_heads", d->nh);
    ckg_j_int(&j, "num_experts_per_tok", d->topk);
    ckg_j_int(&j, "num_hidden_layers", d->L);
    ckg_j_int(&j, "num_key_value_heads", d->nh);
    ckg_j_int(&j, "num_nextn_predict_layers", 1);
    ckg_j_int(&j, "pretraining_tp", 1);
    ckg_j_int(&j, "q_lora_rank", d->q_lora);
    ckg_j_int(&j, "qk_nope_head_dim", d->qk_nope);
    ckg_j_int(&j, "qk_rope_head_dim", d->qk_rope);
    ckg_j_obj(&j, "quantization_config");
    ckg_j_str(&j, "activation_scheme", "dynamic");
    ckg_j_str(&j, "fmt", "e4m3");
    ckg_j_str(&j, "quant_method", "fp8");
    ckg_j_ints(&j, "weight_block_size", (const int[]){128, 128}, 2);
    ckg_j_end_obj(&j);
    ckg_j_raw(&j, "rms_norm_eps", "1e-06");
    ckg_j_obj(&j, "rope_scaling");
    ckg_j_int(&j, "beta_fast", 32);
    ckg_j_int(&j, "beta_slow", 1);
    ckg_j_int(&j, "factor", 40);
    ckg_j_raw(&j, "mscale", "1.0");
    ckg_j_raw(&j, "mscale_all_dim", "1.0");
    ckg_j_int(&j, "original_max_position_embeddings", 4096);
    ckg_j_str(&j, "type", "yarn");
    ckg_j_end_obj(&j);
    ckg_j_int(&j, "rope_theta", 10000);
    ckg_j_raw(&j, "routed_scaling_factor", "2.5");
    ckg_j_str(&j, "scoring_func", "sigmoid");
    ckg_j_bool(&j, "seq_aux", true);
    ckg_j_bool(&j, "tie_word_embeddings", false);
    ckg_j_int(&j, "topk_group", d->topk_group);
    ckg_j_str(&j, "topk_method", "noaux_tc");
    ckg_j_str(&j, "torch_dtype", "bfloat16");
    ckg_j_str(&j, "transformers_version", "4.46.3");
    ckg_j_bool(&j, "use_cache", true);
    ckg_j_int(&j, "v_head_dim", d->v_head);
    ckg_j_int(&j, "vocab_size", d->V);
    ckg_j_end_obj(&j);
    return ckg_j_finish(&j);
}

static void decoder_layer(ckg_model *m, const dims *d, int l)
{
    const ckg_quant q = CKG_Q_FP8_BLOCK;
    uint64_t H = (uint64_t)d->H;
    int qk = d->qk_nope + d->qk_rope;
    char p[64], e[160];
    snprintf(p, sizeof p, "model.layers.%d.", l);
    ckg_add_norm(m, CK_BF16, H, "%sinput_layernorm.weight", p);
    ckg_linear(m, q, (uint64_t)d->q_lora, H, "%sself_attn.q_a_proj", p);
    ckg_add_norm(m, CK_BF16, (uint64_t)d->q_lora, "%sself_attn.q_a_layernorm.weight", p);
    ckg_linear(m, q, (uint64_t)(d->nh * qk), (uint64_t)d->q_lora, "%sself_attn.q_b_proj", p);
    ckg_linear(m, q, (uint64_t)(d->kv_lora + d->qk_rope), H, "%sself_attn.kv_a_proj_with_mqa", p);
    ckg_add_norm(m, CK_BF16, (uint64_t)d->kv_lora, "%sself_attn.kv_a_layernorm.weight", p);
    ckg_linear(m, q, (uint64_t)(d->nh * (d->qk_nope + d->v_head)), (uint64_t)d->kv_lora, "%sself_attn.kv_b_proj", p);
    ckg_linear(m, q, H, (uint64_t)(d->nh * d->v_head), "%sself_attn.o_proj", p);
    ckg_add_norm(m, CK_BF16, H, "%spost_attention_layernorm.weight", p);
    if (l < d->first_dense) {
        ckg_gated_mlp(m, q, p, "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", d->H, d->I);
        return;
    }
    ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d->E, H), "%smlp.gate.weight", p);
    ckg_add(m, CK_F32, CKG_SHAPE((uint64_t)d->E), "%smlp.gate.e_score_correction_bias", p)->std = 0.1;
    for (int x = 0; x < d->E; x++) {
        snprintf(e, sizeof e, "%smlp.experts.%d.", p, x);
        ckg_gated_mlp(m, q, e, "gate_proj", "up_proj", "down_proj", d->H, d->Im);
    }
    snprintf(e, sizeof e, "%smlp.shared_experts.", p);
    ckg_gated_mlp(m, q, e, "gate_proj", "up_proj", "down_proj", d->H, d->Im * d->n_shared);
}

void ckg_fam_deepseek_v3(ckg_model *m, const ckg_opts *o)
{
    dims d = {3, 64, 160, 48, 8, 1, 1, 2, 2, 1, 4, 48, 32, 16, 8, 16, 256};
    if (o->full_size) d = (dims){61, 7168, 18432, 2048, 256, 1, 3, 8, 8, 4, 128, 1536, 512, 128, 64, 128, 129280};
    if (o->layers) d.L = o->layers;
    uint64_t V = (uint64_t)d.V, H = (uint64_t)d.H;

    ckg_add(m, CK_BF16, CKG_SHAPE(V, H), "model.embed_tokens.weight");
    for (int l = 0; l < d.L; l++) decoder_layer(m, &d, l);
    /* The MTP layer sits after the last decoder layer; HF transformers skips it on load. */
    int mtp = d.L;
    ckg_add(m, CK_BF16, CKG_SHAPE(V, H), "model.layers.%d.embed_tokens.weight", mtp);
    ckg_add_norm(m, CK_BF16, H, "model.layers.%d.enorm.weight", mtp);
    ckg_add_norm(m, CK_BF16, H, "model.layers.%d.hnorm.weight", mtp);
    ckg_add(m, CK_BF16, CKG_SHAPE(H, 2 * H), "model.layers.%d.eh_proj.weight", mtp);
    decoder_layer(m, &d, mtp);
    ckg_add_norm(m, CK_BF16, H, "model.layers.%d.shared_head.norm.weight", mtp);
    ckg_add(m, CK_BF16, CKG_SHAPE(V, H), "model.layers.%d.shared_head.head.weight", mtp);
    ckg_add_norm(m, CK_BF16, H, "model.norm.weight");
    ckg_add(m, CK_BF16, CKG_SHAPE(V, H), "lm_head.weight");
    if (o->full_size) {
        m->sparse = true;
        m->n_shards = 64;
    } else {
        m->shard_bytes = 128 * 1024;
    }
    ckg_set_side_file(m, "config.json", config(&d));
}
