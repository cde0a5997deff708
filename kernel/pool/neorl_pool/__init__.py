"""Kernels started ahead of need for the neorl Jupyter kernel.

A neorl kernel answers its first cell about 35 s after it is launched, nearly
all of it inside evcxr (kernel/LATENCY.md). This provisioner moves that wait
out of the user's way: within one Jupyter process (a Jupyter server, or a
worker of the notebook runner) it keeps `NEORL_KERNEL_POOL` spare kernels
(default 1; 0 turns the pool off and every kernel is launched as the local
provisioner launches it), each an ordinary launch of the kernelspec's argv
with a connection file of its own, so each takes its own compile slot. A
request for a kernel from the directory a spare started in takes the
oldest such spare, whether it is ready or still starting, and a replacement starts in the background once the kernel handed
out has answered, at nice 19 until it is handed out in turn (a kernel's
start is about a CPU-minute; beside a kernel in use it would slow that one
down as much as it gains for the next).

`NEORL_KERNEL_POOL_MAX_TOTAL` (default: no cap) caps the kernels of this
process that are alive (spares, and kernels handed out or launched plainly):
no spare is started while that many live. An idle kernel holds about 1.6 GB;
mybinder.org gives 2 GB in all, so Binder runs with a cap of 1 (binder/start).

A spare is made to behave as if it had been launched for the notebook that
gets it:

  * Working directory. A spare serves only requests from the directory it
    was started in. Spares start in the directory of the latest request (the
    first in the Jupyter process's own, or NEORL_KERNEL_POOL_PRESTART_DIR for
    the server extension), so notebooks of one folder get a kernel that
    started where they are; a request from elsewhere gets a kernel launched
    for it, and the spare is replaced by one started in that directory. (A
    spare cannot be moved: evcxr starts the process that runs the cells anew
    after an interrupt or a crash, in evcxr's own directory, which nothing
    outside it can change.)
  * Environment. Variables the request sets that the spare's launch did not
    (JPY_SESSION_NAME from a Jupyter server, MLFLOW_TRACKING_URI from the
    notebook runner) are set, once the spare is ready, in evcxr's own process
    (`:env`, which cargo and a restarted cell process inherit) and in the cell
    process (`std::env::set_var`), and printed back, which is checked. A
    request that lacks a variable the spare has, or sets one that cannot be
    passed on a command line (a newline), gets a kernel launched for it
    instead.
  * Restart. A restart launches the kernel anew as the local provisioner
    does (same ports: the clients already connected keep working); the pool
    serves new kernels only.
  * Output. A spare's stdout and stderr go through pipes that this process
    reads; until it is handed out they are kept, then written to where the
    request sends the kernel's output (the runner's kernel log), and so is
    what follows.
  * Lifecycle. The handed-out kernel is this provisioner's process, with its
    process group, so interrupt, restart, shutdown and the detection of a
    dead kernel are the local provisioner's. Spares are shut down (SIGTERM to
    their process group, SIGKILL after a grace period) when the Jupyter
    process exits normally, including a multiprocessing worker, whose
    exit skips `atexit`; a process killed with SIGKILL leaves them running.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import resource
import shutil
import signal
import subprocess
import threading
import time
import uuid
from multiprocessing import util as mp_util
from string import Template
from typing import Any, Callable

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.connect import LocalPortCache, write_connection_file
from jupyter_client.launcher import launch_kernel
from jupyter_client.provisioning import LocalProvisioner
from jupyter_core.paths import jupyter_data_dir, jupyter_runtime_dir

__all__ = ["PoolProvisioner", "pool_size", "max_total"]

# Seconds a handed-out spare may still take to become ready before it is
# given up for a kernel launched for the request. A warm kernel is ready in
# about 35 s (a minute on a busy machine); a spare that started while the
# compile template was rebuilt takes longer, and so would a launch.
READY_TIMEOUT_S = float(os.environ.get("NEORL_KERNEL_POOL_READY_TIMEOUT", "600"))
# Seconds the one cell that moves a ready spare to the request's directory
# and environment may take (a cell's build: 1-3 s, 10 s on a loaded machine).
SETUP_TIMEOUT_S = 120.0
# How often a wait for a spare says so in the log.
WAIT_LOG_EVERY_S = 30.0
# Grace between SIGTERM and SIGKILL when spares are shut down.
STOP_GRACE_S = 5.0
# Niceness of a spare until it is handed out: its start (rust-analyzer, three
# builds, about a CPU-minute) then takes only what the kernels in use leave,
# instead of doubling their cells' times on 2 cores. Only where the priority
# can be raised back at the hand-out (root, or RLIMIT_NICE allows it): a
# kernel must not stay niced for the notebook that gets it.
#
# Linux's autogroup scheduling (sched_autogroup_enabled = 1, the default of
# most distributions) first shares the CPU fairly between sessions, and only
# then by niceness within a session; jupyter_client starts every kernel in a
# session of its own. So a thread's niceness alone left a starting spare an
# equal share beside the kernel in use: a notebook's 2-thread matrix products
# ran at 1.2x the 1-thread rate instead of 1.9x while a spare started
# (measured, neorl/RESULTS.md). The spare's whole session is niced as well
# (/proc/PID/autogroup), and given back the pool's own at the hand-out.
SPARE_NICE = 19
# Variables that differ between any two launches and say nothing about the
# notebook: the launcher sets the parent's pid itself.
IGNORED_ENV = {"JPY_PARENT_PID"}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number; set it to e.g. 0 or 1, or unset it") from None
    if value < 0:
        raise ValueError(f"{name}={raw!r} is negative; set it to 0 or more, or unset it")
    return value


def pool_size() -> int:
    """Spare kernels to keep (NEORL_KERNEL_POOL, default 1; 0: no pool)."""
    return _env_int("NEORL_KERNEL_POOL", 1)


def max_total() -> int | None:
    """Most kernels of this process alive at once before no spare is started
    (NEORL_KERNEL_POOL_MAX_TOTAL; unset or 0: no cap)."""
    return _env_int("NEORL_KERNEL_POOL_MAX_TOTAL", 0) or None


class _Relay:
    """Copies what a kernel writes on one pipe to a destination that can be
    set later: kept in memory while the kernel is a spare, then written to
    the descriptor of the stream its request named."""

    def __init__(self, read_fd: int, name: str) -> None:
        self._fd = read_fd
        self._lock = threading.Lock()
        self._held = bytearray()
        self._dest: int | None = None
        self._thread = threading.Thread(target=self._run, name=f"neorl-pool-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            with self._lock:
                if self._dest is None:
                    self._held += chunk
                else:
                    _write_all(self._dest, chunk)
        os.close(self._fd)
        with self._lock:
            if self._dest is not None:
                os.close(self._dest)

    def send_to(self, fd: int) -> None:
        """From now on writes to (a duplicate of) `fd`, after what was kept."""
        dest = os.dup(fd)
        with self._lock:
            _write_all(dest, bytes(self._held))
            self._held.clear()
            if self._thread.is_alive():
                self._dest = dest
            else:
                os.close(dest)


def _write_all(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass  # the destination went away (a closed log): the kernel runs on


def _stream_fd(stream: Any, default: int) -> int | None:
    """The descriptor a Popen `stdout`/`stderr` argument names: None for
    inherit (ours), a file object's or an int descriptor; None also for
    PIPE and the like, which a running kernel cannot be moved onto."""
    if stream is None:
        return default
    if isinstance(stream, int):
        return stream if stream >= 0 else None
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _can_renice() -> bool:
    """Whether this process may give a niced kernel back its own priority."""
    if os.geteuid() == 0:
        return True
    soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
    if soft == resource.RLIM_INFINITY:
        return True
    # RLIMIT_NICE r lets a process lower a niceness down to 20 - r.
    return 20 - soft <= os.getpriority(os.PRIO_PROCESS, 0)


def _autogroup_nice(pid: int) -> int:
    """The niceness of `pid`'s autogroup (0 where there is none to read)."""
    try:
        with open(f"/proc/{pid}/autogroup") as f:
            return int(f.read().split("nice")[1])
    except (OSError, IndexError, ValueError):
        return 0


