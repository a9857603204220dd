"""The parts of the real-time benchmark (``realtime.py``) that drive Vitals: the one-time set-up,
the server process, the load clients, the status poller, and counting what the ingested store
holds."""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pyarrow.parquet as pq
from processes import process_cpu_seconds, start_time

POLL_S, CONNECTIONS = 0.05, 16
# 12 months are too short for the default windows (91-day test and calibration windows with
# horizon-long gaps between them); these keep the one-time training to a few minutes.
TRAINING_TOML = (
    "[training]\nwarmup_days = 60\ntest_days = 30\ncalibration_days = 45\ngap_days = 30\n"
)
KINDS = [("login", None), ("session", None), ("report_run", "reports"), ("api_call", "api"),
         ("feature_use", "dashboards"), ("feature_use", "alerts")]  # fmt: skip


def vitals_command() -> str:
    """The ``vitals`` executable beside this interpreter, else the one on the PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    if (command := shutil.which("vitals", path=path)) is None:
        sys.exit("`vitals` is not installed in this environment (bash scripts/install.sh)")
    return command


def vitals(root: Path, env: dict[str, str], *args: str) -> str:
    """Run ``vitals ARGS`` in ``root`` (both streams appended to ``setup.log``); its stdout."""
    command = [vitals_command(), *args]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    with (root / "setup.log").open("a") as log:
        log.write(f"$ vitals {' '.join(args)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        sys.exit(f"vitals {args[0]} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return done.stdout


def prepare(root: Path, accounts: int, months: int, seed: int, fresh: bool) -> dict:
    """Data and model once per work dir; a health store, ingested store and key per run."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "vitals.toml").write_text(TRAINING_TOML)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "VITALS_"))}
    env["VITALS_CONFIG"] = str(root / "vitals.toml")
    env["VITALS_DATABASE_URL"] = f"sqlite:///{root}/vitals.db"
    env["VITALS_INGEST__STORE_DIR"] = str(root / "ingested")
    # the counts of stored rows read each batch's own segment, which folding into ranges deletes
    env["VITALS_INGEST__COMPACT_AFTER"] = "0"
    timings = {}
    if not (root / "data" / "accounts.parquet").exists():
        started = time.perf_counter()
        vitals(root, env, "simulate", "--accounts", str(accounts), "--months", str(months),
               "--seed", str(seed), "--out", "data")  # fmt: skip
        timings["simulate_s"] = time.perf_counter() - started
    if not (root / "trained.json").exists():
        started = time.perf_counter()
        vitals(root, env, "train", "data", "--register", "--seed", str(seed))
        timings["train_s"] = time.perf_counter() - started
        (root / "trained.json").write_text(json.dumps(timings))
    if fresh:
        shutil.rmtree(root / "ingested", ignore_errors=True)
        for suffix in ("", "-wal", "-shm"):  # a WAL left by a killed run would not match
            (root / f"vitals.db{suffix}").unlink(missing_ok=True)
        (root / "api-key").unlink(missing_ok=True)
    if not (root / "api-key").exists():
        out = vitals(root, env, "keys", "create", "--scope", "ingest", "--scope", "read")
        (root / "api-key").write_text(out.strip().splitlines()[-1])
    ids = pq.read_table(root / "data" / "accounts.parquet", columns=["account_id"])
    key = (root / "api-key").read_text().strip()
    return {"env": env, "key": key, "timings": timings, "accounts": ids[0].to_pylist()}


