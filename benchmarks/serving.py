"""Serving speed: ``POST /v1/predict`` under load from a second process, on loopback only.

Targets (issue 7), on the 2-core machine with one uvicorn worker:

* one account with 5 reasons, through auth, validation and metrics, at saturation (``wrk``, 32
  connections): >= 1,000 requests/s and >= 0.5 of a bare FastAPI endpoint returning a constant
  (a plain ``def`` handler, FastAPI's usual form) measured in the same run; zero errors;
* p99 <= 25 ms at a steady 200 requests/s (open loop: latency counts from the planned send time);
* a 1,000-account batch with reasons: p50 <= 300 ms.

For context the table also shows the bare endpoint as ``async def`` (it skips the thread pool, as
``/v1/predict`` does for a few accounts sent with their features), a naive endpoint (the JSON row
as a NumPy vector, LightGBM ``predict`` + ``pred_contrib``, top 5) and ``/v1/predict`` by stored
account id (one id repeated: after the first request its vector comes from the API's cache).

Everything is generated in a temporary folder: simulated data, a model of 200 trees shaped by the
training settings' LightGBM defaults (up to 15 leaves; ``--num-leaves`` to change), a SQLite
health store filled by ``backfill`` plus the stored feature vectors, and an API key.
Servers run on 127.0.0.1 in their own processes; each load run is bounded in time. Saturation
runs alternate between the endpoints and repeat (``--repeats``); the table shows medians, since
other work on the machine moves single runs. Needs ``wrk`` (``apt-get install -y wrk``). Prints a
table and writes ``benchmarks/results/serving.json``.

    python benchmarks/serving.py [--accounts 2000] [--num-leaves N] [--duration 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent

RESULTS = HERE / "results" / "serving.json"
TARGET_RPS, TARGET_RATIO, TARGET_P99_MS, TARGET_BATCH_P50_MS = 1000.0, 0.5, 25.0, 300.0
BARE, OURS = "bare FastAPI endpoint (constant)", "/v1/predict, 1 account, 5 reasons"
BARE_ASYNC = "bare endpoint as async def (no thread pool)"
WRK_LUA = """
local f = io.open(os.getenv("VITALS_BODY"), "r"); local body = f:read("*a"); f:close()
wrk.method = os.getenv("VITALS_METHOD"); wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = os.getenv("VITALS_KEY")
"""


def fit_model(data: Path, root: Path, num_leaves: int | None) -> tuple[Path, list[str]]:
    """A HealthModel of 200 trees shaped by the settings' LightGBM defaults; its key features."""
    import lightgbm as lgb
    import numpy as np

    from vitals.config.settings import Settings
    from vitals.features.build import build_features, default_dates
    from vitals.features.loader import load_dataset
    from vitals.models.calibration import Calibrator
    from vitals.models.profiles import ProfileModel, ProfileRouter
    from vitals.training.assemble import profile_rules, unfitted_model
    from vitals.training.data import categories_of, design_matrix

    dataset = load_dataset(data)
    snapshots = build_features(dataset, default_dates(dataset, every="1mo"))
    frame = snapshots.to_pandas().query("churned_within_horizon.notna()").reset_index(drop=True)
    names = [n for n in snapshots.feature_names if n != "segment"]
    categorical = [s.name for s in snapshots.catalog if s.kind == "categorical" and s.name in names]
    X = design_matrix(frame, names, categories_of(frame, categorical))
    y = frame["churned_within_horizon"].to_numpy(dtype=int)
    settings = Settings()
    params = {**settings.training.lightgbm, "objective": "binary", "verbose": -1, "seed": 7}
    params.update(num_threads=2, **({"num_leaves": num_leaves} if num_leaves else {}))
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=200)
    calibrator = Calibrator("sigmoid").fit(booster.predict(X, raw_score=True), y)
    rate = float(np.clip(y.mean(), 0.01, 0.99))
    names = ProfileRouter(profile_rules(settings.profiles), settings.default_profile).profile_names
    pieces = [ProfileModel(n, booster, calibrator, rate, pooled=True) for n in names]
    metadata = {"model_version": "bench"}
    model = unfitted_model(snapshots.feature_set, settings).fit(pieces, metadata=metadata)
    dataset.con.close()
    return model.save(root / "model"), snapshots.vocabulary