def _set_autogroup_nice(pid: int, nice: int) -> bool:
    """Sets the niceness of `pid`'s autogroup, the CPU share of its whole
    session; False where the kernel has no autogroups (not Linux, or
    CONFIG_SCHED_AUTOGROUP off) or refuses."""
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(str(nice))
        return True
    except OSError:
        return False


class Spare:
    """One kernel launched ahead of need: its process, connection file and
    the directory and environment it was launched with."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str, kernel_name: str) -> None:
        self.cwd = cwd
        self.env = dict(env)
        self.started = time.monotonic()
        self.connection_file = os.path.join(
            jupyter_runtime_dir(), f"kernel-neorl-pool-{uuid.uuid4()}.json")
        os.makedirs(os.path.dirname(self.connection_file), exist_ok=True)
        _, info = write_connection_file(
            self.connection_file, ip="127.0.0.1", key=str(uuid.uuid4()).encode(),
            kernel_name=kernel_name)
        info["key"] = info["key"].encode() if isinstance(info["key"], str) else info["key"]
        self.connection_info = info
        cmd = [a.replace("{connection_file}", self.connection_file) for a in argv]
        nice = shutil.which("nice")
        self.niced = bool(nice) and _can_renice()
        if self.niced:
            cmd = [nice, "-n", str(SPARE_NICE)] + cmd  # nice execs the launcher: same pid
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self.process = launch_kernel(cmd, stdout=out_w, stderr=err_w, env=dict(env), cwd=cwd)
        finally:
            os.close(out_w)
            os.close(err_w)
        self.pgid = os.getpgid(self.process.pid)
        if self.niced:
            _set_autogroup_nice(self.process.pid, SPARE_NICE)
        self.stdout = _Relay(out_r, "stdout")
        self.stderr = _Relay(err_r, "stderr")

    def alive(self) -> bool:
        return self.process.poll() is None

    def unnice(self) -> None:
        """Gives every thread of the kernel's process group (PRIO_PGRP covers
        threads on Linux) this process's priority."""
        if self.niced:
            os.setpriority(os.PRIO_PGRP, self.pgid, os.getpriority(os.PRIO_PROCESS, 0))
            _set_autogroup_nice(self.process.pid, _autogroup_nice(os.getpid()))
            self.niced = False

    def remove_connection_file(self) -> None:
        try:
            os.remove(self.connection_file)
        except FileNotFoundError:
            pass

    def stop(self) -> None:
        """SIGTERM to the spare's process group, SIGKILL after the grace."""
        for sig, wait in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
            if self.process.poll() is not None:
                break
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        # The kernel's own children (cargo, the cell process) share its group.
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.remove_connection_file()


