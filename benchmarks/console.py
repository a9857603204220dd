"""The CS console (``/console``): latency and size of its pages on 10,000 accounts.

Target: the worklist pages by cursor, fast on 10,000 accounts, with no client-side load of all
rows. So a page holds ``console.page_size`` rows whatever the list's length, a deep page costs
what the second does, and following every "Load more" link lists each account of the latest
scored date once: as many rows as ``GET /v1/accounts`` returns, paged, in the same run.

Only the public surface is used: ``vitals simulate``, ``train``, ``backfill``, ``score``, ``keys
create`` and ``serve --data DIR --model challenger`` as subprocesses, and HTTP on loopback: a
sign-in (``POST /console/login`` with a key of scope ``read``), then the pages with its cookie.

Set-up, once per ``--workdir`` (reused when there): ``--accounts`` simulated accounts over
``--months`` months and a model registered as ``challenger`` (``realtime_load.prepare``), 180 days
of history every 7 days (``vitals backfill``, so a sparkline has ~26 points), the latest scores
(``vitals score``) and a read key. The server's re-scoring worker scores everyone once at start;
measuring begins when it is done. Each page kind gets ``--warmup`` requests, then ``--requests``
timed ones, one at a time: p50 / p95 / max latency, the first (cold) request, and the body's size.
Pages: the worklist (first page; pages 2, 20 and the last, reached by the cursor links; filtered
by band, sorted by fall, "fell more than 5", everything under the biggest parent), the "Load
more" partial (``HX-Request``), the riskiest account and the one that fell most in 30 days (a full
history), the hierarchy index and the tree of the parent with the most accounts under it (both
weightings), the model page; and ``GET /v1/accounts?sort=churn_probability&limit=50`` (the
worklist's default order) as the reference.

    python benchmarks/console.py [--accounts 10000] [--requests 30] [--quick]
        [--workdir /tmp/console-bench] [--output PATH]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
from realtime_load import Server, percentiles, prepare, vitals
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results" / "console.json"
MORE = re.compile(r'hx-get="([^"]+)"\s+hx-target="#more"')
ROW = re.compile(r'<th scope="row"><a href="/console/accounts/([^"]+)">')
HX = {"HX-Request": "true"}


def set_up(root: Path, accounts: int, months: int, seed: int) -> dict:
    """Data, model, health history and a read key, each made once; what the server needs."""
    ready = prepare(root, accounts, months, seed, fresh=False)
    env, made = ready["env"], bool(ready["timings"])
    if not (root / "backfilled.json").exists():
        made = True
        timings = {}
        for name, args in (("backfill_s", ("backfill", "data", "--days", "180", "--every", "7d")),
                           ("score_s", ("score", "data"))):  # fmt: skip
            started = time.perf_counter()
            vitals(root, env, *args, "--model", "challenger")
            timings[name] = time.perf_counter() - started
        (root / "backfilled.json").write_text(json.dumps(timings))
    if not (root / "read-key").exists():
        out = vitals(root, env, "keys", "create", "--scope", "read", "--name", "console-bench")
        (root / "read-key").write_text(out.strip().splitlines()[-1])
    timings = {**json.loads((root / "trained.json").read_text()),
               **json.loads((root / "backfilled.json").read_text())}  # fmt: skip
    return {"env": env, "key": (root / "read-key").read_text().strip(), "timings": timings,
            "reused": not made}  # fmt: skip


def settle(pid: int, started: float, timeout: float = 600) -> float:
    """Seconds from ``started`` until the server and its worker use under 0.1 core over 2 s.

    The status answers from the store, which ``vitals score`` filled, so it says ready while the
    worker still scores everyone once at start (on both cores of a 2-core machine)."""

    def cpu() -> float:
        kids = [pid, *Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        stats = [Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split() for p in kids]
        return sum(int(s[11]) + int(s[12]) for s in stats) / os.sysconf("SC_CLK_TCK")

    while time.perf_counter() - started < timeout:
        before = cpu()
        time.sleep(2)
        if cpu() - before < 0.2:
            break
    return time.perf_counter() - started


def sign_in(url: str, key: str) -> httpx.Client:
    """A client holding a console session (RuntimeError: no 303 with the session cookie)."""
    client = httpx.Client(base_url=url, timeout=300)
    answer = client.post("/console/login", data={"key": key, "next": "/console"})
    if answer.status_code != 303 or "vitals_console" not in client.cookies:
        raise RuntimeError(f"sign-in answered {answer.status_code}: {answer.text[:300]}")
    return client


def get(client: httpx.Client, url: str, headers: dict | None = None) -> tuple[float, str]:
    """Seconds to the whole body, and the body (RuntimeError: any answer but a 200)."""
    started = time.perf_counter()
    answer = client.get(url, headers=headers)
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url}: {answer.status_code} {answer.text[:300]}")
    return elapsed, answer.text


def measure(client: httpx.Client, url: str, n: int, warmup: int, headers: dict | None = None,
            rows: int | None = None) -> dict:  # fmt: skip
    """``warmup`` untimed requests (the first is reported as cold), then ``n`` timed ones."""
    cold, body = get(client, url, headers)
    for _ in range(warmup - 1):
        get(client, url, headers)
    times, sizes = [], []
    for _ in range(n):
        elapsed, body = get(client, url, headers)
        times.append(elapsed)
        sizes.append(len(body.encode()))
    shown = body.count('scope="row"') if rows is None else rows
    return {"url": url, "requests": n, "ms": percentiles(times, 1e3), "cold_ms": cold * 1e3,
            "kb": sum(sizes) / len(sizes) / 1024, "rows": shown}  # fmt: skip


SORT = "churn_probability"  # the worklist's default order


def api_walk(client: httpx.Client, key: str) -> list[dict]:
    """Every account of the latest date from ``GET /v1/accounts``, 500 a page, in the console's
    default order (highest churn risk first)."""
    items: list[dict] = []
    cursor = None
    while True:
        query = f"/v1/accounts?sort={SORT}&limit=500" + (f"&cursor={cursor}" if cursor else "")
        page = json.loads(get(client, query, {"X-API-Key": key})[1])
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            return items


def console_walk(client: httpx.Client) -> dict:
    """The worklist from its first page through every "Load more" link (as htmx asks for it)."""
    urls, ids, times = ["/console"], [], []
    started = time.perf_counter()
    while True:
        elapsed, body = get(client, urls[-1], HX if len(urls) > 1 else None)
        times.append(elapsed)
        ids += [unquote(html.unescape(i)) for i in ROW.findall(body)]
        if (more := MORE.search(body)) is None:
            break
        urls.append(html.unescape(more.group(1)))
    seconds = time.perf_counter() - started
    return {"urls": urls, "ids": ids, "pages": len(urls), "rows": len(ids), "seconds": seconds,
            "page_ms": percentiles(times, 1e3)}  # fmt: skip


def biggest_parent(items: list[dict]) -> tuple[str, int]:
    """The account with the most scored accounts under it (any depth), and how many."""
    parent = {i["account_id"]: i["parent_id"] for i in items}
    under: dict[str, int] = {}
    for account in parent:
        seen, up = {account}, parent[account]
        while up is not None and up not in seen:
            under[up] = under.get(up, 0) + 1
            seen.add(up)
            up = parent.get(up)
    return min(under.items(), key=lambda kv: (-kv[1], kv[0])) if under else ("", 0)


def run(url: str, key: str, n: int, warmup: int, console: Console) -> dict:
    """Walk both lists, then measure every page kind."""
    client, api = sign_in(url, key), httpx.Client(base_url=url, timeout=300)
    items = api_walk(api, key)
    walk = console_walk(client)
    console.print(f"walked {walk['pages']} pages, {walk['rows']:,} rows in "
                  f"{walk['seconds']:.1f} s; the API lists {len(items):,}")  # fmt: skip
    urls = walk.pop("urls")
    ids = walk.pop("ids")
    api_ids = [i["account_id"] for i in items]
    walk.update(api_rows=len(api_ids), distinct=len(set(ids)), same_as_api=ids == api_ids)
    parent, under = biggest_parent(items)
    worst = quote(items[0]["account_id"], safe="")
    fall = api.get("/v1/accounts", params={"sort": "score_change", "change_days": 30, "limit": 1},
                   headers={"X-API-Key": key}).json()["items"]  # fmt: skip
    fell = quote(fall[0]["account_id"] if fall else items[0]["account_id"], safe="")
    tree = f"/console/hierarchy/{quote(parent, safe='')}"
    kinds = [
        ("worklist, first page", "/console", None),
        ("worklist, page 2", urls[min(1, len(urls) - 1)], None),
        ("worklist, page 20", urls[min(19, len(urls) - 1)], None),
        (f"worklist, last page ({len(urls)})", urls[-1], None),
        ("worklist, band=poor", "/console?band=poor", None),
        ("worklist, sort=score_change", "/console?sort=score_change", None),
        ("worklist, fell=5", "/console?fell=5", None),
        (f"worklist, the {under:,} under a parent", f"/console?parent={quote(parent)}", None),
        ("load more partial, page 2", urls[min(1, len(urls) - 1)], HX),
        ("account, highest risk", f"/console/accounts/{worst}", None),
        ("account, biggest 30-day fall", f"/console/accounts/{fell}", None),
        ("hierarchy index", "/console/hierarchy", None),
        (f"hierarchy, {under:,} under, count", tree, None),
        (f"hierarchy, {under:,} under, contract value", f"{tree}?weighting=contract_value", None),
        ("model", "/console/model", None),
    ]
    pages = {}
    for name, path, headers in kinds:
        pages[name] = measure(client, path, n, warmup, headers)
        console.print(f"{name}: p50 {pages[name]['ms']['p50']:.1f} ms")
    headers = {"X-API-Key": key}
    api_page = measure(api, f"/v1/accounts?sort={SORT}&limit=50", n, warmup, headers, rows=50)
    pages[f"API GET /v1/accounts?sort={SORT}&limit=50"] = api_page
    client.close()
    api.close()
    return {"walk": walk, "pages": pages, "parent": parent, "under_parent": under,
            "ratio_first_page_to_api_p50": pages["worklist, first page"]["ms"]["p50"]
            / api_page["ms"]["p50"]}  # fmt: skip


def checks_of(r: dict) -> dict[str, bool]:
    """PASS/FAIL per target."""
    w, p = r["walk"], r["pages"]
    first, second = p["worklist, first page"], p["worklist, page 2"]
    last = next(v for k, v in p.items() if k.startswith("worklist, last page"))
    return {
        f"the walk lists every account once: {w['rows']:,} rows = {w['api_rows']:,} from the API, "
        "same order, no repeats":
            w["rows"] == w["api_rows"] == w["distinct"] and w["same_as_api"],
        f"no page holds all rows: the first has {first['rows']} of {w['rows']:,}":
            first["rows"] < w["rows"] or w["pages"] == 1,
        "depth costs nothing: page 20 and the last page p50 within 1.5x of page 2's":
            max(p["worklist, page 20"]["ms"]["p50"], last["ms"]["p50"])
            <= 1.5 * second["ms"]["p50"],
        "no server error (no traceback in the server log)": r["log_tracebacks"] == 0,
    }  # fmt: skip


def render(console: Console, r: dict, checks: dict[str, bool]) -> None:
    """The table, then the PASS/FAIL lines."""
    w = r["walk"]
    s = r["settings"]
    table = Table(title=f"CS console: {r['rows']:,} accounts scored {r['as_of']}, "
                  f"{s['requests']} requests per page after {s['warmup']} warm-ups; "
                  f"one server process, {r['cpus']} cores")  # fmt: skip
    for column in ("page", "rows", "p50 ms", "p95 ms", "max ms", "cold ms", "KB"):
        table.add_column(column, justify="left" if column == "page" else "right")
    for name, m in r["pages"].items():
        ms = m["ms"]
        table.add_row(name, f"{m['rows']:,}", f"{ms['p50']:.1f}", f"{ms['p95']:.1f}",
                      f"{ms['max']:.1f}", f"{m['cold_ms']:.1f}", f"{m['kb']:.1f}")  # fmt: skip
    ms = w["page_ms"]
    table.add_row(f"walk: {w['pages']} pages (1 full + partials), {w['seconds']:.1f} s",
                  f"{w['rows']:,}", f"{ms['p50']:.1f}", f"{ms['p95']:.1f}", f"{ms['max']:.1f}",
                  "", "")  # fmt: skip
    console.print(table)
    load = r["load_average_1min"]
    console.print(f"worklist first page / API first page (p50): "
                  f"{r['ratio_first_page_to_api_p50']:.1f}x; set-up {r['setup']}"
                  f"{' (reused)' if r['setup_reused'] else ''}; server idle after "
                  f"{r['startup']['settled_s']:.1f} s; 1-minute load average before / after: "
                  f"{load['before']:.1f} / {load['after']:.1f}")  # fmt: skip
    for name, ok in checks.items():
        console.print(f"{'PASS' if ok else 'FAIL'}  {name}")


def main() -> None:
    """Set up, start the server, measure, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--accounts", type=int, default=10_000)
    add("--months", type=int, default=12)
    add("--seed", type=int, default=7)
    add("--requests", type=int, default=30, help="timed requests per page kind")
    add("--warmup", type=int, default=3, help="untimed requests before them (at least 1)")
    add("--quick", action="store_true", help="2,000 accounts")
    add("--workdir", type=Path, default=Path("/tmp/console-bench"))
    add("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.warmup = max(1, args.warmup)
    if args.quick:
        args.accounts = 2000
    console, load_before = Console(width=150), os.getloadavg()[0]
    root = args.workdir.resolve() / f"a{args.accounts}-m{args.months}-s{args.seed}"
    ready = set_up(root, args.accounts, args.months, args.seed)
    console.print(f"work dir {root}; set-up {ready['timings']}")
    log = root / "server.log"
    log_start = log.stat().st_size if log.exists() else 0
    server, started = Server(root, ready["env"], ready["key"]), time.perf_counter()
    server.start()
    try:
        startup = server.wait(started)
        startup["settled_s"] = settle(server.process.pid, started)
        console.print(f"server answering in {startup['scored_s']:.1f} s, idle after "
                      f"{startup['settled_s']:.1f} s; scored {startup['as_of']}")  # fmt: skip
        result = run(server.url, ready["key"], args.requests, args.warmup, console)
    except RuntimeError as exc:
        sys.exit(str(exc))
    finally:
        server.stop()
    text = log.read_bytes()[log_start:].decode(errors="replace")
    result.update(
        rows=result["walk"]["api_rows"], as_of=startup["as_of"], workdir=str(root),
        setup=ready["timings"], setup_reused=ready["reused"], startup=startup,
        log_tracebacks=text.count("Traceback"), cpus=os.cpu_count(), settings=vars(args),
        load_average_1min={"before": load_before, "after": os.getloadavg()[0]},
    )  # fmt: skip
    checks = checks_of(result)
    render(console, result, checks)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({**result, "checks": checks}, indent=2, default=str))
    console.print(f"wrote {args.output}; server log: {log}")
    if not next(iter(checks.values())):  # the walk must list the API's accounts, once each
        sys.exit("FAIL: the worklist's pages do not list every account of the latest date once")


if __name__ == "__main__":
    main()