def prepare(root: Path, accounts: int, num_leaves: int | None) -> dict:
    """Data, model, a store filled by ``backfill`` plus vectors and tree, a key, request bodies."""
    import pandas as pd

    from vitals.features.build import build_features
    from vitals.features.loader import load_dataset
    from vitals.features.simulate import simulate, write_dataset
    from vitals.serving.api.auth import create_key
    from vitals.serving.batch import RunOptions, backfill
    from vitals.serving.store import HealthRepository, HealthStore
    from vitals.serving.store import features_table as tables

    data = root / "data"
    write_dataset(simulate(accounts=accounts, months=12, seed=7), data, "parquet")
    model_dir, vocabulary = fit_model(data, root, num_leaves)
    url = f"sqlite:///{root}/vitals.db"
    backfill(str(data), 60, "30d", RunOptions(model=str(model_dir), database_url=url))
    store, dataset = HealthStore.open(url), load_dataset(data)
    with store.session() as session:
        dates = HealthRepository(session).dates()
    snapshots = build_features(dataset, dates, vocabulary=vocabulary).to_pandas()
    for day, rows in snapshots.groupby("as_of"):
        tables.write_latest_features(store, rows, pd.Timestamp(day).date(), "bench")
    tree = dataset.con.execute("SELECT account_id, parent_id FROM accounts").df()
    tables.write_hierarchy(store, tree, dates[-1])
    with store.session() as session:
        ids = [r.account_id for r in HealthRepository(session).latest()]
        vectors = tables.read_latest_features(session, ids)
    key = create_key(store, ["predict", "read"], "benchmark").key
    store.close()
    batch = [{"account_id": f"b{i}", "features": vectors[ids[i % len(ids)]].features}
             for i in range(1000)]  # fmt: skip
    bodies = {"one": [{"account_id": ids[0], "features": vectors[ids[0]].features}],
              "id": [{"account_id": ids[0]}], "batch": batch}  # fmt: skip
    files = {name: root / f"{name}.json" for name in bodies}
    for name, accounts_ in bodies.items():
        files[name].write_text(json.dumps({"accounts": accounts_}))
    (root / "get.json").write_text("")
    leaves = num_leaves or "<=15"
    return {"url": url, "model_dir": str(model_dir), "key": key, "bodies": files,
            "model": f"200 trees x {leaves} leaves, {len(ids)} stored accounts"}  # fmt: skip


def reference_app():
    """The bare and naive endpoints, for comparison."""
    import numpy as np
    from fastapi import FastAPI

    from vitals.models.health_model import HealthModel

    model = HealthModel.load(os.environ["VITALS_BENCH_MODEL"])
    booster = next(iter(model.profiles_.values())).piece.booster
    names = booster.feature_name()
    kinds = [n for n in names if model.catalog_[n].kind == "categorical"]
    categories = dict(zip(kinds, booster.pandas_categorical or [], strict=False))
    app = FastAPI()

    @app.get("/bare")
    def bare() -> dict:
        return {"ok": True}

    @app.get("/bare-async")
    async def bare_async() -> dict:
        return {"ok": True}

    @app.post("/naive")
    def naive(body: dict) -> dict:
        values = body["accounts"][0]["features"]
        codes = {n: {v: i for i, v in enumerate(levels)} for n, levels in categories.items()}
        row = [codes[n].get(values[n], np.nan) if n in codes else values[n] for n in names]
        x = np.array([row], dtype=float)
        margin = float(booster.predict(x, raw_score=True, num_threads=1)[0])
        contrib = booster.predict(x, pred_contrib=True, num_threads=1)[0, :-1]
        top = np.argsort(-np.abs(contrib))[:5]
        reasons = [{"feature": names[j], "log_odds": float(contrib[j])} for j in top]
        return {"margin": margin, "reasons": reasons}

    return app


