#!/usr/bin/env bash
# The architecture's two machine-checked rules (ARCHITECTURE.md):
# 1. the plant crate builds without the learning, data-frame, HDF5, plotting
#    and HTTP stacks: none of them is in its normal dependency tree;
# 2. no module imports one in a layer above it, and no cycle between
#    modules (scripts/check_layers.py).
set -euo pipefail
cd "$(dirname "$0")/.."

tree=$(cargo tree -p neorl-plant -e normal --prefix none --format '{p}')
forbidden='^(burn|burn-[a-z-]+|polars|polars-[a-z-]+|hdf5|hdf5-[a-z-]+|plotly|plotly_[a-z_]+|ureq|reqwest|hyper|tokio|indicatif|gemm|clap) '
if bad=$(grep -E "$forbidden" <<<"$tree" | sort -u) && [ -n "$bad" ]; then
  echo "check_architecture: neorl-plant depends on crates it must not use:" >&2
  echo "$bad" >&2
  echo "check_architecture: the plant crate is for environments, control and safety only; move that code to the neorl crate" >&2
  exit 1
fi
echo "check_architecture: neorl-plant's normal dependencies: $(cut -d' ' -f1 <<<"$tree" | sort -u | wc -l) crates, none of burn, polars, hdf5, plotly or an HTTP client"

# The policy server builds on the plant crate alone: none of the learning,
# data-frame, HDF5 or plotting stacks (it has its own HTTP server and
# Modbus; an HTTP *client* is not needed either).
tree=$(cargo tree -p neorl-serve -e normal --prefix none --format '{p}')
forbidden='^(burn|burn-[a-z-]+|polars|polars-[a-z-]+|hdf5|hdf5-[a-z-]+|plotly|plotly_[a-z_]+|ureq|reqwest|indicatif|gemm|neorl) '
if bad=$(grep -E "$forbidden" <<<"$tree" | sort -u) && [ -n "$bad" ]; then
  echo "check_architecture: neorl-serve depends on crates it must not use:" >&2
  echo "$bad" >&2
  echo "check_architecture: the policy server needs only the plant crate and serving (HTTP server, Modbus, metrics, TLS)" >&2
  exit 1
fi
echo "check_architecture: neorl-serve's normal dependencies: $(cut -d' ' -f1 <<<"$tree" | sort -u | wc -l) crates, none of burn, polars, hdf5, plotly or the neorl crate"

python3 scripts/check_layers.py
