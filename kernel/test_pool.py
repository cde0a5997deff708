#!/usr/bin/env python3
"""Tests kernel/neorl_pool (the provisioner that keeps spare kernels) with the
installed neorl kernel: real kernels, real processes.

    python3 kernel/test_pool.py        (about 2 minutes on 2 cores)

A kernelspec that is the installed `neorl` one with the pool provisioner
named in its metadata is written to a temporary JUPYTER_PATH. Each case runs
in a Python process of its own, as a Jupyter process would, and reports
what it saw; this process checks it, and checks that once that process has
exited no process of any kernel it launched is left.

  1. Pool of 1. A first kernel (no spare yet: launched for the request) in
     directory A; once it answers, the pool starts a spare there. Once the
     spare is ready its heartbeat is ended the way a jupyter_client
     heartbeat channel ends evcxr's (a reset connection), the cause of a
     launch that once waited 9.5 minutes. A second request, from A with a
     variable the spare was not launched with, gets the spare: a cell prints
     its working directory and the variable. That kernel is interrupted in a
     running cell (evcxr starts its cell process anew: directory and variable
     must survive), then restarted (launched anew, not from the pool, and the
     client connected before the restart still works). A third request, from
     directory B, gets a kernel launched for it (the spare started in A), and
     the next spare starts in B. The process exits with that spare starting.
  2. Pool of 0: the kernel is launched plainly and no spare is started.
  3. The server extension: a real `jupyter server` (loopback, a token, its
     own configuration and data folders) with neorl_pool enabled by the
     listing kernel/install.sh writes to the user's jupyter_server_config.d,
     and a folder remembered from an earlier session. It starts a spare there as it starts; a notebook session of
     that folder (REST API) gets the spare, whose first cell (sent through
     the server's websocket, as a frontend sends it) runs in that folder;
     after the server's shutdown no kernel is left.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

SPEC = "neorl-pool-test"
# A case takes 2-5 minutes on 2 cores; one that takes this long has hung.
CASE_TIMEOUT_S = 1200
VAR = "NEORL_POOL_TEST_VALUE"


def make_spec(root: Path) -> None:
    from jupyter_client.kernelspec import KernelSpecManager
    try:
        base = KernelSpecManager().get_kernel_spec("neorl")
    except Exception:
        sys.exit("test_pool.py: the `neorl` kernel is not installed; run `bash kernel/install.sh` first")
    spec = base.to_dict()
    spec["metadata"] = dict(spec.get("metadata") or {}, kernel_provisioner={"provisioner_name": "neorl-pool"})
    d = root / "kernels" / SPEC
    d.mkdir(parents=True)
    (d / "kernel.json").write_text(json.dumps(spec, indent=2))


def run_cell(km, code: str, kc=None) -> str:
    own = kc is None
    if own:
        kc = km.client()
        kc.start_channels()
    try:
        kc.wait_for_ready(timeout=1800)
        return execute(kc, code)
    finally:
        if own:
            kc.stop_channels()


def execute(kc, code: str) -> str:
    out: list[str] = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append(f"ERROR {msg['content'].get('evalue')}")

    reply = kc.execute_interactive(code, output_hook=hook, timeout=600)
    assert reply["content"]["status"] == "ok", (reply["content"], out)
    return "".join(out)


def end_heartbeat(spare) -> bool:
    """Once the spare answers, resets a connection to its heartbeat socket,
    as a client that closes with data in flight does (jupyter_client's
    heartbeat channel on a missed beat), which ends evcxr_jupyter 0.22's
    heartbeat for good ("hb error: ... Connection reset by peer"); True when
    the heartbeat has stopped answering. The ZMTP 3.0 handshake is written
    out by hand: only a raw socket can close with SO_LINGER 0 (an RST)."""
    import socket
    import struct
    import zmq
    from jupyter_client.blocking import BlockingKernelClient
    kc = BlockingKernelClient()
    kc.load_connection_info(spare.connection_info)
    kc.start_channels(hb=False)
    try:
        kc.wait_for_ready(timeout=1800)
    finally:
        kc.stop_channels()
    port = spare.connection_info["hb_port"]
    s = socket.create_connection(("127.0.0.1", port))
    # Greeting: signature, version 3.0, mechanism NULL, as-server 0, filler.
    s.sendall(b"\xff" + bytes(8) + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + bytes(32))
    body = b"\x05READY" + bytes([11]) + b"Socket-Type" + struct.pack(">I", 3) + b"REQ"
    s.sendall(b"\x04" + bytes([len(body)]) + body)  # READY command
    s.sendall(b"\x01\x00" + b"\x00\x04ping")  # a request: empty delimiter frame, then "ping"
    time.sleep(1.0)  # the kernel's greeting and echo arrive and stay unread
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    time.sleep(1.0)
    probe = zmq.Context.instance().socket(zmq.REQ)
    probe.connect(f"tcp://127.0.0.1:{port}")
    probe.send(b"ping")
    beating = bool(probe.poll(5000))
    probe.close(linger=0)
    return not beating


def interrupt_running_cell(km, kc) -> str:
    """Starts a cell that prints, then sleeps for 10 minutes; interrupts it
    once it has printed; the reply's status."""
    msg_id = kc.execute('println!("sleeping"); std::thread::sleep(std::time::Duration::from_secs(600));')
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=600)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream"
                and "sleeping" in msg["content"]["text"]):
            break
    km.interrupt_kernel()
    while True:
        reply = kc.get_shell_msg(timeout=120)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]["status"]


