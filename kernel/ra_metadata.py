#!/usr/bin/env python3
"""Filters `cargo metadata` for evcxr's rust-analyzer: keeps only the
packages a build actually compiles.

    cargo metadata --format-version 1 ... | python3 kernel/ra_metadata.py

Why. evcxr finds the type of every variable a cell binds with its built-in
rust-analyzer, which loads every package that `cargo metadata` lists — all of
their sources into memory. `cargo metadata`'s graph also holds every optional
dependency that a dependency *declares* but that no enabled feature turns on
(burn's tch, CUDA, ROCm, wgpu and vision backends, polars' SQL, image codecs…):
for the neorl kernel 666 packages (269 MB of Rust source) where the build
compiles 295 (111 MB). rust-analyzer's memory follows the sources it loads.

What. This filter resolves features the way cargo's build does, from the
root package down: a dependency is followed when it is not optional or an
enabled feature turns it on (`dep:x`, `x/f`, or the implicit feature `x`),
and it gets the features its dependents ask for (its default features unless
`default-features = false`, `x/f` and `x?/f` items). Every package the
build reaches is kept with the features it is built with; the rest is
dropped, so rust-analyzer sees the graph cargo compiles, with the same
`cfg(feature = …)`.

Two more kinds of package are left out, because evcxr's rust-analyzer never
uses them: build dependencies (it runs no build script) and procedural-macro
packages with what only they depend on (it starts no proc-macro server, so
a `#[derive]` from such a package is not expanded whether or not its source
is loaded; syn, quote, serde_derive, darling…). For the kernel: 237 packages
instead of 307 (115 MB of Rust source instead of 131), and the kernel's peak
memory 1422-1430 MB instead of 1547-1556 MB (kernel/LATENCY.md).

Input without a root package (a virtual workspace such
as the standard library's), or that it cannot read, passes through
unchanged. kernel/install.sh installs the `cargo` that runs it (see there).
"""

from __future__ import annotations

import json
import sys


def closure(pkg: dict, features: set[str]) -> tuple[set[str], set[str]]:
    """The features `features` enable in `pkg` (transitively), and every
    item of their definitions (`dep:x`, `x/f`, `x?/f`, feature names)."""
    table = pkg["features"]
    enabled: set[str] = set()
    items: set[str] = set()
    todo = list(features)
    while todo:
        f = todo.pop()
        if f in enabled:
            continue
        enabled.add(f)
        for item in table.get(f, []):
            items.add(item)
            if not item.startswith("dep:") and "/" not in item:
                todo.append(item)
    return enabled, items


def is_proc_macro(pkg: dict) -> bool:
    """Whether a package is a procedural-macro crate."""
    return any("proc-macro" in t.get("kind", []) for t in pkg.get("targets", []))


def prune(meta: dict) -> dict:
    root = meta.get("resolve", {}).get("root") if meta.get("resolve") else None
    if root is None:
        return meta
    pkgs = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}

    def edges(nid: str):
        """(resolved dependency, its kind, the manifest entry) of a node."""
        pkg = pkgs[nid]
        for d in nodes[nid]["deps"]:
            name = pkgs[d["pkg"]]["name"]
            for k in d["dep_kinds"]:
                if k["kind"] == "dev" and nid != root:
                    continue
                for m in pkg["dependencies"]:
                    if m["name"] == name and m.get("kind") == k["kind"] and m.get("target") == k["target"]:
                        yield d, k, m

    requested: dict[str, set[str]] = {root: {"default"} & set(pkgs[root]["features"])}
    kept: dict[str, dict[str, tuple[dict, list]]] = {}
    changed = True
    while changed:
        changed = False
        for nid in list(requested):
            pkg = pkgs[nid]
            enabled, items = closure(pkg, requested[nid])
            for d, k, m in edges(nid):
                if k["kind"] == "build" or is_proc_macro(pkgs[d["pkg"]]):
                    continue  # nothing rust-analyzer runs or expands here
                key = m.get("rename") or m["name"]
                on = (not m.get("optional")
                      or f"dep:{key}" in items
                      or any(i.startswith(key + "/") for i in items)
                      or (key in enabled and key not in pkg["features"]))
                if not on:
                    continue
                dep_features = pkgs[d["pkg"]]["features"]
                want = set(m.get("features", []))
                if m.get("uses_default_features", True) and "default" in dep_features:
                    want.add("default")
                for i in items:
                    if i.startswith(key + "/") or i.startswith(key + "?/"):
                        want.add(i.split("/", 1)[1])
                have = requested.setdefault(d["pkg"], set())
                entry = kept.setdefault(nid, {}).setdefault(d["pkg"], (d, []))
                if k not in entry[1]:
                    entry[1].append(k)
                    changed = True
                if not want <= have:
                    have |= want
                    changed = True
    out_nodes = []
    for nid, n in nodes.items():
        if nid in requested:
            enabled, _ = closure(pkgs[nid], requested[nid])
            deps = [dict(d, dep_kinds=ks) for d, ks in kept.get(nid, {}).values()]
            out_nodes.append(dict(n, features=sorted(enabled), deps=deps,
                                  dependencies=[d["pkg"] for d in deps]))
    meta["packages"] = [p for p in meta["packages"] if p["id"] in requested]
    meta["resolve"]["nodes"] = out_nodes
    return meta


def main() -> int:
    data = sys.stdin.read()
    if not data.strip():  # cargo failed; its own message is on stderr
        return 0
    try:
        out = json.dumps(prune(json.loads(data)))
    except Exception as e:  # pass cargo's output through rather than break evcxr
        print(f"ra_metadata.py: left cargo metadata unfiltered ({type(e).__name__}: {e})",
              file=sys.stderr)
        out = data
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
