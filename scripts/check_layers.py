#!/usr/bin/env python3
"""Checks neorl's module layering (ARCHITECTURE.md, "Dependency rule").

Reads the sources of both crates, finds every path a module uses
(`crate::…`, `super::…`, `self::…`, and `neorl_plant::…` from the `neorl`
crate), resolves it to the file that defines the module it names, and checks:

1. No upward edge between layers: each top-level module has a rank (the
   LAYERS tables below) and may use only modules of a lower or equal rank.
2. No cycle between files, anywhere (e.g. `agents/agent.rs` ↔
   `agents/buffer.rs`).

What is not a dependency: test code (`tests.rs`, `testing.rs`, inline
`#[cfg(test)] mod … { … }` blocks and `#[cfg(test)]` items), a module using
its own children (a `mod.rs` declaring, re-exporting or calling its parts:
containment, not layering; its children using it back do count), and the
re-exports of former paths marked `#[doc(hidden)]` right above them (names
only, kept for compatibility).
A path that names an item re-exported by a `mod.rs` (`super::Figure`,
`crate::agents::Device`) is resolved to the file that defines it.

Exit 1 with one line per violation; `--graph` prints every edge.
Written by hand (no crate or package does this offline for a Rust tree
without compiling it), so it reads sources as text: keep `use` paths plain.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Top-level modules of each crate, lowest layer first. A module may use
# modules of its own rank or below.
LAYERS = {
    "neorl/plant/src": {
        "error": 0,
        "display": 0,
        "limits": 0,
        "paths": 0,
        "policy": 1,
        "env": 2,
        "inference": 2,
        "control": 3,
        "estimate": 3,
        "safety": 4,
        "rollout": 5,
        "report": 6,
    },
    "neorl/src": {
        # The plant crate's modules, re-exported under the same names.
        "error": 0,
        "policy": 0,
        "env": 0,
        "control": 0,
        "safety": 0,
        "inference": 0,
        "limits": 0,
        "paths": 0,
        "progress": 1,
        "viz": 1,
        "stats": 1,
        "track": 2,
        "data": 3,
        "agents": 4,
        "eval": 5,
        "experiments": 6,
        "report": 7,
        "bench": 8,
        "quickstart": 8,
        "sweep": 8,
        # The binary: main.rs and its cli/ module tree.
        "main": 9,
        "cli": 9,
    },
}
# Modules of the `neorl` crate that are the plant crate's.
PLANT_REEXPORTS = {"error", "limits", "paths", "policy", "env", "control", "safety", "inference"}


def strip_comments_and_strings(text):
    """Blank out comments and string literals, keeping line structure."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"' or (c == "r" and re.match(r'r#*"', text[i:i + 8])
                          and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            m = re.match(r'r(#*)"', text[i:]) if c == "r" else None
            if m:
                end = '"' + m.group(1)
                j = text.find(end, i + len(m.group(0)))
                j = n if j < 0 else j + len(end)
            else:
                j = i + 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            m = re.match(r"'(\\.|[^\\'])'", text[i:i + 4])
            out.append(" " * len(m.group(0)))
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def block_end(text, start):
    """Index just past the `{ … }` block that begins at or after `start`."""
    i = text.find("{", start)
    depth = 0
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def strip_test_code(text):
    """Blank out `#[cfg(test)]` items (inline test modules, test helpers)."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]", text)
        if not m:
            return text
        after = m.end()
        semi = text.find(";", after)
        brace = text.find("{", after)
        if brace < 0 or (0 <= semi < brace):
            end = semi + 1  # `#[cfg(test)] mod tests;` or a `use`
        else:
            end = block_end(text, after)
        text = text[:m.start()] + re.sub(r"[^\n]", " ", text[m.start():end]) + text[end:]


def hidden_reexports(text):
    """Blank out `pub use …;` items marked `#[doc(hidden)]` (former paths)."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r"#\[doc\(hidden\)\]\s*pub use [^;]*;", blank, text)


