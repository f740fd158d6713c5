#!/usr/bin/env bash
# Installs what is missing, then runs every check: formatting, clippy (host and guest),
# host unit tests, and the QEMU integration tests (TCG, plus KVM smoke tests where
# /dev/kvm works). Extra arguments go to the integration-test binaries (e.g. a filter).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure-deps.sh
ensure_rust
ensure_lint_tools
ensure_qemu

step() { echo "== $*" >&2; }

step "cargo fmt --check"
cargo fmt --all --check
(cd boot/disk && cargo fmt --check)

step "cargo clippy (host crates)"
cargo clippy --quiet -p kernel -p boot -p tests --all-targets -- -D warnings
step "cargo clippy (guest crates, $TARGET)"
cargo clippy --quiet --target "$TARGET" -p kernel -p libos -p hello -p testkernel -- -D warnings
step "cargo clippy (boot/disk, the disk-image writer)"
(cd boot/disk && RUSTC_BOOTSTRAP=1 cargo clippy --quiet --release --target-dir ../../target/disk -- -D warnings)

log=$(mktemp)
trap 'rm -f "$log"' EXIT

step "host unit tests"
cargo test --quiet -p kernel -p boot 2>&1 | tee -a "$log"

step "QEMU integration tests"
cargo test --quiet -p tests -- "$@" 2>&1 | tee -a "$log"

# One closing line for the whole run.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' \
    FS='[ ;]+' "$log"
