#!/usr/bin/env python3
"""Write the small seed inputs for the fuzz targets (python3 stdlib only; run from anywhere).
seeds/header/: whole safetensors files (8-byte length + header + data), valid ones and near misses.
seeds/index/: small hand-written index files; the real ones beside them were copied from
/work/shared/real/*/model.safetensors.index.json (the files under 100 KB)."""
import json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))


def st(header, data=b"", pad=True, length=None):
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    n = len(h) if length is None else length
    return struct.pack("<Q", n) + h + data


def t(dtype, shape, b, e):
    return {"dtype": dtype, "shape": shape, "data_offsets": [b, e]}


header = {
    "empty": st(b"{}"),
    "attn0": st(b'{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}', struct.pack("<6f", 0, 1, 2, 3, 4, 5)),
    "f4": st({"x": t("F4", [1, 2], 0, 1)}, b"\x21"),
    "metadata": st({"__metadata__": {"format": "pt", "k": "v\u00e9"},
                    "a.weight": t("BF16", [2, 2], 0, 8), "b.bias": t("F16", [2], 8, 12),
                    "c": t("U8", [3], 12, 15), "z": t("I64", [0, 4], 15, 15)}, bytes(15)),
    "scalar": st({"s": t("F64", [], 0, 8)}, bytes(8)),
    "dtypes": st({"a": t("F8_E4M3", [4], 0, 4), "b": t("F6_E2M3", [4], 4, 7), "c": t("C64", [1], 7, 15),
                  "d": t("F8_E8M0", [1], 15, 16), "e": t("BOOL", [1], 16, 17)}, bytes(17)),
    "out_of_order": st({"b": t("F32", [1], 4, 8), "a": t("F32", [1], 0, 4)}, bytes(8)),
    "overlap": st({"a": t("F32", [2], 0, 8), "b": t("F32", [2], 4, 12)}, bytes(12)),
    "truncated": st({"a": t("F32", [4], 0, 16)}, bytes(10)),
    "past_eof": st(b"{}", length=4096),
    "leading_ws": st(b' \n\t{"a" : {"dtype":"U8", "shape":[ 1 ], "data_offsets":[0, 1]}}\r\n', b"\x07"),
}
index = {
    "minimal.json": {"metadata": {"total_size": 8}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                                                   "b": "model-00002-of-00002.safetensors"}},
    "no_metadata.json": {"weight_map": {"x": "model.safetensors"}},
    "extra_keys.json": {"metadata": {"total_size": 0, "total_parameters": 7, "format": "pt"}, "weight_map": {}},
}

for name, b in header.items():
    with open(os.path.join(HERE, "seeds", "header", name + ".safetensors"), "wb") as f:
        f.write(b)
for name, obj in index.items():
    with open(os.path.join(HERE, "seeds", "index", name), "w") as f:
        json.dump(obj, f, indent=2)