class Crate:
    def __init__(self, src):
        self.src = ROOT / src
        self.layers = LAYERS[src]
        self.files = {}  # module path tuple -> Path
        for f in sorted(self.src.rglob("*.rs")):
            rel = f.relative_to(self.src)
            if rel.name in ("tests.rs", "testing.rs"):
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "mod":
                parts.pop()
            if parts == ["lib"]:
                parts = []
            self.files[tuple(parts)] = f
        self.code = {}
        self.reexports = {}  # module -> {name: child module}
        for mod, f in self.files.items():
            text = hidden_reexports(strip_test_code(strip_comments_and_strings(f.read_text())))
            self.code[mod] = text
            names = {}
            for m in re.finditer(r"pub(?:\([a-z]+\))? use\s+((?:self::)?[a-z_][a-z0-9_]*)::([^;]*);", text):
                child = m.group(1).removeprefix("self::")
                if (mod + (child,)) not in self.files:
                    continue
                for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", m.group(2)):
                    names.setdefault(name, mod + (child,))
            self.reexports[mod] = names

    def resolve(self, base, segments):
        """The file module a path (already made absolute: base + segments) names."""
        mod = tuple(base)
        for seg in segments:
            if mod + (seg,) in self.files:
                mod = mod + (seg,)
                continue
            nxt = self.reexports.get(mod, {}).get(seg)
            if nxt is not None:
                mod = nxt
                continue
            break
        return mod

    def edges(self):
        out = set()
        for mod, text in self.code.items():
            for m in re.finditer(r"\b(crate|super|self|neorl_plant)((?:::[A-Za-z_][A-Za-z0-9_]*)+)", text):
                root, rest = m.group(1), m.group(2).split("::")[1:]
                if root == "neorl_plant":
                    target = ("<plant>",)
                elif root == "crate":
                    if rest and rest[0] in PLANT_REEXPORTS and "plant" not in str(self.src):
                        target = (rest[0],)
                    else:
                        target = self.resolve((), rest)
                else:
                    # In `a/b.rs` (module a::b) `super` is `a`; in `a/mod.rs`
                    # (module a) it is the crate root.
                    parent = mod if root == "self" else mod[:-1]
                    while rest and rest[0] == "super":
                        parent, rest = parent[:-1], rest[1:]
                    target = self.resolve(parent, rest)
                # A module using its own children is containment, not a
                # layer edge (a `mod.rs` showing or calling its parts).
                if target[:len(mod)] == mod or target == ():
                    continue
                out.add((mod, target))
        return out

    def rank(self, mod):
        if mod == ("<plant>",):
            return -1
        if not mod:
            return 99
        return self.layers.get(mod[0])


def name(mod):
    return "::".join(mod) or "crate"


def find_cycles(edges):
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return sccs


def main():
    problems, show = [], "--graph" in sys.argv
    for src in LAYERS:
        crate = Crate(src)
        edges = crate.edges()
        for mod in crate.files:
            if mod and crate.rank(mod) is None:
                problems.append(f"{src}: module `{name(mod)}` has no layer: add it to LAYERS in scripts/check_layers.py")
        for a, b in sorted(edges):
            if show:
                print(f"{src}: {name(a)} -> {name(b)}")
            ra, rb = crate.rank(a), crate.rank(b)
            if ra is not None and rb is not None and rb > ra:
                problems.append(f"{src}: upward edge {name(a)} (layer {ra}) -> {name(b)} (layer {rb})")
        for comp in find_cycles(edges):
            problems.append(f"{src}: cycle between {', '.join(name(m) for m in comp)}")
        if not show:
            print(f"check_layers: {src}: {len(crate.files)} modules, {len(edges)} edges")
    for p in problems:
        print("check_layers: " + p)
    if problems:
        print(f"check_layers: {len(problems)} problem(s); the rule is in ARCHITECTURE.md")
        return 1
    print("check_layers: no upward edge, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
