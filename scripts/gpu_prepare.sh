#!/usr/bin/env bash
# Ready a lent GPU machine's run before it comes: that machine has torch, accelerate and peft but no
# network and no fonts. This writes gpu/ (gitignored): the base recipe's glyphs as a data pack, and
# wheels for what it lacks. Then, with the device tool: run `bash scripts/gpu_pretrain.sh`, carry ["gpu"].
set -euo pipefail
cd "$(dirname "$0")/.."
source .venv/bin/activate
mkdir -p gpu/wheels
fontgen pack --recipe recipes/base_gpu.toml -o gpu/base-pack.tar.xz
# Only what that machine may lack (its torch, accelerate and peft bring numpy, Pillow, huggingface_hub...).
version() { pip show "$1" | sed -n 's/^Version: //p'; }
pip download --quiet --no-deps --only-binary=:all: --dest gpu/wheels \
    "diffusers==$(version diffusers)" "freetype-py==$(version freetype-py)" \
    "importlib_metadata==$(version importlib_metadata)" "zipp==$(version zipp)" "regex==$(version regex)"
du -sh gpu/base-pack.tar.xz gpu/wheels
