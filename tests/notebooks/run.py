#!/usr/bin/env python3
"""Executes notebooks headlessly through a real Jupyter kernel and checks them.

    python3 tests/notebooks/run.py [PATH ...] [--kernel neorl] [--out DIR] [--jobs N]

PATH is a notebook or a directory of notebooks (default: tutorials/ and
notebooks/ of this checkout, and tests/notebooks/latency.ipynb, the kernel's
latency probe). Each notebook runs top to bottom in a fresh
kernel (the installed `neorl` kernel unless --kernel says otherwise), one
notebook after another, through nbclient, as Jupyter would run it. A notebook
fails when

  * any cell produces an error output (a compile error), unless the cell is
    tagged `raises-exception`, in which case it fails if the cell does *not*
    raise;
  * any cell writes to stderr, unless its metadata allows it
    (`"neorl": {"stderr": true}`, for cells whose library calls report on
    stderr). evcxr reports a panic, and an `Err` propagated with `?`, only
    as text on stderr, with the cell otherwise "successful"; a panic fails
    a cell even where stderr is allowed, except in a cell marked
    `"neorl": {"panics": true}`, which must panic (tutorial 01 shows what
    the kernel keeps after a panic);
  * a cell's expected outputs are missing. Expectations live in the cell's
    metadata:

        "neorl": {"expect": ["text/html", "application/vnd.plotly.v1+json"],
                  "contains": ["normalized score"]}

    `expect` lists MIME types (or `stdout` / `stderr` for printed text) that
    the cell's outputs must include; `contains` lists strings that must occur
    in the cell's text outputs (text/plain, text/html, stdout);
  * the kernel dies or a cell runs past --timeout.

Late output. evcxr_jupyter forwards the user code's stdout and stderr one
line at a time from a separate thread, tagged with whichever execution is the
latest *when the line is forwarded*; on a loaded machine the tail of a long
report (a panic's backtrace with RUST_BACKTRACE=1) can be forwarded after the
cell went idle, and would land in the next cell. After every cell the runner
therefore keeps reading the kernel's output until it has been quiet for a
moment (--settle seconds; longer after a cell that wrote to stderr) and
gives what arrives to the cell that produced it.

A notebook whose metadata says `"neorl": {"services": ["mlflow"]}` gets a
real MLflow tracking server: the runner starts one `mlflow server` (its own
SQLite store and artifact folder in a temporary directory) before the first
such notebook and passes `MLFLOW_TRACKING_URI` to that notebook's kernel.

Notebooks run --jobs at a time (default: one per CPU core, as memory allows),
each in its own kernel and compile slot. The executed notebooks, each
kernel's log and a summary (timings.json: kernel start to ready, first
result, each cell; the kernel's memory and its compile slot's disk) are
written under --out (default target/notebooks).

Memory. While a notebook runs, the runner samples the kernel process (the
evcxr_jupyter that the kernelspec starts; the Jupyter side, nbclient and this
runner, is not counted) four times a second: `peak_kernel_mb` is the
kernel's own peak resident set (the kernel's VmHWM, exact), and
`peak_tree_mb` the largest sum of the proportional set sizes (shared pages
counted once) of the kernel and every process below it at a sample: the
process that runs the cells' code, and the cargo, rustc and linker of a
cell's build (a sampled value, so a short spike can be missed). `slot_mb` is the disk its
compile slot (EVCXR_TMPDIR) holds at the end.

Kernels started ahead of need. With a kernelspec whose provisioner is
kernel/pool's (`neorl-pool`; NEORL_KERNEL_POOL spares, default 1), each
worker process keeps spare kernels, and a notebook may get one that was
already starting or ready. Times are still measured from the request for
a kernel; `kernel_from_pool` says whether the kernel was a spare and
`spare_age_s` how long it had been starting when it was asked for.

Notebooks measured alone. A notebook whose metadata says
`"neorl": {"alone": true}` (the latency probe) runs before the others, by
itself, as a user's first notebook runs on Binder: its worker keeps at most
one kernel (NEORL_KERNEL_POOL_MAX_TOTAL=1, binder/start's cap), starts a
spare in the notebook's folder as the server extension does when a Jupyter
server starts, waits until it is ready, then runs the notebook, which gets
it; no other kernel runs beside it. (With the pool off, or a kernelspec
without it, the notebook still runs alone, with a launched kernel.) Its
cells then measure what one user waits for, not two notebooks sharing the
cores. Cells tagged `"neorl": {"latency": "trivial" | "table" | "figure"}`
are reported against issue 20's targets (first result < 10 s, trivial
cells < 1 s, tables and figures < 1.5 s, kernel < 1.5 GB): a report, not a
test; no timing fails a notebook.

Prints one line per notebook, then a table of these numbers per notebook,
the latency targets where cells are tagged and, last,
`N passed, N failed`; exits 1 if any notebook failed.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

REPO = Path(__file__).resolve().parents[2]
TEXT_MIMES = ("text/plain", "text/html", "text/markdown")


def find_notebooks(paths: list[str]) -> list[Path]:
    if not paths:
        paths = [str(REPO / "tutorials"), str(REPO / "notebooks"),
                 str(REPO / "tests" / "notebooks" / "latency.ipynb")]
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(
                q for q in p.glob("*.ipynb") if ".ipynb_checkpoints" not in q.parts
            )
        elif p.suffix == ".ipynb" and p.exists():
            found.append(p)
        else:
            raise SystemExit(f"run.py: no notebook at {p}")
    return [p.resolve() for p in found]


def cell_text(cell) -> str:
    """All text a cell showed: printed streams and text representations."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        for mime in TEXT_MIMES:
            data = out.get("data", {}).get(mime)
            if data is not None:
                parts.append(data if isinstance(data, str) else "".join(data))
    return "".join(parts)


