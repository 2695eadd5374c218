#!/bin/bash
# A/B of the default training budget between two trees (issue 21: the layout change), alternated
# so a slow spell of the machine hits both:
#   git worktree add /tmp/old e2012e7 && git worktree add /tmp/new HEAD
#   bash benchmarks/ab_train.sh /tmp/old /tmp/new /tmp/ab   # -> /tmp/ab/train-{old,new}-{1,2}.json
# In-process serving stages, the same way: PYTHONPATH=TREE/src:TREE/benchmarks python
# benchmarks/ab_stages.py NAME, run in each tree alternately.
set -euo pipefail
old=$1 new=$2 out=$3
mkdir -p "$out"
for round in 1 2; do
  for tree in old new; do
    dir=${!tree}
    (cd "$dir" && PYTHONPATH=$dir/src:$dir/benchmarks python benchmarks/bench_train.py \
      --budget default --out "$out/train-$tree-$round.json" > "$out/train-$tree-$round.log" 2>&1)
  done
done
