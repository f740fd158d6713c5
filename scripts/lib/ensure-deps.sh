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

# QEMU, and OVMF for UEFI disk images.
ensure_qemu() {
    command -v qemu-system-x86_64 >/dev/null && [ -f /usr/share/ovmf/OVMF.fd ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing qemu-system-x86 and ovmf (apt-get)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-x86 ovmf >&2
    else
        die "QEMU or OVMF missing: run 'sudo apt-get install -y qemu-system-x86 ovmf'"
    fi
}

# Builds the host tool (boot/) and replaces the shell with `boot VERB ARGS...`.
exec_host_tool() {
    cargo build --quiet --release -p boot
    exec target/release/boot "$@"
}
