#!/usr/bin/env bash
# Installs the "Rust (neorl)" Jupyter kernel for this checkout, and nothing
# that is already there; safe to run again.
#
#   1. evcxr_jupyter (cargo install, pinned version) and Jupyter's Python side
#      (jupyterlab, nbclient, nbformat; pip) when missing; the mold linker
#      (apt) when it can, which evcxr then uses to link every cell.
#   1b. kernel/pool (pip, editable, next to Jupyter): the kernel provisioner
#      `neorl-pool`, which keeps NEORL_KERNEL_POOL spare kernels started ahead
#      of need (default 1; 0: off) and hands them out (kernel/LATENCY.md), and
#      its Jupyter server extension, enabled for the user (step 3), which
#      starts the first spare with the server.
#   2. $NEORL_KERNEL_HOME (default ~/.local/share/neorl-kernel[-NAME]): the evcxr
#      configuration (config/init.evcxr, config/prelude.rs), the cargo profile
#      for the kernel's builds (.cargo/config.toml) and the compile slots.
#   2b. $NEORL_KERNEL_HOME/toolchain: the active Rust toolchain seen through
#      links, whose `cargo` passes every `cargo metadata` of the dependency
#      graph through kernel/ra_metadata.py; the launcher puts it first
#      (RUSTUP_TOOLCHAIN, PATH), so evcxr's rust-analyzer loads only the
#      packages the build compiles (half the memory and start-up time).
#   3. The kernelspec `neorl` ("Rust (neorl)"), with absolute paths and the
#      `neorl-pool` provisioner, in the user's Jupyter data directory. evcxr's own `rust` kernel is left alone.
#   4. Pre-warms: executes kernel/warmup.ipynb once in the compile slot
#      "template", which compiles neorl and its dependency tree there and into
#      evcxr's cache; every kernel starts from a copy of that build (see
#      kernel/neorl-kernel), so no notebook compiles the dependency tree.
#      Skipped when nothing it depends on has changed since the last warm-up.
#
# Environment: NEORL_KERNEL_HOME, NEORL_KERNEL_FEATURES (neorl features for the
# kernel, default "frames"), NEORL_KERNEL_SKIP_WARMUP=1, NEORL_KERNEL_NO_APT=1,
# NEORL_KERNEL_NAME (kernelspec name, default "neorl"; another name installs a
# second kernel side by side with its own home, e.g. with other features:
# NEORL_KERNEL_NAME=neorl-cuda NEORL_KERNEL_FEATURES=frames,cuda).
set -euo pipefail

