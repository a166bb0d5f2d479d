#!/usr/bin/env python3
"""Interop of ckdoc's safetensors reader and writer with the reference implementation (the
`safetensors` package, Rust-backed), driven through two small C tools:

  $TEST_BIN/tools/st_dump FILE       what ckdoc's reader sees (JSON lines, FNV-1a data digests)
  $TEST_BIN/tools/st_write SPEC OUT  ckdoc's writer fed from a JSON spec

Directions checked:
  - the reference writes (every dtype it can write, varied shapes, with/without __metadata__),
    ckdoc reads: names, dtypes, shapes, offsets, metadata and data digests must agree exactly;
  - ckdoc writes (every dtype, pointer / streamed / hole-backed data), the reference reads and
    agrees on everything; and where the reference's output is deterministic (no metadata, or at
    most one metadata key: it emits metadata in hash-map order), files are byte-identical to
    `safetensors.serialize` for the same tensors;
  - sharded checkpoints are byte-identical to huggingface_hub's split rule + the reference writer
    + json.dumps(index, indent=2) with the weight map sorted;
  - numpy / ml_dtypes front end (safetensors.numpy.save / load) both ways.

Prints "PASS: interop/<name>" or "FAIL: interop/<name>" per test; exits 1 on any failure.
Environment: TEST_BIN (the build folder, default ./build), WORK (scratch folder, else a temp dir).
"""
import ctypes
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import ml_dtypes
import numpy as np
import safetensors
import safetensors.numpy
from safetensors import TensorSpec, deserialize, serialize

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEST_BIN = os.environ.get("TEST_BIN", os.path.join(ROOT, "build"))
ST_DUMP = os.path.join(TEST_BIN, "tools", "st_dump")
ST_WRITE = os.path.join(TEST_BIN, "tools", "st_write")

# Bits per element, in the safetensors crate's enum order (formats.md §1.5).
BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8,
    "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16,
    "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64,
    "U64": 64,
}
# The reference's TensorSpec takes framework dtype names; F6_* have none, so the reference can
# read F6 files but not write them.
SPEC_NAME = {
    "BOOL": "bool", "F4": "float4_e2m1fn_x2", "U8": "uint8", "I8": "int8",
    "F8_E5M2": "float8_e5m2", "F8_E4M3": "float8_e4m3fn", "F8_E8M0": "float8_e8m0fnu",
    "F8_E4M3FNUZ": "float8_e4m3fnuz", "F8_E5M2FNUZ": "float8_e5m2fnuz", "I16": "int16",
    "U16": "uint16", "F16": "float16", "BF16": "bfloat16", "I32": "int32", "U32": "uint32",
    "F32": "float32", "C64": "complex64", "F64": "float64", "I64": "int64", "U64": "uint64",
}
SHAPES = [[], [0, 3], [7], [3, 5], [2, 3, 4], [1, 1, 1, 9], [2], [4, 6], [3, 2], [17, 33], [0]]

results = []


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def nbytes(dtype, shape):
    bits = numel(shape) * BITS[dtype]
    return bits // 8 if bits % 8 == 0 else None


def ref_writable(dtype, shape):
    """Whether the reference's TensorSpec can express this tensor: F4 takes the packed storage
    shape and doubles its last dimension, so the logical last dimension must be even."""
    if dtype not in SPEC_NAME:
        return False
    if dtype == "F4":
        return len(shape) > 0 and shape[-1] % 2 == 0
    return True


def tensor_set(dtypes, rng, prefix="", shapes=SHAPES, ref_only=False):
    """{name: (dtype, shape, bytes)} for every valid (dtype, shape) pair."""
    out = {}
    for dt in dtypes:
        for i, shape in enumerate(shapes):
            nb = nbytes(dt, shape)
            if nb is None or (ref_only and not ref_writable(dt, shape)):
                continue
            out["%s%s.s%d" % (prefix, dt.lower(), i)] = (dt, list(shape), rng.randbytes(nb))
    return out


def ref_serialize(tensors, metadata=None):
    """safetensors.serialize over raw bytes (framework-free)."""
    keep, specs = [], {}
    for name, (dt, shape, data) in tensors.items():
        buf = ctypes.create_string_buffer(data, len(data) or 1)
        keep.append(buf)
        storage_shape = list(shape)
        if dt == "F4":
            storage_shape[-1] //= 2
        specs[name] = TensorSpec(dtype=SPEC_NAME[dt], shape=storage_shape,
                                 data_ptr=ctypes.addressof(buf), data_len=len(data))
    out = bytes(serialize(specs, metadata=metadata))
    del keep
    return out


