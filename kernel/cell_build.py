#!/usr/bin/env python3
"""A notebook cell's build without cargo's resolution, when nothing but the
cell changed.

    python3 cell_build.py REAL_CARGO build --target T --message-format=json
    python3 cell_build.py --record-rustc WRAPPER_OR_RUSTC ARGS...   (as RUSTC_WRAPPER)

Why. evcxr builds every cell with `cargo build` in the kernel's compile slot.
With neorl's dependency tree already built, cargo still loads the manifests
of the ~330 packages, queries the registry index and resolves the graph
before it finds that only the cell's own crate (`ctx`) needs compiling:
0.38 s of a trivial cell's 0.9 s on the 2-core machine class, 80 % of it
resolution (perf: `resolver::activate`, `RegistryIndex::query`,
`read_manifest`), the rest the fingerprints of the fresh units. The compile
that follows is one rustc call whose command line is the same for every
cell of a kernel.

What this does. The kernel's `cargo` (install.sh's wrapper) sends the
`build` that evcxr runs here. The first build of a slot, and any build whose
inputs changed, runs the real cargo, with this script as the rustc wrapper
for that build only: it records the `ctx` crate's rustc command line and
environment, and passes the call on to evcxr's own wrapper (its cache and
the file through which it tells evcxr where the cell's library is). Every
later build whose inputs are the recorded ones runs that rustc call
directly. evcxr reads rustc's JSON diagnostics as it reads cargo's
(unwrapped messages are handled; errors are found on stdout and stderr) and
the cell's library from the file its wrapper writes.

The inputs, any change of which sends the build to the real cargo: the
command line and working directory; the whole environment but the Jupyter
server's JPY_* variables (evcxr's `:env` changes it; build scripts may read
any variable); the crate's Cargo.toml, Cargo.lock and every cargo
configuration file cargo would read here; the real cargo's and rustc's
binaries; and the files of every path dependency (neorl and the notebook
crate: their paths, sizes and modification times, as `cargo metadata`
listed them at the recording), so that an edit to neorl's sources is
rebuilt as cargo would. Registry packages cannot change under a version.
NEORL_KERNEL_FAST_BUILD=0 turns this off: every build runs the real cargo.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RECORD_NAME = "neorl-cell-build.json"
CELL_CRATE = "ctx"
# Set for the real cargo's build and read by the recording wrapper.
RECORD_ENV = "NEORL_CELL_BUILD_RECORD"
WRAPPED_ENV = "NEORL_CELL_BUILD_WRAPPED"
# Jobserver variables name file descriptors of the cargo that set them; a
# replayed rustc has none, and makes its own.
JOBSERVER_ENV = ("CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS")
SKIP_DIRS = {"target", "node_modules", "__pycache__"}
# Variables that the Jupyter server sets per kernel (JPY_SESSION_NAME, …) and
# no build reads: a spare handed to a notebook gets them, and its first cell
# would otherwise go to cargo.
IGNORED_ENV_PREFIX = "JPY_"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--cargo"] and len(argv) >= 2:
        return cargo(argv[1], argv[2:])
    if os.environ.get(RECORD_ENV):
        return record_rustc(argv)
    print("cell_build.py: run as `cell_build.py --cargo REAL_CARGO ARGS…` (kernel/install.sh's "
          "cargo wrapper does), or as a rustc wrapper during a recording build", file=sys.stderr)
    return 2


def cargo(real: str, args: list[str]) -> int:
    """The kernel's `cargo ARGS…`: a replayed cell build when its inputs are
    the recorded ones, else the real cargo (recording when it is a cell build)."""
    here = Path.cwd()
    if (os.environ.get("NEORL_KERNEL_FAST_BUILD", "1") == "0"
            or len(args) != 4 or args[0] != "build" or args[1] != "--target"
            or args[3] != "--message-format=json"
            or os.environ.get("CARGO_TARGET_DIR") != "target"
            or not (here / "Cargo.toml").is_file()):
        os.execv(real, [real] + args)
    record_path = here / "target" / RECORD_NAME
    record = load(record_path)
    if record and record.get("rustc") and record.get("key") == inputs_key(
            real, args, here, record.get("packages", [])):
        trace("replay")
        return replay(record["rustc"])
    trace("cargo" if record else "cargo (no record)")
    return build_and_record(real, args, here, record_path, record)


def trace(what: str) -> None:
    """One line per build in $NEORL_CELL_BUILD_LOG, when it is set."""
    log = os.environ.get("NEORL_CELL_BUILD_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{time.time():.3f} {what} {Path.cwd()}\n")


def load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def config_files(here: Path) -> list[Path]:
    """The cargo configuration files cargo reads for a build in `here`."""
    files = [p / ".cargo" / name for p in [here, *here.parents] for name in ("config.toml", "config")]
    cargo_home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")
    return files + [cargo_home / "config.toml", cargo_home / "config"]


def file_state(path: Path) -> list:
    try:
        st = path.stat()
    except OSError:
        return [str(path), None]
    return [str(path), st.st_size, st.st_mtime_ns]


def tree_state(root: str) -> list:
    """Every file below a package's folder (not build output or hidden
    folders): path, size, modification time."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            out.append(file_state(Path(dirpath, name)))
    return out


