#!/usr/bin/env bash
# The GPU path in one prepared run, for a session that is lent a GPU (one call, minutes, not hours):
#
#   bash bench/gpu.sh                 # on the GPU machine, from the repository root; logs to $OUT or runs/gpu
#   DEVICE=cpu QUICK=1 bash bench/gpu.sh   # the same commands, tiny, on a CPU (checks the script itself)
#
# Each bench prints its own last line (ratio=..., mfu=...); this script keeps every log, and a summary of
# those last lines in summary.txt, and goes on when one bench fails (its exit code is in the summary).
#   1. dpo_mfu: the fast DPO step's model FLOPs utilisation on a 1B-class Llama built from a config, bf16
#   2. dpo_vs_trl: our DPO step against TRL's DPOTrainer on SmolLM2-135M, bf16 on the GPU
#   3. diffusion_dpo: our Diffusion-DPO step against the diffusers-style step on an SD-1.5-sized UNet, bf16
#   4. sampling, judging, unit_lm_scoring: batched against one at a time, on the GPU
#   5. scale_out: data-parallel DPO over the GPUs (when there are 2 or more) against one process
set -u
DEVICE=${DEVICE:-cuda}
QUICK=${QUICK:-0}
OUT=${OUT:-runs/gpu}
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python
mkdir -p "$OUT"
: > "$OUT/summary.txt"

run() {  # run NAME CMD...: log to $OUT/NAME.log, record the last line and the exit code
  local name=$1
  shift
  echo "== $name: $*" | tee -a "$OUT/summary.txt"
  local start=$SECONDS
  "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "   rc=$rc $((SECONDS - start)) s: $(tail -n 1 "$OUT/$name.log")" | tee -a "$OUT/summary.txt"
}

if [ "$QUICK" = 1 ]; then
  run dpo_mfu "$PY" bench/dpo_mfu.py --preset tiny --steps 2 --warmup 1 --pairs 2 --device "$DEVICE"
  run diffusion_dpo "$PY" bench/diffusion_dpo.py --preset tiny --quick --pairs 8 --device "$DEVICE"
  run unit_lm_scoring "$PY" bench/unit_lm_scoring.py --quick --utterances 16 --device "$DEVICE"
else
  run dpo_mfu "$PY" bench/dpo_mfu.py --preset 1b --device "$DEVICE"
  run dpo_vs_trl "$PY" bench/dpo_vs_trl.py --repeats 2
  run diffusion_dpo "$PY" bench/diffusion_dpo.py --preset sd15 --device "$DEVICE"
  run sampling "$PY" bench/sampling.py --device "$DEVICE" --repeats 2
  run judging "$PY" bench/judging.py --device "$DEVICE" --repeats 2
  run unit_lm_scoring "$PY" bench/unit_lm_scoring.py --utterances 512 --repeats 3 --device "$DEVICE"
  gpus=$("$PY" -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)
  if [ "${gpus:-0}" -ge 2 ]; then
    run scale_out "$PY" bench/scale_out.py --processes "$gpus" --skip-executors
  fi
fi
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
echo "summary: $OUT/summary.txt"
