"""Turn an NVFP4 fixture into a ModelOpt MIXED_PRECISION export: hf_quant_config.json lists every
quantized module (each expert included) in quantized_layers, and config.json carries no
quantization_config. --drop-first leaves the first module out of the list; --add-absent names a
module the checkpoint does not have. Edits the directory in place; standard library only."""
import glob, json, struct, sys

d = sys.argv[1]
keys = []
for path in glob.glob(d + "/*.safetensors"):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        keys += [k for k in json.loads(f.read(n)) if k != "__metadata__"]
mods = sorted(k[: -len(".weight_scale")] for k in keys if k.endswith(".weight_scale"))
layers = {m: {"quant_algo": "NVFP4", "group_size": 16} for m in mods}
if "--drop-first" in sys.argv:
    del layers[mods[0]]
    print(mods[0])
if "--add-absent" in sys.argv:
    layers["backbone.layers.99.mixer.up_proj"] = {"quant_algo": "NVFP4", "group_size": 16}
q = json.load(open(d + "/hf_quant_config.json"))
q["quantization"] = {"quant_algo": "MIXED_PRECISION", "kv_cache_quant_algo": None, "quantized_layers": layers}
json.dump(q, open(d + "/hf_quant_config.json", "w"), indent=2)
c = json.load(open(d + "/config.json"))
c.pop("quantization_config", None)
json.dump(c, open(d + "/config.json", "w"), indent=2)
