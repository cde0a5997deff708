#!/bin/bash
# `neorl bench train` on a CUDA GPU for every algorithm, at the papers'
# minibatch (256) and at larger ones, then one end-to-end training run with
# evaluations; what neorl/results/throughput-cuda-h200/ holds.
#
#   bash neorl/bench/cuda.sh NEORL_BINARY OUT_DIR
#
# NEORL_BINARY: a neorl built with `cargo build --release --features cuda`
# (on any machine: CUDA is loaded at run time). On the GPU machine the
# binary needs the driver's libcuda and NVRTC (`libnvrtc.so.13` for the
# CUDA 13 driver; this script adds the first one it finds under
# /usr/local/cuda*, /usr/lib or /opt to LD_LIBRARY_PATH) and the libraries it
# was linked against (libhdf5 …: copy them from the build machine, `ldd`,
# into a folder on LD_LIBRARY_PATH when the GPU machine lacks them).
# DEADLINE (seconds, default 420) skips what would not finish in time;
# SECONDS_PER (default 3) is each measurement's timing.
set -u
N=${1:?usage: cuda.sh NEORL_BINARY OUT_DIR}
OUT=${2:?usage: cuda.sh NEORL_BINARY OUT_DIR}
mkdir -p "$OUT"
start=$(date +%s)
DEADLINE=${DEADLINE:-420}
left() { echo $((DEADLINE - ($(date +%s) - start))); }
nv=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libnvrtc.so.1[0-9]*' 2>/dev/null | head -1)
echo "nvrtc: ${nv:-not found}"
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}${nv:+:$(dirname "$nv")}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
nproc >>"$OUT/gpu.txt"
log=$OUT/bench.jsonl
S=${SECONDS_PER:-3}

run() { # TAG, then `bench train` arguments; one JSON line per result in bench.jsonl
  local tag=$1
  shift
  if [ "$(left)" -lt 25 ]; then
    echo "skip $tag (deadline)"
    return
  fi
  local t0 t1 rc
  t0=$(date +%s.%N)
  timeout $(($(left) - 5)) "$N" bench train "$@" --json >"$OUT/r.json" 2>"$OUT/r.err"
  rc=$?
  t1=$(date +%s.%N)
  echo "== $tag rc=$rc"
  tail -c 600 "$OUT/r.err"
  [ $rc -eq 0 ] && python3 -c "import json; d=json.load(open('$OUT/r.json')); d['tag']='$tag'; d['wall_s']=$t1-$t0; print(json.dumps(d))" >>"$log"
  rm -f "$OUT/r.json" "$OUT/r.err"
}

run td3bc-256 --algo td3bc --device cuda --seconds "$S"
run td3bc-16384 --algo td3bc --device cuda --seconds "$S" --batch 16384
for a in bc iql cql combo; do run $a-256 --algo $a --device cuda --seconds "$S"; done
run td3bc-4096 --algo td3bc --device cuda --seconds "$S" --batch 4096
run td3bc-65536 --algo td3bc --device cuda --seconds "$S" --batch 65536
for a in bc iql cql; do run $a-16384 --algo $a --device cuda --seconds "$S" --batch 16384; done
# The same benchmark on the GPU machine's CPU cores, for the ratio.
run td3bc-cpu --algo td3bc --device cpu --threads "$(nproc)" --seconds "$S"
# End to end on the GPU: a registry dataset, training with evaluations.
if [ "$(left)" -gt 60 ]; then
  timeout $(($(left) - 5)) "$N" train --algo td3bc --dataset ChemicalReactor-medium-v1 --size 100000 \
    --steps 10000 --eval-every 5000 --eval-episodes 10 --device cuda --no-track \
    --out "$OUT/run" --json >"$OUT/train.json" 2>"$OUT/train.err"
  echo "train rc=$?"
  rm -rf "$OUT/run"
fi
echo "done in $(($(date +%s) - start)) s"