PRINT = ('println!("cwd={}", std::env::current_dir().unwrap().display()); '
         f'println!("var={{}}", std::env::var("{VAR}").unwrap_or_default());')


def child(case: str, a: str, b: str, scratch: str) -> None:
    """One Jupyter-like process: prints a JSON report on its last line. The
    process groups of the kernels it launches go to `scratch`/pgids as they
    start, for the parent to check (and end, should this process fail)."""
    from jupyter_client.manager import KernelManager
    import neorl_pool

    report: dict = {"kernels": []}
    log = open(Path(scratch) / f"{case}.kernels.log", "ab")

    def note_groups() -> None:
        groups = {km.provisioner.pgid for km in kms}
        groups |= {s.pgid for pool in neorl_pool._pools.values() for s in pool.spares}
        (Path(scratch) / "pgids").write_text(json.dumps(sorted(groups)))

    kms: list = []

    def record(km, out: str, t0: float) -> None:
        report["kernels"].append({"from_pool": km.provisioner.from_pool, "out": out,
                                  "first_result_s": round(time.monotonic() - t0, 1),
                                  "nice": sorted(group_nices(km.provisioner.pgid)),
                                  "autogroup": neorl_pool._autogroup_nice(km.provisioner.pgid)})

    def start(cwd: str, extra: dict[str, str], keep: bool = False):
        km = KernelManager(kernel_name=SPEC)
        t0 = time.monotonic()
        km.start_kernel(cwd=cwd, env=dict(os.environ, **extra), stdout=log, stderr=log)
        kms.append(km)
        note_groups()
        if keep:
            return km, t0
        record(km, run_cell(km, PRINT), t0)
        # Shut down at once: fewer kernels (and compile slots) at a time.
        km.shutdown_kernel(now=False)

    if case == "pool":
        start(a, {})
        pool = next(iter(neorl_pool._pools.values()))
        def spares_soon() -> int:
            # A replacement starts once the kernel handed out has answered.
            deadline = time.monotonic() + 30
            while not pool.spares and time.monotonic() < deadline:
                time.sleep(0.2)
            return len(pool.spares)

        report["spares_after_first"] = spares_soon()
        report["heartbeat_ended"] = end_heartbeat(pool.spares[0])
        km, t0 = start(a, {VAR: "from the request"}, keep=True)
        kc = km.client()
        kc.start_channels()
        record(km, run_cell(km, PRINT, kc), t0)
        report["interrupted"] = interrupt_running_cell(km, kc)
        report["after_interrupt"] = run_cell(km, PRINT, kc)
        t0 = time.monotonic()
        km.restart_kernel(now=False)
        note_groups()
        record(km, run_cell(km, PRINT, kc), t0)
        kc.stop_channels()
        km.shutdown_kernel(now=False)
        start(b, {})
        spares_soon()
        note_groups()
        report["spare_cwd"] = pool.spares[0].cwd if pool.spares else None
        report["spare_nice"] = sorted(group_nices(pool.spares[0].pgid)) if pool.spares else []
        report["spare_niced"] = bool(pool.spares and pool.spares[0].niced)
        report["spare_autogroup"] = (neorl_pool._autogroup_nice(pool.spares[0].pgid)
                                     if pool.spares else None)
        report["spares_at_exit"] = len(pool.spares)
    else:
        start(a, {})
        report["pools"] = len(neorl_pool._pools)
    print(json.dumps(report), flush=True)


def group_nices(pgid: int) -> set[int]:
    """The niceness of every thread of every process in a process group."""
    nices = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[2]) != pgid:
                    continue
            for task in os.listdir(f"/proc/{entry}/task"):
                with open(f"/proc/{entry}/task/{task}/stat") as f:
                    nices.add(int(f.read().rsplit(")", 1)[1].split()[16]))
        except (OSError, IndexError, ValueError):
            pass
    return nices


def processes_in_groups(pgids: set[int]) -> list[str]:
    left = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) in pgids:
                left.append(f"{entry} {Path(f'/proc/{entry}/cmdline').read_text().replace(chr(0), ' ')[:100]}")
        except (OSError, IndexError, ValueError):
            pass
    return left


