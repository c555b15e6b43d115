#!/usr/bin/env python3
"""Run a freelunch model export with numpy only, following docs/export.md (schema version 1).

    python3 run_export.py MODEL.json [--pick NAME|INDEX] [--input 0,1,2] [--softplus exact|torch]

Prints the generated tokens (token models) or the value read at the last position (blocks fed
vectors), and exits 1 when the file's expected tokens / value are not reproduced.
Everything runs in float64; nothing here is imported from the Rust code.
"""
import argparse
import json
import math
import sys

import numpy as np

SCHEMA_VERSION = 1
_erf = np.vectorize(math.erf, otypes=[float])
_erfc = np.vectorize(math.erfc, otypes=[float])


def dense(m):
    """A sparse matrix {shape, entries: [{i, j, value}]} as a dense float64 array."""
    a = np.zeros(tuple(m["shape"]))
    for e in m["entries"]:
        a[e["i"], e["j"]] = float(e["value"])
    return a


def vec(v):
    return np.array([float(x) for x in v], dtype=float)


def softplus(x, mode):
    exact = np.logaddexp(0.0, x)  # ln(1 + e^x) without overflow
    if mode == "torch":  # torch.nn.functional.softplus: the identity above threshold 20
        return np.where(x > 20.0, x, exact)
    return exact


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def activation(name, x):
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "gelu":  # exact erf GeLU: x * Phi(x)
        return x * 0.5 * _erfc(-x / math.sqrt(2.0))
    if name == "silu":
        return x * sigmoid(x)
    raise ValueError("unknown activation " + name)


def positional(f, t):
    k = f["kind"]
    if k == "constant":
        return f["num"] / f["den"]
    if k == "position":
        return float(t)
    if k == "position_squared":
        return float(t * t)
    if k == "equals":
        return 1.0 if t == f["at"] else 0.0
    if k == "at_least":
        return 1.0 if t >= f["from"] else 0.0
    if k == "modulo":
        return 1.0 if t % f["modulus"] == f["residue"] else 0.0
    if k == "table":
        vals = f["values"]
        return float(vals[t - 1]) if t - 1 < len(vals) else 0.0
    raise ValueError("unknown positional feature " + k)