def ref_header(blob):
    n = struct.unpack("<Q", blob[:8])[0]
    return n, json.loads(blob[8:8 + n])


def c_dump(path):
    p = subprocess.run([ST_DUMP, path], capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError("st_dump %s failed: %s" % (path, p.stderr.strip()))
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    return lines[0], lines[1:]


def c_write(path, tensors, metadata=None, stream=(), holes=(), sharded=None):
    """Write with ckdoc's writer; tensors named in `stream` go through the read callback, those in
    `holes` (which must be all zero) are written as holes. Returns (exit status, stderr)."""
    spec = {"tensors": []}
    if metadata is not None:
        spec["metadata"] = metadata
    for name, (dt, shape, data) in tensors.items():
        entry = {"name": name, "dtype": dt, "shape": shape}
        if name in holes:
            assert not any(data)
        else:
            entry["data_hex"] = data.hex()
            if name in stream:
                entry["stream"] = True
        spec["tensors"].append(entry)
    spec_path = path + ".spec.json"
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    argv = [ST_WRITE, spec_path, path] if sharded is None else \
        [ST_WRITE, "--sharded", str(sharded), spec_path, path]
    p = subprocess.run(argv, capture_output=True, text=True)
    os.unlink(spec_path)
    return p.returncode, p.stderr


def expect_dump_matches(path, blob):
    """ckdoc's view of `path` must equal the reference's view of the same bytes `blob`."""
    n, header = ref_header(blob)
    ref = {name: t for name, t in deserialize(blob)}
    head, tensors = c_dump(path)
    assert head["header_len"] == n, (head, n)
    assert head["data_start"] == 8 + n
    assert head["file_size"] == len(blob)
    assert head["metadata"] == header.get("__metadata__"), (head["metadata"], header.get("__metadata__"))
    names = [t["name"] for t in tensors]
    assert names == sorted(ref, key=lambda s: s.encode()), (names, sorted(ref))
    for t in tensors:
        r = ref[t["name"]]
        h = header[t["name"]]
        assert t["dtype"] == r["dtype"] == h["dtype"], (t, r["dtype"])
        assert t["shape"] == list(r["shape"]) == h["shape"], (t, r["shape"])
        assert [t["begin"], t["end"]] == h["data_offsets"], (t, h)
        assert t["fnv1a64"] == fnv1a64(bytes(r["data"])), t["name"]


def expect_ref_reads(blob, tensors, metadata=None):
    """The reference's deserialize must load `blob` and agree with `tensors` on everything."""
    got = {name: t for name, t in deserialize(blob)}
    assert sorted(got) == sorted(tensors), (sorted(got), sorted(tensors))
    for name, (dt, shape, data) in tensors.items():
        g = got[name]
        assert g["dtype"] == dt, (name, g["dtype"], dt)
        assert list(g["shape"]) == shape, (name, g["shape"], shape)
        assert bytes(g["data"]) == data, name
    _, header = ref_header(blob)
    assert header.get("__metadata__") == metadata, (header.get("__metadata__"), metadata)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def expect_identical(c_bytes, ref_bytes, what):
    if c_bytes != ref_bytes:
        i = first_difference(c_bytes, ref_bytes)
        raise AssertionError("%s: ckdoc and reference differ at byte %d (sizes %d/%d): ckdoc %r, ref %r"
                             % (what, i, len(c_bytes), len(ref_bytes), c_bytes[max(0, i - 20):i + 40],
                                ref_bytes[max(0, i - 20):i + 40]))


def handmade(tensors, metadata=None, order=None):
    """A safetensors file built by hand in a given data order (for dtypes the reference cannot
    write, and for layouts the reference writer never produces)."""
    header, data, at = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in order or tensors:
        dt, shape, payload = tensors[name]
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [at, at + len(payload)]}
        data += payload
        at += len(payload)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


# ---- tests -----------------------------------------------------------------------------------


def test_ref_writes_every_dtype(work):
    rng = random.Random(1)
    for dt in SPEC_NAME:
        tensors = tensor_set([dt], rng, ref_only=True)
        assert tensors, dt
        for variant, meta in (("nometa", None), ("meta", {"format": "pt", "dtype": dt}), ("emptymeta", {})):
            blob = ref_serialize(tensors, meta)
            path = os.path.join(work, "ref_%s_%s.safetensors" % (dt, variant))
            with open(path, "wb") as f:
                f.write(blob)
            expect_dump_matches(path, blob)


