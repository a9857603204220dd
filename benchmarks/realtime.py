"""Real-time health (issue 21): ingest throughput, freshness, zero lost events, and a kill test.

Only the public surface is used: ``vitals simulate``, ``train``, ``keys create`` and ``serve
--data DIR`` as subprocesses, ``POST /v1/events`` and ``GET /v1/ingest/status`` on loopback, and
the ingested store's files (batch manifests and Parquet segments) to count what was stored.

Set-up, once per ``--workdir`` (reused when there): ``--accounts`` simulated accounts over
``--months`` months and a model trained on them (registered as ``challenger``; the work dir's
``vitals.toml`` shortens the training windows so that 12 months suffice). Each run starts with an
empty health store and ingested store unless ``--keep-store``. One server process (its re-scoring
worker inside) serves everything. Events are stamped on the data's last day, so the scoring date
stays fixed. Their accounts are drawn at random (``--mix``): ``activity`` (the default) in
proportion to each account's events over the data's last 30 days, as a live stream sends them
(accounts that went quiet, churned ones and parents without usage send none); ``uniform`` from
all accounts alike, the worst case for re-scoring, which then touches the most accounts.

1. Ingest throughput: ``--clients`` clients each send their next batch as soon as the last one is
   answered, for ``--throughput-seconds`` per batch size (``--ingest-batch``): events/s and
   batches/s acknowledged (acknowledged = durably committed), then re-scoring's catch-up time.
2. Freshness: ``--rate`` events/s in batches of ``--batch`` for ``--seconds``, open loop (a batch is
   sent when due, on up to 16 connections); per batch, from its acknowledgement (the 200 at the
   client) to the first status poll (every 50 ms) showing ``rescored >= batch``. Target: p95 under
   5 s; goal: under 1 s. Also whether the server kept up with the offered rate.
3. Zero lost events: the rows acknowledged as accepted (distinct batches) equal the rows added to
   the store's committed event segments during the run.
4. Kill test: the same load for ``--kill-seconds``, one attempt per batch; half-way the server is
   SIGKILLed and started again. Then every batch without a 200 is sent again with the same
   ``Idempotency-Key`` and body until answered, and some that had one (every one answered in the
   2 s before the kill, and every 10th other) are sent again: they must come back as replays of
   the same batch. The store must hold the acknowledged batches' rows exactly once.

Before the freshness load, a fixed reference work (Python objects, then DuckDB on one thread) is
timed: a shared machine runs the same code at different speeds from one hour to the next, and
the reference tells a slower machine from slower code when runs are compared.

    python benchmarks/realtime.py [--accounts 10000] [--rate 1000] [--seconds 60] [--quick]
        [--mix activity|uniform] [--workdir /tmp/realtime-bench] [--keep-store] [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import duckdb
from processes import left_running
from realtime_load import (
    CONNECTIONS,
    Load,
    Poller,
    Sent,
    Server,
    accepted,
    activity,
    percentiles,
    prepare,
    stored,
    tally,
    unlisted_segments,
)
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results" / "realtime.json"
P95_TARGET_S, P95_GOAL_S = 5.0, 1.0


def throughput(load: Load, poller: Poller, clients: int, size: int, seconds: float) -> tuple:
    """Closed loop: each client sends its next batch as soon as the last one is answered."""
    sent, latencies = [], []
    cpu, started = load.server.cpu_seconds(), time.perf_counter()

    def client() -> None:
        while time.perf_counter() < started + seconds:
            batch = load.batch(f"throughput{size}", size)
            sent.append(batch)
            load.post(batch, retry_for=60)
            latencies.append(time.perf_counter() - batch.made)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda _: client(), range(clients)))
    elapsed = time.perf_counter() - started
    batches, rows = accepted(sent)
    return {
        "batch_size": size, "clients": clients, "seconds": elapsed, "batches": batches,
        "rows": rows, "rows_per_s": rows / elapsed, "batches_per_s": batches / elapsed,
        "post_ms": percentiles(latencies, 1e3), "failures": tally(sent),
        "server_cores": (load.server.cpu_seconds() - cpu) / elapsed,
        "catch_up_s": poller.wait_for(sent),
    }, sent  # fmt: skip


def freshness(load: Load, poller: Poller, rate: float, size: int, seconds: float) -> tuple:
    """Acknowledgement to ``rescored >= batch`` for every batch of a steady load."""
    cpu, started = load.server.cpu_seconds(), time.perf_counter()
    worker_cpu, own_cpu = load.server.worker_cpu_seconds(), time.process_time()
    sent = load.open_loop("freshness", rate, size, seconds, retry_for=60)
    elapsed = time.perf_counter() - started
    worker_cores = (load.server.worker_cpu_seconds() - worker_cpu) / elapsed
    client_cores = (time.process_time() - own_cpu) / elapsed
    acked = [s for s in sent if s.ack]
    poller.wait_for(sent)
    lagged = [(s.ack, t - s.ack) for s in acked if (t := poller.rescored_at(s.seq)) is not None]
    lags = [max(0.0, lag) for _, lag in lagged]
    # p95 per 10 s of load: flat when re-scoring keeps up, rising when it falls behind
    slices: dict[int, list[float]] = {}
    for ack, lag in lagged:
        slices.setdefault(int((ack - started) // 10), []).append(max(0.0, lag))
    by_10s = [round(percentiles(slices[k])["p95"], 2) for k in sorted(slices)]
    touched: dict[int, set[str]] = {}  # the accounts the events of each 10 s name
    for s in sent:
        names = (row["account_id"] for row in json.loads(s.body)["events"])
        touched.setdefault(int((s.made - started) // 10), set()).update(names)
    return {
        "rate": rate, "batch_size": size, "seconds": seconds, "batches": len(sent),
        "acknowledged": len(acked), "not_rescored": len(acked) - len(lags),
        "acknowledged_rows_per_s": accepted(sent)[1] / elapsed, "failures": tally(sent),
        "ack_after_made_ms": percentiles([s.ack - s.made for s in acked], 1e3),
        "server_cores": (load.server.cpu_seconds() - cpu) / (time.perf_counter() - started),
        "worker_cores": worker_cores,
        "client_cores": client_cores,
        "rescoring_steps_seen": sum(1 for t in poller.times if t >= started),
        "status_poll_ms": percentiles(poller.latencies, 1e3), "freshness_s": percentiles(lags),
        "freshness_p95_by_10s": by_10s,
        "accounts_per_10s": round(sum(map(len, touched.values())) / max(1, len(touched))),
    }, sent  # fmt: skip


def reference_work(repeats: int = 3) -> dict[str, float]:
    """Seconds a fixed piece of work takes now (median of ``repeats``), in Python objects and in
    DuckDB on one thread: the same code runs slower when the machine's neighbours are busy, so
    runs on other days are compared by these too (lower is faster)."""
    con = duckdb.connect()
    con.execute("SET threads = 1")

    def python() -> None:
        rows = [{"id": i, "value": i / 7, "text": f"row {i:,}: {i / 7:.2f}"} for i in range(50_000)]
        json.loads(json.dumps(rows))

    def sql() -> None:
        con.execute("SELECT i % 1000, sum(i * 0.5), count(DISTINCT i % 7919) "
                    "FROM range(2000000) AS t(i) GROUP BY 1").fetchall()  # fmt: skip

    seconds = {}
    for name, work in (("python", python), ("duckdb", sql)):
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            work()
            runs.append(time.perf_counter() - started)
        seconds[name] = statistics.median(runs)
    con.close()
    return seconds


def kill_test(load: Load, poller: Poller, rate: float, size: int, seconds: float) -> tuple:
    """SIGKILL half-way through a load, start again, retry and re-send with the same keys."""
    server, killed, restart = load.server, [], {}

    def watch() -> None:
        try:
            restart.update(server.wait(killed[0], drained=False))
        except RuntimeError as exc:
            restart["error"] = str(exc)

    watcher = threading.Thread(target=watch, daemon=True)

    def tick(t: float) -> None:
        if not killed and t >= seconds / 2:
            killed.append(time.perf_counter())
            server.kill()
            server.start()
            watcher.start()

    sent = load.open_loop("kill", rate, size, seconds, retry_for=0, tick=tick)
    failed = [s for s in sent if s.ack is None]
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        list(pool.map(lambda s: load.post(s, retry_for=600), failed))
    watcher.join()
    restart["all_rescored_s"] = poller.wait_for(sent) + time.perf_counter() - killed[0]
    answered = [s for s in sent if s.ack and s.ack < killed[0]]
    again = [s for i, s in enumerate(answered) if s.ack > killed[0] - 2 or i % 10 == 0]
    copies = [Sent(s.key, s.body, s.rows, time.perf_counter()) for s in again]
    for copy in copies:
        load.post(copy, retry_for=60)
    batches, rows = accepted(sent)
    stored_batches, stored_rows = stored(server.root / "ingested", {s.key for s in sent})
    return {
        "seconds": seconds, "batches": len(sent), "acknowledged": sum(1 for s in sent if s.ack),
        "acknowledged_batches": batches, "acknowledged_rows": rows,
        "stored_batches": stored_batches, "stored_rows": stored_rows,
        "retried": len(failed), "retried_and_replayed": sum(1 for s in failed if s.replayed),
        "resent_after_200": len(again), "resent_not_the_same": sum(
            not (c.replayed and c.seq == s.seq) for c, s in zip(copies, again, strict=True)),
        "restart": restart, "failures": tally(sent),
    }, sent + copies  # fmt: skip


def checks_of(r: dict) -> dict[str, bool]:
    """PASS/FAIL per target."""
    fresh, lost, kill = r["freshness"], r["lost"], r["kill"]
    p95 = fresh["freshness_s"]["p95"] if fresh["not_rescored"] == 0 else None
    kill_counts = (kill["stored_batches"], kill["stored_rows"])
    return {
        f"freshness p95 < {P95_TARGET_S:.0f} s (target)": p95 is not None and p95 < P95_TARGET_S,
        f"freshness p95 < {P95_GOAL_S:.0f} s (goal)": p95 is not None and p95 < P95_GOAL_S,
        f"{fresh['rate']:,.0f} events/s acknowledged as offered (>= 95 %)":
            fresh["acknowledged_rows_per_s"] >= 0.95 * fresh["rate"],
        "zero lost events: rows acknowledged = rows stored":
            (lost["acknowledged_batches"], lost["acknowledged_rows"]) == lost["stored_added"],
        "kill test: all acknowledged, stored once, re-sends answered as the same batch":
            kill["acknowledged"] == kill["batches"] and kill["resent_not_the_same"] == 0
            and kill["unlisted_segments"] == 0
            and kill_counts == (kill["acknowledged_batches"], kill["acknowledged_rows"]),
        "no server error (a 5xx other than 503, a worker error, a traceback in the log)":
            not r["server_errors"] and not r["worker_errors"] and not r["log_tracebacks"],
        "every worker ended with its server (SIGINT, or SIGKILL in the kill test)":
            r["workers_left_running"] == 0,
    }  # fmt: skip


def render(console: Console, r: dict, checks: dict[str, bool]) -> None:
    """The table, then the PASS/FAIL lines."""
    f, lost, k, start = r["freshness"], r["lost"], r["kill"], r["startup"]

    def ms(p: dict) -> str:
        return f"p50 {p['p50']:,.0f} ms, p95 {p['p95']:,.0f} ms"

    fs = {q: "-" if v is None else f"{v:.2f} s" for q, v in f["freshness_s"].items()}
    table = Table(title=f"real-time ingestion: {r['accounts']:,} accounts, scoring as of "
                  f"{r['as_of']}; one server process on 127.0.0.1, {r['cpus']} cores; events' "
                  f"accounts: {r['settings']['mix']}")  # fmt: skip
    for column in ("measure", "value", "detail"):
        table.add_column(column, justify="right" if column == "value" else "left")
    table.add_row("server ready: data loaded, everyone scored", f"{start['scored_s']:.1f} s",
                  f"answering after {start['answers_s']:.1f} s")  # fmt: skip
    for t in r["throughput"]:
        table.add_row(
            f"ingest throughput, batches of {t['batch_size']:,}", f"{t['rows_per_s']:,.0f} ev/s",
            f"{t['batches_per_s']:.1f} batches/s from {t['clients']} clients over "
            f"{t['seconds']:.0f} s; POST {ms(t['post_ms'])}; server process "
            f"{t['server_cores']:.2f} cores; re-scoring caught up {t['catch_up_s']:.1f} s later; "
            f"failures: {t['failures'] or 'none'}",
        )  # fmt: skip
    table.add_row(
        f"freshness at {f['rate']:,.0f} ev/s: p50 / p95", f"{fs['p50']} / {fs['p95']}",
        f"p99 {fs['p99']}, max {fs['max']}; {f['acknowledged']:,} of {f['batches']:,} batches of "
        f"{f['batch_size']} over {f['seconds']:.0f} s, naming {f['accounts_per_10s']:,} accounts "
        f"per 10 s; {f['rescoring_steps_seen']} re-scoring "
        f"steps seen; not re-scored: {f['not_rescored']}; status poll {ms(f['status_poll_ms'])}; "
        f"p95 per 10 s of load: {', '.join(f'{v:.1f}' for v in f['freshness_p95_by_10s'])} s",
    )  # fmt: skip
    table.add_row(
        "  acknowledged at that load", f"{f['acknowledged_rows_per_s']:,.0f} ev/s",
        f"a batch answered after it was made: {ms(f['ack_after_made_ms'])}; server process "
        f"{f['server_cores']:.2f} cores, its re-scoring worker {f['worker_cores']:.2f}, this "
        f"load generator {f['client_cores']:.2f}; failures: {f['failures'] or 'none'}",
    )  # fmt: skip
    table.add_row(
        "zero lost: rows acknowledged / stored",
        f"{lost['acknowledged_rows']:,} / {lost['stored_added'][1]:,}",
        f"{lost['acknowledged_batches']:,} batches acknowledged, {lost['stored_added'][0]:,} "
        f"committed; {lost['stored_before'][1]:,} rows in the store before",
    )  # fmt: skip
    table.add_row(
        "kill test: sent / acknowledged / retried",
        f"{k['batches']} / {k['acknowledged']} / {k['retried']}",
        f"{k['retried_and_replayed']} retries answered as replays (committed before the kill); "
        f"failed attempts: {k['failures']}",
    )  # fmt: skip
    table.add_row(
        "kill test: rows acknowledged / stored",
        f"{k['acknowledged_rows']:,} / {k['stored_rows']:,}",
        f"{k['resent_after_200']} batches re-sent after their 200: {k['resent_not_the_same']} "
        f"not answered as a replay of the same batch; {k['unlisted_segments']} segment files "
        "left outside a committed batch",
    )  # fmt: skip
    restart = k["restart"]
    table.add_row(
        "kill test: answering / everyone scored again",
        f"{restart.get('answers_s', 0):.1f} / {restart.get('scored_s', 0):.1f} s",
        f"after the SIGKILL; every batch re-scored {restart['all_rescored_s']:.1f} s after it "
        f"(the load ran {k['seconds'] / 2:.0f} s past it) {restart.get('error', '')}",
    )  # fmt: skip
    console.print(table)
    load = r["load_average_1min"]
    console.print(f"1-minute load average before / after: {load['before']:.1f} / "
                  f"{load['after']:.1f} (other work on the machine slows every row)")  # fmt: skip
    ref = r["reference_work_s"]
    console.print(
        f"fixed reference work before the freshness load: Python {ref['python']:.2f} s, "
        f"DuckDB {ref['duckdb']:.2f} s (lower is faster; compare runs by it)"
    )
    if len(r["as_of_seen"]) > 1:
        console.print(f"note: the scoring date moved during the run: {r['as_of_seen']}")
    for name, ok in checks.items():
        console.print(f"{'PASS' if ok else 'FAIL'}  {name}")


def main() -> None:
    """Set up, start the server, run the four measurements, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--accounts", type=int, default=10_000)
    add("--months", type=int, default=12)
    add("--seed", type=int, default=7)
    add("--rate", type=float, default=1000.0, help="events/s for freshness and the kill test")
    add("--seconds", type=float, default=60.0, help="length of the freshness load")
    add("--batch", type=int, default=100, help="events per batch at --rate")
    add("--ingest-batch", type=lambda v: [int(n) for n in v.split(",")], default=[100, 1000],
        help="events per batch for the throughput runs, comma-separated")  # fmt: skip
    add("--clients", type=int, default=4)
    add("--mix", choices=["activity", "uniform"], default="activity",
        help="how events pick their accounts (see above)")  # fmt: skip
    add("--throughput-seconds", type=float, default=10.0)
    add("--kill-seconds", type=float, default=30.0)
    add("--quick", action="store_true", help="2,000 accounts, 20 s freshness, 10 s kill test")
    add("--workdir", type=Path, default=Path("/tmp/realtime-bench"))
    add("--keep-store", action="store_true", help="keep the stores of the last run")
    add("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.accounts, args.seconds, args.kill_seconds, args.throughput_seconds = 2000, 20, 10, 5
    console, load_before = Console(width=150), os.getloadavg()[0]
    root = args.workdir.resolve() / f"a{args.accounts}-m{args.months}-s{args.seed}"
    ready = prepare(root, args.accounts, args.months, args.seed, fresh=not args.keep_store)
    console.print(f"work dir {root}; set-up {ready['timings'] or 'reused'}")
    store, log = root / "ingested", root / "server.log"
    before, log_start = stored(store), log.stat().st_size if log.exists() else 0
    server, started = Server(root, ready["env"], ready["key"]), time.perf_counter()
    server.start()
    try:
        startup = server.wait(started)
        as_of = date.fromisoformat(startup["as_of"])
        day = as_of - timedelta(days=1)
        if args.mix == "uniform":
            load = Load(server, ready["accounts"], day, args.seed)
        else:
            active = activity(root)
            load = Load(server, list(active), day, args.seed, list(active.values()))
        console.print(f"server ready in {startup['scored_s']:.1f} s, scoring as of {as_of}")
        poller = Poller(server)
        poller.start()
        tputs, sent = [], []
        for size in args.ingest_batch:
            tputs.append((one := throughput(load, poller, args.clients, size,
                                            args.throughput_seconds))[0])  # fmt: skip
            sent += one[1]
            console.print(f"throughput, batches of {size}: {tputs[-1]['rows_per_s']:,.0f} ev/s")
        reference = reference_work()  # the server is idle: the throughput runs are caught up
        fresh, fresh_sent = freshness(load, poller, args.rate, args.batch, args.seconds)
        console.print(f"freshness: {fresh['freshness_s']}")
        kill, kill_sent = kill_test(load, poller, args.rate, args.batch, args.kill_seconds)
        poller.stopped.set()
    except RuntimeError as exc:
        sys.exit(str(exc))
    finally:
        server.stop()
        workers_left = left_running(server.ended_workers)
    sent += fresh_sent + kill_sent
    after, text = stored(store), log.read_bytes()[log_start:].decode(errors="replace")
    kill["unlisted_segments"] = unlisted_segments(store)
    batches, rows = accepted(sent)
    result = {
        "accounts": len(ready["accounts"]), "as_of": str(as_of), "workdir": str(root),
        "setup": ready["timings"], "startup": startup, "throughput": tputs, "freshness": fresh,
        "lost": {"acknowledged_batches": batches, "acknowledged_rows": rows, "stored_before":
                 before, "stored_added": (after[0] - before[0], after[1] - before[1])},
        "kill": kill, "as_of_seen": sorted(poller.as_of), "worker_errors": poller.errors,
        "server_errors": sum(f[0] == "5" and f != "503" for s in sent for f in s.failures),
        "log_tracebacks": text.count("Traceback"), "workers_left_running": workers_left,
        "cpus": os.cpu_count(), "settings": vars(args),
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "reference_work_s": reference,
    }  # fmt: skip
    checks = checks_of(result)
    render(console, result, checks)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({**result, "checks": checks}, indent=2, default=str))
    console.print(f"wrote {args.output}; server log: {log}")


if __name__ == "__main__":
    main()
