#!/usr/bin/env python3
"""Python peer timing for the certified-scan benchmark (benches/certified.rs calls this when available).

Reads a JSON scan instance from the file given as argv[1]: precision `bits`, sizes T/D/N, `a`
(D*N decay rates), `d_skip` (D), `structured` (A[d,n] = (n+1)·A[d,0]: one exp per channel, then
powers, as freelunch does), and per step `delta` (D), `b` (N), `c` (N), `u` (D) as decimal
strings. Runs the same recurrence h <- exp(delta·A)·h + delta·u·b, y = Σ c·h + D·u with
mpmath (gmpy2 backend when installed) and prints one JSON line: nanoseconds per state update
(null when mpmath is missing). This measures the Python interpreter as much as the arithmetic;
the C peer against Arb is benches/peers/scan_arb.c.
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
    out = {"mpmath_ns": None, "mpmath_backend": None}
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
