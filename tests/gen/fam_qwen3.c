/* qwen3 (dense), layouts.md §4.2: per-head q_norm/k_norm, explicit head_dim with nh·d != H (as in
 * Qwen3-0.6B), tied embeddings, so there is no lm_head.weight. Config: the field set of
 * shared/real/Qwen3-4B/config.json at toy sizes. One file, no index (like the small releases). */
#include "families.h"
#include "json_out.h"

#include <stdio.h>

typedef struct { int L, H, I, nh, ng, d, V; } dims;

static char *config(const dims *d)
{
    ckg_json j;
    ckg_j_init(&j);
    ckg_j_obj(&j, NULL);
    ckg_j_strs(&j, "architectures", (const char *[]){"Qwen3ForCausalLM"}, 1);
    ckg_j_bool(&j, "attention_bias", false);
    ckg_j_raw(&j, "attention_dropout", "0.0");
    ckg_j_int(&j, "bos_token_id", d->V - 3);
    ckg_j_int(&j, "eos_token_id", d->V - 1);
    ckg_j_int(&j, "head_dim", d->d);
    ckg_j_str(&j, "hidden_act", "silu");
    ckg_j_int(&j, "hidden_size", d->H);
    ckg_j_raw(&j, "initializer_range", "0.02");
    ckg_j_int(&j, "intermediate_size", d->I);
    ckg_j_int(&j, "max_position_embeddings", 40960);
    ckg_j_int(&j, "max_window_layers", d->L);
    ckg_j_str(&j, "model_type", "qwen3");
    ckg_j_int(&j, "num_attention_heads", d->nh);
    ckg_j_int(&j, "num_hidden_layers", d->L);
    ckg_j_int(&j, "num_key_value_heads", d->ng);
    ckg_j_raw(&j, "rms_norm_eps", "1e-06");
    ckg_j_null(&j, "rope_scaling");
    ckg_j_int(&j, "rope_theta", 1000000);
    ckg_j_null(&j, "sliding_window");
    ckg_j_bool(&j, "tie_word_embeddings", true);
    ckg_j_str(&j, "torch_dtype", "bfloat16");
    ckg_j_str(&j, "transformers_version", "4.51.0");
    ckg_j_bool(&j, "use_cache", true);
    ckg_j_bool(&j, "use_sliding_window", false);
    ckg_j_int(&j, "vocab_size", d->V);
    ckg_j_end_obj(&j);
    return ckg_j_finish(&j);
}

void ckg_fam_qwen3(ckg_model *m, const ckg_opts *o)
{
    dims d = {o->layers ? o->layers : 2, 64, 96, 4, 2, 32, 256};
    ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.V, (uint64_t)d.H), "model.embed_tokens.weight");
    for (int l = 0; l < d.L; l++) {
        char p[64];
        snprintf(p, sizeof p, "model.layers.%d.", l);
        ckg_add_norm(m, CK_BF16, (uint64_t)d.H, "%sinput_layernorm.weight", p);
        ckg_gqa_attention(m, p, d.H, d.nh, d.ng, d.d, CKG_ATTN_QK_NORM);
        ckg_add_norm(m, CK_BF16, (uint64_t)d.H, "%spost_attention_layernorm.weight", p);
        ckg_gated_mlp(m, CKG_Q_BF16, p, "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", d.H, d.I);
    }
    ckg_add_norm(m, CK_BF16, (uint64_t)d.H, "model.norm.weight");
    ckg_set_side_file(m, "config.json", config(&d));
}