def inputs_key(real: str, args: list[str], here: Path, packages: list[str],
               trees: list[list] | None = None) -> str:
    """A digest of everything that could make cargo do more than compile the
    cell (see the module doc); `trees`: the packages' tree_state, when the
    caller has it."""
    h = hashlib.sha256()

    def put(value) -> None:
        h.update(json.dumps(value, sort_keys=True).encode())
        h.update(b"\0")

    put([real, args, str(here.resolve())])
    put(hashlib.sha256(Path(__file__).read_bytes()).hexdigest())  # records of another version: stale
    put(sorted((k, v) for k, v in os.environ.items()
               if k not in (RECORD_ENV, WRAPPED_ENV) and not k.startswith(IGNORED_ENV_PREFIX)))
    for p in [here / "Cargo.toml", here / "Cargo.lock", *config_files(here)]:
        put([str(p), p.read_bytes().hex() if p.is_file() else None])
    put(file_state(Path(os.path.realpath(real))))
    if os.environ.get("RUSTC"):
        put(file_state(Path(os.path.realpath(os.environ["RUSTC"]))))
    put(packages)
    for tree in trees if trees is not None else map(tree_state, packages):
        put(tree)
    return h.hexdigest()


def replay(rustc: dict) -> int:
    """The recorded rustc call of the cell crate, as cargo made it; its JSON
    diagnostics go to stderr, where evcxr reads them."""
    try:
        os.chdir(rustc["cwd"])
        os.execvpe(rustc["argv"][0], rustc["argv"], rustc["env"])
    except OSError as e:
        print(f"cell_build.py: could not run the recorded rustc ({e}); "
              "set NEORL_KERNEL_FAST_BUILD=0 to build through cargo", file=sys.stderr)
    return 1


def build_and_record(real: str, args: list[str], here: Path, record_path: Path,
                     previous: dict | None) -> int:
    """The real cargo, with this script as its rustc wrapper to record the
    cell crate's rustc call; then the inputs it was made from (the path
    dependencies' folders from the previous record when the manifest and
    lock file are the same, else from `cargo metadata`)."""
    part = record_path.with_name(RECORD_NAME + ".rustc")
    for stale in (record_path, part):
        stale.unlink(missing_ok=True)
    env = dict(os.environ)
    env[WRAPPED_ENV] = env.get("RUSTC_WRAPPER", "")
    env[RECORD_ENV] = str(part)
    env["RUSTC_WRAPPER"] = os.path.realpath(__file__)
    before = time.time_ns()
    code = subprocess.run([real] + args, env=env).returncode
    rustc = load(part)
    part.unlink(missing_ok=True)
    if code != 0 or rustc is None:
        return code
    manifests = manifest_digest(here)
    if previous and previous.get("manifests") == manifests and isinstance(previous.get("packages"), list):
        packages = previous["packages"]
    else:
        packages = path_packages(real, here)
    if packages is None:
        return code
    # A source edited while cargo ran may or may not be in this build: no record.
    trees = [tree_state(root) for root in packages]
    if any(f[1] is not None and f[2] >= before for tree in trees for f in tree):
        return code
    record = {"key": inputs_key(real, args, here, packages, trees), "manifests": manifests,
              "packages": packages, "rustc": rustc}
    tmp = record_path.with_name(RECORD_NAME + ".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(record_path)
    return code


def manifest_digest(here: Path) -> str:
    h = hashlib.sha256()
    for name in ("Cargo.toml", "Cargo.lock"):
        p = here / name
        h.update(p.read_bytes() if p.is_file() else b"-")
        h.update(b"\0")
    return h.hexdigest()


def path_packages(real: str, here: Path) -> list[str] | None:
    """The folders of the path dependencies (not the cell crate), from
    `cargo metadata`; None when it fails."""
    out = subprocess.run([real, "metadata", "--format-version", "1", "--offline"],
                         capture_output=True, cwd=here)
    if out.returncode != 0:
        return None
    try:
        meta = json.loads(out.stdout)
    except ValueError:
        return None
    own = str((here / "Cargo.toml").resolve())
    return sorted(str(Path(p["manifest_path"]).parent) for p in meta.get("packages", [])
                  if p.get("source") is None and str(Path(p["manifest_path"]).resolve()) != own)


def record_rustc(argv: list[str]) -> int:
    """As the rustc wrapper of a recording build: note the cell crate's call
    (the command, with evcxr's wrapper in front, its environment and folder),
    then make the call."""
    wrapped = os.environ.get(WRAPPED_ENV, "")
    cmd = ([wrapped] if wrapped else []) + argv
    env = {k: v for k, v in os.environ.items() if k not in (RECORD_ENV, WRAPPED_ENV)}
    if wrapped:
        env["RUSTC_WRAPPER"] = wrapped
    else:
        env.pop("RUSTC_WRAPPER", None)
    if crate_name(argv) == CELL_CRATE:
        replay_env = {k: v for k, v in env.items() if k not in JOBSERVER_ENV}
        Path(os.environ[RECORD_ENV]).write_text(
            json.dumps({"argv": cmd, "env": replay_env, "cwd": os.getcwd()}))
    os.execvpe(cmd[0], cmd, env)


def crate_name(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv[:-1]):
        if arg == "--crate-name":
            return argv[i + 1]
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
