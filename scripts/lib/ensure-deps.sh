# Sourced by the scripts: installs what a fresh Debian machine of this kind lacks, or says
# exactly what to run. Everything here is idempotent and quiet when nothing is missing.

TOOLCHAIN=1.95.0
TARGET=x86_64-unknown-none

die() { echo "error: $*" >&2; exit 1; }

ensure_rust() {
    command -v rustup >/dev/null || die "rustup not found: install Rust from https://rustup.rs, then rerun"
    if ! rustup toolchain list | grep -q "^$TOOLCHAIN"; then
        echo "setup: installing Rust $TOOLCHAIN" >&2
        rustup toolchain install "$TOOLCHAIN" --profile minimal >&2
    fi
    if ! rustup target list --installed --toolchain "$TOOLCHAIN" | grep -qx "$TARGET"; then
        echo "setup: adding target $TARGET" >&2
        rustup target add --toolchain "$TOOLCHAIN" "$TARGET" >&2
    fi
    # Disk images: the bootloader crate builds its stages with -Zbuild-std.
    ensure_components rust-src llvm-tools
}

ensure_components() {
    local installed
    installed=$(rustup component list --installed --toolchain "$TOOLCHAIN")
    for component in "$@"; do
        if ! grep -q "^$component" <<<"$installed"; then
            echo "setup: adding component $component" >&2
            rustup component add --toolchain "$TOOLCHAIN" "$component" >&2
        fi
    done
}

ensure_lint_tools() {
    ensure_components rustfmt clippy
}

# QEMU, OVMF for UEFI disk images, and qboot (qemu-system-data) for the ELF on q35; then
# the tools guests with a network need (ensure_net_tools).
ensure_qemu() {
    if ! { command -v qemu-system-x86_64 >/dev/null && [ -f /usr/share/ovmf/OVMF.fd ] &&
        [ -f /usr/share/qemu/qboot.rom ]; }; then
        apt_install qemu-system-x86 qemu-system-data ovmf
    fi
    ensure_net_tools
}

# ip (iproute2) for `--net tap:NAME` (a network namespace and a tap device), curl and ping
# for the tests that talk to a guest. Installed when root; otherwise a note, since runs without a
# network need neither (and --net tap needs root anyway).
ensure_net_tools() {
    local missing=()
    command -v ip >/dev/null || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
    command -v curl >/dev/null || missing+=(curl)
    command -v ping >/dev/null || [ -x /usr/bin/ping ] || [ -x /bin/ping ] || missing+=(iputils-ping)
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        apt_install "${missing[@]}"
    else
        echo "setup: note: ${missing[*]} missing (networked guests need them): run 'sudo apt-get install -y ${missing[*]}'" >&2
    fi
}

# mke2fs, for --disk-from (ext4 images made from a folder). Often in /sbin, off PATH.
ensure_e2fsprogs() {
    if command -v mke2fs >/dev/null || [ -x /usr/sbin/mke2fs ] || [ -x /sbin/mke2fs ]; then
        return 0
    fi
    apt_install e2fsprogs
}

# nbdkit, for the store's power-cut test: its cache filter in writeback mode drops every
# write not covered by a flush when it is killed (boot::nbd).
ensure_nbdkit() {
    command -v nbdkit >/dev/null || [ -x /usr/sbin/nbdkit ] || apt_install nbdkit
}

# redis-tools (redis-cli, redis-benchmark): the clients apps/kv's tests drive it with; and
# redis-check-rdb, which is Redis's whole server (it runs as one when called redis-server),
# the reference of the differential tests and of `bench.sh kv`.
ensure_redis_tools() {
    command -v redis-cli >/dev/null && command -v redis-benchmark >/dev/null &&
        command -v redis-check-rdb >/dev/null || apt_install redis-tools
}

# Installs Debian packages when root, or says what to run.
apt_install() {
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing $* (apt-get)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
    else
        die "missing packages: run 'sudo apt-get install -y $*'"
    fi
}

# Builds the host tool (boot/) and replaces the shell with `boot VERB ARGS...`.
exec_host_tool() {
    cargo build --quiet --release -p boot
    exec target/release/boot "$@"
}
