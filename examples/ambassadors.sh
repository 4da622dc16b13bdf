#!/usr/bin/env bash
# The growth team's list: the 200 most influential active customers, with reasons, as CSV.
# Run from the repository root:  bash examples/ambassadors.sh [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-influence-out}"

influence analyze "$here/events.csv" --customers "$here/customers.csv" --out "$out" --quiet
influence top "$out" -n 200 --segment champions --format csv > "$out/ambassadors.csv"
echo "$(($(wc -l < "$out/ambassadors.csv") - 1)) ambassadors in $out/ambassadors.csv"
influence top "$out" -n 5
