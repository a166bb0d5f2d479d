/* mixtral, layouts.md §4.4: every layer MoE, block_sparse_moe.gate [E, H] and per-expert w1 (gate),
 * w3 (up) [I, H] and w2 (down) [H, I]; no shared experts, no bias. Config: the field set of
 * shared/real/Mixtral-8x7B-v0.1/config.json at toy sizes. */
#include "families.h"
#include "json_out.h"

#include <stdio.h>

typedef struct { int L, H, I, E, topk, nh, ng, V; } dims;

static char *config(const dims *d)
{
    ckg_json j;
    ckg_j_init(&j);
    ckg_j_obj(&j, NULL);
    ckg_j_strs(&j, "architectures", (const char *[]){"MixtralForCausalLM"}, 1);
    ckg_j_raw(&j, "attention_dropout", "0.0");
    ckg_j_int(&j, "bos_token_id", 1);
    ckg_j_int(&j, "eos_token_id", 2);
    ckg_j_str(&j, "hidden_act", "silu");
    ckg_j_int(&j, "hidden_size", d->H);
    ckg_j_raw(&j, "initializer_range", "0.02");
    ckg_j_int(&j, "intermediate_size", d->I);
    ckg_j_int(&j, "max_position_embeddings", 32768);
    ckg_j_str(&j, "model_type", "mixtral");
    ckg_j_int(&j, "num_attention_heads", d->nh);
    ckg_j_int(&j, "num_experts_per_tok", d->topk);
    ckg_j_int(&j, "num_hidden_layers", d->L);
    ckg_j_int(&j, "num_key_value_heads", d->ng);
    ckg_j_int(&j, "num_local_experts", d->E);
    ckg_j_bool(&j, "output_router_logits", false);
    ckg_j_raw(&j, "rms_norm_eps", "1e-05");
    ckg_j_raw(&j, "rope_theta", "1000000.0");
    ckg_j_raw(&j, "router_aux_loss_coef", "0.02");
    ckg_j_null(&j, "sliding_window");
    ckg_j_bool(&j, "tie_word_embeddings", false);
    ckg_j_str(&j, "torch_dtype", "bfloat16");
    ckg_j_str(&j, "transformers_version", "4.36.0.dev0");
    ckg_j_bool(&j, "use_cache", true);
    ckg_j_int(&j, "vocab_size", d->V);
    ckg_j_end_obj(&j);
    return ckg_j_finish(&j);
}

void ckg_fam_mixtral(ckg_model *m, const ckg_opts *o)
{
    dims d = {o->layers ? o->layers : 2, 64, 96, 4, 2, 4, 2, 256};
    ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.V, (uint64_t)d.H), "model.embed_tokens.weight");
    for (int l = 0; l < d.L; l++) {
        char p[64], e[160];
        snprintf(p, sizeof p, "model.layers.%d.", l);
        ckg_add_norm(m, CK_BF16, (uint64_t)d.H, "%sinput_layernorm.weight", p);
        ckg_gqa_attention(m, p, d.H, d.nh, d.ng, d.H / d.nh, 0);
        ckg_add_norm(m, CK_BF16, (uint64_t)d.H, "%spost_attention_layernorm.weight", p);
        ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.E, (uint64_t)d.H), "%sblock_sparse_moe.gate.weight", p);
        for (int x = 0; x < d.E; x++) {
            snprintf(e, sizeof e, "%sblock_sparse_moe.experts.%d.", p, x);
            ckg_gated_mlp(m, CKG_Q_BF16, e, "w1", "w3", "w2", d.H, d.I);
        }
    }
    ckg_add_norm(m, CK_BF16, (uint64_t)d.H, "model.norm.weight");
    ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.V, (uint64_t)d.H), "lm_head.weight");
    m->shard_bytes = 128 * 1024;
    ckg_set_side_file(m, "config.json", config(&d));
}
