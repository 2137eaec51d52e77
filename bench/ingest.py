"""Ingest: signed Create/Note replies and Likes (1:4) to one thread, from many remote actors.

    .venv/bin/python bench/ingest.py                         # SQLite, as fast as it takes them, 60 s
    .venv/bin/python bench/ingest.py --duration 300          # the 5-minute target
    .venv/bin/python bench/ingest.py --rate 1000             # fixed offered rate (p99 target)
    .venv/bin/python bench/ingest.py --db postgres           # 2 `serve` processes + 1 `fedisupport worker`

Every actor first sends one Like (warm-up, not measured), so keys are fetched and cached and
actor rows exist ("warm keys"). Then the measured window: accepted = answered 202 (signature
verified, row committed); processed = inbox_items no longer queued (state done/ignored/...), read
from the database every 2 s; Announces queued = outbox_activities of type Announce and their
deliveries (the community has `--followers` forum followers on the simulated hosts, which
receive and verify the deliveries). After the window the benchmark waits for the queue to drain.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from common import Probe, Server, header, load, ms, pct  # noqa: E402
from loadgen import LoadRun, SendConfig, Spec, viral_plan  # noqa: E402
from remotes import RemoteFarm  # noqa: E402

RESULTS = common.BENCH / "results"


def add_server_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--serve-processes", type=int, default=None, help="default 1 (SQLite) or 2 (PostgreSQL)")
    parser.add_argument("--workers", type=int, default=None,
                        help="extra `fedisupport worker` processes; default 0 (SQLite) or 1 (PostgreSQL, where the "
                             "serve processes then run with --no-worker)")
    parser.add_argument("--pg-url", default=None, help="a PostgreSQL server URL to use instead of bench's own")
    parser.add_argument("--no-worker", action="store_true",
                        help="run `serve --no-worker` and no worker: measures the accept path alone (nothing is processed)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory / database")
    parser.add_argument("--log-level", default="warning")


def make_server(args) -> Server:
    pg = args.db == "postgres"
    serve = args.serve_processes or (2 if pg else 1)
    workers = args.workers if args.workers is not None else (1 if pg else 0)
    if getattr(args, "no_worker", False):
        return Server(db=args.db, serve_processes=serve, in_serve_worker=False, extra_workers=0,
                      pg_server=args.pg_url, keep=args.keep, log_level=args.log_level)
    return Server(db=args.db, serve_processes=serve, in_serve_worker=workers == 0, extra_workers=workers,
                  pg_server=args.pg_url, keep=args.keep, log_level=args.log_level)


def add_load_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hosts", type=int, default=50, help="simulated remote instances")
    parser.add_argument("--actors-per-host", type=int, default=40)
    parser.add_argument("--processes", type=int, default=4, help="sender processes")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight per sender process (max mode)")
    parser.add_argument("--client", choices=("aiohttp", "httpx"), default="aiohttp")
    parser.add_argument("--inbox", choices=("shared", "community"), default="shared",
                        help="POST to /inbox (Mastodon) or /c/hearyou/inbox (Lemmy)")


class Timeline:
    """Inbox queue counts sampled from the database while the load runs."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.points: list[tuple[float, int, int]] = []  # (time, finished, queued)
        self._task: asyncio.Task | None = None

    async def sample(self) -> tuple[float, int, int]:
        states = await self.probe.inbox_states()
        point = (time.time(), sum(v for k, v in states.items() if k != "queued"), states.get("queued", 0))
        self.points.append(point)
        return point

    async def _run(self, every: float) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(every)

    def start(self, every: float = 2.0) -> None:
        self._task = asyncio.create_task(self._run(every))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def finished_at(self, when: float) -> int:
        """Finished count interpolated at `when`."""
        before = [p for p in self.points if p[0] <= when]
        after = [p for p in self.points if p[0] >= when]
        if not before:
            return after[0][1] if after else 0
        if not after:
            return before[-1][1]
        a, b = before[-1], after[0]
        if b[0] == a[0]:
            return a[1]
        return int(a[1] + (b[1] - a[1]) * (when - a[0]) / (b[0] - a[0]))


