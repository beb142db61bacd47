# Sourced by the GPU scripts (bench/device_research.sh, bench/device_cbam.sh): the helpers and the synthetic data
# they share. The script sets OUT, W (its work folder), DEADLINE (seconds) and, for SMOKE=1, PER/UPC/OPC/TPC/TUPC
# (images per class of the training, outlier and test sets) before sourcing; PY may name the Python to use.
PY=${PY:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$W"
T0=$(date +%s)
fm() { "$PY" -m models.commands.cli "$@"; }
stamp() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
left() { local l=$(( DEADLINE - ($(date +%s) - T0) )); [ "$l" -lt 1 ] && l=1; echo "$l"; }  # timeout 0 = none

machine_facts() {  # the GPU (when there is one) and the Python packages, into OUT/machine.txt
  [ "${SMOKE:-0}" = 1 ] || nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/machine.txt" 2>&1
  "$PY" -c "import torch, timm, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'timm',
timm.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/machine.txt"
}

synth_set() {  # synth_set NAME [fma-model synth options]: W/NAME rendered in the background, logged to W/synth_NAME.log
  local name=$1; shift
  fm synth "$W/$name" "$@" --overwrite > "$W/synth_$name.log" 2>&1 &
}

synth_done() {  # wait for the synth_set calls, then their last log lines
  wait
  tail -qn 1 "$W"/synth_*.log
  stamp "synth done"
}

synth_demo_data() {  # resources/demo/README.md's training (seed 1) and outlier (seed 5) sets, the seed-2 test set
  stamp "synth"
  synth_set train --per-class "$PER" --seed 1 --unknown-classes 3 --unknown-per-class "$UPC" --split 0.9,0.1,0 \
    --difficulty 0.3 --workers 10
  synth_set outliers --per-class 1 --seed 5 --split 1,0,0 --difficulty 0.3 --workers 2 \
    --unknown-types corrosion,mura_spot,ring_particle,bm_pinhole,sealant_intrusion --unknown-per-class "$OPC"
  synth_set test --per-class "$TPC" --seed 2 --unknown-types hair_loop,burn_mark,delamination_blister \
    --unknown-per-class "$TUPC" --difficulty 0.3 --workers 4
  synth_done
}
