#!/bin/sh
# ckdoc repair: the plans `check --emit-plan` writes fix the fixtures they were written for (the
# repaired tensors equal the clean fixture's), rename / drop / cast, untouched shards copied byte
# for byte, the input never changed, the output deterministic, --dry-run, and bad plans refused
# with one line and exit 2.
SUITE=repair
. "$(dirname "$0")/../lib.sh"
: "${CKDOC:?}" "${WORK:?}"
T="$WORK/repair"
rm -rf "$T"
mkdir -p "$T"
"$CKDOC" demo "$T/fx" qwen3_moe qwen3_moe-down-transposed deepseek_v3 deepseek_v3-no-expert-bias gpt_oss-square \
    gpt_oss-square-transposed llama > /dev/null 2>&1 || fail fixtures_written

tree_hash() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -d' ' -f1; }
# A plan's actions without regather_ep (which needs the other ranks' shards).
strip_regather() { python3 -c "
import json,sys
p=json.load(open(sys.argv[1])); p['actions']=[a for a in p['actions'] if a['action']!='regather_ep']
json.dump(p,open(sys.argv[2],'w'),indent=1)" "$1" "$2"; }
# content hash of one tensor, from ckdoc stats --json
xxh() { "$CKDOC" stats "$1" --json --filter "$2" 2>/dev/null | python3 -c "
import json,sys; d=json.load(sys.stdin); print(d['tensors'][0]['hash'] if d['tensors'] else 'none')"; }
# python: one tensor's dtype, shape and raw bytes (hex digest) from a checkpoint directory
cat > "$T/st.py" <<'EOF2'
import json, os, struct, sys
def tensors(d):
    out = {}
    for f in sorted(os.listdir(d)):
        if not f.endswith(".safetensors"): continue
        b = open(os.path.join(d, f), "rb").read()
        n = struct.unpack("<Q", b[:8])[0]
        h = json.loads(b[8:8 + n])
        for k, v in h.items():
            if k == "__metadata__": continue
            s, e = v["data_offsets"]
            out[k] = (v["dtype"], v["shape"], b[8 + n + s:8 + n + e], f)
    return out
EOF2
py() { PYTHONPATH="$T" python3 "$@"; }

# ---- qwen3_moe with one expert's down_proj transposed ------------------------------------------
IN="$T/fx/qwen3_moe-down-transposed"
before=$(tree_hash "$IN")
"$CKDOC" check "$IN" --emit-plan "$T/q.plan.full" > /dev/null
strip_regather "$T/q.plan.full" "$T/q.plan"
"$CKDOC" repair "$IN" --plan "$T/q.plan" -o "$T/q.out" > "$T/q.log" 2>&1
check qwen3_transposed_exit [ $? -eq 0 ]
"$CKDOC" check "$T/q.out" --json > "$T/q.check.json"
check qwen3_transposed_check_clean [ $? -eq 0 ]
check qwen3_no_transposed_finding sh -c "! grep -q TRANSPOSED '$T/q.check.json'"
K=model.layers.1.mlp.experts.3.down_proj.weight
a=$(xxh "$T/q.out" "$K") b=$(xxh "$T/fx/qwen3_moe" "$K")
check qwen3_tensor_equals_clean [ -n "$a" -a "$a" = "$b" -a "$a" != none ]
shard=$(py -c "import st; print(st.tensors('$IN')['$K'][3])")
untouched=1
for f in "$IN"/*; do
    n=$(basename "$f")
    [ "$n" = "$shard" ] && continue
    cmp -s "$f" "$T/q.out/$n" || untouched=0
done
check qwen3_untouched_files_identical [ "$untouched" -eq 1 ]
check qwen3_same_file_names [ "$(ls "$IN")" = "$(ls "$T/q.out")" ]
check qwen3_rewritten_shard_equals_clean cmp -s "$T/q.out/$shard" "$T/fx/qwen3_moe/$shard"
check qwen3_input_unchanged [ "$before" = "$(tree_hash "$IN")" ]
"$CKDOC" repair "$IN" --plan "$T/q.plan" -o "$T/q.out2" > /dev/null 2>&1
check qwen3_deterministic diff -r "$T/q.out" "$T/q.out2"
check qwen3_no_temporaries sh -c "! ls -A '$T/q.out' | grep -q ckdoc-tmp"

# --dry-run: says what would happen, writes nothing
"$CKDOC" repair "$IN" --plan "$T/q.plan" -o "$T/q.dry" --dry-run > "$T/dry.txt" 2>&1
rc=$?
check dry_run_writes_nothing [ $rc -eq 0 -a ! -e "$T/q.dry" ]
check dry_run_says_what grep -q "rewrite  $shard" "$T/dry.txt"
check dry_run_names_tensor grep -q "transpose  $K \[48, 64\] -> \[64, 48\]" "$T/dry.txt"
check dry_run_copies grep -q "copy     config.json" "$T/dry.txt"

# ---- deepseek_v3 without its expert bias --------------------------------------------------------
IN="$T/fx/deepseek_v3-no-expert-bias"
before=$(tree_hash "$IN")
"$CKDOC" check "$IN" --emit-plan "$T/d.plan.full" > /dev/null
strip_regather "$T/d.plan.full" "$T/d.plan"
"$CKDOC" repair "$IN" --plan "$T/d.plan" -o "$T/d.out" > /dev/null 2>&1
check deepseek_bias_exit [ $? -eq 0 ]
"$CKDOC" check "$T/d.out" > /dev/null
check deepseek_bias_check_clean [ $? -eq 0 ]
py - "$T/d.out" "$T/fx/deepseek_v3" <<'EOF2' && pass deepseek_bias_zeros_beside_gate || fail deepseek_bias_zeros_beside_gate
import json, sys, st
t = st.tensors(sys.argv[1])
biases = [k for k in t if k.endswith("e_score_correction_bias")]
assert len(biases) == 3, biases
for k in biases:
    dt, shape, data, f = t[k]
    assert dt == "F32" and shape == [8] and data == b"\0" * 32, (k, dt, shape)
    assert f == t[k.replace("e_score_correction_bias", "weight")][3], k
idx = json.load(open(sys.argv[1] + "/model.safetensors.index.json"))
assert idx["weight_map"] == {k: v[3] for k, v in t.items()}
assert idx["metadata"]["total_size"] == sum(len(v[2]) for v in t.values())
EOF2
check deepseek_index_equals_clean cmp -s "$T/d.out/model.safetensors.index.json" "$T/fx/deepseek_v3/model.safetensors.index.json"
check deepseek_input_unchanged [ "$before" = "$(tree_hash "$IN")" ]

# ---- gpt_oss square fused down_proj, transposed: settled with --reference ----------------------
IN="$T/fx/gpt_oss-square-transposed"
"$CKDOC" check "$IN" --reference "$T/fx/gpt_oss-square" --emit-plan "$T/g.plan" > /dev/null
check gpt_oss_plan_has_transposes grep -q '"transpose"' "$T/g.plan"
"$CKDOC" repair "$IN" --plan "$T/g.plan" -o "$T/g.out" > /dev/null 2>&1
check gpt_oss_square_exit [ $? -eq 0 ]
"$CKDOC" check "$T/g.out" --reference "$T/fx/gpt_oss-square" --json > "$T/g.check.json"
check gpt_oss_square_reference_clean [ $? -eq 0 ]
check gpt_oss_square_no_transposed sh -c "! grep -q TRANSPOSED '$T/g.check.json'"

# ---- rename, drop, cast on llama ---------------------------------------------------------------
IN="$T/fx/llama"
before=$(tree_hash "$IN")
cat > "$T/l.plan" <<'EOF2'
{ "schema": "ckdoc.plan/1", "source": "llama",
  "actions": [
    { "action": "rename", "from": "model.norm.weight", "to": "model.final_norm.weight" },
    { "action": "drop", "key": "model.layers.0.self_attn.q_proj.weight" },
    { "action": "cast", "key": "model.layers.1.mlp.up_proj.weight", "dtype": "F32" },
    { "action": "cast", "key": "model.layers.1.mlp.down_proj.weight", "dtype": "F8_E4M3" },
    { "action": "transpose", "key": "model.layers.1.mlp.gate_proj.weight", "dims": [-2, -1] },
    { "action": "cast", "key": "model.layers.1.mlp.gate_proj.weight", "dtype": "F32" } ] }
EOF2
"$CKDOC" repair "$IN" --plan "$T/l.plan" -o "$T/l.out" > /dev/null 2>&1
check llama_edit_exit [ $? -eq 0 ]
py - "$IN" "$T/l.out" <<'EOF2' && pass llama_rename_drop_cast || fail llama_rename_drop_cast
import json, struct, sys, st
a, b = st.tensors(sys.argv[1]), st.tensors(sys.argv[2])
assert "model.norm.weight" not in b and b["model.final_norm.weight"][:3] == a["model.norm.weight"][:3]
assert "model.layers.0.self_attn.q_proj.weight" not in b
def bf16(raw): return [struct.unpack("<f", b"\0\0" + raw[i:i + 2])[0] for i in range(0, len(raw), 2)]
def f32(raw): return list(struct.unpack("<%df" % (len(raw) // 4), raw))
k = "model.layers.1.mlp.up_proj.weight"
assert a[k][0] == "BF16" and b[k][0] == "F32" and b[k][1] == a[k][1] and f32(b[k][2]) == bf16(a[k][2])
k = "model.layers.1.mlp.down_proj.weight"
assert b[k][0] == "F8_E4M3" and b[k][1] == a[k][1] and len(b[k][2]) * 2 == len(a[k][2])
k = "model.layers.1.mlp.gate_proj.weight"
r, c = a[k][1]
assert b[k][0] == "F32" and b[k][1] == [c, r]
x, y = bf16(a[k][2]), f32(b[k][2])
assert all(y[j * r + i] == x[i * c + j] for i in range(r) for j in range(c))
idx = json.load(open(sys.argv[2] + "/model.safetensors.index.json"))
assert idx["weight_map"] == {k: v[3] for k, v in b.items()}
assert idx["metadata"]["total_size"] == sum(len(v[2]) for v in b.values())
EOF2
check llama_input_unchanged [ "$before" = "$(tree_hash "$IN")" ]
"$CKDOC" check "$T/l.out" --json > "$T/l.check.json"
check llama_index_consistent sh -c "! grep -q INDEX_MISMATCH '$T/l.check.json'"
"$CKDOC" repair "$IN" --plan "$T/l.plan" -o "$T/l.out2" --threads 1 > /dev/null 2>&1
check llama_deterministic_threads diff -r "$T/l.out" "$T/l.out2"

# ---- refusals: one line on stderr, exit 2, nothing written ------------------------------------
refuse() { # name, plan text, expected words in the message
    name=$1
    printf '%s' "$2" > "$T/bad.plan"
    rm -rf "$T/bad.out"
    "$CKDOC" repair "$T/fx/llama" --plan "$T/bad.plan" -o "$T/bad.out" > "$T/bad.stdout" 2> "$T/bad.err"
    rc=$?
    lines=$(wc -l < "$T/bad.err")
    if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -q -- "$3" "$T/bad.err" && grep -q "bad.plan" "$T/bad.err" &&
        ! grep -q "$(printf '\033')" "$T/bad.err" && [ ! -e "$T/bad.out" ] && [ ! -s "$T/bad.stdout" ]; then
        pass "refuse_$name"
    else
        fail "refuse_$name" "exit $rc, $lines lines: $(head -c 300 "$T/bad.err")"
    fi
}
refuse schema '{"schema":"ckdoc.plan/9","actions":[]}' 'schema "ckdoc.plan/9" is not supported'
refuse no_schema '{"actions":[]}' 'no "schema"'
refuse not_json '{"schema":"ckdoc.plan/1",' 'not valid JSON'
refuse no_actions '{"schema":"ckdoc.plan/1"}' '"actions" must be an array'
refuse unknown_action '{"schema":"ckdoc.plan/1","actions":[{"action":"explode","key":"lm_head.weight"}]}' 'action 0 (explode): unknown action'
refuse missing_key '{"schema":"ckdoc.plan/1","actions":[{"action":"drop"}]}' 'action 0 (drop): missing "key"'
refuse absent_key '{"schema":"ckdoc.plan/1","actions":[{"action":"drop","key":"lm_head.weight"},{"action":"drop","key":"no.such.weight"}]}' "key 'no.such.weight': action 1 (drop): no tensor of that name"
refuse hostile_key '{"schema":"ckdoc.plan/1","actions":[{"action":"drop","key":"\u001b[31mred\u0007"}]}' 'x1b\[31mred'
refuse hostile_new_name '{"schema":"ckdoc.plan/1","actions":[{"action":"rename","from":"lm_head.weight","to":"a\u001b]0;x\u0007"}]}' 'holds control characters'
refuse metadata_name '{"schema":"ckdoc.plan/1","actions":[{"action":"rename","from":"lm_head.weight","to":"__metadata__"}]}' 'reserved'
refuse name_taken '{"schema":"ckdoc.plan/1","actions":[{"action":"rename","from":"lm_head.weight","to":"model.norm.weight"}]}' 'already taken'
refuse bad_dims '{"schema":"ckdoc.plan/1","actions":[{"action":"transpose","key":"lm_head.weight","dims":[0,1]}]}' '"dims" must be \[-2, -1\]'
refuse rank1_transpose '{"schema":"ckdoc.plan/1","actions":[{"action":"transpose","key":"model.norm.weight","dims":[-2,-1]}]}' 'no last two to swap'
refuse bad_cast '{"schema":"ckdoc.plan/1","actions":[{"action":"cast","key":"lm_head.weight","dtype":"I64"}]}' 'cast goes to F32'
refuse bias_exists '{"schema":"ckdoc.plan/1","actions":[{"action":"reset_expert_bias","key":"lm_head.weight","shape":[8],"dtype":"F32"}]}' 'already exists'
refuse bad_shape '{"schema":"ckdoc.plan/1","actions":[{"action":"reset_expert_bias","key":"x.bias","shape":[-1],"dtype":"F32"}]}' 'not a size'
refuse regather '{"schema":"ckdoc.plan/1","actions":[{"action":"regather_ep","layer":2,"ep_size":4,"present_first":0}]}' "regather_ep needs the other expert-parallel ranks' shards; not supported yet"

"$CKDOC" repair "$T/fx/llama" --plan "$T/l.plan" -o "$T/q.out" > /dev/null 2> "$T/ne.err"
rc=$?
check refuse_nonempty_outdir [ $rc -eq 2 -a "$(wc -l < "$T/ne.err")" -eq 1 -a -n "$(grep "not empty" "$T/ne.err")" ]
"$CKDOC" repair "$T/fx/llama" --plan "$T/nonexistent.plan" -o "$T/x.out" > /dev/null 2> "$T/np.err"
rc=$?
check refuse_missing_plan [ $rc -eq 2 -a ! -e "$T/x.out" ]
"$CKDOC" repair "$T/fx/llama" -o "$T/x.out" > /dev/null 2>&1
check refuse_no_plan_arg [ $? -eq 2 ]
mkdir -p "$T/empty.out"
"$CKDOC" repair "$T/fx/llama" --plan "$T/l.plan" -o "$T/empty.out" > /dev/null 2>&1
rc=$?
check empty_outdir_accepted [ $rc -eq 0 -a -f "$T/empty.out/config.json" ]
finish