def test_ref_writes_mixed(work):
    rng = random.Random(2)
    tensors = tensor_set(SPEC_NAME, rng, ref_only=True)
    # Names that need escaping, non-ASCII, and names sorting differently as bytes and as UTF-16.
    for name in ['q"uote', "back\\slash", "new\nline\ttab\x01\x1f", "del\x7f", "caf\u00e9",
                 "emoji\U0001F600", "\uff21wide", ""]:
        tensors[name] = ("U8", [3], rng.randbytes(3))
    blob = ref_serialize(tensors, {"k": "v\n\u00e9"})
    path = os.path.join(work, "ref_mixed.safetensors")
    with open(path, "wb") as f:
        f.write(blob)
    expect_dump_matches(path, blob)


def test_ref_reads_handmade_f6_and_any_order(work):
    """F6 files (the reference can read, not write) and a layout in non-reference order: both
    readers must agree."""
    rng = random.Random(3)
    tensors = tensor_set(["F6_E2M3", "F6_E3M2", "F4", "U64", "BOOL"], rng)
    order = sorted(tensors)  # alphabetical: not the reference writer's dtype order
    blob = handmade(tensors, {"made": "by hand"}, order)
    path = os.path.join(work, "hand.safetensors")
    with open(path, "wb") as f:
        f.write(blob)
    expect_dump_matches(path, blob)


def test_c_writes_every_dtype(work):
    """ckdoc writes each dtype (including F6, which the reference cannot write); the reference
    reads it back exactly; where the reference can write the same tensors, bytes are identical."""
    rng = random.Random(4)
    for dt in BITS:
        tensors = tensor_set([dt], rng)
        names = sorted(tensors)
        stream = set(names[::3])
        for variant, meta in (("nometa", None), ("meta", {"format": "pt"}), ("emptymeta", {})):
            path = os.path.join(work, "c_%s_%s.safetensors" % (dt, variant))
            rc, err = c_write(path, tensors, meta, stream=stream)
            assert rc == 0, err
            blob = read(path)
            expect_ref_reads(blob, tensors, meta)
            expect_dump_matches(path, blob)
            ref_tensors = {k: v for k, v in tensors.items() if ref_writable(*v[:2])}
            if ref_tensors == tensors:
                expect_identical(blob, ref_serialize(tensors, meta), path)
            else:
                # Byte identity on the subset the reference's TensorSpec can express.
                sub = os.path.join(work, "c_%s_%s_sub.safetensors" % (dt, variant))
                if ref_tensors or meta is not None:
                    rc, err = c_write(sub, ref_tensors, meta)
                    assert rc == 0, err
                    if ref_tensors:
                        expect_identical(read(sub), ref_serialize(ref_tensors, meta), sub)


def test_c_writes_mixed_identical(work):
    rng = random.Random(5)
    tensors = tensor_set(SPEC_NAME, rng, ref_only=True)
    for name in ['q"uote', "back\\slash", "new\nline\ttab\x01\x1f\x08\x0c\r", "del\x7f", "caf\u00e9",
                 "emoji\U0001F600", "\uff21wide", ""]:
        tensors[name] = ("I16", [2, 2], rng.randbytes(8))
    # All-zero tensors, left as holes by ckdoc, including one that sorts last (BOOL).
    tensors["zeros.f64"] = ("F64", [64, 64], bytes(64 * 64 * 8))
    tensors["zeros.bool"] = ("BOOL", [1000], bytes(1000))
    holes = {"zeros.f64", "zeros.bool"}
    stream = set(sorted(tensors)[1::2]) - holes
    for meta in (None, {"format": "pt"}, {"k\n\"\u00e9": "v\\\x01\U0001F600"}):
        path = os.path.join(work, "c_mixed.safetensors")
        rc, err = c_write(path, tensors, meta, stream=stream, holes=holes)
        assert rc == 0, err
        blob = read(path)
        expect_ref_reads(blob, tensors, meta)
        expect_identical(blob, ref_serialize(tensors, meta), "mixed, metadata %r" % (meta,))


def test_c_writes_reversed_input_same_bytes(work):
    rng = random.Random(6)
    tensors = tensor_set(BITS, rng)
    a, b = os.path.join(work, "fwd.safetensors"), os.path.join(work, "rev.safetensors")
    assert c_write(a, tensors)[0] == 0
    assert c_write(b, dict(reversed(list(tensors.items()))))[0] == 0
    expect_identical(read(a), read(b), "input order")


