#!/usr/bin/env bash
# Keeps the queue's training run ahead of the day's other work on a 2-core machine: every 20 s, each process of
# pytest, streamlit, chromium, the benchmarks and the screenshot script gets nice 10 and its autogroup nice 12
# (the kernel schedules per-session groups first, so plain nice alone does not reach another session's work).
# The trainers named in $FER_RUNS_DIR/*/.trainer.pid are left alone. Start it beside the queue:
#   FER_RUNS_DIR=~/fer-runs nohup bash scripts/keep_training_ahead.sh >/dev/null 2>&1 &
set -u
runs="${FER_RUNS_DIR:?set FER_RUNS_DIR to the runs folder of the queue}"
while true; do
  keep=" $(awk 1 "$runs"/*/.trainer.pid 2>/dev/null | tr '\n' ' ') "
  for pid in $(pgrep -f 'pytest|streamlit|chromium|bench\.|scripts\.screenshots|choose_ensemble|fer evaluate|fer export'); do
    case "$keep" in *" $pid "*) continue ;; esac
    renice -n 10 -p "$pid" >/dev/null 2>&1
    echo 12 > "/proc/$pid/autogroup" 2>/dev/null
  done
  sleep 20
done
