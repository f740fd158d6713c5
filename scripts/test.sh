#!/usr/bin/env bash
# Installs what is missing, then runs every check: formatting, clippy (host and guest),
# host unit tests, and the QEMU integration tests under TCG. The KVM smoke tests
# (#[ignore]d, named kvm_*) run only where /dev/kvm opens read-write, and count as skipped
# elsewhere. Extra arguments go to the integration-test binaries (e.g. a filter).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure-deps.sh
ensure_rust
ensure_lint_tools
ensure_qemu
ensure_e2fsprogs
ensure_nbdkit
ensure_redis_tools

step() { echo "== $*" >&2; }

step "cargo fmt --check"
cargo fmt --all --check
(cd boot/disk && cargo fmt --check)

step "cargo clippy (host crates)"
cargo clippy --quiet -p kernel -p boot -p tests -p http1 -p logstore -p resp -p kvengine --all-targets -- -D warnings
step "cargo clippy (guest crates, $TARGET)"
cargo clippy --quiet --target "$TARGET" -p kernel -p libos -p hello -p blkcheck -p netcheck -p cat -p httpd -p storectl -p kv -p testkernel -- -D warnings
step "cargo clippy (boot/disk, the disk-image writer)"
(cd boot/disk && RUSTC_BOOTSTRAP=1 cargo clippy --quiet --release --target-dir ../../target/disk -- -D warnings)

log=$(mktemp)
kvm_log=$(mktemp)
pvm_log=$(mktemp)
trap 'rm -f "$log" "$kvm_log" "$pvm_log"' EXIT
# Test steps go on after a failure, so that the closing line counts everything.
status=0

step "host unit tests"
cargo test --quiet -p kernel -p boot -p http1 -p logstore -p resp -p kvengine 2>&1 | tee -a "$log" || status=1

step "QEMU integration tests"
cargo test --quiet -p tests -- "$@" 2>&1 | tee -a "$log" || status=1

# The ignored tests are the KVM ones: run them where KVM can be opened, as boot::qemu's
# kvm_usable() does. A filter given to this script selects among them too.
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    step "KVM smoke tests (ignored by default)"
    cargo test --quiet -p tests -- --ignored "${@:-kvm_}" 2>&1 | tee "$kvm_log" || status=1
else
    step "KVM smoke tests: skipped (/dev/kvm is not usable here)"
fi

# Where /dev/kvm is kvm_pvm the kernel runs its tasks at ring 3 (docs/pvm.md): the trap,
# fault, interrupt (blk: device interrupts and the wake path), timer and scheduler tests run
# a second time, under KVM (tests that mean something only under TCG say "skipped under
# KVM" and pass).
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ -d /sys/module/kvm_pvm ]; then
    step "trap, fault, interrupt, timer and scheduler tests again under KVM (kvm_pvm: tasks at ring 3)"
    UK_TEST_ACCEL=kvm cargo test --quiet -p tests --test faults --test sched --test clock \
        --test boot --test blk -- "$@" 2>&1 | tee "$pvm_log" || status=1
fi

# One closing line for the whole run. Tests ignored in the main runs and then run above
# count once, as passed or failed; the rest are skipped. The second run under KVM counts
# its tests again.
awk -F '[ ;]+' -v main="$log" -v kvm="$kvm_log" '/^test result:/ {
        passed += $4; failed += $6
        if (FILENAME == main) { ignored += $8 } else if (FILENAME == kvm) { ran += $4 + $6 }
    }
    END { printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, ignored - ran }' \
    "$log" "$kvm_log" "$pvm_log"
exit "$status"