def activity(root: Path, days: int = 30) -> dict[str, int]:
    """Events per account over the data's last ``days`` days (accounts without any: absent)."""
    events = str(root / "data" / "events.parquet").replace("'", "''")
    rows = duckdb.sql(
        f"SELECT account_id, count(*) FROM '{events}' WHERE timestamp >= "
        f"(SELECT max(timestamp) FROM '{events}') - INTERVAL {days} DAY GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return dict(rows)


class Server:
    """``vitals serve --data data --model challenger`` in the work dir, on a free loopback port."""

    def __init__(self, root: Path, env: dict[str, str], key: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.root, self.env, self.url = root, env, f"http://127.0.0.1:{self.port}"
        self.headers = {"X-API-Key": key}
        self.process: subprocess.Popen | None = None
        self.ended_workers: set[tuple[int, int]] = set()  # (pid, start) of servers that ended

    def start(self) -> None:
        """Start the process; its output goes to ``server.log``."""
        command = [vitals_command(), "serve", "--data", "data", "--model", "challenger"]
        with (self.root / "server.log").open("a") as log:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)], cwd=self.root, env=self.env, stdout=log,
                stderr=log,
            )  # fmt: skip

    def status(self, client: httpx.Client) -> dict | None:
        """``GET /v1/ingest/status``, or ``None`` while the server does not answer."""
        try:
            answer = client.get(f"{self.url}/v1/ingest/status", headers=self.headers, timeout=5)
        except httpx.HTTPError:
            return None
        return answer.json() if answer.status_code == 200 else None

    def wait(self, started: float, drained: bool = True, timeout: float = 900) -> dict:
        """Seconds from ``started`` until it answers and until its worker has scored everyone
        (and, when ``drained``, every committed batch).

        Raises:
            RuntimeError: the server exited, or did not get there within ``timeout`` seconds.
        """
        marks: dict = {}
        with httpx.Client() as client:
            while time.perf_counter() - started < timeout:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"the server exited: see {self.root / 'server.log'}")
                status = self.status(client)
                if status is not None:
                    marks.setdefault("answers_s", time.perf_counter() - started)
                    if status["as_of"] and (status["pending"] == 0 or not drained):
                        marks.update(scored_s=time.perf_counter() - started, as_of=status["as_of"])
                        return marks
                time.sleep(POLL_S)
        raise RuntimeError(f"not ready after {timeout:.0f} s: see {self.root / 'server.log'}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used (Linux ``/proc``)."""
        return process_cpu_seconds(self.process.pid)

    def workers(self) -> list[int]:
        """The server's child processes (its re-scoring worker)."""
        pid = self.process.pid
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def worker_cpu_seconds(self) -> float:
        """CPU time the server's child processes (its re-scoring worker) have used so far."""
        return sum(process_cpu_seconds(child) for child in self.workers())

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        self._note_workers()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Stop it as Ctrl-C does (SIGKILL after 30 s)."""
        if self.process is not None and self.process.poll() is None:
            self._note_workers()
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def _note_workers(self) -> None:
        """Remember the workers of the server about to end, each with its start time (a pid
        alone may name another process by the time it is looked at again)."""
        for pid in self.workers():
            if (start := start_time(pid)) is not None:
                self.ended_workers.add((pid, start))


@dataclass
class Sent:
    """One batch (its key, body and rows, and when it was made) and the server's answer."""

    key: str
    body: bytes
    rows: int
    made: float
    seq: int | None = None
    accepted: int = 0
    ack: float | None = None
    replayed: bool = False
    attempts: int = 0
    failures: list[str] = field(default_factory=list)


class Load:
    """Batches of random events stamped on ``day``, and sending them.

    Each event's account is drawn from ``accounts`` in proportion to ``weights`` (uniformly
    without them).
    """

    def __init__(
        self,
        server: Server,
        accounts: list[str],
        day: date,
        seed: int,
        weights: list[int] | None = None,
    ) -> None:
        self.server, self.accounts, self.day = server, accounts, day
        self.cumulative = None if weights is None else list(itertools.accumulate(weights))
        self.run, self.count = f"rt{int(time.time())}", 0
        self.rng, self.lock, self.local = random.Random(seed), threading.Lock(), threading.local()
        latest = datetime.now(UTC) - timedelta(seconds=5)  # never stamped after now
        today = latest.hour * 3600 + latest.minute * 60 + latest.second
        self.seconds = today if latest.date() == day else 86399

    def batch(self, phase: str, size: int) -> Sent:
        """A new batch of ``size`` events under a key of its own."""
        rows = []
        with self.lock:
            self.count += 1
            key = f"{self.run}-{phase}-{self.count}"
            for _ in range(size):
                kind, feature = self.rng.choice(KINDS)
                t = self.rng.randint(0, self.seconds)
                stamp = f"{self.day}T{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}Z"
                rows.append({"account_id": self._account(), "timestamp": stamp,
                             "event_type": kind, "user_id": f"u{self.rng.randrange(8)}",
                             "feature": feature, "value": None})  # fmt: skip
        return Sent(key, json.dumps({"events": rows}).encode(), size, time.perf_counter())

    def _account(self) -> str:
        if self.cumulative is None:
            return self.rng.choice(self.accounts)
        return self.rng.choices(self.accounts, cum_weights=self.cumulative)[0]

    def post(self, sent: Sent, retry_for: float = 0.0) -> None:
        """Send ``sent`` with its key and body; again (after Retry-After on a 503, 0.25 s after a
        connection error) until a 200 or ``retry_for`` seconds have passed."""
        if not hasattr(self.local, "client"):
            self.local.client = httpx.Client(timeout=60)
        headers = {**self.server.headers, "Idempotency-Key": sent.key}
        headers["Content-Type"] = "application/json"
        until = time.perf_counter() + retry_for
        while True:
            sent.attempts, pause = sent.attempts + 1, 0.25
            try:
                url = f"{self.server.url}/v1/events"
                answer = self.local.client.post(url, content=sent.body, headers=headers)
            except httpx.HTTPError as exc:
                sent.failures.append(type(exc).__name__)
            else:
                if answer.status_code == 200:
                    body, sent.ack = answer.json(), time.perf_counter()
                    sent.seq, sent.replayed = body["batch"], body["replayed"]
                    sent.accepted = body["accepted"].get("events", 0)
                    return
                sent.failures.append(str(answer.status_code))
                if answer.status_code != 503:
                    return
                pause = float(answer.headers.get("Retry-After", "1"))
            if time.perf_counter() + pause > until:
                return
            time.sleep(pause)

    def open_loop(self, phase: str, rate: float, size: int, seconds: float, retry_for: float,
                  tick=None) -> list[Sent]:  # fmt: skip
        """``rate`` events/s in batches of ``size``, each sent when due; ``tick(t)`` before each."""
        interval, sent = size / rate, []
        started = time.perf_counter() + 0.1
        with ThreadPoolExecutor(CONNECTIONS) as pool:
            for i in range(max(2, int(rate * seconds / size))):
                time.sleep(max(0.0, started + i * interval - time.perf_counter()))
                if tick is not None:
                    tick(time.perf_counter() - started)
                sent.append(self.batch(phase, size))
                pool.submit(self.post, sent[-1], retry_for)
        return sent


class Poller(threading.Thread):
    """Asks for the status every 50 ms; records when ``rescored`` moves on."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server, self.stopped = server, threading.Event()
        self.times: list[float] = []
        self.values: list[int] = []
        self.latencies: list[float] = []
        self.as_of: set[str] = set()
        self.errors: list[str] = []

    def run(self) -> None:
        with httpx.Client() as client:
            while not self.stopped.wait(POLL_S):
                asked = time.perf_counter()
                if (status := self.server.status(client)) is None:
                    continue
                now = time.perf_counter()
                self.latencies.append(now - asked)
                if status["as_of"]:
                    self.as_of.add(status["as_of"])
                if status["error"] and status["error"] not in self.errors:
                    self.errors.append(status["error"])
                if not self.values or status["rescored"] > self.values[-1]:
                    self.times.append(now)
                    self.values.append(status["rescored"])

    def rescored_at(self, seq: int) -> float | None:
        """When the status first showed ``rescored >= seq``."""
        i = bisect.bisect_left(self.values, seq)
        return self.times[i] if i < len(self.values) else None

    def wait_for(self, sent: list[Sent], timeout: float = 600) -> float:
        """Wait until every acknowledged batch of ``sent`` is re-scored; seconds waited."""
        started, last = time.perf_counter(), max((s.seq for s in sent if s.seq), default=0)
        while self.rescored_at(last) is None and time.perf_counter() - started < timeout:
            time.sleep(POLL_S)
        return time.perf_counter() - started


def percentiles(values: list[float], scale: float = 1.0) -> dict[str, float | None]:
    """p50, p95, p99 (nearest rank) and max, times ``scale``."""
    ordered = sorted(v * scale for v in values)
    n = len(ordered)
    rank = {f"p{q}": ordered[max(0, -(-q * n // 100) - 1)] if n else None for q in (50, 95, 99)}
    return {**rank, "max": ordered[-1] if n else None}


def accepted(sent: list[Sent]) -> tuple[int, int]:
    """Distinct acknowledged batches and their accepted rows (a replay counts once)."""
    rows = {s.seq: s.accepted for s in sent if s.ack}
    return len(rows), sum(rows.values())


def tally(sent: list[Sent]) -> dict[str, int]:
    """Failed attempts by status code or exception."""
    counts: dict[str, int] = {}
    for failure in (f for s in sent for f in s.failures):
        counts[failure] = counts.get(failure, 0) + 1
    return counts


def stored(store: Path, keys: set[str] | None = None) -> tuple[int, int]:
    """Committed batches and their event rows in the store (only those filed under ``keys``)."""
    hashes = keys and {hashlib.sha256(k.encode()).hexdigest() for k in keys}
    batches = rows = 0
    for manifest in manifests(store):
        if hashes is None or manifest["key_sha256"] in hashes:
            batches += 1
            if "events" in manifest["segments"]:
                rows += pq.read_metadata(store / manifest["segments"]["events"]).num_rows
    return batches, rows


def manifests(store: Path) -> list[dict]:
    """The manifests of the committed batches."""
    return [json.loads(p.read_text()) for p in (store / "batches").glob("*.json")]


def unlisted_segments(store: Path) -> int:
    """Segment files no committed batch lists (left by a crash before a commit)."""
    listed = {path for m in manifests(store) for path in m["segments"].values()}
    return sum(f"segments/{p.name}" not in listed for p in (store / "segments").glob("*"))