def output_kinds(cell) -> set[str]:
    kinds = set()
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            kinds.add(out.get("name", "stdout"))
        kinds.update(out.get("data", {}).keys())
    return kinds


def streams(cell, name: str) -> list:
    """The cell's printed outputs on `name` (stdout or stderr)."""
    return [o for o in cell.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == name]


def error_text(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            tb = "\n".join(out.get("traceback", []))
            return f"{out.get('ename', '')}: {out.get('evalue', '')}\n{tb}".strip()
    return None


def check_cell(index: int, cell) -> list[str]:
    """Problems with one executed code cell (empty when it is fine)."""
    problems = []
    where = f"cell {index}"
    tags = cell.get("metadata", {}).get("tags", [])
    err = error_text(cell)
    if "raises-exception" in tags:
        if err is None:
            problems.append(f"{where} is tagged raises-exception but raised no error")
    elif err is not None:
        problems.append(f"{where} failed:\n{indent(err)}")
    spec = cell.get("metadata", {}).get("neorl", {})
    stderr = "".join(o.get("text", "") for o in streams(cell, "stderr"))
    if spec.get("panics", False):
        # A cell that demonstrates a panic: it must panic (and the cells after
        # it check what the kernel kept).
        if "panicked at" not in stderr:
            problems.append(f"{where} is marked \"panics\" but did not panic")
    elif "panicked at" in stderr:
        problems.append(f"{where} panicked:\n{indent(stderr.strip()[:3000])}")
    elif stderr.strip() and not spec.get("stderr", False):
        problems.append(f"{where} wrote to stderr (evcxr's report of an error returned with `?`):\n"
                        f"{indent(stderr.strip()[:3000])}")
    kinds = output_kinds(cell)
    for mime in spec.get("expect", []):
        if mime not in kinds:
            problems.append(
                f"{where}: expected a {mime} output, got {sorted(kinds) or 'no output'}"
            )
    text = cell_text(cell)
    for needle in spec.get("contains", []):
        if needle not in text:
            problems.append(f"{where}: expected the output to contain {needle!r}")
    return problems


def settle(client: NotebookClient, cell, quiet_s: float) -> int:
    """Collects output the kernel forwards after `cell` went idle (see the
    module doc): reads the iopub channel until nothing has arrived for
    `quiet_s` seconds (twice as long after stderr, whose reports are the long
    ones) and appends each late stream to the cell. Returns how many
    messages arrived late."""
    if quiet_s <= 0:
        return 0
    get = run_sync(client.kc.get_iopub_msg)
    wait = quiet_s * (2 if streams(cell, "stderr") else 1)
    late = 0
    while True:
        try:
            msg = get(timeout=wait)
        except queue.Empty:  # quiet for `wait` seconds
            return late
        if msg.get("msg_type") != "stream":
            continue  # status/idle of the finished request, comms, …
        late += 1
        content = msg["content"]
        cell.outputs.append(nbformat.v4.new_output(
            "stream", name=content.get("name", "stdout"), text=content.get("text", "")))
        if content.get("name") == "stderr":
            wait = quiet_s * 2


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def neorl_metadata(path: Path) -> dict:
    """The notebook's `"neorl"` metadata: `services`, `alone`."""
    return dict(nbformat.read(path, as_version=4).metadata.get("neorl", {}))


class MlflowServer:
    """`python3 -m mlflow server` on a free local port, in its own process
    group, with its store in a temporary directory; stopped on exit."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="neorl-nb-mlflow-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.uri = f"http://127.0.0.1:{self.port}"
        self.log = open(self.dir / "server.log", "wb")
        env = dict(os.environ, PYTHONWARNINGS="ignore", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
             "--port", str(self.port),
             "--backend-store-uri", f"sqlite:///{self.dir / 'mlflow.db'}",
             "--artifacts-destination", str(self.dir / "artifacts"), "--workers", "1"],
            stdout=self.log, stderr=self.log, env=env, start_new_session=True)
        t0 = time.monotonic()
        while True:
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() - t0 > 240:
                self.stop()
                raise RuntimeError("mlflow server did not start:\n"
                                   + (self.dir / "server.log").read_text(errors="replace")[-2000:])
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def proc_status_kb(pid: int, field: str) -> int:
    """A `kB` field (VmRSS, VmHWM) of /proc/PID/status; 0 when gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def proc_pss_kb(pid: int) -> int:
    """The proportional set size of PID (/proc/PID/smaps_rollup): its resident
    memory with shared pages divided among the processes that share them, so
    that a sum over processes counts each page once (a process forked by the
    kernel shares the kernel's pages until it execs); VmRSS where the kernel
    has no smaps_rollup; 0 when gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return proc_status_kb(pid, "VmRSS")
    except (OSError, ValueError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (through /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


class MemoryWatch:
    """Samples the resident memory of a kernel and of its children (see the
    module doc) from a thread, until `stop()`."""

    def __init__(self, pid: int, period_s: float = 0.25) -> None:
        self.pid = pid
        self.peak_kernel_kb = 0
        self.peak_tree_kb = 0
        self.ready_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(period_s,), daemon=True)
        self._thread.start()

    def sample(self) -> None:
        self.peak_kernel_kb = max(self.peak_kernel_kb, proc_status_kb(self.pid, "VmHWM"))
        tree = sum(proc_pss_kb(p) for p in descendants(self.pid))
        self.peak_tree_kb = max(self.peak_tree_kb, tree)

    def _run(self, period_s: float) -> None:
        while not self._stop.wait(period_s):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def kernel_pid(client: NotebookClient) -> int | None:
    provisioner = getattr(client.km, "provisioner", None)
    pid = getattr(provisioner, "pid", None)
    return int(pid) if pid else None


def kernel_tmpdir(pid: int) -> Path | None:
    """The kernel's compile slot: EVCXR_TMPDIR in its environment."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for var in f.read().split(b"\0"):
                if var.startswith(b"EVCXR_TMPDIR="):
                    return Path(os.fsdecode(var.split(b"=", 1)[1]))
    except OSError:
        pass
    return None


def disk_mb(path: Path) -> int | None:
    """Disk space under `path` (du), in MB."""
    try:
        out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, timeout=120)
        return round(int(out.stdout.split()[0]) / 1024)
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def mb(kb: int) -> int:
    return round(kb / 1024)