async def wait_drained(probe: Probe, timeout: float, timeline: Timeline | None = None) -> float | None:
    """Seconds until no inbox item is queued (None on timeout)."""
    t = time.time()
    while time.time() - t < timeout:
        states = await probe.inbox_states()
        if timeline is not None:
            timeline.points.append((time.time(), sum(v for k, v in states.items() if k != "queued"),
                                    states.get("queued", 0)))
        if states.get("queued", 0) == 0:
            return time.time()
        await asyncio.sleep(0.5)
    return None


def warm_up(farm: RemoteFarm, server: Server, thread: dict, url: str, args) -> dict:
    """One Like of the thread from every actor: keys fetched and cached, actor rows stored."""
    actors = farm.manifest["actors"]
    specs = [Spec(i, "like", i, thread["ap_id"], None, f"{a['id']}/likes/warm-{i}") for i, a in enumerate(actors)]
    run = LoadRun(specs, actors, thread["community"], SendConfig(url=url, mode="max", duration=600,
                                                                  concurrency=8, client="aiohttp"),
                  processes=min(args.processes, 4))
    run.prepare()
    t0 = run.go(0.05)
    result = run.collect()
    probe = Probe(server)

    async def drain():
        await probe.open()
        try:
            return await wait_drained(probe, 600)
        finally:
            await probe.close()

    drained = asyncio.run(drain()) if not getattr(args, "no_worker", False) else None
    return {"sent": result["sent"], "accepted": result["accepted"], "errors": result["errors"],
            "seconds": (drained or time.time()) - t0}


def py_spy(pids: list[int], seconds: float, out: Path) -> list[subprocess.Popen]:
    """Sample every server process with py-spy (raw collapsed stacks), for `seconds`."""
    spy = str(common.VENV_BIN / "py-spy")
    procs = []
    extra = os.environ.get("BENCH_PYSPY_ARGS", "").split()
    blocking = [] if "--native" in extra else ["--nonblocking"]  # native stacks need the process paused
    for pid in pids:
        procs.append(subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "97",
                                       "--format", "raw", *blocking, *extra,
                                       "-o", str(out.with_suffix(f".{pid}.txt"))],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def python_pids(server: Server) -> list[int]:
    import psutil

    out = []
    for pid in server.pids():
        try:
            p = psutil.Process(pid)
            if "python" in (p.name() + " ".join(p.cmdline()[:1])).lower():
                out.append(pid)
        except psutil.Error:
            pass
    return out


