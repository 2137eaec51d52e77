"""Fan-out: a community followed from 500 remote instances gets a new thread.

    .venv/bin/python bench/fanout.py                   # 500 instances, 1 thread, then 10 threads back to back
    .venv/bin/python bench/fanout.py --threads 20

The followers are set up in the database as accepted Follows from one actor on each simulated
host (Lemmy, so forum software: each gets the community's Announce at its shared inbox). A new
thread is written by `actions.write_thread` (what the web form calls) while the server runs;
its worker signs and POSTs one Announce per host. Every simulated host verifies each
delivery's signature (the community's key, fetched from the server) and counts duplicates.

Reports the time from the commit to the last host having it, signed deliveries per second, and
duplicates and bad signatures (both must be 0).
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
from common import Probe, header, load  # noqa: E402
from ingest import add_server_args, make_server, py_spy, python_pids  # noqa: E402
from remotes import RemoteFarm  # noqa: E402


def wait_for(farm: RemoteFarm, expected: int, timeout: float) -> dict:
    deadline = time.time() + timeout
    while True:
        s = farm.stats()
        if s["distinct_deliveries"] >= expected or time.time() > deadline:
            return s
        time.sleep(0.1)


def round_(farm: RemoteFarm, server, threads: int, hosts: int, timeout: float) -> dict:
    farm.reset()
    cpu0 = server.cpu_seconds()
    t0 = time.time()
    for i in range(threads):
        seed.write_thread(server, title=f"New thread {i} for everyone")
    committed = time.time()
    s = wait_for(farm, threads * hosts, timeout)
    cpu = server.cpu_seconds() - cpu0  # every server process, from before the write to the last delivery
    last = s["last_delivery_at"] or time.time()
    first = s["first_delivery_at"] or last
    return {
        "threads": threads, "expected": threads * hosts, "delivered": s["distinct_deliveries"],
        "received": s["deliveries_received"], "verified": s["deliveries_verified"], "duplicates": s["duplicates"],
        "bad_signatures": s["bad_signatures"], "hosts": s["hosts_delivered_to"],
        "write_s": round(committed - t0, 3),
        "time_to_all_s": round(last - committed, 2) if s["distinct_deliveries"] >= threads * hosts else None,
        "first_delivery_after_s": round(first - committed, 2),
        "deliveries_per_s": round(s["deliveries_verified"] / max(last - first, 1e-6), 1),
        "deliveries_per_s_from_commit": round(s["deliveries_verified"] / max(last - committed, 1e-6), 1),
        "server_cpu_s": round(cpu, 2),
        "cpu_ms_per_delivery": round(1000 * cpu / max(s["deliveries_verified"], 1), 2),
        "load": load(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_args(parser)
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--threads", type=int, default=10, help="threads written back to back in the second round")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    header("fan-out", db=args.db, instances=args.instances, threads=args.threads)
    server = make_server(args)
    results = {}
    with RemoteFarm(args.instances, 1) as farm:
        try:
            server.init()
            seed.add_followers(server, farm.manifest["hosts"])
            server.start()
            time.sleep(2)  # let the worker's first passes (software checks) settle
            one = round_(farm, server, 1, args.instances, args.timeout)
            print(f"-- one new thread to {args.instances} instances: all had it {one['time_to_all_s']} s after the "
                  f"commit (first after {one['first_delivery_after_s']} s); {one['deliveries_per_s']} deliveries/s; "
                  f"duplicates {one['duplicates']}, bad signatures {one['bad_signatures'] or 0}; server CPU "
                  f"{one['cpu_ms_per_delivery']} ms per delivery ({one['load']})")
            spies = []
            profile_to = None
            if args.profile:
                (common.BENCH / "results").mkdir(exist_ok=True)
                profile_to = common.BENCH / "results" / f"fanout-{args.db}-{int(time.time())}.pyspy"
                spies = py_spy(python_pids(server), 20, profile_to)
            many = round_(farm, server, args.threads, args.instances, args.timeout)
            print(f"-- {args.threads} new threads back to back ({many['expected']} deliveries): "
                  f"{many['delivered']} delivered in {many['time_to_all_s']} s -> {many['deliveries_per_s']}/s between "
                  f"first and last ({many['deliveries_per_s_from_commit']}/s from the commit); duplicates "
                  f"{many['duplicates']}, bad signatures {many['bad_signatures'] or 0}, received {many['received']}; "
                  f"server CPU {many['server_cpu_s']} s = {many['cpu_ms_per_delivery']} ms per delivery ({many['load']})")
            for s in spies:
                s.wait(timeout=60)
            probe = Probe(server)

            async def states():
                await probe.open()
                try:
                    return dict(await probe.rows("SELECT state, count(*) FROM deliveries GROUP BY state"))
                finally:
                    await probe.close()

            db_states = asyncio.run(states())
            print(f"   deliveries in the database by state: {db_states}")
            print("   " + server.rss.report())
            if profile_to:
                print(f"   profiles: {profile_to}.*.txt")
            if server.errors_in_log():
                print("   server log errors:\n" + server.log_tail(15))
            results = {"one": one, "many": many, "db_states": db_states,
                       "peak_rss_mib": round(server.rss.peak_total / 2**20)}
        finally:
            server.stop()
    common.dump_json(args.json, results)


if __name__ == "__main__":
    main()