def start(kind: str, env: dict[str, str], root: Path) -> tuple[subprocess.Popen, int]:
    """Start a server process on a free loopback port and wait until it answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (root / f"{kind}.log").open("w")
    command = [sys.executable, __file__, "--server", kind, str(port)]
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=log)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code in (200, 404):
                return process, port
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{kind} server did not start: see {root / f'{kind}.log'}")


def wrk(url: str, body: Path, method: str, key: str, seconds: int, script: Path) -> dict:
    """One saturation run of wrk (1 thread, 32 connections)."""
    env = {**os.environ, "VITALS_BODY": str(body), "VITALS_METHOD": method, "VITALS_KEY": key}
    command = ["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", "-s", str(script), url]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "errors": (int(bad.group(1)) if bad else 0)
        + sum(map(int, sockets.groups() if sockets else ())),
        "p99_ms": float(p99.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)],
    }


async def steady(url: str, body: bytes, key: str, rate: float, seconds: float) -> dict:
    """Open-loop load at ``rate`` requests/s; latency from each request's planned start.

    The first 2 seconds at the rate are a warm-up, not counted: the client opens its
    connections then (a fresh client's first burst measures connection set-up, not serving).
    """
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    latencies, errors = [], 0
    warm_up = int(rate * 2)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64), timeout=10) as client:

        async def one(i: int, planned: float) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, planned - time.perf_counter()))
            try:
                failed = (await client.post(url, content=body, headers=headers)).status_code != 200
            except httpx.HTTPError:
                failed = True
            if i >= warm_up:
                errors += failed
                latencies.append(1e3 * (time.perf_counter() - planned))

        start_at, count = time.perf_counter() + 0.5, int(rate * seconds)
        total = warm_up + count
        await asyncio.gather(*(one(i, start_at + i / rate) for i in range(total)))
    latencies.sort()
    p50, p99 = latencies[count // 2], latencies[int(count * 0.99) - 1]
    return {"rate": rate, "requests": count, "errors": errors, "p50_ms": p50, "p99_ms": p99}


def batches(url: str, body: bytes, key: str, count: int) -> dict:
    """Sequential 1,000-account requests with 5 reasons (after one warm-up)."""
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    times, errors = [], 0
    with httpx.Client(timeout=60) as client:
        for i in range(count + 1):
            started = time.perf_counter()
            errors += client.post(url, content=body, headers=headers).status_code != 200
            if i:
                times.append(1e3 * (time.perf_counter() - started))
    times.sort()
    return {"requests": count, "errors": errors, "p50_ms": statistics.median(times),
            "p90_ms": times[int(count * 0.9) - 1]}  # fmt: skip


def run_server(kind: str, port: int) -> None:
    """Server process: the reference app or the API (one uvicorn worker, no access log)."""
    if kind == "api":
        from vitals.serving.api.server import serve

        serve(host="127.0.0.1", port=port, workers=1)
        return
    import uvicorn

    uvicorn.run(reference_app, factory=True, host="127.0.0.1", port=port, log_level="warning",
                access_log=False)  # fmt: skip


def main() -> None:
    """Prepare, start the servers, measure, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--num-leaves", type=int, help="default: the training settings' (15)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per saturation run")
    parser.add_argument("--repeats", type=int, default=3, help="saturation runs per endpoint")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--batches", type=int, default=15)
    parser.add_argument("--server", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server:
        run_server(args.server[0], int(args.server[1]))
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    console, load_before = Console(width=140), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="vitals-bench-serving-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        ready = prepare(root, args.accounts, args.num_leaves)
        console.print(f"prepared in {time.perf_counter() - started:.0f} s: {ready['model']}")
        model_dir = ready["model_dir"]
        env = {"VITALS_DATABASE_URL": ready["url"], "VITALS_SERVING__MODEL": model_dir,
               "VITALS_BENCH_MODEL": model_dir, "VITALS_CONFIG": str(root / "none")}  # fmt: skip
        script = root / "post.lua"
        script.write_text(WRK_LUA)
        servers = [start("reference", env, root), start("api", env, root)]
        try:
            ref, api = (f"http://127.0.0.1:{port}" for _, port in servers)
            key, bodies, predict = ready["key"], ready["bodies"], f"{api}/v1/predict?reasons=5"
            cases = {
                BARE: (f"{ref}/bare", root / "get.json", "GET"),
                BARE_ASYNC: (f"{ref}/bare-async", root / "get.json", "GET"),
                "naive: LightGBM predict + pred_contrib": (f"{ref}/naive", bodies["one"], "POST"),
                OURS: (predict, bodies["one"], "POST"),
                "/v1/predict, 1 stored account id": (predict, bodies["id"], "POST"),
            }
            for url, body, method in cases.values():  # warm-up
                wrk(url, body, method, key, 2, script)
            runs: dict[str, list[dict]] = {name: [] for name in cases}
            for _ in range(args.repeats):  # alternate, so a busy moment hits every case alike
                for name, (url, body, method) in cases.items():
                    runs[name].append(wrk(url, body, method, key, args.duration, script))
            one = bodies["one"].read_bytes()
            latency = asyncio.run(steady(predict, one, key, args.rate, args.duration))
            batch = batches(predict, bodies["batch"].read_bytes(), key, args.batches)
        finally:
            for process, _ in servers:
                process.terminate()
                process.wait(timeout=30)
    report(console, runs, latency, batch, ready["model"], vars(args), load_before)


def report(console: Console, runs: dict, latency: dict, batch: dict, model: str, args: dict,
           load_before: float) -> None:  # fmt: skip
    """Print the table and write the JSON."""
    rows = {name: {"rps": statistics.median(r["rps"] for r in rs),
                   "p99_ms": statistics.median(r["p99_ms"] for r in rs),
                   "errors": sum(r["errors"] for r in rs), "runs": rs}
            for name, rs in runs.items()}  # fmt: skip
    table = Table(title="serving on 127.0.0.1 (1 uvicorn worker; wrk -t1 -c32, median of runs)",
                  caption=f"model: {model}")  # fmt: skip
    for column in ("case", "requests/s", "vs bare", "p99 ms", "errors"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for name, row in rows.items():
        row["ratio"] = row["rps"] / rows[BARE]["rps"]
        table.add_row(name, f"{row['rps']:,.0f}", f"{row['ratio']:.2f}", f"{row['p99_ms']:.1f}",
                      str(row["errors"]))  # fmt: skip
    table.add_row(f"{OURS} at {latency['rate']:.0f}/s, open loop", "", "",
                  f"{latency['p99_ms']:.1f}", str(latency["errors"]))  # fmt: skip
    table.add_row(f"/v1/predict, 1,000 accounts, 5 reasons: p50 {batch['p50_ms']:.0f} ms", "",
                  "", f"p90 {batch['p90_ms']:.0f}", str(batch["errors"]))  # fmt: skip
    console.print(table)
    ours = rows[OURS]
    checks = {
        f"predict >= {TARGET_RPS:,.0f} requests/s": ours["rps"] >= TARGET_RPS,
        f"predict >= {TARGET_RATIO} x bare": ours["ratio"] >= TARGET_RATIO,
        f"p99 <= {TARGET_P99_MS:.0f} ms at {latency['rate']:.0f}/s": latency["p99_ms"]
        <= TARGET_P99_MS,
        f"1,000-account batch p50 <= {TARGET_BATCH_P50_MS:.0f} ms": batch["p50_ms"]
        <= TARGET_BATCH_P50_MS,
        "zero errors": ours["errors"] + latency["errors"] + batch["errors"] == 0,
    }
    for check, met in checks.items():
        console.print(f"{check}: {'met' if met else 'NOT met'}")
    load = {"before": load_before, "after": os.getloadavg()[0]}
    console.print(
        f"1-minute load average before/after: {load['before']:.1f} / "
        f"{load['after']:.1f} on {os.cpu_count()} cores (other work lowers all rows)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "model": model, "saturation": rows, "steady": latency, "batch_1000": batch,
        "targets": checks, "settings": args, "load_average_1min": load,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
