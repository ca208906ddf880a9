#!/usr/bin/env bash
# The CUDA paths on one GPU, in under 6 minutes (issue 25). Usage: bash scripts/gpu_check.sh [OUT_DIR]
#   1. the gpu-marked tests (tests/test_gpu.py: CUDA vs CPU forward, bf16 step, CUDA checkpoint -> CPU, sampling)
#   2. the MOSES architecture (configs/moses.toml) trained 300 steps in fp32 and in bf16: molecules/s of each
#   3. torchrun DDP with NCCL (one process on the one GPU: NCCL refuses two ranks on one device)
#   4. 100,000 molecules sampled on the GPU from the fp32 run: molecules/s
#   5. the CUDA-trained checkpoint loaded and sampled on the CPU
# Logs and summary.txt go to OUT_DIR (default $OUT/gpu_check when $OUT is set, else ./gpu_check). Without rdkit in
# the GPU machine's Python, carry its wheels in .whl/ (see the device notes): they are installed to /tmp/site.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:+$OUT/gpu_check}}
out=${out:-gpu_check}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MOLVAE_CACHE_DIR=/tmp/molvae_cache
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
summary="$out/summary.txt"
: > "$summary"
failed=0

step() {  # step NAME LIMIT_S COMMAND...: run it, log to OUT/NAME.log, one line in the summary
  local name=$1 limit=$2; shift 2
  local began=$SECONDS
  if timeout "$limit" "$@" > "$out/$name.log" 2>&1; then
    echo "ok   $name $((SECONDS - began)) s" | tee -a "$summary"
  else
    echo "FAIL $name $((SECONDS - began)) s (exit $?; $out/$name.log)" | tee -a "$summary"
    tail -n 15 "$out/$name.log"
    failed=1
  fi
}

rate() {  # median molecules/s of a run's logged training windows after the first two
  python3 - "$1" <<'PY'
import csv, statistics, sys
rows = [r for r in csv.DictReader(open(f"{sys.argv[1]}/metrics.csv")) if r["split"] == "train" and r["molecules_per_s"]]
values = [float(r["molecules_per_s"]) for r in rows[2:]] or [float(r["molecules_per_s"]) for r in rows]
print(f"{statistics.median(values):.0f}" if values else "n/a")
PY
}

step device 60 python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0)); assert torch.cuda.is_available()"
cat "$out/device.log" >> "$summary"
head -n 50001 data/zinc.csv > /tmp/zinc50k.csv
step tests 150 python3 -m pytest -q -m gpu tests/test_gpu.py -p no:cacheprovider
for precision in fp32 bf16; do
  rm -rf "/tmp/gpu_$precision"
  step "train_$precision" 120 python3 -m molvae train /tmp/zinc50k.csv --config configs/moses.toml --device cuda \
    --precision "$precision" --max-steps 300 --log-every 25 --val-every 100000 --n-val-samples 100 \
    --n-val-reconstruct 100 --out "/tmp/gpu_$precision" --quiet
  [ -f "/tmp/gpu_$precision/metrics.csv" ] && echo "     train $precision: $(rate "/tmp/gpu_$precision") molecules/s" | tee -a "$summary"
done
rm -rf /tmp/gpu_ddp
step ddp_nccl 90 python3 -m torch.distributed.run --standalone --nproc-per-node 1 -m molvae train /tmp/zinc50k.csv \
  --config configs/tiny.toml --device cuda --max-steps 50 --out /tmp/gpu_ddp --quiet
began=$SECONDS
step sample_100k 120 python3 -m molvae sample --model /tmp/gpu_fp32 --device cuda --n 100000 --no-score --seed 1 \
  --output /tmp/gpu_sample.csv --force
[ -f /tmp/gpu_sample.csv ] && echo "     sampled $(($(wc -l < /tmp/gpu_sample.csv) - 1)) rows in $((SECONDS - began)) s" | tee -a "$summary"
grep -h "sampled" "$out/sample_100k.log" | tail -n 1 | tee -a "$summary"
step cuda_checkpoint_on_cpu 60 python3 -m molvae sample --model /tmp/gpu_fp32 --device cpu --n 200 --seed 1 --no-score
grep -h "sampled" "$out/cuda_checkpoint_on_cpu.log" | tail -n 1 | tee -a "$summary"
echo "gpu_check: $([ $failed = 0 ] && echo all passed || echo FAILURES)" | tee -a "$summary"
exit $failed
