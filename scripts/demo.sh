#!/usr/bin/env bash
# Set up Tagscope and run the demo: bash scripts/demo.sh [FOLDER] [tagscope demo options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/tagscope demo "$@"
