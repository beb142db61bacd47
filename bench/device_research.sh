#!/usr/bin/env bash
# Issue #15's GPU run, sized for one lent NVIDIA GPU (16 CPU cores) and about nine minutes:
#   1. the demo data (resources/demo/README.md's synth commands) and the seed-2 test set;
#   2. two CBAM demo-model candidates at full size (EfficientNet-Lite0 from the local ImageNet weights,
#      network.cbam=stages, 224 px, 16 epochs, then the outlier-exposure stage):
#        a: resources/demo/train_demo.yaml as it is (the recipe of the committed model, plus CBAM),
#        b: the same with the current training defaults (one-cycle, label smoothing 0.1, flips only);
#   3. with GRID=1, `fma-model grid --preset research` (ResNet50+CBAM, ViT-S/16, ConvNeXt-T x flat /
#      hier-independent / hier-shared) on the demo data, from random weights (the machine is offline) and
#      GRID_EPOCHS epochs, one backbone per process stream, the streams sharing the GPU; evaluated on the
#      seed-2 test set with the pointing game.
# The candidates run one after the other with every core feeding them; each step stops at DEADLINE seconds.
# Results are packed into OUT (tar files).
#
# What the first run (2026-11-30, everything at once, 3 workers per process) taught: five training processes
# on 16 cores ran at load 35 and 21-25 s per epoch, so neither candidate finished its 16 epochs in 8 minutes;
# one candidate alone with 14 workers and cache_images ran 7 s per epoch (16 epochs in 2 minutes). From random
# weights, 8 epochs of the research grid reached 12-17 % Top-1: the grid needs ImageNet weights (online) or far
# longer runs than one lease.
#
#   bash bench/device_research.sh OUT          # on the GPU machine (python3 must hold torch with CUDA)
#   SMOKE=1 WEIGHTS=../shared/weights/efficientnet_lite0_in1k.safetensors DEADLINE=3000 \
#     bash bench/device_research.sh OUT        # the same steps, tiny and on a CPU (10-30 minutes)
set -u
OUT=${1:?usage: bench/device_research.sh OUT}
WEIGHTS=${WEIGHTS:-.gpu/efficientnet_lite0_in1k.safetensors}
GRID_EPOCHS=${GRID_EPOCHS:-12}
GRID=${GRID:-0}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
DEADLINE=${DEADLINE:-470}
W=${WORK:-data/gpu}
if [ "${SMOKE:-0}" = 1 ]; then
  PER=8; UPC=2; OPC=4; TPC=3; TUPC=2; DEMO_SETS=(--set epochs=1 --set max_steps_per_epoch=2 --set input_size=64
    --set batch_size=8); GRID_SETS=(--tiny --set max_steps_per_epoch=2 --set batch_size=8 --set input_size=64);
  GRID_EPOCHS=1; DEV=cpu; PG=4; WK=1; WK_DEMO=1
else
  PER=300; UPC=35; OPC=160; TPC=40; TUPC=27; DEMO_SETS=(); GRID_SETS=(); DEV=cuda; PG=200; WK=3; WK_DEMO=14
fi
source "$(dirname "$0")/device_common.sh"
machine_facts
synth_demo_data

RECIPE_B=(--set schedule=onecycle --set loss.label_smoothing=0.1 --set augment.rot90=false --set augment.blur_p=0
  --set augment.brightness=0 --set augment.contrast=0 --set augment.noise_std=0)
COMMON=(--set network.cbam=stages --set num_workers=$WK_DEMO --set cache_images=true --no-progress)

demo() {  # demo NAME [extra --set ...]: stage 1, outlier-exposure stage, evaluation with the pointing game
  local name=$1; shift
  local d="$W/demo_$name"
  mkdir -p "$d"
  timeout "$(left)" "$PY" -m models.commands.cli train --overwrite --config resources/demo/train_demo.yaml \
    --data "$W/train/manifest.csv" --out "$d/stage1" --set network.pretrained_file="$WEIGHTS" \
    "${COMMON[@]}" "${DEMO_SETS[@]}" "$@" > "$d/stage1.log" 2>&1 || { stamp "demo $name stage 1 failed"; return; }
  stamp "demo $name stage 1 done"
  timeout "$(left)" "$PY" -m models.commands.cli train --overwrite --config resources/demo/finetune_oe.yaml \
    --init-from "$d/stage1" --data "$W/train/manifest.csv" --data "$W/outliers/manifest.csv" --out "$d/model" \
    "${COMMON[@]}" "${DEMO_SETS[@]}" "$@" > "$d/oe.log" 2>&1 || { stamp "demo $name OE failed"; return; }
  stamp "demo $name OE done"
  timeout "$(left)" "$PY" -m models.commands.cli evaluate "$d/model" --data "$W/test/manifest.csv" --split all \
    --unknown all --pointing-game --device $DEV --out "$d/eval" > "$d/eval.log" 2>&1
  stamp "demo $name evaluated: $(grep -o '"top1": [0-9.]*' "$d/eval/metrics.json" | head -1)"
}

grid() {  # grid BACKBONE
  local b=$1
  timeout "$(left)" "$PY" -m models.commands.cli grid --preset research --set network.pretrained=false \
    --set epochs=$GRID_EPOCHS --set num_workers=$WK --set cache_images=true "${GRID_SETS[@]}" \
    --data "$W/train/manifest.csv" --test-data "$W/test/manifest.csv" --split all --pointing-game $PG \
    --backbones "$b" --out "$W/grid_${b//+/_}" > "$W/grid_${b//+/_}.log" 2>&1
  stamp "grid $b finished (exit $?)"
}

demo a
demo b "${RECIPE_B[@]}"
if [ "$GRID" = 1 ]; then
  for b in resnet50+cbam vit_small_patch16_224 convnext_tiny; do grid "$b" & done
fi
while [ -n "$(jobs -r)" ]; do
  sleep 20
  stamp "running: $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null)" \
    "load $(cut -d' ' -f1 /proc/loadavg)"
done
stamp "all streams done"

# pack: models with their logs; the grid without weights
for n in a b; do
  d="$W/demo_$n"
  [ -d "$d" ] && tar -cf "$OUT/demo_$n.tar" -C "$W" --exclude='*/stage1/weights.safetensors' \
    --exclude='*/checkpoint*' "demo_$n"
done
grids=$(cd "$W" && ls -d grid_* 2>/dev/null)
[ -n "$grids" ] && tar -czf "$OUT/grid.tgz" -C "$W" --exclude='*.safetensors' --exclude='*checkpoint*' --exclude='*.png' \
  $grids
cat "$W"/grid_*/grid.md 2>/dev/null
stamp "packed: $(ls -la "$OUT" | tail -n +2 | awk '{print $5, $9}' | tr '\n' ' ')"