async def measure(server: Server, farm: RemoteFarm, run: LoadRun, args, drain_timeout: float,
                  profile_to: Path | None = None) -> dict:
    probe = Probe(server)
    await probe.open()
    base = {
        "announces": await probe.scalar("SELECT count(*) FROM outbox_activities WHERE type = 'Announce'"),
        "deliveries": await probe.scalar("SELECT count(*) FROM deliveries"),
    }
    timeline = Timeline(probe)
    await timeline.sample()
    t0 = run.go(0.5)
    await asyncio.sleep(max(0.0, t0 - time.time()))
    cpu0 = server.cpu_seconds()
    timeline.start(2.0)
    spies = py_spy(python_pids(server), args.profile_seconds or min(args.duration, 60), profile_to) if profile_to else []
    result = await asyncio.to_thread(run.collect)
    t_end = t0 + args.duration
    await timeline.stop()
    await timeline.sample()
    load_at_end = load()
    cpu1 = server.cpu_seconds()
    drained_at = await wait_drained(probe, drain_timeout, timeline)
    cpu2 = server.cpu_seconds()
    for s in spies:
        s.wait(timeout=120)
    states = await probe.inbox_states()
    final = {
        "states": states,
        "announces": (await probe.scalar("SELECT count(*) FROM outbox_activities WHERE type = 'Announce'")) - base["announces"],
        "deliveries": (await probe.scalar("SELECT count(*) FROM deliveries")) - base["deliveries"],
        "deliveries_by_state": dict(await probe.rows("SELECT state, count(*) FROM deliveries GROUP BY state")),
        "thread": (await probe.rows(f"SELECT reply_count, thread_reply_count, like_count FROM posts "
                                    f"WHERE id = {args.thread_id}"))[0],
        "posts": await probe.scalar("SELECT count(*) FROM posts"),
        "likes": await probe.scalar("SELECT count(*) FROM likes"),
    }
    await probe.close()
    lat = result.pop("latencies")
    window_end = min(t_end, result["finished_at"])
    seconds = max(window_end - t0, 1e-9)
    accepted_in_window = sum(v for k, v in result["per_second"].items() if k < args.duration)
    first_point = timeline.points[0][1]
    processed_in_window = timeline.finished_at(window_end) - first_point
    total_done = sum(v for k, v in states.items() if k != "queued") - first_point
    out = {
        "seconds": round(seconds, 1),
        "budget_exhausted": result["sent"] >= result["budget"],
        "sent": result["sent"], "accepted": result["accepted"],
        "accepted_per_s": round(accepted_in_window / seconds, 1),
        "processed_in_window_per_s": round(processed_in_window / seconds, 1),
        "drain_s_after_window": round(drained_at - window_end, 1) if drained_at else None,
        "end_to_end_processed_per_s": round(total_done / (drained_at - t0), 1) if drained_at else None,
        "p50_ms": round(pct(lat, 50) * 1000, 2), "p99_ms": round(pct(lat, 99) * 1000, 2),
        "max_ms": round(max(lat) * 1000, 1) if lat else None,
        "status": result["status"], "errors": result["errors"], "load_at_end": load_at_end,
        "server_cpu_window_s": round(cpu1 - cpu0, 1), "server_cpu_drain_s": round(cpu2 - cpu1, 1),
        # With --no-worker this is the accept path's own cost (issue 7, B4).
        "server_cpu_ms_per_accepted": round(1000 * (cpu1 - cpu0) / max(result["accepted"], 1), 3),
        "server_cpu_ms_per_activity": round(1000 * (cpu2 - cpu0) / max(total_done, 1), 2),
        "server_cpu_ms_per_item_draining": round(1000 * (cpu2 - cpu1) / max(total_done - processed_in_window, 1), 2),
        "drain_items_per_s": round((total_done - processed_in_window) / max(drained_at - window_end, 1e-9), 1)
        if drained_at else None,
        "generator_cpu_s": result["generator_cpu_s"],
        "per_second": result["per_second"], **final,
        "queue_timeline": [(round(t - t0, 1), f, q) for t, f, q in timeline.points],
    }
    return out


