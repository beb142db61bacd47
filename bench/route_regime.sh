#!/usr/bin/env bash
# Routing of trained tail-regime bundles (bench.regimes --work data/regimes224 ... --seeds 0,1,2): each bundle is
# copied, calibrated at target purity P on data/regimes/tail_cal (fma-model synth data/regimes/tail_cal --per-class 60
# --seed 91 --grayscale --pattern pentile --split 0,1,0) and evaluated on the balanced test set
# data/regimes/tail_balanced30; prints each metrics.json's Top-1, determined share and hierarchical purity.
#
#     bash bench/route_regime.sh [OUT] [ROW_DIR ...]      # P=0.9 by default; ROW_DIR as under data/regimes224/runs/tail
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench_results/route_regime}
shift || true
ROWS=("${@:-new_defaults_hier leaf-weighted_no_dependence_hier}")
P=${P:-0.9}
mkdir -p "$OUT"
for seed in 0 1 2; do
  for row in ${ROWS[*]}; do
    src=data/regimes224/runs/tail/$row/bundle
    [[ $seed != 0 ]] && src=data/regimes224/runs/tail/seed$seed/$row/bundle
    dst=$OUT/${row}_s$seed
    if [[ ! -f $dst.eval/metrics.json ]]; then
      rm -rf "$dst" && cp -r "$src" "$dst"
      fma-model calibrate "$dst" --data data/regimes/tail_cal/manifest.csv --split val --target-purity "$P" > "$dst.cal.log" 2>&1
      fma-model evaluate "$dst" --data data/regimes/tail_balanced30/manifest.csv --out "$dst.eval" > "$dst.eval.log" 2>&1
    fi
    python -c "import json, sys; m = json.load(open(sys.argv[1])); print(sys.argv[2], sys.argv[3], 'top1', round(m['top1'], 3),
'determined', m['determined_level_share'], 'purity', round(m['hierarchical_purity'], 3))" "$dst.eval/metrics.json" "$row" "$seed"
  done
done
