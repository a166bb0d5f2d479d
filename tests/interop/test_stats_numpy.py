#!/usr/bin/env python3
"""`ckdoc stats --json` (schema "ckdoc.stats/2", docs/stats.md) against numpy, on safetensors files
written by the reference writer (`safetensors.numpy.save_file`).

Checked, one PASS/FAIL line each:
  - plain dtypes (F32, F16, BF16, F8_E4M3, F8_E5M2, I8, U8, I16, U16, BOOL): count, finite, nan,
    inf, zero, min, max (exact, as f32), mean and std (population) against numpy in float64 over
    the decoded values, on realistic weights with odd shapes, injected NaN / Inf / +-0, empty,
    scalar, constant and all-non-finite tensors;
  - `--histogram`: the 64 bins, exactly, as docs/stats.md defines them (random data, and values
    exactly on the bin edges);
  - without `--histogram` there is no "histogram" key, and everything else is the same;
  - the output is byte-identical for --threads 1, 2 and 3;
  - xxh3: equal bytes hash equal, one changed byte hashes differently; and, where an XXH3
    implementation is at hand (the `xxhash` module, else the libxxhash ckdoc itself links), the
    hash of the raw bytes (of the members concatenated, for a group);
  - quantized groups dequantized with a numpy reference built from docs/stats.md: NVFP4, MXFP4
    (GPT-OSS _blocks/_scales) and FP8 with 128x128 block scales (multiples of 128, and partial
    edge blocks as in DeepSeek-V3's kv_a_proj_with_mqa [576, 7168] / scale [5, 56]).

Prints "PASS: interop/<name>", "FAIL: interop/<name>" or "SKIP: interop/<name>" per check; exits 1
on any failure. Environment: CKDOC (the binary, default ./bin/ckdoc), WORK (scratch folder).
"""
import ctypes
import ctypes.util
import json
import math
import os
import shutil
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

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CKDOC = os.environ.get("CKDOC", os.path.join(ROOT, "bin", "ckdoc"))
SCHEMA = "ckdoc.stats/2"
BINS = 64
SEED = 20240611

NP_TYPES = {
    "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
    "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2,
    "I8": np.int8, "U8": np.uint8, "I16": np.int16, "U16": np.uint16, "BOOL": np.bool_,
}
FLOATS = ("F32", "F16", "BF16", "F8_E4M3", "F8_E5M2")
E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6], dtype=np.float32)


# ---- running ckdoc ---------------------------------------------------------------------------