say() { echo "kernel/install.sh: $*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
evcxr_version=0.22.0
features=${NEORL_KERNEL_FEATURES-frames}
cache_mb=${NEORL_KERNEL_CACHE_MB:-6000}
name=${NEORL_KERNEL_NAME:-neorl}
suffix=""
[ "$name" = neorl ] || suffix="-$name"
home=${NEORL_KERNEL_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/neorl-kernel$suffix}
display="Rust (neorl)"
[ "$name" = neorl ] || display="Rust (neorl: $name)"

# --- 1. tools ---------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    say "cargo not found. Install Rust (https://rustup.rs), then run this again."
    exit 1
  fi
fi
cargo_bin=$(dirname "$(command -v cargo)")

if ! cargo install --list 2>/dev/null | grep -q "^evcxr_jupyter v$evcxr_version:"; then
  say "installing evcxr_jupyter $evcxr_version (cargo install; about 10 minutes on 2 cores)"
  cargo install evcxr_jupyter --version "$evcxr_version" --locked
fi
# evcxr's rust-analyzer types a cell's variables from the sources it sees,
# the standard library's among them: without the rust-src component even
# `let env = neorl::make(…)?;` fails ("Couldn't automatically determine type
# of variable"). Machine images do not always carry it.
if command -v rustup >/dev/null 2>&1 \
  && ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
  say "installing the rust-src component (rustup; evcxr's type inference reads it)"
  rustup component add rust-src
fi
if [ ! -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
  say "the Rust standard library's sources (rust-src) are missing from $(rustc --print sysroot); evcxr cannot infer cells' types without them: run 'rustup component add rust-src'"
  exit 1
fi
evcxr=$(command -v evcxr_jupyter || echo "$cargo_bin/evcxr_jupyter")
[ -x "$evcxr" ] || { say "evcxr_jupyter is not on PATH after installing it"; exit 1; }

pip_install() {
  python3 -m pip install -q "$@" \
    || python3 -m pip install -q --break-system-packages "$@"
}
if ! command -v python3 >/dev/null 2>&1; then
  say "python3 not found; install Python 3 (with pip), then run this again"
  exit 1
fi
if ! python3 -c "import jupyter_client, nbclient, nbformat" >/dev/null 2>&1; then
  say "installing nbclient, nbformat (pip)"
  pip_install nbclient nbformat
fi
if ! command -v jupyter-lab >/dev/null 2>&1 && ! command -v jupyter-notebook >/dev/null 2>&1; then
  say "installing jupyterlab (pip)"
  pip_install jupyterlab
fi

# The provisioner, editable so that it follows this checkout as the
# kernelspec's launcher does; installed again when it points elsewhere.
if ! python3 - "$repo/kernel/pool/neorl_pool" >/dev/null 2>&1 <<'EOF'
import os, sys, neorl_pool
sys.exit(os.path.dirname(os.path.realpath(neorl_pool.__file__)) != os.path.realpath(sys.argv[1]))
EOF
then
  say "installing the kernel provisioner kernel/pool (pip, editable)"
  pip_install --no-deps -e "$repo/kernel/pool"
fi

# evcxr links each cell with mold when it finds it (then lld, then the system
# linker); mold makes a cell's link step several times faster.
if ! command -v mold >/dev/null 2>&1 && [ "${NEORL_KERNEL_NO_APT:-0}" != 1 ] \
  && command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo -n"
  say "installing mold (apt-get)"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mold; } >/dev/null 2>&1 \
    || say "could not install mold; cells link with the system linker (slower)"
fi

# --- 2. the kernel's home: evcxr configuration and cargo profile ------------
mkdir -p "$home/config" "$home/.cargo" "$home/slots"
feature_list=""
for f in ${features//,/ }; do
  feature_list+="${feature_list:+, }\"$f\""
done
sed -e "s|@NOTEBOOK_CRATE@|$repo/kernel/neorl-notebook|" -e "s|@FEATURES@|$feature_list|" \
  -e "s|@CACHE_MB@|$cache_mb|" \
  "$repo/kernel/evcxr/init.evcxr.in" >"$home/config/init.evcxr.new"
mv "$home/config/init.evcxr.new" "$home/config/init.evcxr"
cp "$repo/kernel/evcxr/prelude.rs" "$home/config/prelude.rs"
cp "$repo/kernel/evcxr/evcxr.toml" "$home/config/evcxr.toml"
# The kernel's cargo profile: its own settings, then the dependencies that the
# workspace optimises (root Cargo.toml), so the tests and the kernel share one list.
{
  cat "$repo/kernel/cargo-config.toml"
  echo
  echo "# From $repo/Cargo.toml: the dependencies that do numerical work."
  python3 - "$repo/Cargo.toml" <<'EOF'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    packages = tomllib.load(f)["profile"]["dev"]["package"]
hot = [name for name, cfg in packages.items() if name != "*" and cfg.get("opt-level") == 2]
if not hot:
    sys.exit("kernel/install.sh: no opt-level = 2 packages in the root Cargo.toml's [profile.dev.package.*]")
for name in hot:
    print(f"[profile.dev.package.{name}]\nopt-level = 2")
EOF
} >"$home/.cargo/config.toml.new"
mv "$home/.cargo/config.toml.new" "$home/.cargo/config.toml"
cmp -s "$repo/Cargo.lock" "$home/Cargo.lock" 2>/dev/null || cp "$repo/Cargo.lock" "$home/Cargo.lock"

# The toolchain the kernel runs: the active one through symbolic links, but
# for `cargo`, which filters `cargo metadata` for rust-analyzer (see
# kernel/ra_metadata.py), compiles a cell without cargo's resolution when
# nothing else changed (kernel/cell_build.py), and is the real cargo otherwise. rustc behind the
# link finds its own sysroot, so builds and their fingerprints are unchanged.
sysroot=$(rustc --print sysroot)
toolchain="$home/toolchain"
rm -rf "$toolchain.new"
mkdir -p "$toolchain.new/bin"
for entry in "$sysroot"/*; do
  [ "$(basename "$entry")" = bin ] || ln -s "$entry" "$toolchain.new/"
done
for entry in "$sysroot"/bin/*; do
  [ "$(basename "$entry")" = cargo ] || ln -s "$entry" "$toolchain.new/bin/"
done
{
  echo '#!/usr/bin/env bash'
  echo '# Written by kernel/install.sh: the real cargo, except that a `cargo metadata`'
  echo '# of the whole dependency graph goes through kernel/ra_metadata.py, and a'
  echo '# `cargo build` through kernel/cell_build.py (a cell compiled without'
  echo '# cargo when only the cell changed).'
  printf 'real=%q\nfilter=%q\nfast=%q\nlock=%q\n' "$sysroot/bin/cargo" "$repo/kernel/ra_metadata.py" "$repo/kernel/cell_build.py" "$home/Cargo.lock"
  cat <<'WRAPPER'
# The dependency versions neorl is tested with. A slot's lock file starts as
# the checkout's, but evcxr's first build has no dependency yet, and cargo
# then prunes the lock file to nothing; the resolution that adds neorl (not
# all of it through this wrapper) would then take every package afresh from
# the registry, versions neorl was never tested with. So whenever the slot's
# lock file does not list neorl, the checkout's is put back, before and after
# each command run in a slot (cargo keeps what it can use of it).
keep_lock() {
  case "$PWD/" in "${lock%/Cargo.lock}/slots/"*) ;; *) return ;; esac
  if [ -f Cargo.toml ] && [ -f "$lock" ] \
    && ! grep -q '^name = "neorl-notebook"$' Cargo.lock 2>/dev/null; then
    cp "$lock" Cargo.lock
  fi
}
keep_lock
if [ "${1-}" = build ]; then
  python3 "$fast" --cargo "$real" "$@"
  code=$?
  keep_lock
  exit "$code"
fi
metadata=0
for arg in "$@"; do
  case "$arg" in
    metadata) metadata=1 ;;
    --no-deps) metadata=0; break ;;
  esac
done
if [ "$metadata" = 1 ]; then
  set -o pipefail
  "$real" "$@" | python3 "$filter"
else
  "$real" "$@"
fi
code=$?
keep_lock
exit "$code"
WRAPPER
} >"$toolchain.new/bin/cargo"
chmod +x "$toolchain.new/bin/cargo"
rm -rf "$toolchain"
mv "$toolchain.new" "$toolchain"

# --- 3. the kernelspec ------------------------------------------------------
spec=$(mktemp -d)
trap 'rm -rf "$spec"' EXIT
python3 - "$spec/kernel.json" "$repo/kernel/neorl-kernel" "$home" "$cargo_bin" "$display" <<'EOF'
import json, os, sys
out, launcher, home, cargo_bin, display = sys.argv[1:]
spec = {
    "argv": [launcher, "--control_file", "{connection_file}"],
    "display_name": display,
    "language": "rust",
    "interrupt_mode": "message",
    "env": {
        "NEORL_KERNEL_HOME": home,
        "EVCXR_CONFIG_DIR": os.path.join(home, "config"),
        # Where cargo and evcxr_jupyter are, for a Jupyter started without them on PATH.
        "NEORL_CARGO_BIN": cargo_bin,
        # Long calls print periodic lines (evcxr cannot redraw a bar in place).
        "NEORL_PROGRESS": "lines",
    },
    # Spare kernels started ahead of need (kernel/pool; NEORL_KERNEL_POOL).
    "metadata": {"debugger": False, "kernel_provisioner": {"provisioner_name": "neorl-pool"}},
}
with open(out, "w") as f:
    json.dump(spec, f, indent=2)
EOF
for logo in logo-32x32.png logo-64x64.png; do
  src=$(ls "$HOME"/.cargo/registry/src/*/evcxr_jupyter-"$evcxr_version"/third_party/rust/rust-"${logo#logo-}" 2>/dev/null | head -n1 || true)
  [ -n "$src" ] && cp "$src" "$spec/$logo"
done
jupyter kernelspec install --user --replace --name "$name" "$spec" >/dev/null
say "kernelspec '$name' ($display) installed: $(jupyter kernelspec list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kernelspecs"][sys.argv[1]]["resource_dir"])' "$name")"

