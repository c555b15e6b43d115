#!/usr/bin/env python3
"""Run freelunch's lowered checkpoints with stock Hugging Face transformers.

    python3 examples/python/hf_check.py DIR [DIR ...] [--dtype float32|float64|both] [--json OUT]

Each DIR is written by `freelunch lower` (or `dp … --hf`, `explain … --hf`). For every case stored in
DIR/freelunch.json (the stored prompt and the random inputs), this loads the checkpoint with
`AutoModelForCausalLM.from_pretrained` (no custom code), runs `generate(do_sample=False)`, and compares
the tokens with `freelunch run` of the abstract model (`expected`). It also checks that the shipped
tokenizer maps the prompt's token names to the same ids. Exit status 1 on any disagreement.
"""
import argparse
import json
import sys
import time


def check_dir(path, dtypes):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    meta = json.load(open(f"{path}/freelunch.json"))
    cases = meta["cases"]
    usage = meta["usage"]
    vocab = meta["vocab"]
    tok = AutoTokenizer.from_pretrained(path)
    report = {"dir": path, "cases": len(cases), "results": {}}
    bad = 0
    if not usage["read_rows"]:
        first = cases[0]["prompt"]
        enc = tok(" ".join(vocab[i] for i in first), add_special_tokens=False)["input_ids"]
        if enc != first:
            print(f"{path}: tokenizer maps the prompt to {enc}, not {first}")
            bad += 1
    for dtype in dtypes:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
        model.eval()
        if usage["read_rows"]:
            bad += check_block(path, dtype, model, cases, usage, report)
            continue
        right, worst_margin = 0, float("inf")
        # Every case has the same length, so one batched generate() runs them all.
        ids = torch.tensor([c["prompt"] for c in cases])
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                max_new_tokens=usage["max_new_tokens"],
                min_new_tokens=usage["max_new_tokens"],
                output_scores=True,
                return_dict_in_generate=True,
            )
        seconds = time.perf_counter() - t0
        for s in out.scores:
            top = torch.topk(s.double(), 2, dim=-1).values
            worst_margin = min(worst_margin, float((top[:, 0] - top[:, 1]).min()))
        for row, c in zip(out.sequences, cases):
            got = row[ids.shape[1]:].tolist()
            if got == c["expected"]:
                right += 1
            else:
                bad += 1
                if bad <= 3:
                    print(f"{path} [{dtype}]: prompt {c['prompt']}: generate() gave {got}, freelunch run gives {c['expected']}")
        report["results"][dtype] = {
            "right": right,
            "seconds": seconds,
            "min_margin": worst_margin,
        }
        print(f"{path} [{dtype}]: {right}/{len(cases)} generate() outputs equal freelunch run; "
              f"min logit margin {worst_margin:.3e}; {seconds:.2f} s")
    return bad, report


def check_block(path, dtype, model, cases, usage, report):
    """A block: feed the residual vectors as inputs_embeds, read logits rows at the last position.
    Agreement: |HF − freelunch run| ≤ 2^-12·max(1, |value|) (float32 weights and arithmetic), or
    ε/4 for a claim that states an accuracy ε (src/export/hf.rs, block_agrees)."""
    import torch

    bad, worst, t0 = 0, 0.0, time.perf_counter()
    for c in cases:
        emb = torch.tensor([c["inputs"]], dtype=getattr(torch, dtype))
        with torch.no_grad():
            logits = model(inputs_embeds=emb).logits[0, -1].double()
        value = float(logits[0] / logits[1]) if len(usage["read_rows"]) > 1 else float(logits[0])
        diff = abs(value - c["expected"])
        worst = max(worst, diff)
        if diff > max(2.0 ** -12 * max(1.0, abs(c["expected"])), (usage["tolerance"] or 0.0) / 4):
            bad += 1
            if bad <= 3:
                print(f"{path} [{dtype}]: HF reads {value!r}, freelunch run {c['expected']!r}")
    seconds = time.perf_counter() - t0
    right = len(cases) - bad
    report["results"][dtype] = {"right": right, "seconds": seconds, "max_abs_difference": worst}
    print(f"{path} [{dtype}]: {right}/{len(cases)} forward() reads equal freelunch run "
          f"(max |difference| {worst:.3e}); {seconds:.2f} s")
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64", "both"])
    ap.add_argument("--json")
    a = ap.parse_args()
    dtypes = ["float32", "float64"] if a.dtype == "both" else [a.dtype]
    total_bad, reports = 0, []
    for d in a.dirs:
        bad, rep = check_dir(d, dtypes)
        total_bad += bad
        reports.append(rep)
    if a.json:
        json.dump(reports, open(a.json, "w"), indent=1)
    print(f"{len(a.dirs)} checkpoints, {'all agree' if total_bad == 0 else f'{total_bad} disagreements'}")
    sys.exit(1 if total_bad else 0)


if __name__ == "__main__":
    main()
