#!/usr/bin/env bash
# Issue #21, part 2, on one lent GPU (16 CPU cores) in under ten minutes: full-size models trained from random
# weights (the machine is offline and no ImageNet ConvNeXt-T or ResNet50 weights exist here) on synthetic
# micrographs, calibrated, then judged path by path on the CPU of the same machine by bench/trained_paths.py:
#   1. data: a training set in the demo's look (seed 1; 15 % validation, the calibration split) and the seed-2
#      test set (never seen by training or calibration), rendered on the CPU;
#   2. three trainings at once on the GPU, 224 px, the current defaults with backbone_lr_scale 1 (no pretrained
#      backbone), each with a time budget (max_minutes: what DEADLINE leaves after the data, less RESERVE seconds
#      for the steps after training and the screening) so that it ends its schedule and writes its bundle in time:
#        cnx4  ConvNeXt-T, lr 4e-4      cnx10  ConvNeXt-T, lr 1e-3      r50  ResNet50+CBAM (blocks), lr 1e-3
#      (batch 32: the loaders, four workers each, bound the pace, so a smaller batch gives more steps)
#      (weights stored as float16: the ConvNeXt-T bundle must come back in 4 files under 16 MiB);
#   3. each calibrated (fma-model calibrate, LTT at purity 0.99) and evaluated on the test set;
#   4. the better ConvNeXt-T by validation Top-1 and the ResNet50+CBAM screened by bench/trained_paths.py on the
#      device's CPU (8 threads each, 300 test images), at the same time;
#   5. packed into OUT: the chosen ConvNeXt-T bundle as convnext_tiny.tar.part-* (cat them, then tar -x; the
#      engine benchmark uses it from bench_results/work/trained/), and results.tar (logs, manifests, metrics, the
#      evaluations and trained_paths.json of both).
#
#   bash bench/device_engine.sh OUT          # on the GPU machine (python3 must hold torch with CUDA)
#   SMOKE=1 bash bench/device_engine.sh OUT  # the same steps, tiny and on a CPU (a few minutes)
set -u
OUT=${1:?usage: bench/device_engine.sh OUT}
DEADLINE=${DEADLINE:-555}
W=${WORK:-data/gpu_engine}
if [ "${SMOKE:-0}" = 1 ]; then
  PER=6; TPC=12; WK=0; DEV=cpu; MINUTES=0.3; THREADS=1; IMAGES=200
  SETS=(--set input_size=64 --set batch_size=8 --set max_steps_per_epoch=2 --set epochs=3
    --set 'network.backbone_kwargs={"depths": [1, 1, 1, 1], "dims": [8, 16, 32, 64]}' --set precision=fp32)
  R50_SETS=(--set input_size=64 --set batch_size=8 --set max_steps_per_epoch=2 --set epochs=3 --set precision=fp32)
else
  PER=250; TPC=40; WK=4; DEV=cuda; MINUTES=${MINUTES:-}; THREADS=8; IMAGES=300; RESERVE=${RESERVE:-270}
  SETS=(--set input_size=224 --set batch_size=32 --set epochs=120); R50_SETS=("${SETS[@]}")
fi
source "$(dirname "$0")/device_common.sh"
machine_facts
grep -m1 'model name' /proc/cpuinfo >> "$OUT/machine.txt"
grep -o -m1 -w 'avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ' >> "$OUT/machine.txt"

stamp "synth"
synth_set train --per-class "$PER" --seed 1 --split 0.85,0.15,0 --difficulty 0.3 --workers 11
synth_set test --per-class "$TPC" --seed 2 --split 0,0,1 --difficulty 0.3 --workers 4
synth_done
if [ -z "$MINUTES" ]; then  # the time left, less the reserve: training start-up, calibration, screening, packing
  MINUTES=$("$PY" -c "import sys; print(round(max(1.0, (int(sys.argv[1]) - int(sys.argv[2])) / 60), 2))" \
    "$(left)" "$RESERVE")
  stamp "training budget: max_minutes=$MINUTES"
fi

