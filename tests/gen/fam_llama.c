/* llama (Llama-3.x), layouts.md §4.1. Config: the field set of a released Llama-3.1 config.json
 * (shared/real/Reflection-Llama-3.1-70B), at toy sizes; d = H / nh as there (no head_dim). */
#include "families.h"
#include "json_out.h"

#include <stdio.h>

typedef struct { int L, H, I, nh, ng, V; } dims;

static char *config(const dims *d)
{
    ckg_json j;
    ckg_j_init(&j);
    ckg_j_obj(&j, NULL);
    ckg_j_strs(&j, "architectures", (const char *[]){"LlamaForCausalLM"}, 1);
    ckg_j_bool(&j, "attention_bias", false);
    ckg_j_raw(&j, "attention_dropout", "0.0");
    ckg_j_int(&j, "bos_token_id", 1);
    ckg_j_int(&j, "eos_token_id", 2);
    ckg_j_str(&j, "hidden_act", "silu");
    ckg_j_int(&j, "hidden_size", d->H);
    ckg_j_raw(&j, "initializer_range", "0.02");
    ckg_j_int(&j, "intermediate_size", d->I);
    ckg_j_int(&j, "max_position_embeddings", 8192);
    ckg_j_str(&j, "model_type", "llama");
    ckg_j_int(&j, "num_attention_heads", d->nh);
    ckg_j_int(&j, "num_hidden_layers", d->L);
    ckg_j_int(&j, "num_key_value_heads", d->ng);
    ckg_j_int(&j, "pretraining_tp", 1);
    ckg_j_raw(&j, "rms_norm_eps", "1e-05");
    ckg_j_null(&j, "rope_scaling");
    ckg_j_raw(&j, "rope_theta", "500000.0");
    ckg_j_bool(&j, "tie_word_embeddings", false);
    ckg_j_str(&j, "torch_dtype", "bfloat16");
    ckg_j_str(&j, "transformers_version", "4.40.0");
    ckg_j_bool(&j, "use_cache", true);
    ckg_j_int(&j, "vocab_size", d->V);
    ckg_j_end_obj(&j);
    return ckg_j_finish(&j);
}

void ckg_fam_llama(ckg_model *m, const ckg_opts *o)
{
    dims d = {o->layers ? o->layers : 2, 64, 96, 4, 2, 256};
    int hd = d.H / d.nh;
    ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.V, (uint64_t)d.H), "model.embed_tokens.weight");
    for (int l = 0; l < d.L; l++) {
        char p[64];
        snprintf(p, sizeof p, "model.layers.%d.", l);
        ckg_add_norm(m, CK_BF16, (uint64_t)d.H, "%sinput_layernorm.weight", p);
        ckg_gqa_attention(m, p, d.H, d.nh, d.ng, hd, 0);
        ckg_add_norm(m, CK_BF16, (uint64_t)d.H, "%spost_attention_layernorm.weight", p);
        ckg_gated_mlp(m, CKG_Q_BF16, p, "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", d.H, d.I);
    }
    ckg_add_norm(m, CK_BF16, (uint64_t)d.H, "model.norm.weight");
    ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.V, (uint64_t)d.H), "lm_head.weight");
    m->shard_bytes = 64 * 1024; /* a few shards, so the index is exercised */
    ckg_set_side_file(m, "config.json", config(&d));
}
