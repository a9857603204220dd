"""Running ``vitals`` as a user does: one new process per command, in a folder, with no
``MLFLOW_*`` or ``VITALS_*`` variable set; and ``vitals serve`` with an HTTP client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

VITALS = str(Path(sys.executable).with_name("vitals"))


def clean_env() -> dict[str, str]:
    """This environment without the variables that would point Vitals or MLflow elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "VITALS_"))}


def run_vitals(folder: Path, *args: str) -> str:
    """Run one command in ``folder``; fail the test with its output unless it exits 0."""
    done = subprocess.run(
        [VITALS, *args], cwd=folder, env=clean_env(), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"vitals {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def printed_until(process: subprocess.Popen, log: Path, text: str, seconds: float) -> str:
    """What ``process`` wrote to the file ``log`` once it holds ``text``, or when it exits or
    ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        if text in (printed := log.read_text()):
            return printed
        time.sleep(0.2)
    return log.read_text()


def created_key(output: str) -> str:
    """The API key ``vitals keys create`` printed."""
    return next(line.strip() for line in output.splitlines() if line.strip().startswith("vk_"))


@contextmanager
def serving(folder: Path, key: str, *options: str) -> Iterator[httpx.Client]:
    """``vitals serve [options]`` on a free loopback port, ready, and a client sending ``key``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [VITALS, "serve", "--port", str(port), *options],
        cwd=folder,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if client.get("/readyz").json().get("status") == "ready":
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert client.get("/readyz").json()["status"] == "ready"
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=30)
