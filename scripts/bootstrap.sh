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
# Datasets: the HDF5 C library and pkg-config to find it (hdf5-metno links
# the system libhdf5), from Debian/Ubuntu packages.
apt_missing=()
command -v pkg-config >/dev/null 2>&1 || apt_missing+=(pkg-config)
if ! pkg-config --exists hdf5 2>/dev/null && ! dpkg -s libhdf5-dev >/dev/null 2>&1; then
  apt_missing+=(libhdf5-dev)
fi
# Tests: a real single-node SLURM cluster (the sweep tests start munged,
# slurmctld and slurmd in a temporary folder, as root; Debian 12's
# packages). Installed when running as root with apt-get (CI); elsewhere
# those tests say they are skipped.
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  # The policy server's tests: a real Prometheus scrapes its /metrics.
  for p in slurmctld slurmd slurm-client munge prometheus; do
    dpkg -s "$p" >/dev/null 2>&1 || apt_missing+=("$p")
  done
fi
apt_install() {
  local sudo="" policy=/usr/sbin/policy-rc.d ours=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # No daemon starts at install (munge, slurmctld, slurmd: the tests start
  # their own); Debian's policy-rc.d hook, only while apt-get runs.
  if [ "$(id -u)" -eq 0 ] && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && ours=1
  fi
  local rc=0
  $sudo apt-get update -qq >/dev/null || rc=$?
  [ "$rc" -eq 0 ] && { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null || rc=$?; }
  [ -n "$ours" ] && rm -f "$policy"
  return "$rc"
}
if [ ${#apt_missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    say "installing ${apt_missing[*]} (apt-get)"
    apt_install "${apt_missing[@]}"
  else
    say "missing: ${apt_missing[*]}; install the HDF5 development files and pkg-config with your package manager"
    exit 1
  fi
fi

# The Python side of the tests. NEORL_BOOTSTRAP_PYTHON=0 stops here (.ci/run
# installs it in the background while the lints run).
if [ "${NEORL_BOOTSTRAP_PYTHON:-1}" = 0 ]; then
  say "ok ($(cargo --version), hdf5 $(pkg-config --modversion hdf5 2>/dev/null || echo '?'); Python packages skipped)"
  exit 0
fi

# Tests: h5py and numpy (the dataset tests check files against h5py).
if ! python3 -c "import h5py, numpy" >/dev/null 2>&1; then
  say "installing h5py and numpy (pip)"
  if ! command -v python3 >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    apt_install python3 python3-pip
  fi
  python3 -m pip install -q h5py numpy >/dev/null 2>&1 \
    || python3 -m pip install -q --break-system-packages h5py numpy >/dev/null 2>&1 \
    || { command -v apt-get >/dev/null 2>&1 && apt_install python3-h5py python3-numpy; } \
    || { say "could not install h5py; run: python3 -m pip install h5py numpy"; exit 1; }
fi

# Tests: MLflow (the tracking tests start a real `mlflow server` and read
# runs back with MLflow's own Python client). The full package: the server
# is not in mlflow-skinny.
if ! python3 -c "import mlflow" >/dev/null 2>&1; then
  say "installing mlflow (pip; the tracking tests use its server and client)"
  python3 -m pip install -q mlflow >/dev/null 2>&1 \
    || python3 -m pip install -q --break-system-packages mlflow >/dev/null 2>&1 \
    || { say "could not install mlflow; run: python3 -m pip install mlflow"; exit 1; }
fi

# Tests: pymodbus (a PLC programmer's Modbus client reads and writes the
# policy server's register map in a test).
if ! python3 -c "import pymodbus" >/dev/null 2>&1; then
  say "installing pymodbus (pip; the policy server's Modbus test uses it)"
  python3 -m pip install -q pymodbus >/dev/null 2>&1 \
    || python3 -m pip install -q --break-system-packages pymodbus >/dev/null 2>&1 \
    || { say "could not install pymodbus; run: python3 -m pip install pymodbus"; exit 1; }
fi

# Tests: rliable (neorl::stats is checked against the reference
# implementation of Agarwal et al. 2021). Checked by importing its
# `library`, which imports arch: arch < 8 (what rliable 1.2 allows) does
# not import under pandas 3, so pandas is held below 3 (MLflow allows it).
if ! python3 -c "import rliable.library" >/dev/null 2>&1; then
  say "installing rliable (pip, with pandas<3 for its arch<8; the statistics test compares against it)"
  python3 -m pip install -q rliable 'pandas<3' >/dev/null 2>&1 \
    || python3 -m pip install -q --break-system-packages rliable 'pandas<3' >/dev/null 2>&1 \
    || { say "could not install rliable; run: python3 -m pip install rliable 'pandas<3'"; exit 1; }
fi

say "ok ($(cargo --version), hdf5 $(pkg-config --modversion hdf5 2>/dev/null || echo '?'), mlflow $(python3 -c 'import mlflow; print(mlflow.__version__)' 2>/dev/null || echo '?'))"
