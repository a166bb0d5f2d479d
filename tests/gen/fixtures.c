/* The fixture registry: every fixture is a family build (fam_*.c) plus, for the broken ones, one
 * small edit of its tensor list or config. The summaries say what each edit breaks, in the terms
 * the doctor should report it. */
#include "fixtures.h"

#include <stdio.h>
#include <string.h>

#include "families.h"

typedef int (*break_fn)(ckg_model *m);

typedef struct {
    ck_fixture_info info;
    ckg_family_fn build;
    ckg_opts opts;
    break_fn brk; /* NULL for the clean ones */
} fixture;

/* ---- the breakages: each returns 0, or -1 if what it edits is missing (a bug in this table) ---- */

static int down_transposed_expert(ckg_model *m)
{
    return ckg_transpose(m, "model.layers.1.mlp.experts.3.down_proj.weight");
}

static int down_transposed_fused(ckg_model *m) { return ckg_transpose(m, "model.layers.0.mlp.experts.down_proj"); }

/* The Megatron-Bridge bug fixed by PR #3743: every down_proj stored [out, in] under the BF16 form's
 * [in, out] name. With H == I the shape is unchanged; only the data shows it. */
static int down_transposed_square(ckg_model *m)
{
    return ckg_transpose(m, "model.layers.0.mlp.experts.down_proj") |
           ckg_transpose(m, "model.layers.1.mlp.experts.down_proj");
}

static int ep4_collision_all(ckg_model *m) { return ckg_ep_collide(m, "model.layers.", 8, 4) ? 0 : -1; }
static int ep2_collision_all(ckg_model *m) { return ckg_ep_collide(m, "model.layers.", 4, 2) ? 0 : -1; }

static int dup_experts(ckg_model *m) { return ckg_dup_expert(m, "model.layers.1.", 2, 5) == 3 ? 0 : -1; }

static int no_expert_bias(ckg_model *m)
{
    int rc = 0;
    for (int l = 1; l <= 3; l++) { /* layers 1, 2 and the MTP layer 3 */
        char name[96];
        snprintf(name, sizeof name, "model.layers.%d.mlp.gate.e_score_correction_bias", l);
        rc |= ckg_remove(m, name);
    }
    return rc;
}

static int fp8_missing_scale(ckg_model *m)
{
    return ckg_remove(m, "model.layers.1.mlp.experts.0.down_proj.weight_scale_inv");
}

static int fp8_misshaped_scale(ckg_model *m)
{
    return ckg_reshape(m, "model.layers.0.mlp.down_proj.weight_scale_inv", CKG_SHAPE(2, 1));
}

static int nvfp4_missing_scale(ckg_model *m) { return ckg_remove(m, "backbone.layers.2.mixer.up_proj.weight_scale"); }

static int nvfp4_misshaped_scale(ckg_model *m)
{
    return ckg_reshape(m, "backbone.layers.3.mixer.experts.0.down_proj.weight_scale", CKG_SHAPE(3, 64));
}

/* Two ranks writing config.json at once: the file ends where the slower one's write was cut. */
static int truncated_config(ckg_model *m)
{
    ckg_side_file *f = ckg_side_file_find(m, "config.json");
    if (!f) return -1;
    f->len /= 2;
    f->text[f->len] = '\0';
    return 0;
}

static int demo_problems(ckg_model *m)
{
    return down_transposed_expert(m) | (ckg_ep_collide(m, "model.layers.2.", 8, 4) ? 0 : -1);
}

#define CLEAN(name, fam, summary) {name, fam, summary, 0, 0}
#define BROKEN(name, fam, summary) {name, fam, summary, 1, 0}
#define SPARSE(name, fam, summary) {name, fam, summary, 0, 1}