class Pool:
    """The spares of one kernelspec in this process, and every live kernel
    launched through it (for the cap)."""

    def __init__(self, argv: list[str], kernel_name: str, env: dict[str, str], cwd: str) -> None:
        self.argv = list(argv)
        self.kernel_name = kernel_name
        self.env = {k: v for k, v in env.items() if k not in IGNORED_ENV}
        self.cwd = cwd
        self.size = pool_size()
        self.max_total = max_total()
        self.spares: list[Spare] = []
        self.launched: list[subprocess.Popen] = []
        self.pid = os.getpid()
        self.lock = threading.Lock()

    def alive(self) -> int:
        self.launched = [p for p in self.launched if p.poll() is None]
        return len(self.launched)

    def track(self, process: subprocess.Popen) -> None:
        with self.lock:
            self.launched.append(process)

    def fill(self) -> None:
        """Starts spares until there are `size` of them, within the cap."""
        with self.lock:
            if _exiting.is_set():
                return
            for spare in [s for s in self.spares if not s.alive()]:
                spare.stop()  # died while waiting (its output is lost with it)
                self.spares.remove(spare)
            while len(self.spares) < self.size and (
                    self.max_total is None or self.alive() < self.max_total):
                spare = Spare(self.argv, self.env, self.cwd, self.kernel_name)
                self.spares.append(spare)
                self.launched.append(spare.process)

    def fill_after_ready(self, connection_info: dict, process: subprocess.Popen) -> None:
        """fill() once the kernel just handed out answers (or exits), from a
        thread: a kernel's start is CPU-bound (rust-analyzer, three builds),
        and a spare started beside it would slow it down as much as it gains
        for the next one (on 2 cores, the first kernel's start went from
        about 40 s to about 75 s). A ready spare answers at once."""

        def wait_then_fill() -> None:
            wait_until_answering(connection_info,
                                 lambda: process.poll() is None and not _exiting.is_set())
            self.fill()

        threading.Thread(target=wait_then_fill, name="neorl-pool-fill", daemon=True).start()

    def take(self) -> Spare | None:
        """The oldest live spare, out of the pool; None when there is none."""
        with self.lock:
            while self.spares:
                spare = self.spares.pop(0)
                if spare.alive():
                    return spare
                spare.stop()
            return None

    def shutdown(self) -> None:
        if os.getpid() != self.pid:
            return  # a forked child holds a copy of the parent's pool: not its kernels
        with self.lock:
            spares, self.spares = self.spares, []
        for spare in spares:
            spare.stop()


