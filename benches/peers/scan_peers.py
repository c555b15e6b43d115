#!/usr/bin/env python3
"""Peer timings for the certified-scan benchmark (benches/certified.rs calls this when available).

Reads a JSON scan instance from the file given as argv[1]: precision `bits`, sizes T/D/N, `a`
(D*N decay rates), `d_skip` (D), `structured` (A[d,n] = (n+1)·A[d,0]: one exp per channel, then
powers, as freelunch does), and per step `delta` (D), `b` (N), `c` (N), `u` (D) as decimal
strings. Runs the same recurrence h <- exp(delta·A)·h + delta·u·b, y = Σ c·h + D·u with
python-flint's `arb` (ball arithmetic) and with mpmath (gmpy2 backend), and prints one JSON
line: nanoseconds per state update for each peer that is installed (null when missing).
"""
import json
import sys
import time


def scan(inst, num, exp, reps):
    D, N = inst["D"], inst["N"]
    a = [num(x) for x in inst["a"]]
    dsk = [num(x) for x in inst["d_skip"]]
    steps = [
        {k: [num(x) for x in s[k]] for k in ("delta", "b", "c", "u")} for s in inst["steps"]
    ]
    structured = inst["structured"]
    best = float("inf")
    for _ in range(reps):
        h = [num(0) for _ in range(D * N)]
        t0 = time.perf_counter()
        for s in steps:
            for d in range(D):
                du = s["delta"][d] * s["u"][d]
                y = dsk[d] * s["u"][d]
                if structured:
                    dec = exp(s["delta"][d] * a[d * N])
                    p = dec
                    for n in range(N):
                        h[d * N + n] = p * h[d * N + n] + du * s["b"][n]
                        y += s["c"][n] * h[d * N + n]
                        p = p * dec
                else:
                    for n in range(N):
                        p = exp(s["delta"][d] * a[d * N + n])
                        h[d * N + n] = p * h[d * N + n] + du * s["b"][n]
                        y += s["c"][n] * h[d * N + n]
        best = min(best, time.perf_counter() - t0)
    return best / (len(steps) * D * N) * 1e9


def main():
    inst = json.load(open(sys.argv[1]))
    bits = inst["bits"]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    out = {"arb_ns": None, "mpmath_ns": None, "mpmath_backend": None}
    try:
        import flint

        flint.ctx.prec = bits
        out["arb_ns"] = scan(inst, lambda x: flint.arb(x), lambda x: x.exp(), reps)
    except ImportError:
        pass
    try:
        import mpmath

        mpmath.mp.prec = bits
        out["mpmath_backend"] = mpmath.libmp.BACKEND
        out["mpmath_ns"] = scan(inst, lambda x: mpmath.mpf(x), mpmath.exp, reps)
    except ImportError:
        pass
    print(json.dumps(out))


if __name__ == "__main__":
    main()