def test_metadata_order_vs_reference(work):
    """ckdoc keeps the caller's metadata order; the reference emits a hash-map order, so files
    with two or more metadata keys match the reference in content, not necessarily in bytes."""
    rng = random.Random(7)
    tensors = {"w": ("F32", [4], rng.randbytes(16))}
    meta = {"zeta": "1", "alpha": "2", "mid": "3"}
    path = os.path.join(work, "meta_order.safetensors")
    assert c_write(path, tensors, meta)[0] == 0
    blob = read(path)
    expect_ref_reads(blob, tensors, meta)
    n, _ = ref_header(blob)
    assert blob[8:8 + n].startswith(b'{"__metadata__":{"zeta":"1","alpha":"2","mid":"3"},')
    ref = ref_serialize(tensors, meta)
    assert ref_header(ref)[1] == ref_header(blob)[1]
    assert len(ref) == len(blob)


def test_refusals(work):
    """Inputs the reference writer accepts but that make unreadable files are refused by ckdoc."""
    rng = random.Random(8)
    path = os.path.join(work, "refused.safetensors")
    # A tensor named __metadata__: the reference writes it (safetensors issue #849) and then
    # cannot read its own output.
    bad = {"__metadata__": ("U8", [2], rng.randbytes(2))}
    rc, err = c_write(path, bad)
    assert rc == 1 and "reserved" in err, (rc, err)
    assert not os.path.exists(path)
    ref = ref_serialize(bad)
    try:
        deserialize(ref)
        ref_reads_own = True
    except Exception:
        ref_reads_own = False
    print("  note: reference writes a tensor named __metadata__ and %s" %
          ("reads it back" if ref_reads_own else "cannot read its own file"))
    # A misaligned F4 tensor and a duplicate-free but misaligned F6 tensor.
    for dt, shape in (("F4", [3]), ("F6_E2M3", [2])):
        rc, err = c_write(path, {"x": (dt, shape, b"\0\0")})
        assert rc == 1 and "whole number" in err, (rc, err)
        assert not os.path.exists(path)
    assert not [f for f in os.listdir(work) if ".ckdoc-tmp." in f]


def test_empty_files(work):
    """No tensors: ckdoc's files load in the reference; with metadata={} and no tensors, the
    reference (0.8.0) writes invalid JSON ('{},"__metadata__":{}}') that it cannot read back,
    so only the no-metadata and non-empty-metadata cases are compared byte for byte."""
    for meta in (None, {"a": "b"}, {}):
        path = os.path.join(work, "empty.safetensors")
        rc, err = c_write(path, {}, meta)
        assert rc == 0, err
        blob = read(path)
        expect_ref_reads(blob, {}, meta)
        expect_dump_matches(path, blob)
        ref = ref_serialize({}, meta)
        if meta == {}:
            try:
                deserialize(ref)
                ref_ok = True
            except Exception:
                ref_ok = False
            if ref_ok:
                expect_identical(blob, ref, "empty with {} metadata")
            else:
                print("  note: reference writes unreadable %r for no tensors + empty metadata" % ref[8:])
        else:
            expect_identical(blob, ref, "empty, metadata %r" % (meta,))


def hf_split(tensors, max_shard):
    """huggingface_hub serialization/_base.py split_state_dict_into_shards_factory (no shared
    storage): shard lists in its order."""
    shards, cur, cur_size = [], {}, 0
    for name, t in tensors.items():
        size = len(t[2])
        if size > max_shard:
            shards.append({name: t})
            continue
        if cur_size + size > max_shard:
            shards.append(cur)
            cur, cur_size = {}, 0
        cur[name] = t
        cur_size += size
    if cur:
        shards.append(cur)
    return shards


def test_sharded_matches_hf(work):
    rng = random.Random(9)
    tensors = {}
    for i in range(14):
        dt = rng.choice(list(SPEC_NAME))
        shape = [rng.choice([1, 2, 4, 6, 8, 16]), rng.choice([0, 2, 4, 8, 32, 64])]
        tensors["model.layers.%d.%s" % (i, dt.lower())] = (dt, shape, rng.randbytes(nbytes(dt, shape)))
    tensors["lm_head.\u00e9\U0001F600"] = ("F32", [300], rng.randbytes(1200))  # oversized
    for limit in (1000, 4000, 10 ** 9):
        out = os.path.join(work, "sharded_%d" % limit)
        rc, err = c_write(out, tensors, sharded=limit)
        assert rc == 0, err
        shards = hf_split(tensors, limit)
        n = len(shards)
        expect_files = set()
        weight_map = {}
        for i, shard in enumerate(shards):
            fname = "model.safetensors" if n == 1 else "model-%05d-of-%05d.safetensors" % (i + 1, n)
            expect_files.add(fname)
            for name in shard:
                weight_map[name] = fname
            blob = read(os.path.join(out, fname))
            expect_ref_reads(blob, shard, {"format": "pt"})
            expect_identical(blob, ref_serialize(shard, {"format": "pt"}), fname)
        if n > 1:
            expect_files.add("model.safetensors.index.json")
            index = {"metadata": {"total_size": sum(len(t[2]) for t in tensors.values())},
                     "weight_map": dict(sorted(weight_map.items()))}
            expect_identical(read(os.path.join(out, "model.safetensors.index.json")),
                             json.dumps(index, indent=2).encode(), "index")
        assert set(os.listdir(out)) == expect_files, (sorted(os.listdir(out)), sorted(expect_files))
        assert (n > 1) == (limit < 10 ** 9)