def run_case(case: str, env: dict[str, str], a: Path, b: Path, scratch: Path) -> dict:
    t0 = time.monotonic()
    groups_file = scratch / "pgids"
    groups_file.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, __file__, "--child", case, str(a), str(b), str(scratch)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=CASE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        stderr += (f"\ntest_pool.py: case {case!r} did not finish in {CASE_TIMEOUT_S} s "
                   "(a kernel launch or cell that hangs?); killed")
    groups = set(json.loads(groups_file.read_text())) if groups_file.exists() else set()
    if proc.returncode != 0:
        for pgid in groups:  # kernels whose managers the failure left running
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log = scratch / f"{case}.kernels.log"
        sys.exit(f"test_pool.py: case {case!r} failed:\n{stdout}\n{stderr[-4000:]}\n"
                 f"kernels' output (last lines):\n"
                 + (log.read_text(errors="replace")[-3000:] if log.exists() else "(none)"))
    report = json.loads(stdout.strip().splitlines()[-1])
    assert groups, f"case {case}: no kernel process group was recorded"
    # Everything the process launched is gone once it has exited (a moment
    # for SIGKILLed processes to be reaped by init).
    deadline = time.monotonic() + 15
    while (left := processes_in_groups(groups)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"case {case}: processes left after the Jupyter process exited:\n" + "\n".join(left)
    print(f"  case {case}: {time.monotonic() - t0:.0f} s; kernels: "
          + ", ".join(f"{'spare' if k['from_pool'] else 'launched'} (first result {k['first_result_s']} s)"
                      for k in report["kernels"]), flush=True)
    return report


def evcxr_processes_under(root: Path) -> dict[int, str]:
    """pid → working directory of every evcxr_jupyter process working below root."""
    found = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{entry}/comm").read_text().strip() != "evcxr_jupyter":
                continue
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd == str(root) or cwd.startswith(str(root) + os.sep):
            found[int(entry)] = cwd
    return found


async def ws_execute(url: str, token: str, code: str, timeout: float) -> str:
    """Runs one cell through a Jupyter server's kernel websocket (its JSON
    messages) and returns what it printed."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect
    conn = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
    msg_id = uuid.uuid4().hex
    await conn.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                   "session": uuid.uuid4().hex, "date": "", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    out = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            raw = await asyncio.wait_for(conn.read_message(), max(1.0, deadline - time.monotonic()))
            if raw is None:
                raise AssertionError("case server: the kernel's websocket closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("error: " + msg["content"].get("evalue", ""))
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)
    finally:
        conn.close()


def run_server_case(env: dict[str, str], root: Path, b: Path) -> dict:
    """Case 3 (see the module doc)."""
    t0 = time.monotonic()
    config, data = root / "server-config", root / "server-data"
    # The listing kernel/install.sh wrote (a `jupyter server extension
    # enable` alone writes nothing for an unlisted extension), enabled here
    # even where its user has disabled it.
    from jupyter_core.paths import jupyter_config_dir
    installed = Path(jupyter_config_dir()) / "jupyter_server_config.d" / "neorl_pool.json"
    assert installed.is_file(), f"case server: {installed} is missing; run `bash kernel/install.sh`"
    listing = json.loads(installed.read_text())
    assert "neorl_pool" in listing["ServerApp"]["jpserver_extensions"], listing
    listing["ServerApp"]["jpserver_extensions"]["neorl_pool"] = True
    (config / "jupyter_server_config.d").mkdir(parents=True)
    (config / "jupyter_server_config.d" / "neorl_pool.json").write_text(json.dumps(listing))
    (data / "neorl-pool").mkdir(parents=True)
    (data / "neorl-pool" / f"last-dir-{SPEC}").write_text(str(b))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = uuid.uuid4().hex
    env = dict(env, JUPYTER_CONFIG_DIR=str(config), JUPYTER_DATA_DIR=str(data), NEORL_KERNEL_POOL="1",
               NEORL_KERNEL_POOL_PRESTART=SPEC, NEORL_KERNEL_POOL_MAX_TOTAL="1")
    env.pop("NEORL_KERNEL_POOL_PRESTART_DIR", None)
    log_path = root / "server.log"
    log = open(log_path, "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def api(method: str, path: str, body: dict | None = None) -> dict:
        req = urllib.request.Request(base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read()
        return json.loads(text) if text else {}

    def wait_for(what: str, check, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.poll() is not None:
                break
            try:
                value = check()
            except OSError:
                value = None
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"case server: {what} (not within {timeout:.0f} s); server log:\n"
                             + log_path.read_text(errors="replace")[-3000:])

    report: dict = {}
    try:
        wait_for("the server answers", lambda: api("GET", "/api/status"), 120)
        wait_for("the extension starts a spare in the remembered folder",
                 lambda: f"starting in {b}" in log_path.read_text(errors="replace"), 60)
        t1 = time.monotonic()
        session = api("POST", "/api/sessions", {"path": f"{b.name}/probe.ipynb", "name": "probe.ipynb",
                                                "type": "notebook", "kernel": {"name": SPEC}})
        report["session_s"] = round(time.monotonic() - t1, 2)
        kernel_id = session["kernel"]["id"]
        # As a frontend does: a cell through the server's websocket.
        ws = f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels"
        report["cell"] = asyncio.run(ws_execute(ws, token, 'println!("cwd={}", std::env::current_dir().unwrap().display());',
                                                CASE_TIMEOUT_S / 2))
        report["idle_s"] = round(time.monotonic() - t1, 1)
        text = log_path.read_text(errors="replace")
        report["from_spare"] = f"kernel {kernel_id} is a spare" in text
        report["kernel_cwds"] = sorted(set(evcxr_processes_under(root).values()))
        report["remembered"] = (data / "neorl-pool" / f"last-dir-{SPEC}").read_text()
        api("DELETE", f"/api/sessions/{session['id']}")
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()
    deadline = time.monotonic() + 15
    while (left := evcxr_processes_under(root)) and time.monotonic() < deadline:
        time.sleep(0.5)
    report["left"] = left
    if left:
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    print(f"  case server: {time.monotonic() - t0:.0f} s; session {report['session_s']} s, "
          f"first cell's result after {report['idle_s']} s", flush=True)
    return report


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="neorl-pool-test-") as tmp:
        root = Path(tmp)
        make_spec(root / "jupyter")
        a, b = root / "dir a", root / "dir-b"
        a.mkdir()
        b.mkdir()
        a, b = a.resolve(), b.resolve()
        env = dict(os.environ, JUPYTER_PATH=str(root / "jupyter"))
        env.pop(VAR, None)
        env.pop("NEORL_KERNEL_POOL_MAX_TOTAL", None)

        r = run_case("pool", dict(env, NEORL_KERNEL_POOL="1"), a, b, root)
        k1, k2, k2r, k3 = r["kernels"]
        assert not k1["from_pool"], "the first kernel of a process has no spare to come from"
        assert r["spares_after_first"] == 1, r
        assert k1["out"] == f"cwd={a}\nvar=\n", k1
        assert r["heartbeat_ended"], "the spare's heartbeat was meant to be ended before it is asked for"
        assert k2["from_pool"], "the second request should get the spare"
        assert k2["out"] == f"cwd={a}\nvar=from the request\n", k2
        assert r["interrupted"] in ("error", "abort"), r
        assert r["after_interrupt"] == f"cwd={a}\nvar=from the request\n", r
        assert not k2r["from_pool"], "a restart launches the kernel anew"
        assert k2r["out"] == f"cwd={a}\nvar=from the request\n", k2r
        assert not k3["from_pool"], "a request from another directory than the spare's gets a launch"
        assert k3["out"] == f"cwd={b}\nvar=\n", k3
        assert r["spare_cwd"] == str(b), r
        assert r["spares_at_exit"] == 1, r
        # Spares start niced where they can be given back the priority of the
        # Jupyter process (here 0) when handed out; a kernel in use never is.
        own = os.getpriority(os.PRIO_PROCESS, 0)
        for k in r["kernels"]:
            assert k["nice"] == [own], k
        if r["spare_niced"]:
            from neorl_pool import SPARE_NICE
            assert r["spare_nice"] == [min(own + SPARE_NICE, 19)], r
        # With autogroup scheduling the spare's whole session is niced too
        # (else it shares the CPU equally with the kernel in use), and a
        # kernel handed out gets the pool's session's niceness back.
        if os.path.exists("/proc/self/autogroup"):
            from neorl_pool import SPARE_NICE, _autogroup_nice
            own_group = _autogroup_nice(os.getpid())
            for k in r["kernels"]:
                assert k["autogroup"] == own_group, k
            if r["spare_niced"]:
                assert r["spare_autogroup"] == SPARE_NICE, r

        r = run_case("off", dict(env, NEORL_KERNEL_POOL="0"), a, b, root)
        assert not r["kernels"][0]["from_pool"] and r["pools"] == 0, r
        assert r["kernels"][0]["out"] == f"cwd={a}\nvar=\n", r

        r = run_server_case(env, root, b)
        assert r["from_spare"], f"the session's kernel should be the spare the server started: {r}"
        assert r["cell"] == f"cwd={b}\n", r
        assert r["kernel_cwds"] == [str(b)], r
        assert r["remembered"] == str(b), r
        assert not r["left"], f"kernels left after the server's shutdown: {r['left']}"
    print("test_pool.py: ok")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        child(*sys.argv[2:])
    else:
        main()
