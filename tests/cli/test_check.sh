#!/bin/sh
# ckdoc check on every fixture of the generator: each broken fixture gets exactly the expected
# findings (code and key) at warn or above, each clean fixture gets none; --reference settles the
# square GPT-OSS fixtures; --index-only on the real released index files finds nothing missing or
# unexpected; exit codes, JSON, plans, determinism, and hostile inputs.
SUITE=check
. "$(dirname "$0")/../lib.sh"
: "${CKDOC:?}" "${WORK:?}"
T="$WORK/check"
rm -rf "$T"
mkdir -p "$T"
"$CKDOC" demo "$T/fx" --all > /dev/null 2>&1 || fail fixtures_written

# The findings at warn or above as sorted "CODE key" lines.
serious() { # JSON file
    python3 - "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
rows = sorted("%s %s" % (f["code"], f["key"]) for f in d["findings"] if f["severity"] != "info")
print("\n".join(rows))
EOF
}

expect() { # fixture, expected exit status, expected "CODE key" lines (one string, \n-separated), extra args...
    name=$1 want_rc=$2 want=$3
    shift 3
    "$CKDOC" check "$T/fx/$name" --json "$@" > "$T/$name.json" 2> "$T/$name.err"
    rc=$?
    got=$(serious "$T/$name.json" 2>&1)
    want=$(printf '%b' "$want" | sort)
    if [ "$rc" -eq "$want_rc" ] && [ "$got" = "$want" ] && [ ! -s "$T/$name.err" ]; then
        pass "$name${*:+ $*}"
    else
        fail "$name${*:+ $*}" "exit $rc (want $want_rc); got [$got] want [$want]; stderr: $(head -c 300 "$T/$name.err")"
    fi
}

# ---- clean fixtures: nothing at warn or above ----------------------------------------------
for f in llama qwen3 qwen3_moe mixtral gpt_oss gpt_oss-bf16 gpt_oss-square deepseek_v3 llama4 nemotron_h-nvfp4; do
    expect "$f" 0 ""
done

# ---- broken fixtures ----------------------------------------------------------------------------
expect qwen3_moe-down-transposed 1 "TRANSPOSED model.layers.1.mlp.experts.3.down_proj.weight"
expect gpt_oss-bf16-down-transposed 1 "TRANSPOSED model.layers.0.mlp.experts.down_proj"
expect qwen3_moe-ep-collision 1 "MISSING_EXPERTS layer 0 experts\nMISSING_EXPERTS layer 1 experts"
expect mixtral-ep-collision 1 "MISSING_EXPERTS layer 0 experts\nMISSING_EXPERTS layer 1 experts"
expect qwen3_moe-dup-experts 1 "DUPLICATE_EXPERTS layer 1 experts"
expect deepseek_v3-no-expert-bias 1 "EXPERT_BIAS_MISSING model.layers.1.mlp.gate.e_score_correction_bias
EXPERT_BIAS_MISSING model.layers.2.mlp.gate.e_score_correction_bias
EXPERT_BIAS_MISSING model.layers.3.mlp.gate.e_score_correction_bias"
expect deepseek_v3-missing-scale 1 "QUANT_SCALE_MISSING model.layers.1.mlp.experts.0.down_proj.weight_scale_inv"
expect deepseek_v3-misshaped-scale 1 "QUANT_SCALE_SHAPE model.layers.0.mlp.down_proj.weight_scale_inv"
expect nemotron_h-nvfp4-missing-scale 1 "QUANT_SCALE_MISSING backbone.layers.2.mixer.up_proj.weight_scale"
expect nemotron_h-nvfp4-misshaped-scale 1 "QUANT_SCALE_SHAPE backbone.layers.3.mixer.experts.0.down_proj.weight_scale"
expect llama-config-truncated 1 "CONFIG_INVALID $T/fx/llama-config-truncated/config.json"
expect demo 1 "MISSING_EXPERTS layer 2 experts\nTRANSPOSED model.layers.1.mlp.experts.3.down_proj.weight"