_pools: dict[tuple, Pool] = {}
_pools_lock = threading.Lock()
# Set when this process shuts its pools down: no spare starts after that.
_exiting = threading.Event()


def _shutdown_all() -> None:
    _exiting.set()
    with _pools_lock:
        pools = list(_pools.values())
    for pool in pools:
        pool.shutdown()


# multiprocessing runs its finalizers both at a normal interpreter exit (it
# registers them with atexit) and when a worker process ends, which exits
# through os._exit and skips atexit: the notebook runner's workers.
mp_util.Finalize(None, _shutdown_all, exitpriority=100)


def spec_env(kernel_spec: Any, base: dict[str, str]) -> dict[str, str]:
    """`base` with the kernelspec's env stanza applied, as the provisioner
    base class applies it (${VAR} substituted from `base`)."""
    env = dict(base)
    for k, v in (getattr(kernel_spec, "env", None) or {}).items():
        env[k] = Template(v).safe_substitute(base)
    return env


def get_pool(kernel_spec: Any, kernel_name: str, cwd: str) -> Pool:
    """This process's pool for the kernelspec, created on first use. Spares
    run with this process's environment and the kernelspec's stanza, the
    environment every launch starts from; what a request adds to it is given
    to the spare that serves it. They start in `cwd` until a request says
    where the next one should."""
    key = (tuple(kernel_spec.argv), json.dumps(getattr(kernel_spec, "env", {}) or {}, sort_keys=True))
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = Pool(
                kernel_spec.argv, kernel_name, spec_env(kernel_spec, dict(os.environ)), cwd)
        return pool


def _last_dir_file(kernel_name: str) -> pathlib.Path:
    return pathlib.Path(jupyter_data_dir()) / "neorl-pool" / f"last-dir-{kernel_name or 'kernel'}"


def remember_dir(kernel_name: str, cwd: str) -> None:
    """Notes the folder of the latest request for a kernel, where the server
    extension starts the first spare next time (best effort)."""
    path = _last_dir_file(kernel_name)
    try:
        if path.is_file() and path.read_text() == cwd:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}")
        tmp.write_text(cwd)
        tmp.replace(path)
    except OSError:
        pass


def prestart_dir(kernel_name: str, root_dir: str) -> str:
    """Where the server extension starts the first spare:
    NEORL_KERNEL_POOL_PRESTART_DIR, else the folder of the latest notebook
    that asked for this kernel when it lies in the server's root (the notebooks
    of one project are reopened), else the root."""
    root = os.path.realpath(root_dir)
    named = os.environ.get("NEORL_KERNEL_POOL_PRESTART_DIR")
    if named:
        return os.path.realpath(named)
    try:
        last = os.path.realpath(_last_dir_file(kernel_name).read_text().strip())
    except (OSError, UnicodeDecodeError):
        return root
    inside = last == root or last.startswith(root.rstrip(os.sep) + os.sep)
    return last if inside and os.path.isdir(last) else root


def prestart(kernel_spec: Any, kernel_name: str, cwd: str) -> Pool | None:
    """Starts this process's spares for a kernelspec now (the server
    extension calls it when a Jupyter server starts); None when the pool is
    off."""
    if pool_size() == 0:
        return None
    pool = get_pool(kernel_spec, kernel_name, cwd)
    pool.fill()
    return pool


