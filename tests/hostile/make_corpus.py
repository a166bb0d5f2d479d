#!/usr/bin/env python3
"""Write the hostile-input corpus for tests/cli/test_hostile.sh (python3 stdlib only).

Every case is built below from scratch, so anyone can see exactly which bytes each file holds and
why it is broken. Running this script rewrites tests/hostile/cases/ and tests/hostile/expect.txt.

expect.txt: one line per problem: the case's path (relative to tests/hostile/), then, after a
tab, a substring that the error line for that problem must contain (file offsets included). A case
with two problems has two lines. test_hostile.sh checks `ckdoc ls CASE` exits 2, prints exactly
that many lines on stderr, each expected substring on its own line, and never crashes.

Cases that git cannot hold (symlinks) are made at run time by test_hostile.sh; their expect lines
are written here all the same, marked "(made by test_hostile.sh)".
"""
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")


def js(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def st(header, data=b"", length=None, pad=True):
    """A safetensors file: u64 LE length, header (padded with spaces to 8), data."""
    h = header if isinstance(header, bytes) else js(header)
    if pad:
        h += b" " * (-len(h) % 8)
    n = len(h) if length is None else length
    return struct.pack("<Q", n) + h + data


def t(dtype, shape, b, e):
    return {"dtype": dtype, "shape": shape, "data_offsets": [b, e]}


def key_at(header, key):
    """File offset of a tensor's key in a header built by st() (8 + position of "key")."""
    h = header if isinstance(header, bytes) else js(header)
    return 8 + h.index(b'"' + key.encode() + b'"')


def hdr_len(header):
    h = header if isinstance(header, bytes) else js(header)
    return len(h) + (-len(h) % 8)


cases = []   # (relative path, {file name: bytes} or bytes, [expected substrings])


def case(path, content, *expect):
    cases.append((path, content, list(expect)))


# A small valid checkpoint, reused below: two F32 tensors, 8 + 8 bytes.
GOOD = {"a": t("F32", [2], 0, 8), "b": t("F32", [2], 8, 16)}
GOOD_DATA = struct.pack("<4f", 1, 2, 3, 4)
good = st(GOOD, GOOD_DATA)

# ---- single files: the 8-byte length ---------------------------------------------------------
case("cases/zero_length.safetensors", b"", "byte 0: file is 0 bytes, too small for the 8-byte header length")
case("cases/seven_bytes.safetensors", b"\x10\0\0\0\0\0\0", "byte 0: file is 7 bytes, too small")
case("cases/header_past_eof.safetensors", st(b"{}", length=1000),
     "byte 0: header length 1000 runs past the end of the file (16 bytes)")
case("cases/header_2_63.safetensors", st(b"{}", length=1 << 63),
     "byte 0: header length 9223372036854775808 exceeds the 100,000,000-byte limit")
case("cases/header_100mb.safetensors", st(b"{}", length=100_000_001),
     "byte 0: header length 100000001 exceeds the 100,000,000-byte limit")
# A valid file cut short inside its header, and one cut inside its data.
case("cases/truncated_header.safetensors", good[:40],
     "byte 0: header length %d runs past the end of the file (40 bytes)" % hdr_len(GOOD))
case("cases/truncated_data.safetensors", good[:-6],
     "byte %d: file truncated: tensors need 6 more bytes" % (8 + hdr_len(GOOD) + 10))
case("cases/trailing_bytes.safetensors", good + b"PK\x03\x04 polyglot",
     "byte %d: 13 bytes after the last tensor's data" % (8 + hdr_len(GOOD) + 16))

# ---- header bytes and JSON -------------------------------------------------------------------
bad_json = b'{"a":{"dtype":"F32",]}'
case("cases/invalid_json.safetensors", st(bad_json), "byte %d: header is not valid JSON: expected a string key" % (8 + bad_json.index(b"]")))
# 100,000 '[': must be refused without recursing 100,000 deep.
case("cases/deep_nesting.safetensors", st(b"[" * 100_000), "byte 135: header is not valid JSON: nested more than 127 levels")
case("cases/deep_objects.safetensors", st(b'{"a":' * 20_000), "byte 643: header is not valid JSON: nested more than 127 levels")
case("cases/nul_padding.safetensors", st(b"{}" + b"\0" * 6, pad=False), "byte 10: control character 0x00 in the header JSON")
bad_utf8 = b'{"w\xc0\xaf":' + js(t("U8", [1], 0, 1)) + b"}"
case("cases/bad_utf8.safetensors", st(bad_utf8, b"\0"), "byte 11: header is not valid UTF-8")
case("cases/top_level_array.safetensors", st(b"[]"), "byte 8: header JSON is not an object")
case("cases/trailing_garbage.safetensors", st(b"{} }"), "byte 11: header is not valid JSON: unexpected bytes after the JSON value")

# ---- tensor entries --------------------------------------------------------------------------
H = {"a": t("F32", [2], 0, 8), "b": t("F32", [2], 4, 12)}
case("cases/overlap.safetensors", st(H, bytes(12)),
     "key 'b' at byte %d: data_offsets begin at 4, overlapping the previous tensor (which ends at 8)" % key_at(H, "b"))
H = {"c": t("F32", [1], 12, 16), "a": t("F32", [1], 0, 4)}   # out of order, and bytes 4..12 belong to no one
case("cases/out_of_order_hole.safetensors", st(H, bytes(16)),
     "key 'c' at byte %d: data_offsets begin at 12, leaving a hole after byte 4" % key_at(H, "c"))
H = {"a": t("F32", [1024], 0, 4096)}
case("cases/offsets_past_end.safetensors", st(H, bytes(16)), "file truncated: tensors need 4080 more bytes")
H = {"w": t("BF16", [4294967296, 4294967296], 0, 0)}
case("cases/shape_overflow.safetensors", st(H), "key 'w' at byte 9: shape x dtype size overflows 64 bits")
H = {"w": t("F32", [3], 0, 8)}
case("cases/size_mismatch.safetensors", st(H, bytes(8)), "key 'w' at byte 9: data_offsets [0, 8] span 8 bytes but shape x dtype needs 12")
H = {"w": t("F8_E4M3FN", [1], 0, 1)}
case("cases/unknown_dtype.safetensors", st(H, b"\0"), "key 'w' at byte 9: unknown dtype \"F8_E4M3FN\"")
H = {"w": t("F4", [3], 0, 2)}
case("cases/f4_odd.safetensors", st(H, b"\0\0"), "key 'w' at byte 9: F4 tensor with an element count that does not fill whole bytes")
case("cases/missing_shape.safetensors", st(b'{"w":{"dtype":"U8","data_offsets":[0,1]}}', b"\0"),
     "key 'w' at byte 9: missing field \"shape\"")
case("cases/float_offset.safetensors", st(b'{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1.0]}}', b"\0"),
     "key 'w' at byte 9: \"data_offsets\" holds something other than a non-negative integer")
dup = b'{"w":' + js(t("U8", [1], 0, 1)) + b',"w":' + js(t("U8", [1], 1, 2)) + b"}"
case("cases/duplicate_name.safetensors", st(dup, b"\0\0"), "key 'w' at byte 9: duplicate tensor name in the header")
case("cases/nul_in_name.safetensors", st(b'{"a\\u0000b":' + js(t("U8", [1], 0, 1)) + b"}", b"\0"),
     "byte 11: a JSON string in the header holds a NUL character")
# A name that would drive a terminal (ESC [ 2 J clears the screen): must come out escaped. (The
# reader finds a key's offset by searching the raw header for the name; a name written with
# escapes is not found that way and the error points at the header's first byte, 8.)
ansi = b'{"\\u001b[2J\\u001b]0;pwned\\u0007x":' + js(t("F32", [2], 0, 4)) + b"}"
case("cases/ansi_name.safetensors", st(ansi, bytes(4)), "key '\\x1b[2J\\x1b]0;pwned\\x07x' at byte 8: data_offsets [0, 4] span 4 bytes")

# ---- directories -----------------------------------------------------------------------------
SHARD1 = {"a": t("F32", [2], 0, 8)}
shard1 = st(SHARD1, struct.pack("<2f", 1, 2))
SHARD2 = {"b": t("F32", [2], 0, 8)}
shard2 = st(SHARD2, struct.pack("<2f", 3, 4))
N1, N2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"


def index(weight_map, total=16):
    return (json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n").encode()


case("cases/no_weights", {"config.json": b'{"model_type": "llama"}\n'},
     "no_weights: not a checkpoint: no model.safetensors.index.json and no *.safetensors files")
for name, shard_name, what in (("index_dotdot", "../x.safetensors", "../x.safetensors"),
                               ("index_absolute", "/etc/passwd", "/etc/passwd"),
                               ("index_subdir", "sub/x.safetensors", "sub/x.safetensors")):
    case("cases/" + name, {"model.safetensors.index.json": index({"a": N1, "b": shard_name}), N1: shard1},
         "model.safetensors.index.json: key 'b'")
case("cases/missing_shard", {"model.safetensors.index.json": index({"a": N1, "b": N2}), N1: shard1}, N2)
case("cases/key_not_in_shard", {"model.safetensors.index.json": index({"a": N1, "b": N1}, total=8), N1: shard1},
     N1 + ": key 'b'")
bad_index = b'{\n  "metadata": {"total_size": 16},\n  "weight_map": {\n    "a": "' + N1.encode() + b'",\n    "b": '
case("cases/bad_index_json", {"model.safetensors.index.json": bad_index, N1: shard1},
     "model.safetensors.index.json: byte %d: unexpected end of file" % len(bad_index))
truncated_config = b'{\n  "model_type": "llama",\n  "hidden_size": 40'
case("cases/truncated_config", {"config.json": truncated_config, "model.safetensors": good},
     "config.json: byte %d: unexpected end of file" % len(truncated_config))

# Made at run time by test_hostile.sh (git and symlinks do not mix well): a shard that is a
# symlink whose target does not exist, one that points at a device, and a FIFO given as the path
# (opening it must not block). A shard symlinked to a file outside the directory is NOT an error:
# the Hugging Face cache links snapshots/<rev>/*.safetensors to ../../blobs/<hash>; the test checks
# that it is followed and read (exit 0). Its target is this valid file:
case("cases/valid_target/model.safetensors", good)
EXPECT_RUNTIME = [
    ("cases/symlink_dangling", "symlink_dangling/model.safetensors"),  # -> does-not-exist.safetensors
    ("cases/symlink_device", "symlink_device/model.safetensors: the shard is not a regular file"),  # -> /dev/zero
    ("cases/fifo.safetensors", "fifo.safetensors: not a checkpoint: neither a file nor a directory"),
]


def main():
    if os.path.isdir(CASES):
        shutil.rmtree(CASES)
    os.makedirs(CASES)
    lines = ["# Generated by make_corpus.py: path<TAB>substring the error line must contain (one line per problem).",
             "# Paths are relative to tests/hostile/. The valid_target case is not hostile (no expect line)."]
    for path, content, expect in cases:
        full = os.path.join(HERE, path)
        if isinstance(content, dict):
            os.makedirs(full, exist_ok=True)
            for name, data in content.items():
                with open(os.path.join(full, name), "wb") as f:
                    f.write(data)
        else:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(content)
        for e in expect:
            lines.append("%s\t%s" % (path, e))
    lines.append("# made at run time by test_hostile.sh (symlinks and FIFOs are not committed):")
    for path, e in EXPECT_RUNTIME:
        lines.append("%s\t%s" % (path, e))
    with open(os.path.join(HERE, "expect.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
