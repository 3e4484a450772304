#!/usr/bin/env bash
# Run every benchmark in bench/ with --json into a folder, at sizes that finish in under 10 minutes on 2 cores.
#
#   bench/run_all.sh OUT_DIR            e.g. bench/run_all.sh /tmp/bench-out
#
# Writes OUT_DIR/NAME.json (the figures) and OUT_DIR/NAME.log (stderr) per benchmark, OUT_DIR/machine.txt
# (CPU, cores, load, commit) and OUT_DIR/summary.txt (status and seconds per benchmark). A benchmark that
# fails or runs past BENCH_TIMEOUT seconds (default 300) is reported and the others still run.
# Pause other work first (e.g. a training job): every figure is wall-clock time on a shared CPU.
# PYTHON picks the interpreter (default: python).
set -u

out=${1:?usage: bench/run_all.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.." || exit 1
py=${PYTHON:-python}
limit=${BENCH_TIMEOUT:-300}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "nproc: $(nproc)"
  echo "cpu: $(lscpu | grep 'Model name' | sed 's/.*: *//')"
  echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "python: $($py --version 2>&1)"
} >"$out/machine.txt"
: >"$out/summary.txt"

run() {  # run NAME ARGS...: python -m bench.NAME --json into OUT/LABEL.json (LABEL: $BENCH_NAME, else NAME)
  local name=$1 label=${BENCH_NAME:-$1} start rc status
  shift
  start=$(date +%s)
  timeout "$limit" "$py" -m "bench.$name" "$@" --json >"$out/$label.json" 2>"$out/$label.log"
  rc=$?
  case $rc in
    0) status=ok ;;
    124) status="timed out after ${limit} s" ;;
    *) status="failed (exit $rc, see $label.log)" ;;
  esac
  echo "$label: $status, $(($(date +%s) - start)) s ($*)" | tee -a "$out/summary.txt"
}

run classify --repeat 20 --model models/default.keras
run card_cost models/default.keras --repeat 100
run webcam_pipeline --frames 40
run webcam_app --faces 3
BENCH_NAME=webcam_app_client_nice run webcam_app --faces 3 --client-nice 10
run images_path --repeat 5
run video_file --seconds 10
run video_app --seconds 10 --repeat 2
run detect_rotated --step 15 --repeat 5
run eye_leveling --step 15
run false_faces
run train_throughput --images 1920
run distribute_throughput --images 1536
run cold_start
run memory --steps 20
run train_step_memory
run dataset_load
run hostile_uploads
run session_summary
run personal
run cam_blank --faces 40

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
echo "results in $out"