COMMON=(--set network.pretrained=false --set backbone_lr_scale=1 --set half_weights=true --set num_workers=$WK
  --set cache_images=true --set max_minutes=$MINUTES --no-progress)
run() {  # run NAME: train, calibrate, evaluate (extra --set arguments after NAME)
  local name=$1; shift
  local d="$W/$name"
  mkdir -p "$d"
  timeout "$(left)" "$PY" -m models.commands.cli train --overwrite --data "$W/train/manifest.csv" --out "$d/model" \
    "${COMMON[@]}" "$@" > "$d/train.log" 2>&1 || { stamp "$name: training failed"; tail -n 3 "$d/train.log"; return; }
  stamp "$name trained: $(grep -c '^epoch=' "$d/train.log") epochs; $(grep '^time budget' "$d/train.log" | tail -1)"
  timeout "$(left)" "$PY" -m models.commands.cli calibrate "$d/model" --data "$W/train/manifest.csv" --split val \
    --device $DEV > "$d/calibrate.log" 2>&1 || { stamp "$name: calibration failed"; tail -n 3 "$d/calibrate.log"; }
  timeout "$(left)" "$PY" -m models.commands.cli evaluate "$d/model" --data "$W/test/manifest.csv" --split all \
    --device $DEV --out "$d/eval" > "$d/eval.log" 2>&1
  stamp "$name evaluated: $(grep -o '"top1": [0-9.]*' "$d/eval/metrics.json" 2>/dev/null | head -1)"
}
run cnx4 --set network.backbone=convnext_tiny --set lr=4e-4 "${SETS[@]}" &
run cnx10 --set network.backbone=convnext_tiny --set lr=1e-3 "${SETS[@]}" &
run r50 --set network.backbone=resnet50 --set network.cbam=blocks --set lr=1e-3 "${R50_SETS[@]}" &
while [ -n "$(jobs -r)" ]; do
  sleep 15
  stamp "running: $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null)" \
    "load $(cut -d' ' -f1 /proc/loadavg)" "$(for c in cnx4 cnx10 r50; do
      printf '%s:%s ' "$c" "$(grep '^epoch=' "$W/$c/train.log" 2>/dev/null | tail -1 | grep -o 'val_top1=[0-9.]*')"; done)"
done

val_top1() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['metrics'].get('top1', 0))" \
  "$W/$1/model/manifest.json" 2>/dev/null || echo 0; }
CNX=cnx4
[ "$("$PY" -c "print(float('$(val_top1 cnx10)') > float('$(val_top1 cnx4)'))")" = True ] && CNX=cnx10
stamp "ConvNeXt-T kept: $CNX (validation Top-1 cnx4 $(val_top1 cnx4), cnx10 $(val_top1 cnx10))"
if [ -f "$W/$CNX/model/weights.safetensors" ]; then  # the bundle first, so that it comes back whatever follows
  tar -cf "$W/convnext_tiny.tar" -C "$W/$CNX" --exclude=checkpoint --transform 's,^model,convnext_tiny,' model
  split -b 15m -d "$W/convnext_tiny.tar" "$OUT/convnext_tiny.tar.part-"
fi
for m in "$CNX" r50; do
  [ -f "$W/$m/model/manifest.json" ] || continue
  t=$(( $(left) - 15 )); [ "$t" -lt 1 ] && t=1  # timeout 0 would mean none
  timeout "$t" "$PY" -m bench.trained_paths "$W/$m/model" --data "$W/test/manifest.csv" \
    --max-images $IMAGES --threads $THREADS --out "$W/$m/paths" > "$W/$m/paths.log" 2>&1 &
done
wait
stamp "screened"
tar -cf "$OUT/results.tar" -C "$W" --exclude='weights.safetensors' --exclude='checkpoint' --exclude='*.png' \
  --exclude='images' --exclude='*.tar' cnx4 cnx10 r50 synth_train.log synth_test.log 2>/dev/null
cat "$W"/*/paths/trained_paths.md 2>/dev/null
stamp "packed: $(ls -la "$OUT" | tail -n +2 | awk '{print $5, $9}' | tr '\n' ' ')"
