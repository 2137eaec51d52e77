"""First contact: 1,000 actors the server has never seen send one activity each.

    .venv/bin/python bench/first_contact.py                  # 100 hosts x 10 actors, SQLite
    .venv/bin/python bench/first_contact.py --per-actor 3    # 3 activities each, sent at once: still one fetch
    .venv/bin/python bench/first_contact.py --db postgres

Every POST makes the server fetch the actor's key (GET of the actor document, signed by the
instance actor), store the actor, and verify. Reports the throughput until the last 202, the
latency, and the key fetches the simulated hosts counted: exactly one per actor is the target.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import seed  # noqa: E402
from common import Probe, header, load, pct  # noqa: E402
from ingest import add_server_args, make_server, py_spy, python_pids, wait_drained  # noqa: E402
from loadgen import LoadRun, SendConfig, Spec  # noqa: E402
from remotes import RemoteFarm  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_args(parser)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--actors-per-host", type=int, default=10)
    parser.add_argument("--per-actor", type=int, default=1, help="activities per actor, sent together")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32, help="in flight per sender process")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    n_actors = args.hosts * args.actors_per_host
    header("first contact", db=args.db, actors=n_actors, hosts=args.hosts, per_actor=args.per_actor,
           processes=args.processes, concurrency=args.concurrency)
    server = make_server(args)
    result: dict = {}
    with RemoteFarm(args.hosts, args.actors_per_host) as farm:
        try:
            server.init()
            thread = seed.write_thread(server)
            server.start()
            actors = farm.manifest["actors"]
            specs = []
            seq = 0
            for round_ in range(args.per_actor):
                for i, a in enumerate(actors):
                    if seq % 5 == 0:
                        note = f"{a['id']}/notes/fc-{seq}"
                        specs.append(Spec(seq, "reply", i, thread["ap_id"], note, note + "/activity"))
                    else:
                        specs.append(Spec(seq, "like", i, thread["ap_id"], None, f"{a['id']}/likes/fc-{seq}"))
                    seq += 1
            # Send in actor order so the same actor's activities are in flight together.
            specs.sort(key=lambda s: (s.actor, s.seq))
            run = LoadRun(specs, actors, thread["community"],
                          SendConfig(url=server.base_url + "/inbox", mode="max", duration=300,
                                     concurrency=args.concurrency), processes=args.processes)
            run.prepare()
            profile_to = None
            if args.profile:
                (common.BENCH / "results").mkdir(exist_ok=True)
                profile_to = common.BENCH / "results" / f"first-contact-{args.db}-{int(time.time())}.pyspy"
                spies = py_spy(python_pids(server), 8, profile_to)
                time.sleep(1)
            t0 = run.go(0.2)
            r = run.collect()
            elapsed = r["finished_at"] - t0
            lat = r.pop("latencies")
            probe = Probe(server)

            async def after():
                await probe.open()
                try:
                    drained = await wait_drained(probe, 300)
                    return drained, await probe.inbox_states(), await probe.scalar(
                        "SELECT count(*) FROM actors WHERE local = false" if args.db == "postgres"
                        else "SELECT count(*) FROM actors WHERE local = 0")
                finally:
                    await probe.close()

            drained, states, remote_actors = asyncio.run(after())
            stats = farm.stats()
            result = {
                "activities": len(specs), "accepted": r["accepted"], "seconds": round(elapsed, 3),
                "accepted_per_s": round(r["accepted"] / elapsed, 1), "p50_ms": round(pct(lat, 50) * 1000, 1),
                "p99_ms": round(pct(lat, 99) * 1000, 1), "errors": r["errors"], "status": r["status"],
                "processed_all_s": round(drained - t0, 2) if drained else None, "states": states,
                "remote_actor_rows": remote_actors, "key_fetches": stats["actor_fetches"],
                "actors_fetched": stats["actors_fetched"],
                "actors_fetched_more_than_once": stats["actors_fetched_more_than_once"],
                "max_fetches_of_one_actor": stats["max_fetches_of_one_actor"], "load": load(),
            }
            print(f"-- first contact: {r['accepted']}/{len(specs)} accepted in {elapsed:.2f} s -> "
                  f"{result['accepted_per_s']}/s  ({load()})")
            print(f"   POST p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms;  errors {r['errors'] or 0}")
            print(f"   key fetches counted by the remotes: {stats['actor_fetches']} for {n_actors} actors "
                  f"({stats['actors_fetched_more_than_once']} actors fetched more than once, max "
                  f"{stats['max_fetches_of_one_actor']}); remote actor rows {remote_actors}")
            print(f"   all processed {result['processed_all_s']} s after the start; inbox states {states}")
            print("   " + server.rss.report())
            result["peak_rss_mib"] = round(server.rss.peak_total / 2**20)
            if profile_to:
                for s in spies:
                    s.wait(timeout=60)
                print(f"   profiles: {profile_to}.*.txt")
            if server.errors_in_log():
                print("   server log errors:\n" + server.log_tail(15))
        finally:
            server.stop()
    common.dump_json(args.json, result)


if __name__ == "__main__":
    main()