# ---- the square ambiguity: a warning without a reference, settled with one -------------------
expect gpt_oss-square-bf16 0 "SQUARE_AMBIGUOUS model.layers.0.mlp.experts.down_proj"
expect gpt_oss-square-transposed 0 "SQUARE_AMBIGUOUS model.layers.0.mlp.experts.down_proj"
expect gpt_oss-square-bf16 0 "" --reference "$T/fx/gpt_oss-square"
expect gpt_oss-square-transposed 1 "TRANSPOSED model.layers.0.mlp.experts.down_proj
TRANSPOSED model.layers.1.mlp.experts.down_proj" --reference "$T/fx/gpt_oss-square"
# the reference may itself be BF16, and the checked one MXFP4
expect gpt_oss-square 0 "" --reference "$T/fx/gpt_oss-square-bf16"
python3 - "$T/gpt_oss-square-transposed.json" <<'EOF' && pass reference_cosines || fail reference_cosines
import json, sys
d = json.load(open(sys.argv[1]))
t = [f for f in d["findings"] if f["code"] == "TRANSPOSED"]
assert t and all(f["evidence"]["cosine_transposed"] > 0.99 and abs(f["evidence"]["cosine_as_labelled"]) < 0.2 for f in t), t
assert all(f["fix"]["action"] == "transpose" for f in t)
EOF
# without a reference, the weights themselves: random fixtures are inconclusive; balanced unit
# norms (as training leaves them) favour the orientation the data really has
strength() { python3 -c "
import json,sys
d=json.load(open(sys.argv[1]))
print(' '.join(f['evidence']['evidence_strength'].split(':')[0] + ':' + ('T' if 'TRANSPOSED' in f['evidence']['evidence_strength'] else 'L') for f in d['findings'] if f['code']=='SQUARE_AMBIGUOUS' and f['severity']=='warn'))" "$1"; }
"$CKDOC" check "$T/fx/gpt_oss-square-bf16" --json > "$T/random.json"
check weights_random_inconclusive [ "$(strength "$T/random.json")" = "inconclusive:L" ]
cp -r "$T/fx/gpt_oss-square-bf16" "$T/balanced" && cp -r "$T/fx/gpt_oss-square-bf16" "$T/balanced-t"
python3 "$(dirname "$0")/balance_units.py" "$T/balanced" && python3 "$(dirname "$0")/balance_units.py" "$T/balanced-t" --transpose
"$CKDOC" check "$T/balanced" --json > "$T/balanced.json"
"$CKDOC" check "$T/balanced-t" --json > "$T/balanced-t.json"
check weights_favour_labelled [ "$(strength "$T/balanced.json")" = "moderate:L" ]
check weights_favour_transposed [ "$(strength "$T/balanced-t.json")" = "moderate:T" ]
"$CKDOC" check "$T/fx/gpt_oss-square-bf16" --fail-on warn > /dev/null
check fail_on_warn_exit_1 [ $? -eq 1 ]

# ---- evidence and messages -----------------------------------------------------------------------
grep -q '"ep_size": 4' "$T/qwen3_moe-ep-collision.json" && grep -q 'EP=4' "$T/qwen3_moe-ep-collision.json"
check ep_collision_names_ep_size [ $? -eq 0 ]
grep -q 'EP=2' "$T/mixtral-ep-collision.json"
check ep_collision_mixtral_ep2 [ $? -eq 0 ]
python3 - "$T/qwen3_moe-dup-experts.json" <<'EOF' && pass duplicate_groups || fail duplicate_groups
import json, sys
d = json.load(open(sys.argv[1]))
f = [f for f in d["findings"] if f["code"] == "DUPLICATE_EXPERTS"][0]
groups = f["evidence"]["groups"]
assert sorted(g["projection"] for g in groups) == ["down_proj", "gate_proj", "up_proj"], groups
assert all(g["experts"] == [2, 5] for g in groups), groups
EOF
python3 - "$T/llama-config-truncated.json" <<'EOF' && pass truncated_config_offset || fail truncated_config_offset
import json, os, sys
d = json.load(open(sys.argv[1]))
f = [f for f in d["findings"] if f["code"] == "CONFIG_INVALID"][0]
size = os.path.getsize(f["key"])
assert f["evidence"]["offset"] == size, (f, size)   # cut off: reported at its end
assert "truncated" in f["message"] or "end" in f["message"], f["message"]
EOF

# ---- plan, text, determinism --------------------------------------------------------------------
"$CKDOC" check "$T/fx/demo" --emit-plan "$T/plan.json" > "$T/demo.txt"
check plan_exit_1 [ $? -eq 1 ]
python3 - "$T/plan.json" <<'EOF' && pass plan_actions || fail plan_actions
import json, sys
p = json.load(open(sys.argv[1]))
assert p["schema"] == "ckdoc.plan/1"
acts = sorted(a["action"] for a in p["actions"])
assert acts == ["regather_ep", "transpose"], acts
EOF
grep -q '^errors (2)$' "$T/demo.txt" && grep -q '^summary: 2 errors' "$T/demo.txt" && ! grep -q "$(printf '\033')" "$T/demo.txt"
check text_report_plain_when_piped [ $? -eq 0 ]
"$CKDOC" check "$T/fx/demo" --json > "$T/again.json"
cmp -s "$T/demo.json" "$T/again.json"
check json_deterministic [ $? -eq 0 ]
"$CKDOC" check "$T/fx/demo" --max-findings 1 --json > "$T/cap.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); s=d['summary']; assert len(d['findings'])==1 and s['not_listed']==s['error']+s['warn']+s['info']-1 and s['error']==2" "$T/cap.json"
check max_findings_cap [ $? -eq 0 ]

# ---- --deep ---------------------------------------------------------------------------------------
"$CKDOC" check "$T/fx/qwen3_moe" --deep --json --threads 1 > "$T/deep1.json"
rc=$?
"$CKDOC" check "$T/fx/qwen3_moe" --deep --json --threads 2 > "$T/deep2.json"
check deep_clean_exit_0 [ $rc -eq 0 ]
cmp -s "$T/deep1.json" "$T/deep2.json"
check deep_same_for_any_thread_count [ $? -eq 0 ]
python3 - "$T/deep1.json" <<'EOF' && pass deep_tensor_stats || fail deep_tensor_stats
import json, sys
d = json.load(open(sys.argv[1]))
s = {t["name"]: t for t in d["tensor_stats"]}
assert len(s) == d["tensors"], (len(s), d["tensors"])
n = s["model.layers.0.input_layernorm.weight"]
assert n["nan"] == 0 and 0.9 < n["mean"] < 1.1, n
EOF
# a NaN planted in a copy of a clean fixture is found
cp -r "$T/fx/llama" "$T/nan"
python3 - "$T/nan" <<'EOF'
import json, struct, sys, glob
for path in sorted(glob.glob(sys.argv[1] + "/*.safetensors")):
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        t = hdr.get("model.norm.weight")
        if t and t["dtype"] == "BF16":
            f.seek(8 + n + t["data_offsets"][0] + 2)
            f.write(b"\xc0\x7f")    # BF16 quiet NaN as element 1
EOF
"$CKDOC" check "$T/nan" --deep --json > "$T/nan.json"
rc=$?
got=$(serious "$T/nan.json")
check deep_finds_nan [ "$rc" -eq 1 ] && [ "$got" = "NONFINITE model.norm.weight" ]

# ---- scale values: a negative FP8 block scale is found without --deep ----------------------------
cp -r "$T/fx/deepseek_v3" "$T/negscale"
python3 -c '
import glob, json, struct, sys
for path in sorted(glob.glob(sys.argv[1] + "/*.safetensors")):
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        t = json.loads(f.read(n)).get("model.layers.0.mlp.down_proj.weight_scale_inv")
        if t:
            f.seek(8 + n + t["data_offsets"][0] + 4)
            f.write(struct.pack("<f", -0.5))' "$T/negscale"
"$CKDOC" check "$T/negscale" --json > "$T/negscale.json"
rc=$?
got=$(serious "$T/negscale.json")
check negative_scale_invalid [ "$rc" -eq 1 ] && [ "$got" = "QUANT_SCALE_INVALID model.layers.0.mlp.down_proj.weight_scale_inv" ] &&
    grep -q '"first_bad_index": 1' "$T/negscale.json" && grep -q '"first_bad_value": "-0.5"' "$T/negscale.json"

# never-written (all zero) scales are one finding per layer, not one per tensor
cp -r "$T/fx/deepseek_v3" "$T/zeroscale"
zeroed=$(python3 -c '
import glob, json, struct, sys
n_zeroed = 0
for path in sorted(glob.glob(sys.argv[1] + "/*.safetensors")):
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        for k, t in json.loads(f.read(n)).items():
            if k.startswith("model.layers.1.") and k.endswith("weight_scale_inv"):
                a, b = t["data_offsets"]
                f.seek(8 + n + a)
                f.write(bytes(b - a))
                n_zeroed += 1
print(n_zeroed)' "$T/zeroscale")
"$CKDOC" check "$T/zeroscale" --json > "$T/zeroscale.json"
python3 - "$T/zeroscale.json" "$zeroed" <<'EOF' && pass zero_scales_grouped || fail zero_scales_grouped
import json, sys
d = json.load(open(sys.argv[1]))
f = [f for f in d["findings"] if f["severity"] != "info"]
assert len(f) == 1 and f[0]["code"] == "QUANT_SCALE_INVALID" and f[0]["layer"] == 1, f
assert f[0]["evidence"]["tensors"] == int(sys.argv[2]) > 1, (f, sys.argv[2])
EOF

# ---- MIXED_PRECISION: quantized_layers must cover every quantized module and name no absent one --
for v in clean drop absent; do cp -r "$T/fx/nemotron_h-nvfp4" "$T/mixed-$v"; done
python3 "$(dirname "$0")/mixed_precision.py" "$T/mixed-clean"
dropped=$(python3 "$(dirname "$0")/mixed_precision.py" "$T/mixed-drop" --drop-first)
python3 "$(dirname "$0")/mixed_precision.py" "$T/mixed-absent" --add-absent
expect_dir() { # dir, expected exit, expected lines
    "$CKDOC" check "$1" --json > "$1.json" 2> "$1.err"
    rc=$?
    got=$(serious "$1.json")
    want=$(printf '%b' "$3" | sort)
    if [ "$rc" -eq "$2" ] && [ "$got" = "$want" ]; then pass "$(basename "$1")"; else fail "$(basename "$1")" "exit $rc; got [$got] want [$want]"; fi
}
expect_dir "$T/mixed-clean" 0 ""
expect_dir "$T/mixed-drop" 1 "QUANT_CONFIG_MISMATCH $dropped.weight"
expect_dir "$T/mixed-absent" 0 "QUANT_CONFIG_MISMATCH backbone.layers.99.mixer.up_proj"

# ---- torch_dtype: tensors stored in another float type are named (info) ------------------------
cp -r "$T/fx/llama" "$T/f32cfg"
python3 -c '
import json, sys
c = json.load(open(sys.argv[1])); c["torch_dtype"] = "float32"; json.dump(c, open(sys.argv[1], "w"), indent=2)' "$T/f32cfg/config.json"
"$CKDOC" check "$T/f32cfg" --json > "$T/f32cfg.json"
rc=$?
python3 - "$T/f32cfg.json" <<'EOF' && [ $rc -eq 0 ] && pass torch_dtype_info || fail torch_dtype_info
import json, sys
d = json.load(open(sys.argv[1]))
f = [f for f in d["findings"] if f["code"] == "DTYPE_MISMATCH"]
assert len(f) == 1 and f[0]["severity"] == "info" and f[0]["evidence"]["dtype"] == "BF16", f
assert f[0]["evidence"]["tensors"] == d["tensors"], (f, d["tensors"])
EOF

# ---- --index-only over the real released index files ------------------------------------------
for d in "$ROOT"/tests/real/*/; do
    [ -f "$d/model.safetensors.index.json" ] && [ -f "$d/config.json" ] || continue
    n=$(basename "$d")
    "$CKDOC" check --index-only "$d" --json > "$T/real-$n.json" 2> "$T/real-$n.err"
    rc=$?
    bad=$(python3 -c "
import json,sys
d=json.load(open(sys.argv[1]))
print(' '.join(f['code']+':'+f['key'] for f in d['findings'] if f['code'] in ('MISSING_KEY','UNEXPECTED_KEY','MISSING_EXPERTS') or f['severity']!='info'))" "$T/real-$n.json")
    check "real_index_only_$n" [ "$rc" -eq 0 ] && [ -z "$bad" ] && [ ! -s "$T/real-$n.err" ]
done

# ---- hostile inputs: a clear exit, never a crash ------------------------------------------------
crashes=0
for f in "$ROOT"/tests/hostile/cases/*; do
    "$CKDOC" check "$f" > "$T/h.out" 2> "$T/h.err"
    rc=$?
    if [ $rc -ne 1 ] && [ $rc -ne 2 ] || grep -qE 'AddressSanitizer|runtime error:' "$T/h.err"; then
        crashes=$((crashes + 1))
        echo "  hostile $f: exit $rc" >&2
    fi
done
check hostile_inputs_never_crash [ "$crashes" -eq 0 ]

"$CKDOC" check > /dev/null 2>&1
check usage_exit_2 [ $? -eq 2 ]
"$CKDOC" check "$T/fx/demo" --fail-on nonsense > /dev/null 2>&1
check bad_fail_on_exit_2 [ $? -eq 2 ]
finish
