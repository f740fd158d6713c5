#!/usr/bin/env bash
# Benchmarks that print numbers beside a baseline measured in the same run.
#   scripts/bench.sh boot [--runs N] [--slow]
#   scripts/bench.sh clock
#   scripts/bench.sh sched
#   scripts/bench.sh blk [--seconds N] [--disk-mib N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure-deps.sh

# blk: fio (in the Linux baseline VM and natively), xz (unpacks Debian's kernel), and apt's
# package lists (the baseline is built from Debian's packages with apt-get download).
ensure_blk_deps() {
    local missing=()
    command -v fio >/dev/null || missing+=(fio)
    command -v xz >/dev/null || missing+=(xz-utils)
    command -v dpkg >/dev/null || die "blk needs a Debian system (dpkg, apt-get) for its Linux baseline"
    local need_lists=0
    # (Not a pipe into grep -q: under pipefail, apt-cache's SIGPIPE would count as failure.)
    local policy
    policy=$(apt-cache policy busybox-static 2>/dev/null || true)
    grep -q 'Candidate: [0-9]' <<<"$policy" || need_lists=1
    [ "${#missing[@]}" -eq 0 ] && [ "$need_lists" -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "blk needs ${missing[*]:-apt package lists}: run 'sudo apt-get update && sudo apt-get install -y ${missing[*]}'"
    echo "setup: apt-get update${missing[*]:+, installing ${missing[*]}}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    if [ "${#missing[@]}" -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    fi
}

ensure_rust
ensure_qemu
case " $* " in *" blk "*) ensure_blk_deps ;; esac
exec_host_tool bench "$@"
