"""Where the worker's time goes: process a filled inbox, then its deliveries, under pyinstrument.

    .venv/bin/python bench/profile_worker.py                 # 3,000 activities, SQLite
    .venv/bin/python bench/profile_worker.py --db postgres --activities 5000

1. A server runs with its worker switched off (FEDISUPPORT_RUN_WORKER_IN_SERVE=false) and takes
   `--activities` signed replies and likes (1:4) from the simulated remotes: they stay queued.
2. The server stops. In this process, fedisupport's own `Worker` (same code as `serve` runs)
   processes the queue batch by batch, timed and profiled (pyinstrument), without any HTTP
   traffic competing; then it sends the resulting deliveries (the community has `--followers`
   forum followers on the simulated hosts, which verify every signature), profiled too.

Prints items/s, CPU ms per item, and pyinstrument's call tree for both phases (saved as text in
bench/results/ too).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import seed  # noqa: E402
from common import Probe, header, load  # noqa: E402
from ingest import add_server_args, make_server, wait_drained  # noqa: E402
from loadgen import LoadRun, SendConfig, viral_plan  # noqa: E402
from remotes import RemoteFarm  # noqa: E402


async def work(server, phase: str, profile_html: Path, show: int) -> dict:
    from pyinstrument import Profiler

    from fedisupport.services import open_services
    from fedisupport.worker import Worker

    settings = server.settings()
    async with open_services(settings) as services:
        worker = Worker(services)
        step = worker.run_inbox_batch if phase == "inbox" else worker.run_delivery_batch
        profiler = Profiler(interval=0.0005, async_mode="enabled")
        done = 0
        t = time.perf_counter()
        cpu = time.process_time()
        profiler.start()
        while True:
            n = await step()
            if n == 0:
                break
            done += n
        # Deliveries still on the wire are recorded when they finish; wait for them before the
        # services (and their HTTP sessions) close.
        await worker.finish_stragglers(grace=60.0)
        profiler.stop()
        wall = time.perf_counter() - t
        cpu = time.process_time() - cpu
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    profile_html.write_text(text)
    return {"items": done, "wall_s": round(wall, 2), "per_s": round(done / wall, 1) if wall else None,
            "cpu_ms_per_item": round(1000 * cpu / max(done, 1), 2), "text": text}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_args(parser)
    parser.add_argument("--activities", type=int, default=3000)
    parser.add_argument("--followers", type=int, default=1)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--actors-per-host", type=int, default=20)
    parser.add_argument("--lines", type=int, default=70, help="lines of each call tree to print")
    args = parser.parse_args()
    header("worker profile", db=args.db, activities=args.activities, followers=args.followers)
    server = make_server(args)
    server.in_serve_worker = False
    server.extra_workers = 0
    server.keep = True
    out = common.BENCH / "results"
    out.mkdir(exist_ok=True)
    stamp = int(time.time())
    with RemoteFarm(args.hosts, args.actors_per_host) as farm:
        try:
            server.init()
            thread = seed.write_thread(server)
            if args.followers:
                seed.add_followers(server, farm.manifest["hosts"][:args.followers])
            os.environ["FEDISUPPORT_RUN_WORKER_IN_SERVE"] = "false"
            server.start()
            specs = viral_plan(args.activities, farm.manifest["actors"], thread["ap_id"], thread["community"], run="p",
                               lag=0, nested=0.0)
            run = LoadRun(specs, farm.manifest["actors"], thread["community"],
                          SendConfig(url=server.base_url + "/inbox", mode="max", duration=600, concurrency=8),
                          processes=2)
            run.prepare()
            run.go(0.1)
            r = run.collect()
            print(f"   {r['accepted']} activities queued ({r['errors'] or 'no errors'})")
            for proc in server.procs:
                os.killpg(proc.pid, 15)
                proc.wait(timeout=30)
            server.procs.clear()
            server.rss.stop()
            for phase in ("inbox", "deliveries"):
                html = out / f"worker-{phase}-{args.db}-{stamp}.txt"
                res = asyncio.run(work(server, phase, html, args.lines))
                print(f"-- {phase}: {res['items']} in {res['wall_s']} s -> {res['per_s']}/s, "
                      f"{res['cpu_ms_per_item']} ms CPU per item ({load()}); call tree in {html}")
                print("\n".join(res["text"].splitlines()[:args.lines]))
            probe = Probe(server)

            async def states():
                await probe.open()
                try:
                    return await probe.inbox_states(), dict(await probe.rows(
                        "SELECT state, count(*) FROM deliveries GROUP BY state"))
                finally:
                    await probe.close()

            print("   inbox / deliveries by state:", *asyncio.run(states()))
            print("   remotes:", {k: v for k, v in farm.stats().items() if k in ("deliveries_verified", "duplicates",
                                                                              "bad_signatures")})
        finally:
            server.keep = args.keep
            server.stop()


if __name__ == "__main__":
    main()
