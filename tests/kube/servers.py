"""etcd and kube-apiserver processes for the tests: started once per test run, shared by xdist workers.

The first worker to need a server starts it under a file lock and records it in a JSON state file; every
user holds a reference, and the starting worker stops the processes once every user has left. Servers
listen on free ports of 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.kube.certs import Authority, signing_key

BUILD_SCRIPT = Path(__file__).with_name("build-apiserver.sh")
START_TIMEOUT = 120.0
USERS_TIMEOUT = 1800.0
"""How long the worker that started a server waits at its end for the other workers to be done with it."""
APISERVER_FLAGS = (
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    "--service-cluster-ip-range=10.0.0.0/24",
    "--service-account-issuer=https://kubernetes.default.svc",
    "--authorization-mode=RBAC",
    "--disable-admission-plugins=ServiceAccount",  # no token controller runs, so pods may not need one
    "--endpoint-reconciler-type=none",
    "--enable-priority-and-fairness=false",  # one less controller on two shared cores
    "--profiling=false",
    "--feature-gates=ImageVolumeWithDigest=true",  # alpha in 1.37: lets pod status carry image-volume digests
)


def binaries() -> Path:
    """The directory holding kube-apiserver and etcd: $ECRGC_KUBE_BIN, else what the build script prints.

    Raises (never skips) when they are missing: these tests are part of the suite.
    """
    bin_dir = os.environ.get("ECRGC_KUBE_BIN", "")
    if not bin_dir:
        result = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
        if result.returncode:
            raise RuntimeError(f"{BUILD_SCRIPT} failed:\n{result.stderr[-4000:]}")
        bin_dir = result.stdout.strip().splitlines()[-1]
    path = Path(bin_dir)
    missing = [name for name in ("kube-apiserver", "etcd") if not os.access(path / name, os.X_OK)]
    if missing:
        raise RuntimeError(f"{path}: {', '.join(missing)} missing; run {BUILD_SCRIPT} (make kube)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def shared(root: Path, name: str, start: Callable[[Path], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The state of server `name`, started by `start(directory)` unless another worker already did.

    The worker that started the server stops it, after waiting for the other users to leave, so that its
    processes stay its children (reaped, and killed with it should it crash).
    """
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    with _state(directory) as state:
        starter = not state
        if starter:
            state.update(start(Path(tempfile.mkdtemp(dir=directory))), holders=[])
        state["holders"].append(os.getpid())
        snapshot = dict(state)
    try:
        yield snapshot
    finally:
        with _state(directory) as state:
            state["holders"].remove(os.getpid())
        if starter:
            _wait_for_users(directory)
            stop(snapshot["pids"])


@contextlib.contextmanager
def _state(directory: Path) -> Iterator[dict[str, Any]]:
    """The JSON state file of a server, locked against the other workers while the block runs."""
    state_file = directory / "state.json"
    with (directory / "lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            state = json.loads(state_file.read_text()) if state_file.exists() else {}
            yield state
            state_file.write_text(json.dumps(state))
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wait_for_users(directory: Path) -> None:
    deadline = time.monotonic() + USERS_TIMEOUT
    while True:
        with _state(directory) as state:
            # A worker that died without letting go (xdist replaces crashed workers) holds nothing.
            if not any(_exists(pid) for pid in state["holders"]) or time.monotonic() > deadline:
                state.clear()  # under the lock: a worker arriving from now on starts a new server
                return
        time.sleep(0.5)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


_children: dict[int, subprocess.Popen[bytes]] = {}


def _die_with_parent() -> None:
    """prctl(PR_SET_PDEATHSIG, SIGKILL): a crashed test worker takes its servers with it."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def spawn(argv: list[str], log: Path) -> int:
    """Start a server whose output goes to `log`; returns its pid."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)  # noqa: PLW1509 (prctl must run in the child)
    _children[process.pid] = process
    return process.pid


def stop(pids: list[int]) -> None:
    """SIGTERM each server, then SIGKILL what is still there after ten seconds."""
    for pid in pids:
        _children[pid].terminate()
    for pid in pids:
        process = _children.pop(pid)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _alive(pid: int) -> bool:
    return _children[pid].poll() is None


def start_etcd(bin_dir: Path, directory: Path) -> dict[str, Any]:
    """One etcd member on free ports, fsync off (test data only)."""
    client, peer = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    argv = [
        str(bin_dir / "etcd"),
        f"--data-dir={directory / 'data'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]
    pid = spawn(argv, directory / "etcd.log")
    _wait(lambda: _http_ok(f"{client}/health"), directory / "etcd.log", [pid])
    return {"pids": [pid], "url": client}


def start_apiserver(
    bin_dir: Path, directory: Path, etcd_url: str, prefix: str, extra_flags: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A kube-apiserver on a free port storing under `prefix` of etcd, with RBAC and client certificates.

    Returns its state: pids, server URL, and the paths of the CA and the admin and users' certificates.
    """
    authority = Authority()
    (directory / "ca.crt").write_bytes(authority.pem)
    serving_cert, serving_key = authority.server().write(directory, "serving")
    private, public = signing_key()
    (directory / "sa.key").write_bytes(private)
    (directory / "sa.pub").write_bytes(public)
    users = {
        "admin": authority.client("ecrgc-admin", ("system:masters",)),
        "restricted": authority.client("ecrgc-restricted"),
        "builtin": authority.client("ecrgc-builtin"),
        "expired": authority.client("ecrgc-admin", ("system:masters",), expired=True),
    }
    port = free_port()
    argv = [
        str(bin_dir / "kube-apiserver"),
        *APISERVER_FLAGS,
        f"--secure-port={port}",
        f"--etcd-servers={etcd_url}",
        f"--etcd-prefix={prefix}",
        f"--cert-dir={directory}",
        f"--tls-cert-file={serving_cert}",
        f"--tls-private-key-file={serving_key}",
        f"--client-ca-file={directory / 'ca.crt'}",
        f"--service-account-key-file={directory / 'sa.pub'}",
        f"--service-account-signing-key-file={directory / 'sa.key'}",
        *extra_flags,
    ]
    pid = spawn(argv, directory / "apiserver.log")
    server = f"https://127.0.0.1:{port}"
    admin_cert, admin_key = users["admin"].write(directory, "admin")
    for user, pem in users.items():
        pem.write(directory, user)
    context = ssl.create_default_context(cafile=str(directory / "ca.crt"))
    context.load_cert_chain(admin_cert, admin_key)
    _wait(lambda: _http_ok(f"{server}/readyz", context), directory / "apiserver.log", [pid])
    return {"pids": [pid], "server": server, "dir": str(directory), "identities": sorted(users)}


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310 (local URL)
            return bool(response.status == 200)
    except OSError:
        return False


def _wait(ready: Callable[[], bool], log: Path, pids: list[int]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if ready():
            return
        if not all(_alive(pid) for pid in pids):
            break
        time.sleep(0.2)
    stop(pids)
    raise RuntimeError(f"{log.stem} did not become ready; last lines of {log}:\n{log.read_text()[-4000:]}")