static const fixture fixtures[] = {
    {BROKEN("demo", "qwen3_moe",
           "qwen3_moe, 3 layers x 8 experts, with two real problems: layer 1 expert 3 down_proj is stored "
           "transposed ([48, 64], not [64, 48]), and layer 2 is an EP=4 export that kept local expert ids "
           "(only experts 0-1, holding global experts 6-7)"),
     ckg_fam_qwen3_moe, {.layers = 3}, demo_problems},

    {CLEAN("llama", "llama", "Llama-3 style dense: 2 layers, H=64 I=96, GQA 4/2 heads, untied lm_head; sharded with an index"),
     ckg_fam_llama, {0}, NULL},
    {CLEAN("qwen3", "qwen3", "Qwen3 dense: q_norm/k_norm, head_dim 32 (nh*d != H), tied embeddings so no lm_head; one file"),
     ckg_fam_qwen3, {0}, NULL},
    {CLEAN("qwen3_moe", "qwen3_moe", "Qwen3-MoE: 2 layers, 8 per-expert-key experts (Im=48), router mlp.gate; sharded"),
     ckg_fam_qwen3_moe, {0}, NULL},
    {CLEAN("mixtral", "mixtral", "Mixtral: 2 layers, 4 experts w1/w3/w2 (I=96), block_sparse_moe.gate; sharded"),
     ckg_fam_mixtral, {0}, NULL},
    {CLEAN("gpt_oss", "gpt_oss",
           "GPT-OSS release form: MXFP4 experts (*_blocks U8 [E,rows,K/32,16] + *_scales E8M0), H=64 I=96, 4 experts, "
           "quantization_config mxfp4; sharded"),
     ckg_fam_gpt_oss, {0}, NULL},
    {CLEAN("gpt_oss-bf16", "gpt_oss",
           "GPT-OSS HF BF16 form of the same weights as 'gpt_oss': gate_up_proj [E,H,2I], down_proj [E,I,H] = "
           "transpose(dequant(MXFP4))"),
     ckg_fam_gpt_oss, {.bf16 = true}, NULL},
    {CLEAN("gpt_oss-square", "gpt_oss", "GPT-OSS MXFP4 release form with H == I == 64, like the real models"),
     ckg_fam_gpt_oss, {.square = true}, NULL},
    {CLEAN("gpt_oss-square-bf16", "gpt_oss", "GPT-OSS BF16 form of 'gpt_oss-square' (same weights; H == I, so down_proj is square)"),
     ckg_fam_gpt_oss, {.square = true, .bf16 = true}, NULL},
    {CLEAN("deepseek_v3", "deepseek_v3",
           "DeepSeek-V3 FP8 release form: MLA with q-LoRA, layer 0 dense, layers 1-2 with 8 routed + 1 shared expert and "
           "F32 e_score_correction_bias, MTP layer 3; F8_E4M3 weights + F32 weight_scale_inv [ceil(o/128), ceil(i/128)]"),
     ckg_fam_deepseek_v3, {0}, NULL},
    {CLEAN("llama4", "llama4",
           "Llama-4 text tower (language_model.*): 4 layers, MoE every 2nd with fused experts gate_up_proj [E,H,2I] "
           "(gate then up) / down_proj [E,I,H] and a shared expert; dense layers use intermediate_size_mlp"),
     ckg_fam_llama4, {0}, NULL},
    {CLEAN("nemotron_h-nvfp4", "nemotron_h",
           "Nemotron-H hybrid 'M*-E' as a ModelOpt NVFP4 export: weight U8 [o,i/2] + weight_scale F8_E4M3 [o,i/16] "
           "+ weight_scale_2 + input_scale; hf_quant_config.json with exclude_modules"),
     ckg_fam_nemotron_h, {0}, NULL},

    {BROKEN("qwen3_moe-down-transposed", "qwen3_moe",
            "layer 1 expert 3 down_proj.weight is [48, 64] (transposed; should be [H, Im] = [64, 48])"),
     ckg_fam_qwen3_moe, {0}, down_transposed_expert},
    {BROKEN("gpt_oss-bf16-down-transposed", "gpt_oss",
            "BF16 form, layer 0 mlp.experts.down_proj is [E, H, I] = [4, 64, 96] (transposed; should be [E, I, H])"),
     ckg_fam_gpt_oss, {.bf16 = true}, down_transposed_fused},
    {BROKEN("gpt_oss-square-transposed", "gpt_oss",
            "BF16 form with H == I: every down_proj holds [out, in] data under the [in, out] name (same shape; "
            "compare with 'gpt_oss-square' to see it, as in Megatron-Bridge PR #3743)"),
     ckg_fam_gpt_oss, {.square = true, .bf16 = true}, down_transposed_square},
    {BROKEN("qwen3_moe-ep-collision", "qwen3_moe",
            "EP=4 export kept local expert ids: every layer has experts 0-1 only (of 8), holding the last rank's 6-7"),
     ckg_fam_qwen3_moe, {0}, ep4_collision_all},
    {BROKEN("mixtral-ep-collision", "mixtral",
            "EP=2 export kept local expert ids: every layer has experts 0-1 only (of 4), holding the last rank's 2-3"),
     ckg_fam_mixtral, {0}, ep2_collision_all},
    {BROKEN("qwen3_moe-dup-experts", "qwen3_moe",
            "layer 1 experts 2 and 5 are byte-identical (gate_proj, up_proj and down_proj)"),
     ckg_fam_qwen3_moe, {0}, dup_experts},
    {BROKEN("deepseek_v3-no-expert-bias", "deepseek_v3",
            "mlp.gate.e_score_correction_bias missing on every MoE layer (1, 2 and MTP layer 3)"),
     ckg_fam_deepseek_v3, {0}, no_expert_bias},
    {BROKEN("deepseek_v3-missing-scale", "deepseek_v3",
            "layer 1 experts.0.down_proj.weight (F8_E4M3) has no weight_scale_inv"),
     ckg_fam_deepseek_v3, {0}, fp8_missing_scale},
    {BROKEN("deepseek_v3-misshaped-scale", "deepseek_v3",
            "layer 0 mlp.down_proj.weight_scale_inv is [2, 1]; weight [64, 160] needs [1, 2]"),
     ckg_fam_deepseek_v3, {0}, fp8_misshaped_scale},
    {BROKEN("nemotron_h-nvfp4-missing-scale", "nemotron_h",
            "layer 2 mixer.up_proj (NVFP4) has no weight_scale"),
     ckg_fam_nemotron_h, {0}, nvfp4_missing_scale},
    {BROKEN("nemotron_h-nvfp4-misshaped-scale", "nemotron_h",
            "layer 3 experts.0.down_proj.weight_scale is [3, 64]; weight [64, 24] (in = 48) needs [64, 3]"),
     ckg_fam_nemotron_h, {0}, nvfp4_misshaped_scale},
    {BROKEN("llama-config-truncated", "llama",
            "config.json cut off half-way (as when two ranks write it at once); the weights are fine"),
     ckg_fam_llama, {0}, truncated_config},

    {SPARSE("gpt_oss-120b-sparse", "gpt_oss",
            "gpt-oss-120b header shapes (36 layers, 128 MXFP4 experts, H=I=2880, V=201088) in 15 shards; data are file holes"),
     ckg_fam_gpt_oss, {.full_size = true, .square = true}, NULL},
    {SPARSE("deepseek_v3-full-sparse", "deepseek_v3",
            "DeepSeek-V3 header shapes (61 layers + MTP, 256 experts, FP8 + weight_scale_inv; 91,991 tensors) in 64 "
            "shards with an index; data are file holes"),
     ckg_fam_deepseek_v3, {.full_size = true}, NULL},
};

