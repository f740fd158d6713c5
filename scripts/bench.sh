#!/usr/bin/env bash
# Benchmarks that print numbers beside a baseline measured in the same run.
#   scripts/bench.sh boot [--runs N] [--slow]
#   scripts/bench.sh clock
#   scripts/bench.sh sched
#   scripts/bench.sh blk [--seconds N] [--disk-mib N]
#   scripts/bench.sh http [--runs N] [--seconds N]    (root: a tap in a network namespace)
#   scripts/bench.sh tcp [--runs N] [--mib N]         (root: a tap in a network namespace)
#   scripts/bench.sh store [--seconds N] [--puts N] [--disk-mib N]
#   scripts/bench.sh kv [--requests N]                (root: a tap in a network namespace)
#       apps/kv under redis-benchmark -t set,get,incr,lpush,lpop -n N -c 50 at -P 1 and 16,
#       beside Debian's redis-server in a Linux microVM and on 127.0.0.1; without persistence
#       and durable (flushes counted by QEMU). N defaults to 100000; --requests 5000 is quick.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure-deps.sh

# What a benchmark with a Linux baseline needs: xz (unpacks Debian's kernel), apt's package
# lists (the baseline is built from Debian's packages with apt-get download), and the
# packages named in "$@" (installed when missing). $BENCH names the benchmark in messages.
ensure_baseline_deps() {
    local missing=("$@")
    command -v xz >/dev/null || missing+=(xz-utils)
    command -v dpkg >/dev/null || die "$BENCH needs a Debian system (dpkg, apt-get) for its Linux baseline"
    local need_lists=0
    # (Not a pipe into grep -q: under pipefail, apt-cache's SIGPIPE would count as failure.)
    local policy
    policy=$(apt-cache policy busybox-static 2>/dev/null || true)
    grep -q 'Candidate: [0-9]' <<<"$policy" || need_lists=1
    [ "${#missing[@]}" -eq 0 ] && [ "$need_lists" -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "$BENCH needs ${missing[*]:-apt package lists}: run 'sudo apt-get update && sudo apt-get install -y ${missing[*]}'"
    echo "setup: apt-get update${missing[*]:+, installing ${missing[*]}}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    if [ "${#missing[@]}" -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    fi
}

# blk: fio, in the Linux baseline VM and natively.
ensure_blk_deps() {
    local missing=()
    command -v fio >/dev/null || missing+=(fio)
    BENCH=blk ensure_baseline_deps "${missing[@]}"
}

# store: fio (in the Linux baseline VM and natively) and mke2fs (the VM's ext4 disk).
ensure_store_deps() {
    ensure_e2fsprogs
    local missing=()
    command -v fio >/dev/null || missing+=(fio)
    BENCH=store ensure_baseline_deps "${missing[@]}"
}

# http and tcp: wrk (the load generator), socat (in the Linux VM), mke2fs (httpd's page on an
# ext4 disk), and the shared libraries of Debian's nginx, which the benchmark fetches with
# apt-get download and runs from target/ without installing it (the package would start a
# service on port 80). They need root for their network namespace and tap.
ensure_net_bench_deps() {
    [ "$(id -u)" -eq 0 ] || die "$1 needs root: both guests sit on a tap device in a network namespace the benchmark creates"
    ensure_e2fsprogs
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v socat >/dev/null || missing+=(socat)
    local lib
    for lib in libcrypt1 libpcre2-8-0 libssl3 zlib1g; do
        dpkg -s "$lib" >/dev/null 2>&1 || missing+=("$lib")
    done
    BENCH=$1 ensure_baseline_deps "${missing[@]}"
}

# kv: redis-tools (redis-benchmark and redis-cli, the load; redis-check-rdb, which is
# Debian's redis-server: the redis-server package only links /usr/bin/redis-server to it, and
# installing that package would start a service on the host's port 6379), mke2fs (Redis's
# ext4 disk) and the Linux baseline's needs. Root, for the network namespace and tap.
ensure_kv_bench_deps() {
    [ "$(id -u)" -eq 0 ] || die "kv needs root: both guests sit on a tap device in a network namespace the benchmark creates"
    ensure_e2fsprogs
    ensure_redis_tools
    BENCH=kv ensure_baseline_deps
}

ensure_rust
ensure_qemu
case " $* " in
*" blk "*) ensure_blk_deps ;;
*" http "*) ensure_net_bench_deps http ;;
*" tcp "*) ensure_net_bench_deps tcp ;;
*" store "*) ensure_store_deps ;;
*" kv "*) ensure_kv_bench_deps ;;
esac
exec_host_tool bench "$@"
