#!/usr/bin/env bash
# Installs what neorl needs on a fresh machine, and nothing that is already
# there. Safe to run again. What it installs is listed in README.md.
set -euo pipefail

say() { echo "bootstrap: $*" >&2; }

# Rust toolchain: cargo and rustc are required; rustfmt and clippy for CI.
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    say "cargo not found. Install Rust (https://rustup.rs), then run this again."
    exit 1
  fi
fi
if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
      say "installing rustup component $c"
      rustup component add "$c" || say "could not install $c (only needed for CI lints)"
    fi
  done
fi
say "ok ($(cargo --version))"
