/* nemotron_h, layouts.md §4.8, as a ModelOpt NVFP4 export (§6.3, §6.5): hybrid_override_pattern
 * picks each layer's block (M Mamba-2, * attention, - MLP, E MoE); keys under
 * backbone.layers.N.mixer.; one pre-norm per block. The Mamba in/out projections, the MLP and every
 * expert and shared-expert projection are NVFP4 (weight U8 [out, in/2], weight_scale F8_E4M3
 * [out, in/16], weight_scale_2 and input_scale F32 []); attention, the router, conv1d, norms,
 * embeddings and lm_head stay BF16 and are listed in exclude_modules. hf_quant_config.json follows
 * the ModelOpt export (shared/real/DeepSeek-R1-NVFP4-hf_quant_config), and config.json carries the
 * converted quantization_config ModelOpt embeds. */
#include "families.h"
#include "json_out.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *pattern;
    int H, V, nh, ng, d, I, nhm, dm, N, G, K, E, topk, Im, Is;
} dims;

typedef struct { char *s[64]; size_t n; } strlist;

static void excl(strlist *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void excl(strlist *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (x->n < sizeof x->s / sizeof *x->s && vasprintf(&x->s[x->n], fmt, ap) >= 0) x->n++;
    va_end(ap);
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every module left unquantized, sorted (the ModelOpt exporter lists norms too). */
static void exclude_modules(const dims *d, strlist *x)
{
    excl(x, "lm_head");
    excl(x, "backbone.embeddings");
    excl(x, "backbone.norm_f");
    for (int l = 0; d->pattern[l]; l++) {
        excl(x, "backbone.layers.%d.%s", l, "norm");
        if (d->pattern[l] == 'M') {
            excl(x, "backbone.layers.%d.%s", l, "mixer.conv1d");
            excl(x, "backbone.layers.%d.%s", l, "mixer.norm");
        } else if (d->pattern[l] == '*') {
            const char *proj[] = {"mixer.q_proj", "mixer.k_proj", "mixer.v_proj", "mixer.o_proj"};
            for (int i = 0; i < 4; i++) excl(x, "backbone.layers.%d.%s", l, proj[i]);
        } else if (d->pattern[l] == 'E') {
            excl(x, "backbone.layers.%d.%s", l, "mixer.gate");
        }
    }
    qsort(x->s, x->n, sizeof *x->s, str_cmp);
}

static void producer(ckg_json *j)
{
    ckg_j_obj(j, "producer");
    ckg_j_str(j, "name", "modelopt");
    ckg_j_str(j, "version", "0.35.0");
    ckg_j_end_obj(j);
}

static char *hf_quant_config(const strlist *x)
{
    ckg_json j;
    ckg_j_init(&j);
    ckg_j_obj(&j, NULL);
    producer(&j);
    ckg_j_obj(&j, "quantization");
    ckg_j_str(&j, "quant_algo", "NVFP4");
    ckg_j_null(&j, "kv_cache_quant_algo");
    ckg_j_int(&j, "group_size", 16);
    ckg_j_strs(&j, "exclude_modules", (const char *const *)x->s, x->n);
    ckg_j_end_obj(&j);
    ckg_j_end_obj(&j);
    return ckg_j_finish(&j);
}

static void fp4_args(ckg_json *j, const char *key)
{
    ckg_j_obj(j, key);
    ckg_j_bool(j, "dynamic", false);
    ckg_j_int(j, "group_size", 16);
    ckg_j_int(j, "num_bits", 4);
    ckg_j_str(j, "type", "float");
    ckg_j_end_obj(j);
}

static char *config(const dims *d, const strlist *x)
{
    int L = (int)strlen(d->pattern);
    ckg_json j;
    ckg_j_init(&j);
    ckg_j_obj(&j, NULL);
    ckg_j_strs(&j, "architectures", (const char *[]){"NemotronHForCausalLM"}, 1);
    ckg_j_bool(&j, "attention_bias", false);
    ckg_j_raw(&j, "attention_dropout", "0.0");
    ckg_j_obj(&j, "auto_map");
    ckg_j_str(&j, "AutoConfig", "configuration_nemotron_h.NemotronHConfig");
    ckg_j_str(&j, "AutoModelForCausalLM", "modeling_nemotron_h.NemotronHForCausalLM");
    ckg_j_end_obj(&j);
    ckg_j_int(&j, "bos_token_id", 1);
    ckg_j_int(&j, "chunk_size", 128);
    ckg_j_int(&j, "conv_kernel", d->K);
    ckg_j_int(&j, "eos_token_id", 2);
    ckg_j_int(&j, "expand", 2);
    ckg_j_int(&j, "head_dim", d->d);
    ckg_j_raw(&j, "hidden_dropout", "0.0");
    ckg_j_int(&j, "hidden_size", d->H);
    ckg_j_str(&j, "hybrid_override_pattern", d->pattern);
    ckg_j_raw(&j, "initializer_range", "0.02");
    ckg_j_int(&j, "intermediate_size", d->I);
    ckg_j_raw(&j, "layer_norm_epsilon", "1e-05");
    ckg_j_int(&j, "mamba_head_dim", d->dm);
    ckg_j_str(&j, "mamba_hidden_act", "silu");
    ckg_j_int(&j, "mamba_num_heads", d->nhm);
    ckg_j_bool(&j, "mamba_proj_bias", false);
    ckg_j_int(&j, "max_position_embeddings", 262144);
    ckg_j_bool(&j, "mlp_bias", false);
    ckg_j_str(&j, "mlp_hidden_act", "relu2");
    ckg_j_str(&j, "model_type", "nemotron_h");
    ckg_j_int(&j, "moe_intermediate_size", d->Im);
    ckg_j_int(&j, "moe_shared_expert_intermediate_size", d->Is);
    ckg_j_int(&j, "n_group", 1);
    ckg_j_int(&j, "n_groups", d->G);
    ckg_j_int(&j, "n_routed_experts", d->E);
    ckg_j_int(&j, "n_shared_experts", 1);
    ckg_j_bool(&j, "norm_topk_prob", true);
    ckg_j_int(&j, "num_attention_heads", d->nh);
    ckg_j_int(&j, "num_experts_per_tok", d->topk);
    ckg_j_int(&j, "num_hidden_layers", L);
    ckg_j_int(&j, "num_key_value_heads", d->ng);
    ckg_j_int(&j, "num_logits_to_keep", 1);
    ckg_j_int(&j, "pad_token_id", 0);
    ckg_j_obj(&j, "quantization_config");
    ckg_j_obj(&j, "config_groups");
    ckg_j_obj(&j, "group_0");
    fp4_args(&j, "input_activations");
    ckg_j_strs(&j, "targets", (const char *[]){"Linear"}, 1);
    fp4_args(&j, "weights");
    ckg_j_end_obj(&j);
    ckg_j_end_obj(&j);
    ckg_j_strs(&j, "ignore", (const char *const *)x->s, x->n);
    producer(&j);
    ckg_j_str(&j, "quant_algo", "NVFP4");
    ckg_j_str(&j, "quant_method", "modelopt");
    ckg_j_end_obj(&j);
    ckg_j_bool(&j, "rescale_prenorm_residual", true);
    ckg_j_bool(&j, "residual_in_fp32", false);
    ckg_j_raw(&j, "rms_norm_eps", "1e-05");
    ckg_j_raw(&j, "routed_scaling_factor", "2.5");
    ckg_j_null(&j, "sliding_window");
    ckg_j_int(&j, "ssm_state_size", d->N);
    ckg_j_bool(&j, "tie_word_embeddings", false);
    ckg_j_raw(&j, "time_step_floor", "0.0001");
    ckg_j_raw(&j, "time_step_max", "0.1");
    ckg_j_raw(&j, "time_step_min", "0.001");
    ckg_j_int(&j, "topk_group", 1);
    ckg_j_str(&j, "torch_dtype", "bfloat16");
    ckg_j_str(&j, "transformers_version", "4.55.4");
    ckg_j_bool(&j, "use_bias", false);
    ckg_j_bool(&j, "use_cache", true);
    ckg_j_bool(&j, "use_conv_bias", true);
    ckg_j_bool(&j, "use_mamba_kernels", true);
    ckg_j_int(&j, "vocab_size", d->V);
    ckg_j_end_obj(&j);
    return ckg_j_finish(&j);
}

static void mamba(ckg_model *m, const dims *d, const char *p)
{
    uint64_t H = (uint64_t)d->H, nhm = (uint64_t)d->nhm, d_inner = (uint64_t)(d->nhm * d->dm);
    uint64_t gn = (uint64_t)(2 * d->G * d->N), conv_dim = d_inner + gn;
    ckg_linear(m, CKG_Q_NVFP4, 2 * d_inner + gn + nhm, H, "%smixer.in_proj", p); /* [z, x, B, C, dt] */
    ckg_add(m, CK_BF16, CKG_SHAPE(conv_dim, 1, (uint64_t)d->K), "%smixer.conv1d.weight", p);
    ckg_add(m, CK_BF16, CKG_SHAPE(conv_dim), "%smixer.conv1d.bias", p)->std = 0.02;
    ckg_add(m, CK_BF16, CKG_SHAPE(nhm), "%smixer.A_log", p)->std = 1.0;
    ckg_add(m, CK_BF16, CKG_SHAPE(nhm), "%smixer.D", p)->fill = CKG_FILL_NORM;
    ckg_add(m, CK_BF16, CKG_SHAPE(nhm), "%smixer.dt_bias", p)->std = 1.0;
    ckg_add_norm(m, CK_BF16, d_inner, "%smixer.norm.weight", p);
    ckg_linear(m, CKG_Q_NVFP4, H, d_inner, "%smixer.out_proj", p);
}

void ckg_fam_nemotron_h(ckg_model *m, const ckg_opts *o)
{
    (void)o;
    dims d = {"M*-E", 64, 256, 4, 2, 16, 96, 4, 16, 16, 2, 4, 4, 2, 48, 96};
    uint64_t H = (uint64_t)d.H;
    ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.V, H), "backbone.embeddings.weight");
    for (int l = 0; d.pattern[l]; l++) {
        char p[64], e[160];
        snprintf(p, sizeof p, "backbone.layers.%d.", l);
        ckg_add_norm(m, CK_BF16, H, "%snorm.weight", p);
        switch (d.pattern[l]) {
        case 'M':
            mamba(m, &d, p);
            break;
        case '*':
            snprintf(e, sizeof e, "%smixer.", p);
            /* Same q/k/v/o names as HF attention, but directly under mixer. (no self_attn.). */
            ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)(d.nh * d.d), H), "%sq_proj.weight", e);
            ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)(d.ng * d.d), H), "%sk_proj.weight", e);
            ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)(d.ng * d.d), H), "%sv_proj.weight", e);
            ckg_add(m, CK_BF16, CKG_SHAPE(H, (uint64_t)(d.nh * d.d)), "%so_proj.weight", e);
            break;
        case '-':
            ckg_linear(m, CKG_Q_NVFP4, (uint64_t)d.I, H, "%smixer.up_proj", p);
            ckg_linear(m, CKG_Q_NVFP4, H, (uint64_t)d.I, "%smixer.down_proj", p);
            break;
        case 'E':
            ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.E, H), "%smixer.gate.weight", p);
            ckg_add(m, CK_F32, CKG_SHAPE((uint64_t)d.E), "%smixer.gate.e_score_correction_bias", p)->std = 0.1;
            for (int x = 0; x < d.E; x++) {
                ckg_linear(m, CKG_Q_NVFP4, (uint64_t)d.Im, H, "%smixer.experts.%d.up_proj", p, x);
                ckg_linear(m, CKG_Q_NVFP4, H, (uint64_t)d.Im, "%smixer.experts.%d.down_proj", p, x);
            }
            ckg_linear(m, CKG_Q_NVFP4, (uint64_t)d.Is, H, "%smixer.shared_experts.up_proj", p);
            ckg_linear(m, CKG_Q_NVFP4, H, (uint64_t)d.Is, "%smixer.shared_experts.down_proj", p);
            break;
        }
    }
    ckg_add_norm(m, CK_BF16, H, "backbone.norm_f.weight");
    ckg_add(m, CK_BF16, CKG_SHAPE((uint64_t)d.V, H), "lm_head.weight");

    strlist x = {.n = 0};
    exclude_modules(&d, &x);
    ckg_set_side_file(m, "config.json", config(&d, &x));
    ckg_set_side_file(m, "hf_quant_config.json", hf_quant_config(&x));
    for (size_t i = 0; i < x.n; i++) free(x.s[i]);
}