# kernel/pool's server extension: a Jupyter server starts one spare kernel as
# it starts, in the folder of the latest notebook that used the kernel, so
# the first notebook of a session finds its kernel ready (an idle kernel,
# about 1.4 GB, until then). NEORL_KERNEL_POOL=0 in the server's environment
# or `jupyter server extension disable --user neorl_pool` turns it off;
# NEORL_KERNEL_SERVER_EXTENSION=0 leaves it alone here.
# `jupyter server extension enable` only toggles an extension that some
# jupyter_server_config.d file already lists (it refuses others, and exits 0),
# so the extension is listed the way a package ships it: a file in the
# user's config.d, written once. `jupyter server extension disable` sets it
# to false in that same file, which later runs of this script leave alone.
if [ "${NEORL_KERNEL_SERVER_EXTENSION:-1}" != 0 ]; then
  confd="$(jupyter --config-dir)/jupyter_server_config.d"
  mkdir -p "$confd"
  [ -f "$confd/neorl_pool.json" ] \
    || printf '{\n  "ServerApp": {\n    "jpserver_extensions": {\n      "neorl_pool": true\n    }\n  }\n}\n' \
      >"$confd/neorl_pool.json"
  if grep -q '"neorl_pool": true' "$confd/neorl_pool.json"; then
    say "Jupyter servers start a spare '${NEORL_KERNEL_POOL_PRESTART:-neorl}' kernel (server extension neorl_pool, $confd/neorl_pool.json; disable: jupyter server extension disable --user neorl_pool)"
  else
    say "the server extension neorl_pool stays disabled ($confd/neorl_pool.json; enable: jupyter server extension enable --user neorl_pool)"
  fi
