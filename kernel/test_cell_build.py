#!/usr/bin/env python3
"""Tests of kernel/cell_build.py (run by `make test`):

    python3 kernel/test_cell_build.py

A stand-in cargo (a Python script) behaves as cargo does for the cell
build: it runs the rustc wrapper for the cell crate `ctx` with the
environment cargo gives rustc, and answers `cargo metadata` with one path
dependency. The tests check when a build is replayed without cargo and when
it must go to cargo: the dependency's sources, the environment, the
manifest, the switch, another command, a failed build. (The real kernel is
covered by the notebooks `make test` runs through it.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "cell_build.py"

FAKE_CARGO = textwrap.dedent("""\
    #!/usr/bin/env python3
    # A stand-in for cargo: logs its calls; `build` runs the rustc wrapper
    # for the crate ctx (as cargo does, with CARGO_* variables and a
    # jobserver); `metadata` lists ctx and one path dependency.
    import json, os, subprocess, sys
    log = os.environ["TEST_LOG"]
    with open(log, "a") as f:
        f.write("cargo " + " ".join(sys.argv[1:]) + "\\n")
    if sys.argv[1] == "metadata":
        print(json.dumps({"packages": [
            {"name": "ctx", "source": None, "manifest_path": os.path.join(os.getcwd(), "Cargo.toml")},
            {"name": "dep", "source": None, "manifest_path": os.environ["TEST_DEP"] + "/Cargo.toml"},
            {"name": "serde", "source": "registry+https://github.com/rust-lang/crates.io-index",
             "manifest_path": "/registry/serde/Cargo.toml"}]}))
        sys.exit(0)
    if sys.argv[1] == "build":
        if os.environ.get("TEST_FAIL"):
            sys.exit(101)
        env = dict(os.environ, CARGO_CRATE_NAME="ctx", CARGO_MAKEFLAGS="-j --jobserver-fds=8,9")
        cmd = [os.environ["RUSTC"], "--crate-name", "ctx", "src/lib.rs", "--out-dir", "target/deps"]
        wrapper = os.environ.get("RUSTC_WRAPPER")
        sys.exit(subprocess.run(([wrapper] if wrapper else []) + cmd, env=env).returncode)
    sys.exit(0)
    """)

FAKE_RUSTC = textwrap.dedent("""\
    #!/usr/bin/env python3
    # A stand-in for rustc (behind evcxr's wrapper): logs the call, with
    # what the environment says about cargo's jobserver and the crate.
    import os, sys
    with open(os.environ["TEST_LOG"], "a") as f:
        f.write("rustc " + " ".join(sys.argv[1:]) + " crate=" + os.environ.get("CARGO_CRATE_NAME", "-")
                + " jobserver=" + os.environ.get("CARGO_MAKEFLAGS", "-")
                + " wrapped_by=" + os.environ.get("TEST_WRAPPED_BY", "-") + "\\n")
    sys.exit(3 if os.path.exists(os.environ["TEST_LOG"] + ".fail") else 0)
    """)

FAKE_WRAPPER = textwrap.dedent("""\
    #!/usr/bin/env python3
    # A stand-in for evcxr's rustc wrapper: marks the call, runs rustc.
    import os, sys
    os.execve(sys.argv[1], sys.argv[1:], dict(os.environ, TEST_WRAPPED_BY="evcxr"))
    """)


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


class CellBuildTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="neorl-cell-build-"))
        self.slot = self.tmp / "slot"
        (self.slot / "src").mkdir(parents=True)
        (self.slot / "target").mkdir()
        (self.slot / "Cargo.toml").write_text('[package]\nname = "ctx"\n')
        (self.slot / "src" / "lib.rs").write_text("fn main() {}\n")
        self.dep = self.tmp / "dep"
        (self.dep / "src").mkdir(parents=True)
        (self.dep / "Cargo.toml").write_text('[package]\nname = "dep"\n')
        (self.dep / "src" / "lib.rs").write_text("pub fn f() {}\n")
        # Sources written before the first build (the recording refuses
        # sources changed while cargo runs).
        past = time.time() - 60
        for p in (self.dep / "Cargo.toml", self.dep / "src" / "lib.rs"):
            os.utime(p, (past, past))
        self.cargo = executable(self.tmp / "cargo", FAKE_CARGO)
        self.rustc = executable(self.tmp / "rustc", FAKE_RUSTC)
        self.wrapper = executable(self.tmp / "evcxr-wrapper", FAKE_WRAPPER)
        self.log = self.tmp / "log"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.tmp),
            "CARGO_HOME": str(self.tmp / "cargo-home"),
            "CARGO_TARGET_DIR": "target",
            "RUSTC": str(self.rustc),
            "RUSTC_WRAPPER": str(self.wrapper),
            "TEST_LOG": str(self.log),
            "TEST_DEP": str(self.dep),
        }

    def tearDown(self) -> None:
        subprocess.run(["rm", "-rf", str(self.tmp)], check=False)

    def build(self, *args: str, **env: str) -> tuple[int, list[str]]:
        """One `cargo build` through cell_build.py; its exit code and the
        calls it made (cargo's and rustc's)."""
        self.log.write_text("")
        args = args or ("build", "--target", "x86_64-unknown-linux-gnu", "--message-format=json")
        code = subprocess.run([sys.executable, str(SCRIPT), "--cargo", str(self.cargo), *args],
                              cwd=self.slot, env=dict(self.env, **env)).returncode
        return code, self.log.read_text().splitlines()

    def kinds(self, calls: list[str]) -> list[str]:
        return [c.split()[0] + (" " + c.split()[1] if c.startswith("cargo") else "") for c in calls]

    def test_second_build_runs_only_rustc(self) -> None:
        code, calls = self.build()
        self.assertEqual(code, 0)
        self.assertEqual(self.kinds(calls), ["cargo build", "rustc", "cargo metadata"])
        self.assertTrue((self.slot / "target" / "neorl-cell-build.json").is_file())
        code, calls = self.build()
        self.assertEqual(code, 0)
        self.assertEqual(self.kinds(calls), ["rustc"], "the cell's build should be replayed without cargo")
        # The replayed call is cargo's: its crate variables, through evcxr's
        # wrapper, without the recording cargo's jobserver.
        self.assertIn("--crate-name ctx", calls[0])
        self.assertIn("crate=ctx", calls[0])
        self.assertIn("wrapped_by=evcxr", calls[0])
        self.assertIn("jobserver=-", calls[0])
        # The cell's own source changes every cell: still replayed.
        (self.slot / "src" / "lib.rs").write_text("fn main() { let x = 1; }\n")
        self.assertEqual(self.kinds(self.build()[1]), ["rustc"])

    def test_edited_dependency_goes_to_cargo(self) -> None:
        self.build()
        (self.dep / "src" / "lib.rs").write_text("pub fn f() { /* edited */ }\n")
        self.assertEqual(self.kinds(self.build()[1]), ["cargo build", "rustc"])
        self.assertEqual(self.kinds(self.build()[1]), ["rustc"])
        # A new file in the dependency too.
        (self.dep / "src" / "new.rs").write_text("\n")
        self.assertEqual(self.kinds(self.build()[1])[0], "cargo build")

    def test_environment_manifest_and_config_changes_go_to_cargo(self) -> None:
        self.build()
        self.assertEqual(self.kinds(self.build(JPY_SESSION_NAME="x.ipynb")[1]), ["rustc"], "Jupyter's own")
        # An :env change: cargo again, but the dependencies' folders are
        # known from the previous record (no `cargo metadata`).
        self.assertEqual(self.kinds(self.build(MY_VAR="1")[1]), ["cargo build", "rustc"], "an :env change")
        self.build()
        (self.slot / "Cargo.toml").write_text('[package]\nname = "ctx"\n[dependencies]\nrand = "0.9"\n')
        self.assertEqual(self.kinds(self.build()[1])[0], "cargo build", "a :dep change")
        (self.slot / ".cargo").mkdir()
        (self.slot / ".cargo" / "config.toml").write_text("[net]\noffline = true\n")
        self.assertEqual(self.kinds(self.build()[1])[0], "cargo build", "an :offline change")
        self.assertEqual(self.kinds(self.build()[1]), ["rustc"])

    def test_switch_other_commands_and_failures(self) -> None:
        self.build()
        self.assertEqual(self.kinds(self.build(NEORL_KERNEL_FAST_BUILD="0")[1]), ["cargo build", "rustc"])
        self.assertEqual(self.kinds(self.build("check", "--message-format=json")[1]), ["cargo check"])
        # A failed cargo build: its code, and no record (the next build is cargo's).
        (self.slot / "Cargo.toml").write_text('[package]\nname = "ctx"\nversion = "2"\n')
        code, calls = self.build(TEST_FAIL="1")
        self.assertEqual((code, self.kinds(calls)), (101, ["cargo build"]))
        self.assertFalse((self.slot / "target" / "neorl-cell-build.json").exists())
        self.assertEqual(self.kinds(self.build()[1])[0], "cargo build")
        # A replayed rustc that fails (a compile error in the cell): its code.
        Path(str(self.log) + ".fail").write_text("")
        code, calls = self.build()
        self.assertEqual((code, self.kinds(calls)), (3, ["rustc"]))

    def test_corrupt_record_goes_to_cargo(self) -> None:
        self.build()
        (self.slot / "target" / "neorl-cell-build.json").write_text("{not json")
        self.assertEqual(self.kinds(self.build()[1])[0], "cargo build")
        self.assertEqual(self.kinds(self.build()[1]), ["rustc"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
