#!/usr/bin/env bash
# Issue #16: evolution and constants arms extended from 12,000 to 24,000 programs trained (resumed; one worker each).
cd /work/main && source /work/venv/bin/activate
for seed in 0 1 2; do
  for arm in evolution constants; do
    echo "=== $arm s$seed $(date +%T)"
    python -m search.run configs/rediscovery/$arm.yaml --quiet \
      --set seed=$seed --set name=rediscovery_${arm}_s$seed \
      --set output.runs_dir=/work/runs --set budget.max_trained=24000 \
      --set workers.num_workers=1
    echo "=== rc=$? $(date +%T)"
  done
done