def _rust_str(s: str) -> str:
    """`s` as a Rust string literal."""
    out = []
    for ch in s:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


# The channels the provisioner's own clients open: shell and IOPub for
# kernel_info and the set-up cell, never the heartbeat. evcxr_jupyter's
# heartbeat task ends for good when a client resets its connection (a
# jupyter_client heartbeat channel does, on any missed beat, and at
# stop_channels with a reply in flight: "hb error: ... Connection reset by
# peer" in the kernel's log), and a client with no kernel manager behind it
# waits for heartbeats before it asks for kernel_info: a spare whose heartbeat
# had ended kept `launch_kernel` waiting to its timeout (seen: 9.5 minutes).
# Whether the kernel is alive is told by its process instead.
CHANNELS = {"hb": False, "stdin": False}


def wait_until_answering(connection_info: dict, keep_waiting: Callable[[], bool]) -> bool:
    """Blocks until the kernel answers kernel_info (a client with CHANNELS:
    no heartbeat) or keep_waiting() turns false; True when it answered."""
    client = BlockingKernelClient()
    client.load_connection_info(connection_info)
    client.start_channels(**CHANNELS)
    try:
        while keep_waiting():
            try:
                client.wait_for_ready(timeout=2)
                return True
            except RuntimeError:
                continue  # not answering yet
        return False
    finally:
        client.stop_channels()


class SpareRefused(Exception):
    """A spare that did not take the request's directory or environment."""