def ckdoc_stats(path, *args):
    """Runs `ckdoc stats PATH --json ARGS`; returns (stdout text, parsed JSON)."""
    p = subprocess.run([CKDOC, "stats", path, "--json"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, "ckdoc stats %s %s: exit %d: %s" % (path, " ".join(args), p.returncode, err)
    text = p.stdout.decode()

    def no_constants(c):
        raise ValueError("non-JSON constant %r in the output" % c)

    doc = json.loads(text, parse_constant=no_constants)
    assert doc["schema"] == SCHEMA, doc["schema"]
    return text, doc


def rows_by_name(doc):
    rows = {}
    for r in doc["tensors"]:
        assert r["name"] not in rows, "row %r twice" % r["name"]
        rows[r["name"]] = r
    return rows


# ---- the numpy reference ---------------------------------------------------------------------


def ref_stats(values):
    """docs/stats.md over float64 `values` (decoded exactly from the stored type, or dequantized
    in f32): counts, min/max as f32, mean, population std, histogram."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    fin = np.isfinite(x)
    v = x[fin]
    out = {
        "count": int(x.size), "finite": int(v.size), "nan": int(np.isnan(x).sum()),
        "inf": int(np.isinf(x).sum()), "zero": int((v == 0).sum()),
        "mean_abs": float(np.abs(v).mean()) if v.size else 0.0,
    }
    if v.size == 0:
        out.update(min=None, max=None, mean=None, std=None, histogram=[0] * BINS)
        return out
    lo, hi = float(np.float32(v.min())), float(np.float32(v.max()))
    assert lo == v.min() and hi == v.max(), "reference values are not f32"
    mean = math.fsum(v.tolist()) / v.size
    d = v - mean
    std = math.sqrt(math.fsum((d * d).tolist()) / v.size)
    if hi > lo:
        b = np.floor((v - lo) * BINS / (hi - lo))  # float64, left to right as the spec writes it
        b = np.clip(b, 0, BINS - 1).astype(np.int64)
    else:
        b = np.zeros(v.size, dtype=np.int64)
    out.update(min=lo, max=hi, mean=mean, std=std, histogram=np.bincount(b, minlength=BINS).tolist())
    return out


def compare_stats(name, got, ref, histogram):
    """Problems found comparing ckdoc's `stats` object with the reference (empty list: agree)."""
    bad = []
    if got is None:
        return ["%s: stats null, expected numbers" % name]
    for k in ("count", "finite", "nan", "inf", "zero"):
        if got.get(k) != ref[k]:
            bad.append("%s: %s = %r, numpy %r" % (name, k, got.get(k), ref[k]))
    if got["count"] != got["finite"] + got["nan"] + got["inf"]:
        bad.append("%s: count != finite + nan + inf" % name)
    if ref["min"] is None:
        for k in ("min", "max", "mean", "std"):
            if got.get(k, "absent") is not None:
                bad.append("%s: %s = %r, expected null (no finite value)" % (name, k, got.get(k, "absent")))
    else:
        for k in ("min", "max"):
            g = got.get(k)
            if not isinstance(g, (int, float)) or np.float32(g) != np.float32(ref[k]):
                bad.append("%s: %s = %r, numpy %r" % (name, k, g, ref[k]))
            elif g == 0 and math.copysign(1.0, g) < 0:
                bad.append("%s: %s printed as -0" % (name, k))
        ma = ref["mean_abs"]
        g = got.get("mean")
        if not isinstance(g, (int, float)) or abs(g - ref["mean"]) > 1e-6 * ma:
            bad.append("%s: mean = %r, numpy %r (tolerance %.3g)" % (name, g, ref["mean"], 1e-6 * ma))
        g = got.get("std")
        tol = 1e-5 * ref["std"] + 1e-6 * ma
        if not isinstance(g, (int, float)) or g < 0 or abs(g - ref["std"]) > tol:
            bad.append("%s: std = %r, numpy %r (tolerance %.3g)" % (name, g, ref["std"], tol))
    if histogram:
        h = got.get("histogram")
        if h != ref["histogram"]:
            diff = [(i, h[i], ref["histogram"][i]) for i in range(BINS)
                    if isinstance(h, list) and len(h) == BINS and h[i] != ref["histogram"][i]]
            bad.append("%s: histogram differs (bin, ckdoc, numpy): %s" % (name, diff[:8] if diff else h))
    elif "histogram" in got:
        bad.append("%s: histogram key present without --histogram" % name)
    return bad


def check_rows(doc, expect, histogram):
    """`expect`: name -> dict(format, dtype, shape, members, values); the rows must be exactly
    these, in name order, each agreeing with the reference."""
    names = [r["name"] for r in doc["tensors"]]
    assert sorted(names, key=lambda s: s.encode()) == names, "rows not in name order: %s" % names
    assert set(names) == set(expect), "rows %s, expected %s" % (sorted(names), sorted(expect))
    bad = []
    for r in doc["tensors"]:
        e = expect[r["name"]]
        for k in ("format", "dtype", "shape", "members"):
            if r[k] != e[k]:
                bad.append("%s: %s = %r, expected %r" % (r["name"], k, r[k], e[k]))
        if e["values"] is None:
            if r["stats"] is not None:
                bad.append("%s: stats for a dtype without statistics" % r["name"])
            continue
        bad += compare_stats(r["name"], r["stats"], ref_stats(e["values"]), histogram)
    assert not bad, "\n  ".join(["%d problems:" % len(bad)] + bad)


# ---- the inputs ------------------------------------------------------------------------------


def inject(rng, a, count, value):
    """Sets `count` random elements of the flat float32 array `a` to `value`."""
    if a.size:
        a[rng.choice(a.size, size=min(count, a.size), replace=False)] = value


def plain_arrays(rng):
    """Arrays of every plain dtype; name -> numpy array (stored dtype)."""
    arrays = {}
    for dt, npt in NP_TYPES.items():
        p = dt.lower()
        shapes = {"a": [3, 1027], "b": [1], "c": [0, 5], "d": [4096, 257], "e": [], "f": [5, 3, 7]}
        for tag, shape in shapes.items():
            n = int(np.prod(shape))
            if dt in FLOATS:
                w = (rng.standard_normal(n) * 0.02).astype(np.float32)
                if dt == "F8_E4M3":
                    w *= 1000  # weights stored in FP8 are scaled into its range
                if dt == "F8_E5M2":
                    w *= 100
                if tag in ("a", "f"):
                    inject(rng, w, 7, 0.0)
                    inject(rng, w, 5, -0.0)
                    inject(rng, w, 3, np.nan)
                if tag == "a" and dt != "F8_E4M3":  # e4m3fn has no Inf (an Inf cast is NaN)
                    inject(rng, w, 2, np.inf)
                    inject(rng, w, 1, -np.inf)
                a = w.astype(npt)
            elif dt == "BOOL":
                a = rng.integers(0, 2, size=n).astype(np.bool_)
            else:
                info = np.iinfo(npt)
                a = rng.integers(int(info.min), int(info.max) + 1, size=n, dtype=np.int64)
                if tag in ("a", "f") and n:
                    a[rng.choice(n, size=9, replace=False)] = 0
                a = a.astype(npt)
            arrays["%s.%s" % (p, tag)] = a.reshape(shape)
        # min == max (all in bin 0), with non-finite values beside where the type has them
        const = np.full(63, 3 if dt != "BOOL" else 1, dtype=np.float32)
        if dt in FLOATS:
            const[5] = np.nan
        arrays[p + ".const"] = const.astype(npt).reshape(7, 9)
        if dt in FLOATS:
            nonfin = np.array([np.nan, -np.nan, np.inf, -np.inf] * 3, dtype=np.float32)
            if dt == "F8_E4M3":
                nonfin = np.array([np.nan] * 12, dtype=np.float32)
            arrays[p + ".nonfinite"] = nonfin.astype(npt).reshape(3, 4)
            arrays[p + ".signed_zero"] = np.array([-0.0, 0.0, -0.0, 1.5, -0.0], dtype=np.float32).astype(npt)
            arrays[p + ".neg_zero_max"] = np.array([-0.0, -1.0, -0.5], dtype=np.float32).astype(npt)
    # Large mean against a small std (shifted weights, as a norm's weight).
    arrays["f32.offset"] = (1.0 + rng.standard_normal(50000) * 0.02).astype(np.float32).reshape(250, 200)
    arrays["bf16.offset"] = (1.0 + rng.standard_normal(50000) * 0.02).astype(np.float32).astype(
        ml_dtypes.bfloat16).reshape(250, 200)
    # Subnormals and the extremes of F16 / F32.
    arrays["f16.extremes"] = np.array([65504, -65504, 6e-8, -6e-8, 1e-5, 0], dtype=np.float32).astype(np.float16)
    arrays["f32.extremes"] = np.array([3.4028235e38, -3.4028235e38, 1e-45, -1e-45, 1.2e-38, 1.0], dtype=np.float32)
    return arrays


def plain_expect(arrays):
    return {name: {"format": "raw", "dtype": dtype_name(a), "shape": list(a.shape), "members": [name],
                   "values": a.astype(np.float64)}
            for name, a in arrays.items()}


def dtype_name(a):
    for dt, npt in NP_TYPES.items():
        if a.dtype == np.dtype(npt):
            return dt
    raise KeyError(a.dtype)


def save(path, arrays):
    safetensors.numpy.save_file(arrays, path)
    return path


def nvfp4_group(rng, name, rows, cols):
    """NVFP4: name U8 [rows, cols/2] (low nibble first), name_scale F8_E4M3 [rows, ceil(cols/16)],
    name_scale_2 F32 scalar. Returns (arrays, expectation)."""
    packed = rng.integers(0, 256, size=(rows, cols // 2), dtype=np.uint8)
    sc = rng.uniform(1, 448, size=(rows, (cols + 15) // 16)).astype(np.float32)
    sc.reshape(-1)[rng.choice(sc.size, size=3, replace=False)] = 0  # all-zero blocks
    scale = sc.astype(ml_dtypes.float8_e4m3fn)
    scale_2 = np.array(0.02 / 448, dtype=np.float32)
    codes = np.empty((rows, cols), dtype=np.uint8)
    codes[:, 0::2] = packed & 0xF
    codes[:, 1::2] = packed >> 4
    s = np.repeat(scale.astype(np.float32), 16, axis=1)[:, :cols]
    vals = (E2M1[codes] * s) * scale_2  # f32, in that order
    assert vals.dtype == np.float32
    arrays = {name: packed, name + "_scale": scale, name + "_scale_2": scale_2}
    return arrays, {name: {"format": "nvfp4", "dtype": "U8", "shape": [rows, cols],
                           "members": [name, name + "_scale", name + "_scale_2"], "values": vals}}


def mxfp4_group(rng, base, lead, groups, e8m0=False):
    """GPT-OSS MXFP4: base_blocks U8 [*lead, G, 16], base_scales U8 (or F8_E8M0) [*lead, G] (bias 127);
    value = e2m1(code) * 2^(scale - 127), shape [*lead, G*32], low nibble first."""
    blocks = rng.integers(0, 256, size=lead + [groups, 16], dtype=np.uint8)
    scales = rng.integers(112, 131, size=lead + [groups], dtype=np.uint8)
    codes = np.empty(lead + [groups, 32], dtype=np.uint8)
    codes[..., 0::2] = blocks & 0xF
    codes[..., 1::2] = blocks >> 4
    pow2 = np.ldexp(np.float32(1), scales.astype(np.int32) - 127).astype(np.float32)
    vals = (E2M1[codes] * pow2[..., None]).astype(np.float32).reshape(lead + [groups * 32])
    arrays = {base + "_blocks": blocks,
              base + "_scales": scales.view(ml_dtypes.float8_e8m0fnu) if e8m0 else scales}
    return arrays, {base: {"format": "mxfp4", "dtype": "U8", "shape": lead + [groups * 32],
                           "members": [base + "_blocks", base + "_scales"], "values": vals}}


def fp8_group(rng, name, rows, cols, block=128):
    """FP8 block-scaled: name F8_E4M3 [rows, cols] + name_scale_inv F32 [ceil(rows/128),
    ceil(cols/128)]; value = fp8 * scale_inv[r // 128][c // 128] in f32."""
    w = np.clip(rng.standard_normal((rows, cols)) * 60, -448, 448).astype(np.float32)
    w.reshape(-1)[rng.choice(w.size, size=5, replace=False)] = 0
    q = w.astype(ml_dtypes.float8_e4m3fn)
    si = rng.uniform(1e-4, 1e-3, size=(-(-rows // block), -(-cols // block))).astype(np.float32)
    s = np.repeat(np.repeat(si, block, axis=0), block, axis=1)[:rows, :cols]
    vals = q.astype(np.float32) * s
    assert vals.dtype == np.float32
    arrays = {name: q, name + "_scale_inv": si}
    return arrays, {name: {"format": "fp8", "dtype": "F8_E4M3", "shape": [rows, cols],
                           "members": [name, name + "_scale_inv"], "values": vals}}


def build_quant(work, rng, which):
    arrays, expect = {}, {}
    parts = {
        "nvfp4": [lambda: nvfp4_group(rng, "model.layers.0.mlp.down_proj.weight", 37, 200),
                  lambda: nvfp4_group(rng, "model.layers.0.mlp.up_proj.weight", 64, 4096)],
        "mxfp4": [lambda: mxfp4_group(rng, "model.layers.0.mlp.experts.down_proj", [2, 5], 3),
                                lambda: mxfp4_group(rng, "model.layers.0.mlp.experts.gate_up_proj", [4, 64], 90),
                  lambda: mxfp4_group(rng, "model.layers.1.mlp.experts.down_proj", [3, 7], 2, e8m0=True)],
        "fp8_aligned": [lambda: fp8_group(rng, "model.layers.0.self_attn.q_b_proj.weight", 384, 256),
                        lambda: fp8_group(rng, "model.layers.0.mlp.gate_proj.weight", 128, 1024)],
        # Partial edge blocks: DeepSeek-V3's kv_a_proj_with_mqa is [576, 7168] with a [5, 56] scale.
        "fp8_partial_blocks": [lambda: fp8_group(rng, "model.layers.0.self_attn.kv_a_proj_with_mqa.weight", 576, 448),
                               lambda: fp8_group(rng, "model.layers.0.self_attn.o_proj.weight", 300, 200)],
    }[which]
    for make in parts:
        a, e = make()
        arrays.update(a)
        expect.update(e)
    return save(os.path.join(work, which + ".safetensors"), arrays), expect


# ---- xxh3 ------------------------------------------------------------------------------------


def xxh3_impl():
    """An XXH3-64 (seed 0) of bytes, and what it is; (None, why) without one."""
    try:
        import xxhash  # optional; never a dependency of the tests
        return (lambda b: xxhash.xxh3_64_intdigest(b)), "xxhash %s" % xxhash.VERSION
    except ImportError:
        pass
    for lib in ("libxxhash.so.0", ctypes.util.find_library("xxhash")):
        if not lib:
            continue
        try:
            so = ctypes.CDLL(lib)
        except OSError:
            continue
        fn = so.XXH3_64bits
        fn.restype = ctypes.c_uint64
        fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        return (lambda b: fn(b, len(b))), "%s (one-shot XXH3_64bits, through ctypes)" % lib
    return None, "neither the xxhash module nor libxxhash is available"


# ---- tests -----------------------------------------------------------------------------------


def test_plain_dtypes(work, rng):
    arrays = plain_arrays(rng)
    path = save(os.path.join(work, "plain.safetensors"), arrays)
    _, doc = ckdoc_stats(path)
    check_rows(doc, plain_expect(arrays), histogram=False)


def test_histogram(work, rng):
    """Plain tensors and the dequantized groups (but for FP8 with partial blocks: its own check)."""
    arrays = plain_arrays(rng)
    runs = [(save(os.path.join(work, "plain.safetensors"), arrays), plain_expect(arrays))]
    runs += [build_quant(work, rng, which) for which in ("nvfp4", "mxfp4", "fp8_aligned")]
    problems = []
    for path, expect in runs:
        _, doc = ckdoc_stats(path, "--histogram")
        try:
            check_rows(doc, expect, histogram=True)
        except AssertionError as e:
            problems.append("%s: %s" % (os.path.basename(path), e))
        for r in doc["tensors"]:
            if r["stats"] is not None:
                h = r["stats"]["histogram"]
                assert len(h) == BINS and sum(h) == r["stats"]["finite"], r["name"]
    assert not problems, "\n".join(problems)


def test_histogram_bin_edges(work, rng):
    """Values exactly on the bin edges min + k (max - min) / 64: the spec's
    (x - min) * 64 / (max - min) is then exactly k (the product by 64 is exact), so each value
    is in bin k (k = 64: bin 63), with no rounding to hide behind."""
    arrays = {}
    for lo, hi in ((-448, 30), (-5, 1000), (-6, 6), (1, 2), (-0.75, 0.75), (-3, 7)):
        v = (lo + (hi - lo) * np.arange(BINS + 1) / BINS).astype(np.float32)
        assert (((v.astype(np.float64) - lo) * BINS / (hi - lo)) == np.arange(BINS + 1)).all()
        arrays["f32.edges_%g_%g" % (lo, hi)] = v
        arrays["bf16.edges_%g_%g" % (lo, hi)] = v.astype(ml_dtypes.bfloat16)
    arrays["u8.all"] = np.arange(256, dtype=np.uint8)
    arrays["i16.all"] = np.arange(-32768, 32768, dtype=np.int16)
    arrays["u16.all"] = np.arange(65536, dtype=np.uint16)
    expect = plain_expect(arrays)
    # FP8 with per-tensor scales, symmetric range: +-448 * s, +-224 * s sit on the edges of bins
    # 16 and 48, as in every FP8 block whose largest value is 448 and that holds a 224.
    q = np.array([-448, -224, -112, 0, 112, 224, 448], dtype=np.float32).astype(ml_dtypes.float8_e4m3fn)
    for k, sc in enumerate(rng.uniform(1e-4, 1e-3, size=8).astype(np.float32)):
        name = "fp8.edges_%d.weight" % k
        arrays[name], arrays[name + "_scale_inv"] = q, np.array(sc, dtype=np.float32)
        expect[name] = {"format": "fp8", "dtype": "F8_E4M3", "shape": [7], "members": [name, name + "_scale_inv"],
                        "values": q.astype(np.float32) * sc}
    path = save(os.path.join(work, "edges.safetensors"), arrays)
    _, doc = ckdoc_stats(path, "--histogram")
    check_rows(doc, expect, histogram=True)


def test_histogram_key_only_with_flag(work, rng):
    arrays = plain_arrays(rng)
    qpath, _ = build_quant(work, rng, "nvfp4")
    for path in (save(os.path.join(work, "plain.safetensors"), arrays), qpath):
        text, doc = ckdoc_stats(path)
        assert '"histogram"' not in text, "histogram in the output without --histogram"
        assert doc["schema"] == SCHEMA and text.startswith('{"schema":"%s",' % SCHEMA), text[:60]
        _, hdoc = ckdoc_stats(path, "--histogram")
        assert hdoc["schema"] == SCHEMA
        # Everything but the histogram is the same with and without the flag.
        for r in hdoc["tensors"]:
            if r["stats"] is not None:
                assert len(r["stats"].pop("histogram")) == BINS, r["name"]
        assert hdoc == doc, "the rows differ with and without --histogram"


def test_threads_deterministic(work, rng):
    arrays = plain_arrays(rng)
    paths = [save(os.path.join(work, "plain.safetensors"), arrays)]
    for which in ("nvfp4", "mxfp4", "fp8_aligned", "fp8_partial_blocks"):
        paths.append(build_quant(work, rng, which)[0])
    for path in paths:
        for extra in ([], ["--histogram"]):
            outs = {t: ckdoc_stats(path, "--threads", str(t), *extra)[0] for t in (1, 2, 3)}
            for t in (2, 3):
                assert outs[t] == outs[1], "%s %s: --threads %d differs from --threads 1" % (
                    os.path.basename(path), " ".join(extra), t)


def test_xxh3_equal_bytes(work, rng):
    a = (rng.standard_normal((33, 65)) * 0.02).astype(np.float32)
    b = a.copy()
    c = a.copy()
    c.view(np.uint8).reshape(-1)[1234] ^= 0x01  # one byte changed
    d = a.copy()
    d.view(np.uint8).reshape(-1)[-1] ^= 0x80     # the last byte changed
    e = a.view(np.int32).copy()                  # same bytes, another dtype
    arrays = {"a": a, "b": b, "c": c, "d": d, "e": e}
    path = save(os.path.join(work, "hash.safetensors"), arrays)
    rows = rows_by_name(ckdoc_stats(path)[1])
    for r in rows.values():
        assert len(r["hash"]) == 16 and r["hash"] == r["hash"].lower() and int(r["hash"], 16) >= 0, r["hash"]
    assert rows["a"]["hash"] == rows["b"]["hash"], "identical bytes, different hashes"
    assert rows["a"]["hash"] == rows["e"]["hash"], "identical bytes (F32 / I32), different hashes"
    assert rows["e"]["stats"] is None, "I32 has no statistics"
    assert rows["a"]["hash"] != rows["c"]["hash"], "one byte changed, same hash"
    assert rows["a"]["hash"] != rows["d"]["hash"], "last byte changed, same hash"
    assert len({rows[k]["hash"] for k in "acd"}) == 3


def test_xxh3_reference(work, rng):
    """Returns "skip: why" where no XXH3 implementation is at hand."""
    h, what = xxh3_impl()
    if h is None:
        return "skip: " + what
    arrays = plain_arrays(rng)
    path = save(os.path.join(work, "plain.safetensors"), arrays)
    qpaths = [build_quant(work, rng, which)[0] for which in ("nvfp4", "mxfp4", "fp8_aligned")]
    def content_hash(members):
        # kernels/hash.h: XXH3-64 of the little-endian XXH3-64 digests of each member's 1 MiB blocks
        block = 1 << 20
        digests = b"".join(h(m[i:i + block]).to_bytes(8, "little") for m in members for i in range(0, len(m), block))
        return h(digests)

    bad = []
    for name, r in rows_by_name(ckdoc_stats(path)[1]).items():
        want = "%016x" % content_hash([arrays[name].tobytes()])
        if r["hash"] != want:
            bad.append("%s: %s, %s %s" % (name, r["hash"], what, want))
    # Groups: each member's blocks in the order of `members`. The stored bytes are read back
    # through the reference's raw deserializer.
    for qpath in qpaths:
        with open(qpath, "rb") as f:
            raw = {n: bytes(t["data"]) for n, t in safetensors.deserialize(f.read())}
        for name, r in rows_by_name(ckdoc_stats(qpath)[1]).items():
            want = "%016x" % content_hash([raw[m] for m in r["members"]])
            if r["hash"] != want:
                bad.append("%s: %s, %s %s" % (name, r["hash"], what, want))
    assert not bad, "\n  ".join(bad)
    print("  note: xxh3 compared with %s" % what)


def quant_test(which):
    def test(work, rng):
        path, expect = build_quant(work, rng, which)
        _, doc = ckdoc_stats(path)
        check_rows(doc, expect, histogram=False)
    test.__name__ = "test_quant_" + which
    return test


TESTS = [
    test_plain_dtypes,
    test_histogram,
    test_histogram_bin_edges,
    test_histogram_key_only_with_flag,
    test_threads_deterministic,
    test_xxh3_equal_bytes,
    test_xxh3_reference,
    quant_test("nvfp4"),
    quant_test("mxfp4"),
    quant_test("fp8_aligned"),
    quant_test("fp8_partial_blocks"),
]


def main():
    if not os.access(CKDOC, os.X_OK):
        print("FAIL: interop/stats_numpy (no ckdoc binary at %s: run make)" % CKDOC)
        return 1
    print("  reference: safetensors %s, numpy %s, ml_dtypes %s" %
          (safetensors.__version__, np.__version__, ml_dtypes.__version__))
    return harness.run(TESTS, "stats-numpy.", "stats_", call=lambda test, work, i: test(work, np.random.default_rng([SEED, i])))


if __name__ == "__main__":
    sys.exit(main())
