"""CPU per accepted inbox POST, in-process: the accept path without uvicorn, sockets or other load.

    .venv/bin/python bench/accept_cpu.py                    # 6,000 signed POSTs to /inbox, SQLite
    .venv/bin/python bench/accept_cpu.py --profile 25       # and the top 25 functions (cProfile)
    .venv/bin/python bench/accept_cpu.py --path /c/support/inbox

The machine is shared, so wall-clock rates are noise; this measures the process's own CPU time
(`time.process_time`) while the real application (`create_app`, its lifespan, the group-commit
writer, real keys fetched over HTTP from `remotes.py`, real RSA signatures made by `loadgen.Signer`)
takes pre-signed Likes and replies through its ASGI interface, `--concurrency` at a time. Every
answer must be 202; the figure is CPU ms per POST. HTTP parsing (uvicorn/httptools) is not in it:
`bench/ingest.py --no-worker` measures the whole server.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from common import Server  # noqa: E402
from loadgen import Signer, activity_body, viral_plan  # noqa: E402
from remotes import RemoteFarm  # noqa: E402


def asgi_post(app, path: str, body: bytes, headers: dict[str, str], domain: str):
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in
                    {**headers, "Host": domain, "Content-Length": str(len(body))}.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", int(domain.rsplit(":", 1)[1])),
    }
    sent = {"status": None}
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]

    async def run() -> int:
        await app(scope, receive, send)
        return sent["status"]

    return run


async def drive(app, requests: list, concurrency: int) -> list[int]:
    statuses: list[int] = []
    queue = iter(requests)

    async def worker():
        for run in queue:
            statuses.append(await run())

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--actors-per-host", type=int, default=20)
    parser.add_argument("--path", default="/inbox")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (the figure is their median)")
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions by cumulative time")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    server = Server(db=args.db, in_serve_worker=False)
    with RemoteFarm(args.hosts, args.actors_per_host) as farm:
        try:
            server.init()
            thread = __import__("seed").write_thread(server)
            os.environ.update(server.env())
            os.environ["FEDISUPPORT_RUN_WORKER_IN_SERVE"] = "false"  # the accept path alone
            from keypool import load_keys
            from fedisupport.app import create_app
            from fedisupport.settings import load_settings

            settings = load_settings()
            app = create_app(settings)
            actors = farm.manifest["actors"]
            keys = load_keys(max(a["key"] for a in actors) + 1)
            signer = Signer({a["key"]: keys[a["key"]][0] for a in actors})
            url = server.base_url + args.path
            total = args.requests * args.rounds
            specs = viral_plan(total + len(actors), actors, thread["ap_id"], thread["community"], run="c")
            t = time.perf_counter()
            prepared = []
            for spec in specs:
                actor = actors[spec.actor]
                body = activity_body(spec, actor, thread["community"])
                prepared.append(asgi_post(app, args.path, body, signer.sign(actor["key"], actor["key_id"], url, body),
                                          server.domain))
            print(f"signed {len(prepared)} requests in {time.perf_counter() - t:.1f} s; {common.load()}")
            warm = [asgi_post(app, args.path, b, signer.sign(a["key"], a["key_id"], url, b), server.domain)
                    for a, b in ((a, activity_body(s, a, thread["community"]))
                                 for a, s in zip(actors, viral_plan(len(actors), actors, thread["ap_id"],
                                                                    thread["community"], run="w")))]

            async def go():
                async with app.router.lifespan_context(app):
                    # Warm keys: one POST per actor (fetches each key once).
                    for run in warm:
                        await run()
                    figures = []
                    # Timed by the event loop thread's own CPU clock: wall-clock profiles on a loaded machine mostly show waits.
                    profiler = cProfile.Profile(time.thread_time) if args.profile else None
                    for r in range(args.rounds):
                        batch = prepared[r * args.requests:(r + 1) * args.requests]
                        c0, w0 = time.process_time(), time.perf_counter()
                        if profiler:
                            profiler.enable()
                        statuses = await drive(app, batch, args.concurrency)
                        if profiler:
                            profiler.disable()
                        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
                        bad = {s: statuses.count(s) for s in set(statuses) if s != 202}
                        figures.append(1000 * cpu / len(batch))
                        print(f"round {r + 1}: {len(batch)} POSTs, {1000 * cpu / len(batch):.3f} ms CPU each, "
                              f"{len(batch) / wall:.0f}/s wall{', NOT 202: ' + str(bad) if bad else ''}")
                    figures.sort()
                    print(f"median CPU per accepted POST: {figures[len(figures) // 2]:.3f} ms "
                          f"(profiled: {bool(profiler)}); {common.load()}")
                    if profiler:
                        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
                        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)

            asyncio.run(go())
        finally:
            server.stop()


if __name__ == "__main__":
    main()
