"""Make a GPT-OSS BF16 fixture look trained in one respect: per-unit norm balance. For every layer,
expert and unit j, the up-projection column of unit j (odd column 2j+1 of gate_up_proj [E, H, 2I])
and the down_proj row of unit j ([E, I, H]) are scaled by the same power of two (exact in BF16).
With --transpose, down_proj is then stored transposed per expert (same shape, since I == H).
Edits the checkpoint directory in place. Pure Python: the test needs no numpy."""
import glob, json, random, struct, sys

def tensors(d):
    out = {}
    for path in sorted(glob.glob(d + "/*.safetensors")):
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            for k, v in json.loads(f.read(n)).items():
                if k != "__metadata__":
                    out[k] = (path, 8 + n + v["data_offsets"][0], v["shape"], v["dtype"])
    return out

def read(t):
    path, off, shape, dtype = t
    assert dtype == "BF16", dtype
    count = 1
    for s in shape: count *= s
    with open(path, "rb") as f:
        f.seek(off)
        return list(struct.unpack("<%dH" % count, f.read(2 * count)))

def write(t, vals):
    path, off, _, _ = t
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(struct.pack("<%dH" % len(vals), *vals))

def scale(b, k):
    e = (b >> 7) & 0xFF
    if 0 < e < 255 and 0 < e + k < 255:
        return (b & ~(0xFF << 7)) | ((e + k) << 7)
    return b

d, transpose = sys.argv[1], "--transpose" in sys.argv
ts = tensors(d)
rng = random.Random(7)
for key in sorted(k for k in ts if k.endswith("mlp.experts.down_proj")):
    gu_t, dn_t = ts[key.replace("down_proj", "gate_up_proj")], ts[key]
    E, H, I2 = gu_t[2]
    I = I2 // 2
    gu, dn = read(gu_t), read(dn_t)
    for e in range(E):
        for j in range(I):
            k = rng.choice((-3, -2, -1, 0, 1, 2, 3))
            for h in range(H):
                i = (e * H + h) * I2 + 2 * j + 1
                gu[i] = scale(gu[i], k)
                i = (e * I + j) * H + h
                dn[i] = scale(dn[i], k)
        if transpose:
            block = dn[e * I * H:(e + 1) * I * H]
            dn[e * I * H:(e + 1) * I * H] = [block[c * H + r] for r in range(I) for c in range(H)]
    write(gu_t, gu)
    write(dn_t, dn)