fi

# --- 4. pre-warm ------------------------------------------------------------
# The stamp covers everything the compiled tree depends on: toolchain, evcxr,
# configuration, lock file and neorl's sources.
stamp=$(
  {
    rustc -vV
    echo "evcxr_jupyter $evcxr_version"
    cat "$home/config/init.evcxr" "$home/config/prelude.rs" "$home/config/evcxr.toml" \
      "$home/.cargo/config.toml" "$repo/Cargo.lock"
    command -v mold || true
    (cd "$repo" && find Cargo.toml neorl/Cargo.toml neorl/src neorl/plant/Cargo.toml neorl/plant/src datasets/registry.toml kernel/neorl-notebook -type f -print0 \
      | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -d' ' -f1
)
template="$home/slots/template"
if [ "${NEORL_KERNEL_SKIP_WARMUP:-0}" = 1 ]; then
  say "warm-up skipped (NEORL_KERNEL_SKIP_WARMUP=1)"
elif [ -f "$template/warm.stamp" ] && [ "$(cat "$template/warm.stamp")" = "$stamp" ]; then
  say "compile cache already warm"
else
  say "pre-warming: compiling neorl and its dependencies for the kernel (cold: tens of minutes on 2 cores; once)"
  start=$(date +%s)
  NEORL_KERNEL_SLOT=template NEORL_KERNEL_POOL=0 python3 "$repo/tests/notebooks/run.py" --quiet --kernel "$name" \
    --out "$home/warmup" "$repo/kernel/warmup.ipynb"
  # Kernels copy the template's build into their own slot when this changes.
  echo "$stamp" >"$template/warm.stamp.new"
  mv "$template/warm.stamp.new" "$template/warm.stamp"
  say "warm-up took $(($(date +%s) - start)) s"
fi
say "ok: open a notebook with the '$display' kernel, e.g. jupyter lab $repo/tutorials"
