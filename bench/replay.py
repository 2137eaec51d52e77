"""Replay: the whole viral thread through the inbox, then count what was lost or duplicated.

    .venv/bin/python bench/replay.py --replies 10000 --likes 40000      # a scaled run (minutes)
    .venv/bin/python bench/replay.py                                    # full: 500,000 replies + 2,000,000 likes

The full replay pre-signs 2.5 million requests first (about 0.5 ms of CPU each: some 10-20
minutes on 2 cores, before the clock starts; the signed requests take ~4 GB of memory) and then
sends them as fast as the server takes them; at the rates measured in docs/performance.md the
sending itself takes hours, so the documented runs are scaled and the full time is extrapolated.

Nothing is warmed up: the authors are first seen during the replay, as in life. `--resend`
(default 1 %) sends that share of activities a second time, as a retrying server would (same
activity id, a fresh signature). After the queue drains, the database is checked:

- lost: replies or likes that got a 202 but are not rows in `posts`/`likes`;
- duplicated: any activity stored twice (inbox_items by id), any count column that disagrees
  with the rows (reply_count, thread_reply_count, like_count), any Announce queued twice, and
  duplicates counted by the follower instances that receive the Announces.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import seed  # noqa: E402
from common import Probe, header, load, pct  # noqa: E402
from ingest import add_load_args, add_server_args, make_server, wait_drained  # noqa: E402
from loadgen import LoadRun, SendConfig, viral_plan  # noqa: E402
from remotes import RemoteFarm  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_args(parser)
    add_load_args(parser)
    parser.add_argument("--replies", type=int, default=500_000)
    parser.add_argument("--likes", type=int, default=2_000_000)
    parser.add_argument("--resend", type=float, default=0.01, help="share of activities sent twice")
    parser.add_argument("--followers", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=4 * 3600)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    header("replay", db=args.db, replies=args.replies, likes=args.likes, resend=args.resend, hosts=args.hosts,
           actors=args.hosts * args.actors_per_host, processes=args.processes, concurrency=args.concurrency)
    server = make_server(args)
    result: dict = {}
    with RemoteFarm(args.hosts, args.actors_per_host) as farm:
        try:
            server.init()
            thread = seed.write_thread(server)
            if args.followers:
                seed.add_followers(server, farm.manifest["hosts"][:args.followers])
            server.start()
            actors = farm.manifest["actors"]
            n = args.replies + args.likes
            specs = viral_plan(0, actors, thread["ap_id"], thread["community"], run="v", replies=args.replies,
                               likes=args.likes, lag=min(2000, max(50, n // 50)))
            rnd = random.Random(3)
            resent = [replace(s, repeat=True) for s in specs if rnd.random() < args.resend]
            # A retry arrives a little later than the original.
            order = [(s.seq, s) for s in specs] + [(r.seq + 50 + rnd.randrange(500) + 0.5, r) for r in resent]
            order.sort(key=lambda pair: pair[0])
            specs = [s for _, s in order]
            expected_replies = sum(1 for s in specs if s.kind == "reply" and not s.repeat)
            expected_likes = len({(s.target, s.actor) for s in specs if s.kind == "like"})
            run = LoadRun(specs, actors, thread["community"],
                          SendConfig(url=server.base_url + "/inbox", mode="max", duration=args.timeout,
                                     concurrency=args.concurrency, client=args.client), processes=args.processes)
            t = time.monotonic()
            run.prepare()
            print(f"   pre-signed {len(specs)} requests ({len(resent)} re-sends) in {time.monotonic() - t:.0f} s "
                  f"({load()})", flush=True)
            t0 = run.go(0.5)
            r = run.collect()
            lat = r.pop("latencies")
            sent_s = r["finished_at"] - t0
            probe = Probe(server)

            async def check():
                await probe.open()
                try:
                    drained = await wait_drained(probe, args.timeout)
                    tid = thread["id"]
                    q = probe.scalar
                    return {
                        "drained_s": round(drained - t0, 1) if drained else None,
                        "states": await probe.inbox_states(),
                        "inbox_rows": await q("SELECT count(*) FROM inbox_items"),
                        "inbox_distinct_ids": await q("SELECT count(DISTINCT ap_id) FROM inbox_items"),
                        "reply_rows": await q(f"SELECT count(*) FROM posts WHERE thread_id = {tid} AND id != {tid}"),
                        "like_rows": await q(f"SELECT count(*) FROM likes l JOIN posts p ON p.id = l.post_id "
                                             f"WHERE p.thread_id = {tid}"),
                        "thread_reply_count": await q(f"SELECT thread_reply_count FROM posts WHERE id = {tid}"),
                        "like_count_sum": await q(f"SELECT sum(like_count) FROM posts WHERE thread_id = {tid}"),
                        "reply_count_mismatch": await q(
                            f"SELECT count(*) FROM posts p WHERE p.thread_id = {tid} AND p.reply_count != "
                            f"(SELECT count(*) FROM posts c WHERE c.parent_id = p.id)"),
                        "announces": await q("SELECT count(*) FROM outbox_activities WHERE type = 'Announce'"),
                        "announce_inner_dupes": await q(
                            "SELECT count(*) FROM (SELECT body FROM outbox_activities WHERE type = 'Announce' "
                            "GROUP BY body HAVING count(*) > 1) d") if args.followers else 0,
                        "deliveries": dict(await probe.rows("SELECT state, count(*) FROM deliveries GROUP BY state")),
                        "ignored_reasons": dict(await probe.rows(
                            "SELECT error, count(*) FROM inbox_items WHERE state != 'done' GROUP BY error")),
                    }
                finally:
                    await probe.close()

            c = asyncio.run(check())
            stats = farm.stats()
            total = len(specs)
            lost_replies = expected_replies - c["reply_rows"]
            lost_likes = expected_likes - c["like_rows"]
            dup = {
                "inbox rows per activity id": c["inbox_rows"] - c["inbox_distinct_ids"],
                "thread_reply_count minus rows": c["thread_reply_count"] - c["reply_rows"],
                "like_count sum minus rows": (c["like_count_sum"] or 0) - c["like_rows"],
                "posts whose reply_count is wrong": c["reply_count_mismatch"],
                "Announces of the same activity": c["announce_inner_dupes"],
                "duplicates seen by followers": stats["duplicates"],
            }
            scale = (500_000 + 2_000_000) / max(total, 1)
            result = {"activities": total, "accepted": r["accepted"], "errors": r["errors"], "sent_s": round(sent_s, 1),
                      "accepted_per_s": round(r["accepted"] / sent_s, 1), "p50_ms": round(pct(lat, 50) * 1000, 1),
                      "p99_ms": round(pct(lat, 99) * 1000, 1), **c, "expected_replies": expected_replies,
                      "expected_likes": expected_likes, "lost_replies": lost_replies, "lost_likes": lost_likes,
                      "duplicated": dup, "key_fetches": stats["actor_fetches"], "actors": len(actors),
                      "follower_deliveries_verified": stats["deliveries_verified"],
                      "bad_signatures": stats["bad_signatures"], "load": load(),
                      "full_replay_estimate_min": round((c["drained_s"] or 0) * scale / 60, 1)}
            print(f"-- replay of {expected_replies} replies + {len(specs) - expected_replies - len(resent)} likes "
                  f"(+{len(resent)} re-sends): sent in {sent_s:.1f} s ({result['accepted_per_s']}/s accepted), "
                  f"all processed after {c['drained_s']} s  ({load()})")
            print(f"   POST p50 {result['p50_ms']} ms p99 {result['p99_ms']} ms; errors {r['errors'] or 0}; "
                  f"inbox states {c['states']}")
            print(f"   lost: replies {lost_replies} of {expected_replies}, likes {lost_likes} of {expected_likes}")
            print(f"   duplicated: {dup}")
            if c["ignored_reasons"]:
                print(f"   not done, by reason: {c['ignored_reasons']}")
            print(f"   Announces {c['announces']}, deliveries {c['deliveries']}; follower instances verified "
                  f"{stats['deliveries_verified']}, bad {stats['bad_signatures'] or 0}; key fetches {stats['actor_fetches']} "
                  f"for {len(actors)} actors")
            print(f"   full replay (2.5 M activities) at this pace: ~{result['full_replay_estimate_min']} min")
            print("   " + server.rss.report())
            result["peak_rss_mib"] = round(server.rss.peak_total / 2**20)
            if server.errors_in_log():
                print("   server log errors:\n" + server.log_tail(15))
        finally:
            server.stop()
    common.dump_json(args.json, result)


if __name__ == "__main__":
    main()
