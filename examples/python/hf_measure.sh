#!/usr/bin/env bash
# Lower the README table's checkpoints (src/export/hf_table.rs: the same models, seeds and sizes)
# and time the real client on them; writes docs/hf-measured.json, which `freelunch readme` reads.
#   bash examples/python/hf_measure.sh [path/to/freelunch]
set -euo pipefail
cd "$(dirname "$0")/../.."
F=${1:-target/release/freelunch}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dirs=()
for spec in edit:3 lis:5 linrec:8 eca:4; do
    p=${spec%%:*}; n=${spec##*:}
    for m in slot position; do
        "$F" dp "$p" --n "$n" --memory "$m" --export "$tmp/$p-$m.json" >/dev/null
        "$F" lower "$tmp/$p-$m.json" "$tmp/$p-$m" >/dev/null
        dirs+=("$tmp/$p-$m")
    done
done
for c in copy-linear mlp-mul mlp-relu mlp-select mlp-lookup gate-mul copy-const; do
    "$F" explain "$c" --export "$tmp/$c.json" >/dev/null
    k=0
    while "$F" lower "$tmp/$c.json" "$tmp/$c-$k" --pick "$k" >/dev/null 2>"$tmp/err"; do
        dirs+=("$tmp/$c-$k"); k=$((k + 1))
    done
    grep -q "no model" "$tmp/err" || { cat "$tmp/err"; exit 1; }
done
python3 examples/python/hf_check.py "${dirs[@]}" --json docs/hf-measured.json
