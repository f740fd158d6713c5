#!/usr/bin/env bash
# Builds APP into one bootable image and boots it: by PVH on QEMU microvm (or q35), or as
# a BIOS/UEFI disk image on q35.
#   scripts/qemu-run.sh [--image pvh|bios|uefi] [--machine microvm|q35] [--disk PATH[,ro]]...
#                       [--disk-from DIR] [--net user[:PORT,...]|tap:NAME] [--accel kvm|tcg]
#                       [--mem MIB] [--timeout S] [--debug] [--gdb] [--verbose]
#                       [--cmdline "kernel options"] APP [-- app args...]
# Exit status: the app's; 124 timeout, 125 guest reset, 126 QEMU failed, 2 bad usage,
# 130/143 stopped by ctrl-c/SIGTERM (QEMU stopped cleanly, a tap's namespace removed).
# The host tool replaces this shell (exec), so signals reach it directly.
# The QEMU command line itself lives in boot/src/qemu.rs, shared with the tests.
set -euo pipefail
# Paths in the arguments (--disk, --disk-from) are relative to where the user is.
export UNIKERNEL_CALLER_DIR="$PWD"
cd "$(dirname "$0")/.."
source scripts/lib/ensure-deps.sh
ensure_rust
ensure_qemu
ensure_e2fsprogs
exec_host_tool run "$@"