#define N_FIXTURES (sizeof fixtures / sizeof *fixtures)

size_t ck_fixture_count(void) { return N_FIXTURES; }

const ck_fixture_info *ck_fixture_at(size_t i) { return i < N_FIXTURES ? &fixtures[i].info : NULL; }

static const fixture *find(const char *name)
{
    for (size_t i = 0; i < N_FIXTURES; i++)
        if (!strcmp(fixtures[i].info.name, name)) return &fixtures[i];
    return NULL;
}

const ck_fixture_info *ck_fixture_find(const char *name)
{
    const fixture *f = find(name);
    return f ? &f->info : NULL;
}

int ck_fixture_write(const char *name, const char *dir, ck_error *err)
{
    const fixture *f = find(name);
    if (!f) return ck_error_set(err, CK_E_USAGE, "", name, -1, "no such fixture (ckdoc demo --list shows them)");
    ckg_model m;
    ckg_model_init(&m);
    f->build(&m, &f->opts);
    int rc = 0;
    if (f->brk && f->brk(&m) != 0)
        rc = ck_error_set(err, CK_E_USAGE, "", name, -1, "fixture table bug: the breakage names a tensor that is not there");
    if (rc == 0) rc = ckg_model_write(&m, dir, err);
    ckg_model_free(&m);
    return rc;
}
