#!/usr/bin/env bash
# On the lent GPU machine (see scripts/gpu_prepare.sh): install the carried wheels, go on from the
# shipped weights with the GPU recipe for at most GPU_SECONDS, and leave the model in $OUT.
# Back here: python scripts/ship_checkpoint.py <files_at>/model, then commit.
set -uo pipefail
cd "$(dirname "$0")/.."
pip install --quiet --no-index --find-links gpu/wheels diffusers freetype-py
export PYTHONPATH="$PWD"
# SIGINT, not SIGTERM: the training loop saves its state and model on KeyboardInterrupt.
timeout -s INT "${GPU_SECONDS:-480}" python -m fontgen.cli pretrain --recipe recipes/base_gpu.toml \
    --data-pack gpu/base-pack.tar.xz --init-from checkpoints/base --device cuda
status=$?
mkdir -p "${OUT:-out/gpu}"
cp -r runs/base_gpu/model runs/base_gpu/log.jsonl runs/base_gpu/samples_*.png "${OUT:-out/gpu}/" 2>/dev/null
exit $status