def print_result(name: str, r: dict, server: Server, farm: RemoteFarm | None = None) -> None:
    print(f"-- {name}: {r['seconds']} s, {load()} (at end of window: {r['load_at_end']})")
    print(f"   sent {r['sent']}  accepted (202) {r['accepted']}  -> {r['accepted_per_s']}/s"
          f"{'  [pre-signed budget ran out: raise --budget-rate]' if r['budget_exhausted'] else ''}")
    print(f"   processed during the window {r['processed_in_window_per_s']}/s; queue drained "
          f"{r['drain_s_after_window']} s after the window; end to end {r['end_to_end_processed_per_s']}/s")
    print(f"   POST latency p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  max {r['max_ms']} ms;  errors {r['errors'] or 0}")
    print(f"   server CPU: {r['server_cpu_window_s']} s in the window ({r['server_cpu_window_s'] / r['seconds']:.2f} cores), "
          f"{r['server_cpu_ms_per_accepted']} ms per accepted POST; "
          f"{r['server_cpu_drain_s']} s while draining ({r['drain_s_after_window'] or 0:.0f} s); "
          f"{r['server_cpu_ms_per_activity']} ms of server CPU per activity end to end, "
          f"{r['server_cpu_ms_per_item_draining']} ms per item processed after the window "
          f"({r['drain_items_per_s']}/s); "
          f"generator CPU {r['generator_cpu_s']} s")
    print(f"   inbox states {r['states']}; Announces queued {r['announces']}, deliveries {r['deliveries']} "
          f"{r['deliveries_by_state']}")
    print(f"   thread reply_count/thread_reply_count/like_count {r['thread']}; posts {r['posts']}, likes {r['likes']}")
    if farm is not None:
        s = farm.stats()
        print(f"   remotes: actor fetches {s['actor_fetches']} ({s['actors_fetched_more_than_once']} fetched twice+), "
              f"deliveries received {s['deliveries_received']} verified {s['deliveries_verified']} "
              f"bad {s['bad_signatures']} duplicates {s['duplicates']}")
        r["remotes"] = s
    print("   " + server.rss.report())
    r["peak_rss_mib"] = round(server.rss.peak_total / 2**20)
    r["server_log_errors"] = server.errors_in_log()
    if r["server_log_errors"]:
        print(f"   server log: {r['server_log_errors']} ERROR/Traceback lines; tail:\n" + server.log_tail(15))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_args(parser)
    add_load_args(parser)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--rate", type=float, default=None, help="offered activities/s (open loop); default: max")
    parser.add_argument("--budget-rate", type=float, default=3500,
                        help="max mode: requests pre-signed per second of duration (the most it can measure)")
    parser.add_argument("--followers", type=int, default=1, help="forum instances following the community")
    parser.add_argument("--drain-timeout", type=float, default=900)
    parser.add_argument("--profile", action="store_true", help="py-spy every server process during the window")
    parser.add_argument("--profile-seconds", type=float, default=None,
                        help="how long to profile from the start of the window (default: the window, at most 60 s); "
                             "longer than --duration profiles the drain too")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args()
    mode = "rate" if args.rate else "max"
    header("ingest", db=args.db, mode=mode, rate=args.rate, duration=args.duration, hosts=args.hosts,
           actors=args.hosts * args.actors_per_host, processes=args.processes, concurrency=args.concurrency,
           client=args.client, followers=args.followers, inbox=args.inbox)
    server = make_server(args)
    with RemoteFarm(args.hosts, args.actors_per_host) as farm:
        try:
            server.init()
            thread = __import__("seed").write_thread(server)
            if args.followers:
                __import__("seed").add_followers(server, farm.manifest["hosts"][:args.followers])
            args.thread_id = thread["id"]
            server.start()
            url = server.base_url + ("/inbox" if args.inbox == "shared" else f"/c/{common.COMMUNITY}/inbox")
            w = warm_up(farm, server, thread, url, args)
            print(f"   warm-up: {w['accepted']}/{w['sent']} Likes accepted and processed in {w['seconds']:.1f} s "
                  f"({w['errors'] or 'no errors'}); actor fetches so far {farm.stats()['actor_fetches']}")
            n = int((args.rate or args.budget_rate) * args.duration * (1.0 if args.rate else 1.0)) + 10
            specs = viral_plan(n, farm.manifest["actors"], thread["ap_id"], thread["community"], run="m")
            run = LoadRun(specs, farm.manifest["actors"], thread["community"],
                          SendConfig(url=url, mode=mode, rate=args.rate or 0, duration=args.duration,
                                     concurrency=args.concurrency, client=args.client), processes=args.processes)
            t = time.monotonic()
            run.prepare()
            print(f"   pre-signed {n} requests in {time.monotonic() - t:.1f} s ({load()})", flush=True)
            profile_to = None
            if args.profile:
                RESULTS.mkdir(exist_ok=True)
                profile_to = RESULTS / f"ingest-{args.db}-{mode}-{int(time.time())}.pyspy"
            r = asyncio.run(measure(server, farm, run, args, 0 if args.no_worker else args.drain_timeout, profile_to))
            print_result(f"ingest {args.db} {mode}{' ' + str(args.rate) + '/s' if args.rate else ''}", r, server, farm)
            if profile_to:
                print(f"   profiles: {profile_to.parent}/{profile_to.name}.*.txt (summarise with bench/profile_summary.py)")
        finally:
            server.stop()
    if args.json:
        common.dump_json(args.json, {"args": {k: str(v) for k, v in vars(args).items()}, "result": r})


if __name__ == "__main__":
    main()
