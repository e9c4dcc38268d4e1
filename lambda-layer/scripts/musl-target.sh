#!/usr/bin/env bash
# Sourced (not run) by package-layer.sh, build-arm64.sh and the sidecar's
# build-image.sh: `musl_target <x86_64|aarch64>` makes sure the static musl
# target of that CPU can be built on this (x86_64 Debian) machine and sets
# TARGET to its triple. Idempotent; installs only what is missing.
#
#   x86_64   rustup target + musl-gcc (Debian musl-tools) for the C parts
#            (aws-lc-sys, mimalloc).
#   aarch64  rustup target + Debian's cross C compiler (gcc-aarch64-linux-gnu)
#            for the C parts; rust-lld links against the musl CRT and libc.a
#            that ship with the Rust target (self-contained), so the result
#            is static and independent of the cross toolchain's glibc.

musl_apt_install() {
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@") >/dev/null
}

musl_target() {
  local cpu="$1"
  TARGET="$cpu-unknown-linux-musl"
  rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
  case "$cpu" in
    x86_64)
      command -v musl-gcc >/dev/null || musl_apt_install musl-tools
      ;;
    aarch64)
      command -v aarch64-linux-gnu-gcc >/dev/null || musl_apt_install gcc-aarch64-linux-gnu
      # cc-rs looks for aarch64-linux-musl-gcc, which Debian does not ship.
      export CC_aarch64_unknown_linux_musl="${CC_aarch64_unknown_linux_musl:-aarch64-linux-gnu-gcc}"
      export AR_aarch64_unknown_linux_musl="${AR_aarch64_unknown_linux_musl:-aarch64-linux-gnu-ar}"
      export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER:-rust-lld}"
      ;;
    *)
      echo "musl_target: unknown cpu $cpu (x86_64 or aarch64)" >&2
      return 2
      ;;
  esac
}
