#!/usr/bin/env bash
# The architecture's machine-checked rules (ARCHITECTURE.md):
# 1. the plant crate builds without the learning, data-frame, HDF5, plotting
#    and HTTP stacks: none of them is in its normal dependency tree;
# 2. the policy server builds on the plant crate alone: none of the
#    learning, data-frame, HDF5 or plotting stacks, nor the neorl crate (it
#    has its own HTTP server and Modbus; an HTTP *client* is not needed);
# 3. no module imports one in a layer above it, and no cycle between
#    modules (scripts/check_layers.py).
set -euo pipefail
cd "$(dirname "$0")/.."

# forbid CRATE EXTRA_FORBIDDEN WHAT_IT_IS_FOR NONE_OF: fail when CRATE's
# normal dependency tree holds the learning, data-frame, HDF5 or plotting
# stacks, an HTTP client, or a crate matching EXTRA_FORBIDDEN.
forbid() {
  local crate=$1 extra=$2 purpose=$3 none_of=$4 tree bad
  tree=$(cargo tree -p "$crate" -e normal --prefix none --format '{p}')
  local forbidden="^(burn|burn-[a-z-]+|polars|polars-[a-z-]+|hdf5|hdf5-[a-z-]+|plotly|plotly_[a-z_]+|ureq|reqwest|indicatif|gemm|$extra) "
  if bad=$(grep -E "$forbidden" <<<"$tree" | sort -u) && [ -n "$bad" ]; then
    echo "check_architecture: $crate depends on crates it must not use:" >&2
    echo "$bad" >&2
    echo "check_architecture: $purpose" >&2
    exit 1
  fi
  echo "check_architecture: $crate's normal dependencies: $(cut -d' ' -f1 <<<"$tree" | sort -u | wc -l) crates, none of $none_of"
}

forbid neorl-plant 'hyper|tokio|clap' \
  "the plant crate is for environments, control and safety only; move that code to the neorl crate" \
  "burn, polars, hdf5, plotly or an HTTP client"
forbid neorl-serve 'neorl' \
  "the policy server needs only the plant crate and serving (HTTP server, Modbus, metrics, TLS)" \
  "burn, polars, hdf5, plotly or the neorl crate"

python3 scripts/check_layers.py
