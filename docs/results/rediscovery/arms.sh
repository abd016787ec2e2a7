#!/usr/bin/env bash
# Issue #16: the 3 arms x 3 repeats extended from 6,000 to 12,000 programs trained (resumed; one worker each).
cd /work/main && source /work/venv/bin/activate
for seed in 0 1 2; do
  for arm in evolution random constants; do
    echo "=== $arm s$seed $(date +%T)"
    python -m search.run configs/rediscovery/$arm.yaml --quiet \
      --set seed=$seed --set name=rediscovery_${arm}_s$seed \
      --set output.runs_dir=/work/runs --set budget.max_trained=12000 \
      --set workers.num_workers=1
    echo "=== rc=$? $(date +%T)"
  done
done