class Model:
    def __init__(self, j, softplus_mode="exact"):
        if j.get("format") != "freelunch-model" or j.get("schema_version") != SCHEMA_VERSION:
            raise ValueError("not a freelunch-model export of schema version %d" % SCHEMA_VERSION)
        self.j = j
        self.mode = softplus_mode
        self.width = j["residual"]["width"]
        self.coords = j["residual"]["coord_names"]
        self.vocab = j["vocab"]
        self.emb = dense(j["token_embedding"]) if self.vocab else None
        self.readout = dense(j["readout"]) if self.vocab else None
        self.bias = vec(j["readout_bias"]) if self.vocab else None
        self.pos = j["positional"]
        self.layers = []
        for l in j["layers"]:
            k = l["kind"]
            if k == "mlp":
                self.layers.append(("mlp", dict(w1=dense(l["w1"]), b1=vec(l["b1"]), w2=dense(l["w2"]),
                                                b2=vec(l["b2"]), act=l["activation"])))
            elif k == "ssm":
                d, n = l["channels"], l["state"]
                gate = l.get("gate")
                self.layers.append(("ssm", dict(
                    w_delta=dense(l["w_delta"]), b_delta=vec(l["b_delta"]), w_b=dense(l["w_b"]),
                    w_c=dense(l["w_c"]), w_u=dense(l["w_u"]), A=vec(l["A"]["values"]).reshape(d, n),
                    D=vec(l["D"]), w_o=dense(l["w_o"]),
                    w_z=dense(gate["w_z"]) if gate else None, b_z=vec(gate["b_z"]) if gate else None)))
            elif k == "attention":
                self.layers.append(("attention", [dict(q=dense(h["w_q"]), k=dense(h["w_k"]), v=dense(h["w_v"]),
                                                       o=dense(h["w_o"])) for h in l["heads"]]))
            else:
                raise ValueError("unknown layer kind " + k)
        self.reset()

    def reset(self):
        self.t = 0
        self.state = []
        for kind, p in self.layers:
            if kind == "ssm":
                self.state.append(np.zeros(p["A"].shape))
            elif kind == "attention":
                self.state.append([([], []) for _ in p])
            else:
                self.state.append(None)

    def step(self, x):
        """Feed one residual input vector (embedding or block input); returns the final residual."""
        self.t += 1
        x = np.array(x, dtype=float)
        for f in self.pos:
            x[f["coord"]] += positional(f, self.t)
        for (kind, p), k in zip(self.layers, range(len(self.layers))):
            if kind == "mlp":
                x = x + p["w2"] @ activation(p["act"], p["w1"] @ x + p["b1"]) + p["b2"]
            elif kind == "ssm":
                delta = softplus(p["w_delta"] @ x + p["b_delta"], self.mode)
                b, c, u = p["w_b"] @ x, p["w_c"] @ x, p["w_u"] @ x
                h = self.state[k]
                h[:] = np.exp(delta[:, None] * p["A"]) * h + (delta * u)[:, None] * b[None, :]
                y = h @ c + p["D"] * u
                if p["w_z"] is not None:
                    z = p["w_z"] @ x + p["b_z"]
                    y = y * z * sigmoid(z)
                x = x + p["w_o"] @ y
            else:  # attention: every head reads the same pre-layer x; no 1/sqrt(d)
                add = np.zeros_like(x)
                for head, (keys, values) in zip(p, self.state[k]):
                    keys.append(head["k"] @ x)
                    values.append(head["v"] @ x)
                    s = np.array([head["q"] @ x @ kk for kk in keys])
                    w = np.exp(s - s.max())
                    w /= w.sum()
                    add += head["o"] @ (w @ np.array(values))
                x = x + add
        return x

    def logits(self, x):
        return self.readout @ x + self.bias

    def generate(self, prompt, count):
        self.reset()
        out = []
        for tok in prompt:
            x = self.step(self.emb[tok])
        for i in range(count):
            nxt = int(np.argmax(self.logits(x)))  # ties: numpy returns the lowest index
            out.append(nxt)
            if i + 1 < count:
                x = self.step(self.emb[nxt])
        return out


def pick(j, which):
    if j.get("format") != "freelunch-model-collection":
        return j
    models = j["models"]
    if which is None:
        if len(models) != 1:
            raise SystemExit("the file holds %d models: use --pick" % len(models))
        return models[0]
    if which.isdigit():
        return models[int(which)]
    for m in models:
        if m.get("example") == which or m.get("name") == which:
            return m
    raise SystemExit("no model %r in the file" % which)


def parse_input(text, vocab):
    parts = [p.strip() for p in text.split(",")] if "," in text else text.split()
    if len(parts) == 1 and all(ch in vocab for ch in parts[0]):
        parts = list(parts[0])
    return [vocab.index(p) if p in vocab else int(p) for p in parts]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--pick")
    ap.add_argument("--input")
    ap.add_argument("--softplus", default="exact", choices=["exact", "torch"])
    a = ap.parse_args()
    with open(a.model) as f:
        j = pick(json.load(f), a.pick)
    m = Model(j, a.softplus)
    d = j.get("decoding") or {}
    if m.vocab:
        if a.input is not None:
            prompt = parse_input(a.input, m.vocab) + list(d.get("suffix") or [])
        else:
            prompt = d["prompt"]
        out = m.generate(prompt, d["generate"])
        print(" ".join(m.vocab[t] for t in out))
        if a.input is None and d.get("expected") is not None and out != d["expected"]:
            print("MISMATCH: expected " + " ".join(m.vocab[t] for t in d["expected"]), file=sys.stderr)
            return 1
        return 0
    x = None
    for v in d["inputs"]:
        x = m.step(v)
    val = x[m.coords.index(d["read"])]
    if d.get("read_divisor"):
        val /= x[m.coords.index(d["read_divisor"])]
    print("%.17g" % val)
    if d.get("expected_read") is not None and not abs(val - d["expected_read"]) <= d["tolerance"]:
        print("error %.3e above the tolerance %.3e" % (abs(val - d["expected_read"]), d["tolerance"]),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
