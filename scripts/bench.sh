#!/usr/bin/env bash
# Benchmarks that print numbers beside a baseline measured in the same run.
#   scripts/bench.sh boot [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure-deps.sh
ensure_rust
ensure_qemu
exec_host_tool bench "$@"
