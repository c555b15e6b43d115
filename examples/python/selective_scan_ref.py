#!/usr/bin/env python3
"""Check `freelunch trace MODEL --scan-args FILE` against a numpy port of Mamba-1's reference
`selective_scan_ref` (mamba_ssm/ops/selective_scan_interface.py, variable B and C, batch 1).

    python3 selective_scan_ref.py SCAN_ARGS.json [--tol 1e-9]

For every SSM layer in the file, runs the reference on (u, delta, A, B, C, D, z, delta_bias,
delta_softplus) and compares its output with `y_model`, the model's own gated y. Exits 1 when the
largest difference exceeds tol * max(1, max|y|). Record the trace with `--softplus torch` to compare
like with like (the reference's softplus is torch's, the identity above 20).
"""
import argparse
import json
import sys

import numpy as np


def softplus_torch(x):
    return np.where(x > 20.0, x, np.log1p(np.exp(np.minimum(x, 20.0))))


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """u, delta, z: (b, d, l); A: (d, n); B, C: (b, n, l); D, delta_bias: (d,)."""
    if delta_bias is not None:
        delta = delta + delta_bias[..., None]
    if delta_softplus:
        delta = softplus_torch(delta)
    batch, dim, dstate = u.shape[0], A.shape[0], A.shape[1]
    x = np.zeros((batch, dim, dstate))
    ys = []
    delta_a = np.exp(np.einsum("bdl,dn->bdln", delta, A))
    delta_b_u = np.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    for i in range(u.shape[2]):
        x = delta_a[:, :, i] * x + delta_b_u[:, :, i]
        ys.append(np.einsum("bdn,bn->bd", x, C[:, :, i]))
    y = np.stack(ys, axis=2)
    out = y if D is None else y + u * D[:, None]
    if z is not None:
        out = out * (z / (1.0 + np.exp(-z)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scan_args")
    ap.add_argument("--tol", type=float, default=1e-9)
    a = ap.parse_args()
    with open(a.scan_args) as f:
        j = json.load(f)
    worst = 0.0
    for layer in j["layers"]:
        arr = lambda k: None if layer.get(k) is None else np.array(layer[k], dtype=float)
        out = selective_scan_ref(arr("u"), arr("delta"), arr("A"), arr("B"), arr("C"), arr("D"), arr("z"),
                                 arr("delta_bias"), layer["delta_softplus"])
        want = arr("y_model")
        diff = float(np.max(np.abs(out - want))) if want.size else 0.0
        scale = max(1.0, float(np.max(np.abs(want))) if want.size else 0.0)
        print("%s: shape %s, max |reference - model| = %.3e (scale %.3e)"
              % (layer["layer"], tuple(out.shape), diff, scale))
        worst = max(worst, diff / scale)
    return 0 if worst <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