# numpy / ml_dtypes names for the dtypes the numpy front end handles.
NP_TYPES = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16,
    "F16": np.float16, "BF16": ml_dtypes.bfloat16, "I32": np.int32, "U32": np.uint32,
    "F32": np.float32, "C64": np.complex64, "F64": np.float64, "I64": np.int64, "U64": np.uint64,
    "F8_E5M2": ml_dtypes.float8_e5m2, "F8_E4M3": ml_dtypes.float8_e4m3fn,
    "F8_E8M0": ml_dtypes.float8_e8m0fnu, "F8_E4M3FNUZ": ml_dtypes.float8_e4m3fnuz,
    "F8_E5M2FNUZ": ml_dtypes.float8_e5m2fnuz,
}


def test_numpy_front_end(work):
    """safetensors.numpy.save (arrays of numpy and ml_dtypes types) -> ckdoc reads the same; ckdoc
    writes -> safetensors.numpy.load returns the same arrays, bit for bit."""
    rng = np.random.default_rng(10)
    arrays, supported = {}, []
    for dt, npt in NP_TYPES.items():
        raw = rng.integers(0, 2 if dt == "BOOL" else 256, size=48, dtype=np.uint8)
        a = raw.view(npt).reshape(2, -1)
        arrays["np." + dt.lower()] = a
        supported.append(dt)
    blob = safetensors.numpy.save(arrays, metadata={"format": "np"})
    path = os.path.join(work, "np.safetensors")
    with open(path, "wb") as f:
        f.write(blob)
    expect_dump_matches(path, blob)

    tensors = {name: (dt, list(a.shape), a.tobytes()) for (name, a), dt in zip(arrays.items(), supported)}
    cpath = os.path.join(work, "np_c.safetensors")
    assert c_write(cpath, tensors, {"format": "np"})[0] == 0
    expect_identical(read(cpath), blob, "numpy front end")
    # Every array comes back bit for bit through the reference's raw reader viewed as numpy ...
    for name, t in deserialize(read(cpath)):
        a = arrays[name]
        b = np.frombuffer(bytes(t["data"]), dtype=a.dtype).reshape(t["shape"])
        assert b.shape == a.shape and b.tobytes() == a.tobytes(), name
    # ... and through safetensors.numpy.load for the dtypes it maps (its _TYPES table has no
    # BF16 / F8: the numpy front end saves them but cannot load them).
    loadable = {name: t for name, t in tensors.items() if t[0] in safetensors.numpy._TYPES}
    lpath = os.path.join(work, "np_c_loadable.safetensors")
    assert c_write(lpath, loadable)[0] == 0
    loaded = safetensors.numpy.load(read(lpath))
    assert sorted(loaded) == sorted(loadable)
    for name in loadable:
        a, b = arrays[name], loaded[name]
        assert b.dtype == a.dtype and b.shape == a.shape and b.tobytes() == a.tobytes(), name
    print("  note: numpy front end saved %s; loaded %d of them" % (" ".join(supported), len(loadable)))


TESTS = [
    test_ref_writes_every_dtype,
    test_ref_writes_mixed,
    test_ref_reads_handmade_f6_and_any_order,
    test_c_writes_every_dtype,
    test_c_writes_mixed_identical,
    test_c_writes_reversed_input_same_bytes,
    test_metadata_order_vs_reference,
    test_refusals,
    test_empty_files,
    test_sharded_matches_hf,
    test_numpy_front_end,
]


def main():
    for tool in (ST_DUMP, ST_WRITE):
        if not os.access(tool, os.X_OK):
            print("FAIL: interop/tools (missing %s: run make unit)" % tool)
            return 1
    print("  reference: safetensors %s, numpy %s, ml_dtypes %s" %
          (safetensors.__version__, np.__version__, ml_dtypes.__version__))
    base = os.environ.get("WORK")
    return harness.run(TESTS, "st-interop.")


if __name__ == "__main__":
    sys.exit(main())
