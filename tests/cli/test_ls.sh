#!/bin/sh
# ckdoc ls: text and JSON output on small checkpoints, --filter, --sort, escaping of hostile
# names, exit codes, and --index-only over the real released index files in /work/shared/real.
SUITE=ls
. "$(dirname "$0")/../lib.sh"
: "${CKDOC:?}" "${WORK:?}"
T="$WORK/ls"
rm -rf "$T"
mkdir -p "$T"

# A safetensors writer of our own (data all zero): mkst OUT name:DTYPE:d0xd1 ...
cat > "$T/mkst.py" <<'EOF'
import json, struct, sys
sizes = {"F32": 4, "BF16": 2, "F16": 2, "U8": 1, "F8_E4M3": 1, "I64": 8}
hdr, off = {"__metadata__": {"format": "pt"}}, 0
for spec in sys.argv[2:]:
    name, dtype, dims = spec.rsplit(":", 2)
    name = name.encode().decode("unicode_escape")
    shape = [int(d) for d in dims.split("x")] if dims else []
    n = sizes[dtype]
    for d in shape: n *= d
    hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
    off += n
h = json.dumps(hdr, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"\0" * off)
EOF
mkst() { python3 "$T/mkst.py" "$@"; }
pyjson() { # FILE, python expression over `d` (the parsed JSON): prints it
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

# ---- a single file --------------------------------------------------------------------------
mkst "$T/one.safetensors" "model.layers.0.mlp.down_proj.weight:BF16:64x128" "model.embed_tokens.weight:F32:100x16" \
    "model.norm.weight:BF16:16" "scalar:F32:"
"$CKDOC" ls "$T/one.safetensors" > "$T/one.txt" 2> "$T/one.err"
check single_file_exit_0 [ $? -eq 0 ]
check single_file_no_stderr [ ! -s "$T/one.err" ]
check single_file_row grep -qx 'model.embed_tokens.weight            F32   \[100, 16\]   6.3 KiB  one.safetensors' "$T/one.txt"
check single_file_scalar grep -qx 'scalar                               F32   \[\]              4 B  one.safetensors' "$T/one.txt"
check single_file_sorted_by_name [ "$(head -4 "$T/one.txt" | cut -d' ' -f1 | tr '\n' ' ')" = \
    "model.embed_tokens.weight model.layers.0.mlp.down_proj.weight model.norm.weight scalar " ]
check summary_params grep -qx 'parameters    9,809' "$T/one.txt"
check summary_layers grep -qx 'layers        1' "$T/one.txt"
"$CKDOC" ls "$T/one.safetensors" > "$T/one2.txt" 2>&1
check deterministic cmp -s "$T/one.txt" "$T/one2.txt"

# ---- JSON -------------------------------------------------------------------------------------
"$CKDOC" ls --json "$T/one.safetensors" > "$T/one.json"
check json_exit_0 [ $? -eq 0 ]
check json_valid python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/one.json"
check json_schema [ "$(pyjson "$T/one.json" 'd["schema"], d["layout"], len(d["tensors"]), d["problems"]')" = "ckdoc.ls/1 file 4 []" ]
# Offsets are absolute: 8 + header length + data_offsets begin (read back with plain Python).
check json_tensor_values python3 - "$T/one.json" "$T/one.safetensors" <<'EOF'
import json, struct, sys
d = json.load(open(sys.argv[1]))
raw = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
assert list(d["tensors"][0]) == ["name", "dtype", "shape", "bytes", "shard", "offset"], d["tensors"][0]
for t in d["tensors"]:
    h = hdr[t["name"]]
    assert t["dtype"] == h["dtype"] and t["shape"] == h["shape"], t
    assert t["bytes"] == h["data_offsets"][1] - h["data_offsets"][0], t
    assert t["offset"] == 8 + n + h["data_offsets"][0], t
    assert t["shard"] == "one.safetensors"
s = d["summary"]
assert s["tensors"] == 4 and s["parameters"] == 9809 and s["shards"] == 1, s
assert s["bytes"] == 2 * 64 * 128 + 4 * 1600 + 2 * 16 + 4, s
assert s["dtypes"] == [{"dtype": "BF16", "tensors": 2, "bytes": 16416}, {"dtype": "F32", "tensors": 2, "bytes": 6404}], s
assert s["layers"] == 1 and s["moe_layers"] == 0 and s["quantization"] == [] and s["quant_method"] is None, s
assert s["index_total_size"] is None and s["tensors_without_header"] == 0
EOF

# ---- --filter and --sort -------------------------------------------------------------------------
"$CKDOC" ls --filter '*.weight' --sort size "$T/one.safetensors" > "$T/f.txt"
check filter_sort_size [ "$(head -3 "$T/f.txt" | cut -d' ' -f1 | tr '\n' ' ')" = \
    "model.layers.0.mlp.down_proj.weight model.embed_tokens.weight model.norm.weight " ]
check filter_excludes [ "$(grep -c '^scalar' "$T/f.txt")" = 0 ]
check filter_summary grep -qx 'tensors       3' "$T/f.txt"
"$CKDOC" ls --json --filter='model.layers.*' "$T/one.safetensors" > "$T/f.json"
check filter_json [ "$(pyjson "$T/f.json" '[t["name"] for t in d["tensors"]]')" = "['model.layers.0.mlp.down_proj.weight']" ]
"$CKDOC" ls --sort shard "$T/one.safetensors" > "$T/s.txt"
# Shard order is file order: the writer above lays tensors out in argument order.
check sort_shard [ "$(head -4 "$T/s.txt" | cut -d' ' -f1 | tr '\n' ' ')" = \
    "model.layers.0.mlp.down_proj.weight model.embed_tokens.weight model.norm.weight scalar " ]

# ---- an indexed directory, then broken ------------------------------------------------------------
D="$T/idx"
mkdir -p "$D"
mkst "$D/model-00001-of-00002.safetensors" "a.weight:BF16:4x4" "b.weight:BF16:4"
mkst "$D/model-00002-of-00002.safetensors" "c.weight:F32:2x2"
cat > "$D/model.safetensors.index.json" <<'EOF'
{"metadata": {"total_size": 56},
 "weight_map": {"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00001-of-00002.safetensors",
                "c.weight": "model-00002-of-00002.safetensors"}}
EOF
"$CKDOC" ls --json "$D" > "$T/idx.json"
check indexed_exit_0 [ $? -eq 0 ]
check indexed_json [ "$(pyjson "$T/idx.json" 'd["layout"], [t["shard"][6:11] for t in d["tensors"]], d["summary"]["index_total_size"]')" = \
    "indexed ['00001', '00001', '00002'] 56" ]
rm "$D/model-00002-of-00002.safetensors"
"$CKDOC" ls "$D" > "$T/miss.txt" 2> "$T/miss.err"
check missing_shard_exit_2 [ $? -eq 2 ]
check missing_shard_stderr grep -q '^ckdoc: .*model-00002-of-00002.safetensors: shard named by model.safetensors.index.json is missing$' "$T/miss.err"
check missing_shard_still_lists grep -q '^c.weight  *? *? *? *model-00002-of-00002.safetensors$' "$T/miss.txt"
"$CKDOC" ls --json "$D" > "$T/miss.json" 2> /dev/null
check missing_shard_json [ "$(pyjson "$T/miss.json" 'len(d["problems"]), d["problems"][0]["code"], d["tensors"][2]["dtype"], d["tensors"][2]["offset"]')" = "1 io None None" ]
"$CKDOC" ls --index-only "$D" > /dev/null 2>&1
check index_only_flag_exit_0 [ $? -eq 0 ]
printf '{"weight_map": {"a.weight": "model-00001-of-00002.safetensors",' > "$D/model.safetensors.index.json"
"$CKDOC" ls "$D" > /dev/null 2> "$T/trunc.err"
check truncated_index_exit_2 [ $? -eq 2 ]
check truncated_index_offset grep -q 'model.safetensors.index.json: byte 63: unexpected end of file: the JSON is truncated (line 1, column 64)$' "$T/trunc.err"

# ---- hostile names never reach the terminal raw ---------------------------------------------------
mkst "$T/evil.safetensors" 'evil\x1b[2J\x07name:F32:1' 'quote"name:F32:1'
"$CKDOC" ls "$T/evil.safetensors" > "$T/evil.txt"
check escape_text_exit_0 [ $? -eq 0 ]
check escape_text_no_raw_control [ "$(tr -d '\n' < "$T/evil.txt" | tr -d '[:print:]' | wc -c)" -eq 0 ]
check escape_text_visible grep -qF 'evil\x1b[2J\x07name' "$T/evil.txt"
check escape_text_quote grep -qF 'quote\"name' "$T/evil.txt"
"$CKDOC" ls --json "$T/evil.safetensors" > "$T/evil.json"
check escape_json_roundtrip [ "$(pyjson "$T/evil.json" '[t["name"] for t in d["tensors"]] == ["evil\x1b[2J\x07name", "quote\"name"]')" = True ]
check escape_json_no_raw_control [ "$(tr -d '\n' < "$T/evil.json" | tr -d '[:print:]' | wc -c)" -eq 0 ]

# ---- usage and input errors -------------------------------------------------------------------------
"$CKDOC" ls > /dev/null 2> "$T/u.err"
check usage_no_path [ $? -eq 2 ]
check usage_line grep -q '^usage: ckdoc ls PATH' "$T/u.err"
"$CKDOC" ls --bogus "$T/one.safetensors" > /dev/null 2>&1
check usage_bad_option [ $? -eq 2 ]
"$CKDOC" ls --sort name "$T/one.safetensors" > /dev/null 2>&1
check usage_bad_sort [ $? -eq 2 ]
"$CKDOC" ls --filter > /dev/null 2>&1
check usage_missing_value [ $? -eq 2 ]
"$CKDOC" ls "$T/nope" > /dev/null 2> "$T/nope.err"
check nonexistent_exit_2 [ $? -eq 2 ]
check nonexistent_message grep -q "^ckdoc: $T/nope: cannot open: No such file or directory$" "$T/nope.err"
mkdir -p "$T/empty"
"$CKDOC" ls "$T/empty" > /dev/null 2>&1
check empty_dir_exit_2 [ $? -eq 2 ]
"$CKDOC" ls --help > /dev/null 2>&1
check help_exit_0 [ $? -eq 0 ]

# ---- the real released index files (config + index, no weights) -------------------------------------
REAL=/work/shared/real
n_real=0
for src in "$REAL"/*/; do
    [ -f "$src/model.safetensors.index.json" ] || continue
    model=$(basename "$src") # not `name`: lib.sh's check() uses that
    dst="$T/real/$model"
    mkdir -p "$dst"
    cp "$src"/*.json "$dst"/
    n_real=$((n_real + 1))
    "$CKDOC" ls --index-only "$dst" > "$dst.txt" 2> "$dst.err"
    rc=$?
    check "real_${model}_exit_0" [ $rc -eq 0 -a ! -s "$dst.err" ]
    "$CKDOC" ls --index-only --json "$dst" > "$dst.json" 2>/dev/null
    want=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["weight_map"]))' "$dst/model.safetensors.index.json")
    check "real_${model}_all_tensors" [ "$(pyjson "$dst.json" 'len(d["tensors"]), d["layout"], d["summary"]["tensors_without_header"]')" = "$want index-only $want" ]
done
if [ "$n_real" -eq 0 ]; then echo "SKIP: $SUITE/real_indexes (no $REAL)"; fi
if [ -d "$T/real/gpt-oss-20b" ]; then
    check real_gpt_oss_summary [ "$(pyjson "$T/real/gpt-oss-20b.json" 'd["summary"]["layers"], d["summary"]["quantization"], d["summary"]["quant_method"]')" = "24 ['MXFP4'] mxfp4" ]
fi
if [ -d "$T/real/Mixtral-8x7B-v0.1" ]; then
    check real_mixtral_experts [ "$(pyjson "$T/real/Mixtral-8x7B-v0.1.json" 'd["summary"]["layers"], d["summary"]["moe_layers"], d["summary"]["experts_max"]')" = "32 32 8" ]
fi

finish