def run_notebook(path: Path, args, out_dir: Path, env: dict[str, str]) -> tuple[bool, dict, list[str]]:
    nb = nbformat.read(path, as_version=4)
    rel = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    out_path = out_dir / rel
    out_path.parent.mkdir(parents=True, exist_ok=True)
    log_path = out_path.with_suffix(".kernel.log")
    client = NotebookClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout,
        startup_timeout=args.startup_timeout,
        allow_errors=False,
        record_timing=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    timing = {"notebook": str(rel), "cells": []}
    problems: list[str] = []
    kernel_problems: list[str] = []
    lines: list[str] = []
    t0 = time.monotonic()
    watch: MemoryWatch | None = None
    slot: Path | None = None
    with open(log_path, "wb") as log:
        try:
            with client.setup_kernel(stdout=log, stderr=log, env=dict(os.environ, **env)):
                timing["kernel_ready_s"] = round(time.monotonic() - t0, 2)
                provisioner = getattr(client.km, "provisioner", None)
                timing["kernel_from_pool"] = bool(getattr(provisioner, "from_pool", False))
                if getattr(provisioner, "spare_age_s", None) is not None:
                    timing["spare_age_s"] = provisioner.spare_age_s
                pid = kernel_pid(client)
                if pid is not None:
                    watch = MemoryWatch(pid)
                    watch.sample()
                    timing["ready_kernel_mb"] = mb(proc_status_kb(pid, "VmRSS"))
                    slot = kernel_tmpdir(pid)
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    c0 = time.monotonic()
                    try:
                        client.execute_cell(cell, index)
                    except CellExecutionError:
                        # Recorded in the cell's outputs; reported by check_cell.
                        pass
                    seconds = round(time.monotonic() - c0, 2)
                    late = settle(client, cell, args.settle)
                    entry = {"index": index, "seconds": seconds, "late_outputs": late}
                    kind = cell.get("metadata", {}).get("neorl", {}).get("latency")
                    if kind:
                        entry["latency"] = kind
                    timing["cells"].append(entry)
                    if "first_result_s" not in timing:
                        timing["first_result_s"] = round(time.monotonic() - t0, 2)
                    cell_problems = check_cell(index, cell)
                    problems += cell_problems
                    status = "FAIL" if cell_problems else "ok"
                    note = f"  ({late} late output line(s) kept with this cell)" if late else ""
                    lines.append(f"    cell {index:>3}  {seconds:8.2f} s  {status}{note}")
                    if cell_problems:
                        break  # later cells would only fail for the same reason
                if watch is not None:
                    watch.stop()
                    timing["peak_kernel_mb"] = mb(watch.peak_kernel_kb)
                    timing["peak_tree_mb"] = mb(watch.peak_tree_kb)
        except (CellTimeoutError, DeadKernelError, RuntimeError, TimeoutError) as e:
            kernel_problems.append(f"{type(e).__name__}: {e}")
        except Exception as e:  # a kernel that never started, a broken notebook
            kernel_problems.append(f"{type(e).__name__}: {e}\n{indent(traceback.format_exc())}")
    if watch is not None:
        watch.stop()  # (again, harmless) when a kernel problem ended the run early
    timing["total_s"] = round(time.monotonic() - t0, 2)
    if slot is not None:
        timing["slot_mb"] = disk_mb(slot)
    nbformat.write(nb, out_path)
    if kernel_problems:
        log_tail = log_path.read_text(errors="replace").splitlines()[-40:]
        if log_tail:
            kernel_problems.append("kernel log (last lines):\n" + indent("\n".join(log_tail)))
        problems += kernel_problems
    timing["problems"] = problems
    return not problems, timing, lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", help="notebooks or directories of notebooks")
    ap.add_argument("--kernel", default="neorl", help="kernelspec name (default: neorl)")
    ap.add_argument("--out", default=str(REPO / "target" / "notebooks"),
                    help="where executed notebooks, kernel logs and timings go")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    ap.add_argument("--startup-timeout", type=int, default=7200,
                    help="seconds for the kernel to start (a cold start compiles the dependencies)")
    ap.add_argument("--jobs", type=int, default=0,
                    help="notebooks run at once (default: $NEORL_NOTEBOOK_JOBS, else one per core as memory allows)")
    ap.add_argument("--settle", type=float, default=0.5,
                    help="seconds of kernel quiet that end a cell's output (doubled after stderr; 0: off)")
    ap.add_argument("--quiet", action="store_true", help="no per-cell lines")
    args = ap.parse_args()

    notebooks = find_notebooks(args.paths)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(args.jobs or default_jobs(), len(notebooks) or 1))
    print(f"running {len(notebooks)} notebook(s), {jobs} at a time, kernel {args.kernel!r}", flush=True)
    passed = failed = 0
    timings = []
    mlflow = None
    envs: dict[Path, dict[str, str]] = {}
    meta = {p: neorl_metadata(p) for p in notebooks}
    for p in notebooks:
        envs[p] = {}
        if "mlflow" in meta[p].get("services", []):
            if mlflow is None:
                mlflow = MlflowServer()
                print(f"started an MLflow server at {mlflow.uri}", flush=True)
            envs[p]["MLFLOW_TRACKING_URI"] = mlflow.uri
    alone = [p for p in notebooks if meta[p].get("alone")]
    together = [p for p in notebooks if p not in alone]
    try:
        passed, failed = run_all(alone, args, out_dir, envs, 1, timings, worker=run_alone)
        p2, f2 = run_all(together, args, out_dir, envs, jobs, timings)
        passed, failed = passed + p2, failed + f2
    finally:
        if mlflow is not None:
            mlflow.stop()
    timings.sort(key=lambda t: t["notebook"])
    (out_dir / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print(summary_table(timings), flush=True)
    targets = targets_table(timings)
    if targets:
        print(targets, flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or not notebooks else 0


def run_alone(path: Path, args, out_dir: Path, env: dict[str, str]) -> tuple[bool, dict, list[str]]:
    """run_notebook in a worker of its own that runs as Binder does (see the
    module doc): at most one kernel, a spare started in the notebook's folder
    and ready before the notebook asks for a kernel."""
    os.environ["NEORL_KERNEL_POOL_MAX_TOTAL"] = "1"
    os.environ.update(env)
    waited = prestart_and_wait(args.kernel, path.parent, args.startup_timeout)
    ok, timing, lines = run_notebook(path, args, out_dir, env)
    timing["alone"] = True
    if waited is not None:
        timing["spare_prestart_s"] = waited
    return ok, timing, lines


def prestart_and_wait(kernel: str, folder: Path, timeout: float) -> float | None:
    """Starts the kernelspec's pool in `folder`, as kernel/pool's server
    extension does, and waits until its spare answers kernel_info; seconds
    waited, or None when the kernelspec has no pool (or it is off) or the
    spare did not become ready (the notebook then takes what the pool gives)."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager
        import neorl_pool
    except ImportError:
        return None
    spec = KernelSpecManager().get_kernel_spec(kernel)
    if (spec.metadata or {}).get("kernel_provisioner", {}).get("provisioner_name") != "neorl-pool":
        return None
    pool = neorl_pool.prestart(spec, kernel, os.path.realpath(folder))
    if pool is None or not pool.spares:
        return None
    pool.size = 0  # the one spare only: none is started after it
    spare = pool.spares[0]
    t0 = time.monotonic()
    if neorl_pool.wait_until_answering(
            spare.connection_info, lambda: spare.alive() and time.monotonic() - t0 < timeout):
        return round(time.monotonic() - t0, 2)
    return None


def run_all(notebooks, args, out_dir, envs, jobs, timings, worker=None) -> tuple[int, int]:
    passed = failed = 0
    if not notebooks:
        return passed, failed
    worker = worker or run_notebook
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(worker, p, args, out_dir, envs[p]): p for p in notebooks}
        for future in as_completed(futures):
            path = futures[future]
            rel = path.relative_to(REPO) if path.is_relative_to(REPO) else path
            try:
                ok, timing, lines = future.result()
            except Exception as e:  # the worker itself failed
                ok, timing, lines = False, {"notebook": str(rel), "total_s": 0,
                                            "problems": [f"runner error: {e!r}"]}, []
            timings.append(timing)
            print(f"notebook {rel}", flush=True)
            if not args.quiet:
                print("\n".join(lines), flush=True)
            print(f"  {'PASS' if ok else 'FAIL'} {rel}: kernel {kernel_origin(timing)}, "
                  f"ready {timing.get('kernel_ready_s', '-')} s, "
                  f"first result {timing.get('first_result_s', '-')} s, total {timing['total_s']} s",
                  flush=True)
            if ok:
                passed += 1
            else:
                failed += 1
                for p in timing["problems"]:
                    print(indent(p), flush=True)
    return passed, failed


def summary_table(timings: list[dict]) -> str:
    """One row per notebook: where its kernel came from, kernel start to ready and to the first cell's
    result, the median and slowest cell, the kernel's peak memory (alone and
    with its compiler children) and its compile slot's disk, as Markdown."""
    def f(v, fmt="{:.1f}"):
        return "-" if v is None else fmt.format(v)
    rows = ["| notebook | kernel | ready s | first result s | cells | median cell s | slowest cell s "
            "| kernel at ready MB | peak kernel MB | peak with children MB | slot disk MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in timings:
        secs = sorted(c["seconds"] for c in t.get("cells", []))
        median = secs[len(secs) // 2] if secs else None
        rows.append(
            f"| {t['notebook']} | {kernel_origin(t)} | {f(t.get('kernel_ready_s'))} | {f(t.get('first_result_s'))} "
            f"| {len(secs)} | {f(median, '{:.2f}')} | {f(secs[-1] if secs else None)} "
            f"| {f(t.get('ready_kernel_mb'), '{}')} | {f(t.get('peak_kernel_mb'), '{}')} "
            f"| {f(t.get('peak_tree_mb'), '{}')} | {f(t.get('slot_mb'), '{}')} |")
    return "\n".join(rows)


def kernel_origin(t: dict) -> str:
    """`spare (N s)` for a kernel taken from the pool after N s of starting,
    `launched` for one started for the notebook; `, alone` for a notebook
    that ran by itself."""
    if t.get("kernel_from_pool"):
        origin = f"spare ({t.get('spare_age_s', 0):.0f} s)"
    else:
        origin = "launched" if "kernel_ready_s" in t else "-"
    return origin + (", alone" if t.get("alone") else "")


# Issue 20's targets: (what, the cells' `latency` tag, seconds).
LATENCY_TARGETS = (("trivial cells", "trivial", 1.0), ("tables", "table", 1.5), ("figures", "figure", 1.5))
FIRST_RESULT_TARGET_S = 10.0
KERNEL_TARGET_MB = 1500


def targets_table(timings: list[dict]) -> str:
    """For each notebook with cells tagged `latency`: its first result, each
    kind of tagged cell (the slowest and every time) and the kernel's peak
    against issue 20's targets, as Markdown; empty when no cell is tagged.
    Reported, not asserted."""
    rows = []
    for t in timings:
        cells = [c for c in t.get("cells", []) if c.get("latency")]
        if not cells:
            continue
        name = f"{t['notebook']} ({kernel_origin(t)})"

        def row(what: str, value: float | None, unit: str, target: float, detail: str = "") -> None:
            met = "-" if value is None else ("met" if value < target else "not met")
            shown = "-" if value is None else f"{value:g} {unit}"
            rows.append(f"| {name} | {what} | {shown}{detail} | < {target:g} {unit} | {met} |")

        row("first result", t.get("first_result_s"), "s", FIRST_RESULT_TARGET_S)
        for what, tag, target in LATENCY_TARGETS:
            secs = [c["seconds"] for c in cells if c["latency"] == tag]
            if secs:
                row(f"{what}, slowest of {len(secs)}", max(secs), "s", target,
                    " (" + ", ".join(f"{x:g}" for x in secs) + ")")
        row("kernel peak", t.get("peak_kernel_mb"), "MB", KERNEL_TARGET_MB)
    if not rows:
        return ""
    head = ["Latency targets (issue 20; measured, not asserted):", "",
            "| notebook | what | measured | target | |", "|---|---|---|---|---|"]
    return "\n".join(head + rows)


def default_jobs() -> int:
    """One notebook per core, at most one per 4 GB of available memory."""
    env = os.environ.get("NEORL_NOTEBOOK_JOBS")
    if env:
        return int(env)
    mem_gb = 8.0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    mem_gb = int(line.split()[1]) / 2**20
    except OSError:
        pass
    return max(1, min(os.cpu_count() or 1, int(mem_gb // 4)))


if __name__ == "__main__":
    sys.exit(main())
