#!/usr/bin/env python3
"""Tests of kernel/ra_metadata.py (run by `make test`):

    python3 kernel/test_ra_metadata.py

A small synthetic `cargo metadata` graph with every way cargo turns an
optional dependency on or leaves it off; the filter must keep exactly what
cargo would build, with the features it would build it with.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ra_metadata import prune  # noqa: E402


def pkg(name, features=None, deps=(), kind="lib"):
    return {"id": f"{name}-id", "name": name, "version": "1.0.0",
            "features": features or {}, "dependencies": list(deps),
            "targets": [{"name": name, "kind": [kind]}]}


def dep(name, optional=False, features=(), default=True, rename=None, kind=None):
    return {"name": name, "optional": optional, "features": list(features),
            "uses_default_features": default, "rename": rename, "kind": kind, "target": None}


def graph():
    packages = [
        # root: uses `lib` with feature "fast", and `renamed` under another name
        pkg("root", {}, [dep("lib", features=["fast"]), dep("tool", kind="build"),
                         dep("real", rename="renamed")]),
        pkg("lib",
            {"default": ["std"], "std": [], "fast": ["dep:simd", "helper?/speed"],
             "gpu": ["dep:cuda"], "vision": ["image/png"], "helper": ["dep:helper"]},
            [dep("simd", optional=True), dep("cuda", optional=True),
             dep("image", optional=True), dep("helper", optional=True),
             dep("core", default=False), dep("derive")]),
        pkg("simd", {"default": []}),
        pkg("cuda", {"default": []}, [dep("huge")]),
        pkg("huge"),
        pkg("image", {"png": []}),
        pkg("helper", {"speed": []}),
        pkg("core", {"default": ["alloc"], "alloc": []}),
        pkg("tool"),
        pkg("real", {"default": ["x"], "x": []}),
        pkg("derive", {}, [dep("syn")], kind="proc-macro"),
        pkg("syn"),
    ]
    ids = {p["name"]: p["id"] for p in packages}

    def node(name, features, deps):
        return {"id": ids[name], "features": features,
                "deps": [{"name": d, "pkg": ids[d],
                          "dep_kinds": [{"kind": k, "target": None}]} for d, k in deps],
                "dependencies": [ids[d] for d, _ in deps]}

    # What `cargo metadata` reports: every declared dependency, features over-unified.
    nodes = [
        node("root", [], [("lib", None), ("tool", "build"), ("real", None)]),
        node("lib", ["default", "fast", "gpu", "std", "vision"],
             [("simd", None), ("cuda", None), ("image", None), ("helper", None), ("core", None),
              ("derive", None)]),
        node("simd", ["default"], []), node("cuda", ["default"], [("huge", None)]),
        node("huge", [], []), node("image", ["png"], []), node("helper", ["speed"], []),
        node("core", ["alloc", "default"], []), node("tool", [], []),
        node("real", ["default", "x"], []),
        node("derive", [], [("syn", None)]), node("syn", [], []),
    ]
    return {"packages": packages, "resolve": {"root": ids["root"], "nodes": nodes},
            "workspace_members": [ids["root"]], "version": 1}


class Prune(unittest.TestCase):
    def test_keeps_what_cargo_builds_with_its_features(self):
        out = prune(graph())
        kept = sorted(p["name"] for p in out["packages"])
        # cuda (and huge below it), image and helper are declared but not
        # enabled; tool is a build dependency, derive a proc-macro crate (and
        # syn is only its dependency)
        self.assertEqual(kept, ["core", "lib", "real", "root", "simd"])
        features = {n["id"].removesuffix("-id"): n["features"] for n in out["resolve"]["nodes"]}
        self.assertEqual(features["lib"], ["default", "fast", "std"])
        self.assertEqual(features["core"], [], "default-features = false")
        self.assertEqual(features["real"], ["default", "x"], "renamed dependency")
        lib = next(n for n in out["resolve"]["nodes"] if n["id"] == "lib-id")
        self.assertEqual(sorted(d["name"] for d in lib["deps"]), ["core", "simd"])
        self.assertEqual(sorted(lib["dependencies"]), ["core-id", "simd-id"])

    def test_an_enabling_feature_brings_the_dependency_and_its_features(self):
        meta = graph()
        root = meta["packages"][0]
        root["dependencies"][0]["features"] = ["fast", "gpu", "vision", "helper"]
        out = prune(meta)
        kept = sorted(p["name"] for p in out["packages"])
        self.assertEqual(kept, ["core", "cuda", "helper", "huge", "image", "lib", "real",
                                "root", "simd"])
        features = {n["id"].removesuffix("-id"): n["features"] for n in out["resolve"]["nodes"]}
        self.assertEqual(features["image"], ["png"], "image/png")
        self.assertEqual(features["helper"], ["speed"], "helper?/speed once helper is on")

    def test_a_package_that_is_also_a_normal_dependency_stays(self):
        meta = graph()
        # syn used directly by lib as well as by the proc macro
        meta["packages"][1]["dependencies"].append(dep("syn"))
        lib = next(n for n in meta["resolve"]["nodes"] if n["id"] == "lib-id")
        lib["deps"].append({"name": "syn", "pkg": "syn-id", "dep_kinds": [{"kind": None, "target": None}]})
        kept = sorted(p["name"] for p in prune(meta)["packages"])
        self.assertEqual(kept, ["core", "lib", "real", "root", "simd", "syn"])

    def test_without_a_root_the_input_is_unchanged(self):
        meta = graph()
        meta["resolve"]["root"] = None
        self.assertEqual(prune(copy.deepcopy(meta)), meta)

    def test_the_script_passes_unreadable_input_through(self):
        script = Path(__file__).resolve().parent / "ra_metadata.py"
        run = subprocess.run([sys.executable, str(script)], input="not json",
                             capture_output=True, text=True, check=True)
        self.assertEqual(run.stdout, "not json")
        self.assertIn("unfiltered", run.stderr)
        run = subprocess.run([sys.executable, str(script)], input=json.dumps(graph()),
                             capture_output=True, text=True, check=True)
        self.assertEqual(len(json.loads(run.stdout)["packages"]), 5)


if __name__ == "__main__":
    unittest.main()