class PoolProvisioner(LocalProvisioner):
    """The local provisioner, with kernels taken from this process's pool
    (see the module doc). `from_pool` says whether this kernel was a spare,
    `spare_age_s` how long it had been starting when it was asked for."""

    from_pool = False
    spare_age_s: float | None = None
    spare_connection_file: str | None = None
    # Set by cleanup(restart=True): the next launch is a restart.
    restarting = False

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> dict:
        self.from_pool = False
        self.spare_age_s = None
        restarting, self.restarting = self.restarting, False
        if pool_size() == 0:
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env") or os.environ)
        cwd = os.path.realpath(str(kwargs.get("cwd") or os.getcwd()))
        km = self.parent
        kernel_name = getattr(km, "kernel_name", "") or ""
        pool = get_pool(self.kernel_spec, kernel_name, cwd)
        if restarting:
            info = await super().launch_kernel(cmd, **kwargs)
            pool.track(self.process)  # counts under the cap like any kernel
            return info
        remember_dir(kernel_name, cwd)
        spare = self._usable_spare(pool, cmd, env, cwd, kwargs)
        if spare is not None:
            try:
                spare.unnice()
                await self._adopt(spare, env)
            except Exception as e:  # anything: the request still gets a kernel
                self.log.warning("neorl-pool: a spare kernel was not used (%s: %s); launching one",
                                 type(e).__name__, e)
                # stop() waits for the process: not on the event loop.
                await asyncio.get_running_loop().run_in_executor(None, spare.stop)
                spare = None
        if spare is None:
            info = await super().launch_kernel(cmd, **kwargs)
            pool.track(self.process)
        else:
            info = self._hand_over(spare, kwargs)
        # The next spare starts where this notebook is: its neighbours are the
        # likely next requests.
        pool.cwd = cwd
        pool.fill_after_ready(info, self.process)
        return info

    def _usable_spare(self, pool: Pool, cmd: list[str], env: dict[str, str], cwd: str,
                      kwargs: dict) -> Spare | None:
        """A spare, unless this launch asks for what a running kernel cannot
        be given: another command line, another directory, an output stream
        it cannot be moved onto, or fewer environment variables than it has.
        A spare of another directory is stopped (its replacement starts in
        this one)."""
        connection_file = getattr(self.parent, "connection_file", None)
        expected = [a.replace("{connection_file}", connection_file or "") for a in pool.argv]
        if cmd != expected:
            return None
        if _stream_fd(kwargs.get("stdout"), 1) is None or _stream_fd(kwargs.get("stderr"), 2) is None:
            return None
        spare = pool.take()
        if spare is None:
            return None
        if os.path.realpath(spare.cwd) != cwd:
            self.log.info("neorl-pool: the spare kernel started in %s, this one is for %s; "
                          "launching one, and the next spare starts here", spare.cwd, cwd)
            threading.Thread(target=spare.stop, name="neorl-pool-stop", daemon=True).start()
            return None
        missing = [k for k in spare.env if k not in env and k not in IGNORED_ENV]
        unpassable = [k for k, v in env.items()
                      if spare.env.get(k) != v and k not in IGNORED_ENV and ("\n" in v or "\n" in k or "=" in k)]
        if missing or unpassable:
            self.log.info("neorl-pool: launch with a different environment (%s); spare kept",
                          ", ".join(missing + unpassable))
            with pool.lock:
                pool.spares.insert(0, spare)
            return None
        return spare

    async def _adopt(self, spare: Spare, env: dict[str, str]) -> None:
        """Gives the spare the variables the request adds (see the module
        doc), waiting for it to be ready when there are any; raises
        SpareRefused when it cannot be checked to have taken them."""
        changed = {k: v for k, v in env.items() if k not in IGNORED_ENV and spare.env.get(k) != v}
        if not changed:
            return
        client = AsyncKernelClient()
        client.load_connection_info(spare.connection_info)
        client.start_channels(**CHANNELS)
        try:
            await self._wait_ready(spare, client)
            commands = "\n".join(f":env {k}={v}" for k, v in changed.items())
            await self._execute(spare, client, commands)
            # One cell: the variables for the process that runs the cells,
            # then printed back from it.
            lines = []
            for k, v in changed.items():
                lines.append(f"#[allow(unused_unsafe)] let _ = unsafe {{ std::env::set_var({_rust_str(k)}, {_rust_str(v)}) }};")
            keys = ", ".join(_rust_str(k) for k in changed)
            lines.append(
                f"for k in [{keys}] as [&str; {len(changed)}] {{ println!(\"{{}}\", std::env::var(k).unwrap_or_default()); }}")
            out = await self._execute(spare, client, "\n".join(lines))
            seen = out.split("\n")
            want = list(changed.values())
            if seen[: len(want)] != want:
                raise SpareRefused(f"it printed {seen[: len(want)]!r}, expected {want!r}")
        finally:
            client.stop_channels()

    async def _wait_ready(self, spare: Spare, client: AsyncKernelClient) -> None:
        """Until the spare answers kernel_info (and its IOPub is connected:
        jupyter_client's wait_for_ready checks both), or SpareRefused when it
        exits or does not answer within READY_TIMEOUT_S."""
        start = time.monotonic()
        said = start
        while True:
            if not spare.alive():
                raise SpareRefused(f"it exited with status {spare.process.returncode}")
            now = time.monotonic()
            if now - start > READY_TIMEOUT_S:
                raise SpareRefused(f"it was not ready after {READY_TIMEOUT_S:.0f} s "
                                   "(NEORL_KERNEL_POOL_READY_TIMEOUT)")
            if now - said >= WAIT_LOG_EVERY_S:
                said = now
                self.log.info("neorl-pool: waiting for the spare kernel to be ready (%.0f s so far, "
                              "%.0f s since it was started)", now - start, now - spare.started)
            try:
                await client.wait_for_ready(timeout=2)
                return
            except RuntimeError:
                continue  # not answering yet

    async def _execute(self, spare: Spare, client: AsyncKernelClient, code: str) -> str:
        """Runs `code` in the spare; its stdout, or SpareRefused with what went wrong."""
        stdout: list[str] = []
        problems: list[str] = []

        def hook(msg: dict) -> None:
            kind, content = msg.get("msg_type"), msg.get("content", {})
            if kind == "stream":
                (stdout if content.get("name") == "stdout" else problems).append(content.get("text", ""))
            elif kind == "error":
                problems.append(f"{content.get('ename')}: {content.get('evalue')}")

        try:
            reply = await client.execute_interactive(
                code, store_history=False, allow_stdin=False, output_hook=hook, timeout=SETUP_TIMEOUT_S)
        except TimeoutError:
            raise SpareRefused(f"setting it up took more than {SETUP_TIMEOUT_S:.0f} s") from None
        status = reply.get("content", {}).get("status")
        if status != "ok" or problems:
            raise SpareRefused(f"status {status}: {''.join(problems).strip()[:500]}")
        return "".join(stdout).strip("\n")

    def _hand_over(self, spare: Spare, kwargs: dict) -> dict:
        """Makes the spare this provisioner's kernel; its connection info
        replaces the one pre_launch prepared (the manager reconciles it)."""
        km = self.parent
        if self.ports_cached:
            # pre_launch took ports from the cache for a kernel we do not
            # launch; the spare's are the kernel's now (returned at cleanup).
            for name in ("shell_port", "iopub_port", "stdin_port", "hb_port", "control_port"):
                port = self.connection_info.get(name)
                if port:
                    LocalPortCache.instance().return_port(int(port))
        info = dict(spare.connection_info)
        info.pop("kernel_name", None)
        if km is not None:
            info["kernel_name"] = getattr(km, "kernel_name", "")
        self.connection_info = info
        spare.stdout.send_to(_stream_fd(kwargs.get("stdout"), 1))
        spare.stderr.send_to(_stream_fd(kwargs.get("stderr"), 2))
        # The kernel may not have read its connection file yet (a spare still
        # in its launcher); it goes when the kernel does (cleanup).
        self.spare_connection_file = spare.connection_file
        self.process = spare.process
        self.pid = spare.process.pid
        self.pgid = spare.pgid
        self.cwd = kwargs.get("cwd", pathlib.Path.cwd())
        self.from_pool = True
        self.spare_age_s = round(time.monotonic() - spare.started, 2)
        self.log.info("neorl-pool: kernel %s is a spare, started %.0f s ago in %s",
                      getattr(km, "kernel_id", "") or "", self.spare_age_s, spare.cwd)
        return info

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        self.restarting = restart
        if self.spare_connection_file is not None:
            try:
                os.remove(self.spare_connection_file)
            except FileNotFoundError:
                pass
            self.spare_connection_file = None
        if not restart and pool_size() > 0:
            # A kernel went away: room under the cap for a spare.
            with _pools_lock:
                pools = list(_pools.values())
            for pool in pools:
                if pool.pid == os.getpid():
                    pool.fill()


# --- Jupyter server extension: spares from the moment the server starts -----
# kernel/install.sh enables it for the user (Binder's image too), so that the
# first notebook of a Jupyter session finds a kernel ready; `jupyter server
# extension disable --user neorl_pool`, or NEORL_KERNEL_POOL=0, turns it off
# (the spare is a whole idle kernel, about 1.4 GB). It starts the pool of
# the kernelspec NEORL_KERNEL_POOL_PRESTART names (default `neorl`) in
# prestart_dir(): NEORL_KERNEL_POOL_PRESTART_DIR, else the folder of the
# latest notebook that asked for that kernel (remembered across sessions)
# when it is inside the server's root, else the root — a spare serves
# notebooks of its own folder. Within NEORL_KERNEL_POOL_MAX_TOTAL.


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "neorl_pool"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    name = os.environ.get("NEORL_KERNEL_POOL_PRESTART", "neorl")
    try:
        spec = serverapp.kernel_spec_manager.get_kernel_spec(name)
    except Exception as e:  # no such kernelspec: nothing to start
        serverapp.log.warning("neorl-pool: no kernelspec %r to start spares for (%s)", name, e)
        return
    provisioner = (spec.metadata or {}).get("kernel_provisioner", {}).get("provisioner_name")
    if provisioner != "neorl-pool":
        serverapp.log.warning(
            "neorl-pool: kernelspec %r does not use the neorl-pool provisioner; reinstall it with kernel/install.sh", name)
        return
    where = prestart_dir(name, serverapp.root_dir)
    if not os.path.isdir(where):
        serverapp.log.warning("neorl-pool: NEORL_KERNEL_POOL_PRESTART_DIR=%s is not a directory; "
                              "no spare started (set it to the notebooks' folder)", where)
        return
    pool = prestart(spec, name, where)
    if pool is not None:
        serverapp.log.info("neorl-pool: %d spare kernel(s) of %r starting in %s (cap %s)",
                           len(pool.spares), name, where, pool.max_total or "none")
