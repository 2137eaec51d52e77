"""Reading: one thread with 500,000 replies and 2,000,000 likes; first, middle and last pages.

    .venv/bin/python bench/reading.py                                # full size, SQLite (bulk load ~2-4 min)
    .venv/bin/python bench/reading.py --replies 50000 --likes 200000 # smaller
    .venv/bin/python bench/reading.py --ingest-rate 500              # also measure while ingest runs at 500/s

The thread is written by `actions.write_thread`; its replies, likes and remote authors are
bulk-loaded straight into the tables (server stopped), with every count column right:
posts.reply_count / thread_reply_count / like_count / last_activity_at. 20 % of replies answer
an earlier reply (nested), 80 % the thread; every reply has 4 likes from distinct actors.

Then the server starts and each page is fetched `--requests` times by one client, one at a
time (p50/p99 of the whole request as the client sees it):

- HTML  /p/{thread} (first page), /p/{thread}?after=<cursor at the middle>, /p/{thread}?before=latest
- JSON  /p/{thread}/replies?page=first, ?page=<middle cursor>, ?page=<cursor near the end>
- JSON  /p/{thread} as application/activity+json (the Note with its first replies page) and
        /p/{thread}/context?page=<middle cursor>

idle, and (with --ingest-rate) again while replies and likes to the same thread arrive at
that rate through the inbox.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import secrets
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import seed  # noqa: E402
from common import Server, header, load, pct  # noqa: E402
from fedisupport.ids import _EPOCH_MS  # noqa: E402
from ingest import add_server_args, make_server, py_spy, python_pids  # noqa: E402

CONTENT = ("<p>Thank you for writing this. Last winter was the hardest for me and what helped was a walk every "
           "morning and one person who checked in. You are not alone here.</p>")
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def cursor(when: dt.datetime, row_id: int) -> str:
    return f"{int(when.timestamp() * 1_000_000)}.{row_id}"


def make_rows(thread: dict, community_actor_id: int, n_replies: int, n_likes: int, n_actors: int, seed_: int = 7):
    """Yield (table, rows) batches; returns the reply keys needed for cursors via the `keys` list."""
    rnd = random.Random(seed_)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = now - dt.timedelta(days=2)
    step = dt.timedelta(days=2) / max(n_replies + 1, 1)
    hosts = [f"r{h}.example" for h in range(max(1, n_actors // 100))]
    actors = []
    for a in range(n_actors):
        host = hosts[a % len(hosts)]
        ap = f"https://{host}/users/p{a}"
        actors.append((ap, "person", False, f"p{a}", host, f"Person {a}", "", None, None, ap + "/inbox",
                       f"https://{host}/inbox", None, ap + "/followers", ap + "#main-key", None, None, False, 0, 0, 0,
                       False, start, start, start, None))
    replies = []
    reply_count: dict[int, int] = {}
    like_count: dict[int, int] = {}
    ids = []
    direct = []
    used_ids = set()
    for i in range(n_replies):
        published = start + step * (i + 1)
        ms = int(published.timestamp() * 1000) - _EPOCH_MS
        post_id = (ms << 16) | rnd.getrandbits(16)
        while post_id in used_ids or (ids and post_id <= ids[-1]):
            post_id += 1
        used_ids.add(post_id)
        author = rnd.randrange(n_actors)
        if ids and rnd.random() < 0.2:
            k = rnd.randrange(len(ids))
            parent, parent_ap, depth = ids[k], replies[k][1], replies[k][15] + 1
        else:
            parent, parent_ap, depth = thread["id"], thread["ap_id"], 1
            direct.append((published, post_id))
        reply_count[parent] = reply_count.get(parent, 0) + 1
        host = hosts[author % len(hosts)]
        ap = f"https://{host}/users/p{author}/notes/{i}"
        # columns: see POST_COLUMNS
        replies.append([post_id, ap, False, author, community_actor_id, thread["id"], parent, False, parent_ap,
                        thread["ap_id"] + "/context", ap, None, None, CONTENT, "en", depth, None, False, "public",
                        "published", False, False, 0, 0, 0, published, None, published])
        ids.append(post_id)
    likes = []
    per = n_likes // max(n_replies, 1)
    extra = n_likes - per * n_replies
    for i, row in enumerate(replies):
        for j in range(per + (1 if i < extra else 0)):
            actor = (row[3] + 1 + j * (n_actors // (per + 2))) % n_actors
            likes.append((row[0], actor, f"https://{hosts[actor % len(hosts)]}/users/p{actor}/likes/{i}-{j}",
                          row[25] + dt.timedelta(seconds=1)))
            like_count[row[0]] = like_count.get(row[0], 0) + 1
    for row in replies:
        row[22] = reply_count.get(row[0], 0)
        row[24] = like_count.get(row[0], 0)
        # move column 15 (depth) into place: see POST_COLUMNS order
    return {"actors": actors, "replies": replies, "likes": likes, "direct": direct, "start": start,
            "thread_direct": reply_count.get(thread["id"], 0), "last": replies[-1][25] if replies else start}


ACTOR_COLUMNS = ("ap_id", "kind", "local", "username", "domain", "display_name", "summary", "url", "icon_url",
                 "inbox_url", "shared_inbox_url", "outbox_url", "followers_url", "key_id", "public_key_pem",
                 "private_key_pem", "manually_approves_followers", "follower_count", "following_count", "post_count",
                 "suspended", "fetched_at", "created_at", "updated_at", "deleted_at")
POST_COLUMNS = ("id", "ap_id", "local", "author_id", "community_id", "thread_id", "parent_id", "is_thread",
                "in_reply_to_ap_id", "context_ap_id", "url", "title", "source", "content_html", "language", "depth",
                "content_warning", "sensitive", "visibility", "state", "locked", "pinned", "reply_count",
                "thread_reply_count", "like_count", "published_at", "updated_at", "last_activity_at")
LIKE_COLUMNS = ("post_id", "actor_id", "ap_id", "created_at")


def _sqlite_value(v):
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None).strftime(SQLITE_TIME)
    if isinstance(v, bool):
        return int(v)
    return v


def bulk_load_sqlite(server: Server, data: dict, thread: dict) -> None:
    conn = sqlite3.connect(server.data_dir / "fedisupport.db")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-400000")
    cur = conn.cursor()
    base = cur.execute("SELECT coalesce(max(id), 0) FROM actors").fetchone()[0] + 1
    cur.executemany(f"INSERT INTO actors (id, {', '.join(ACTOR_COLUMNS)}) VALUES ({', '.join('?' * (len(ACTOR_COLUMNS) + 1))})",
                    ((base + i, *map(_sqlite_value, row)) for i, row in enumerate(data["actors"])))
    cur.executemany(f"INSERT INTO posts ({', '.join(POST_COLUMNS)}) VALUES ({', '.join('?' * len(POST_COLUMNS))})",
                    ([_sqlite_value(v) if k != 3 else base + v for k, v in enumerate(row)] for row in data["replies"]))
    cur.executemany(f"INSERT INTO likes ({', '.join(LIKE_COLUMNS)}) VALUES (?, ?, ?, ?)",
                    ((p, base + a, ap, _sqlite_value(t)) for p, a, ap, t in data["likes"]))
    cur.execute("UPDATE posts SET reply_count = ?, thread_reply_count = ?, published_at = ?, last_activity_at = ? "
                "WHERE id = ?", (data["thread_direct"], len(data["replies"]), _sqlite_value(data["start"]),
                                 _sqlite_value(data["last"]), thread["id"]))
    conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


async def bulk_load_pg(server: Server, data: dict, thread: dict) -> None:
    import asyncpg

    conn = await asyncpg.connect(server.database_url)
    try:
        base = await conn.fetchval("SELECT coalesce(max(id), 0) FROM actors") + 1
        await conn.copy_records_to_table("actors", columns=("id", *ACTOR_COLUMNS),
                                         records=[(base + i, *row) for i, row in enumerate(data["actors"])])
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('actors', 'id'), {base + len(data['actors'])})")
        await conn.copy_records_to_table("posts", columns=POST_COLUMNS,
                                         records=[[base + v if k == 3 else v for k, v in enumerate(row)]
                                                  for row in data["replies"]])
        await conn.copy_records_to_table("likes", columns=LIKE_COLUMNS,
                                         records=[(p, base + a, ap, t) for p, a, ap, t in data["likes"]])
        await conn.execute("UPDATE posts SET reply_count = $1, thread_reply_count = $2, published_at = $3, "
                           "last_activity_at = $4 WHERE id = $5", data["thread_direct"], len(data["replies"]),
                           data["start"], data["last"], thread["id"])
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def pages(thread: dict, data: dict) -> list[tuple[str, str, str]]:
    """(name, path, accept) for every page measured."""
    t = thread["id"]
    replies = data["replies"]
    mid = replies[len(replies) // 2]
    direct = data["direct"]
    dmid = direct[len(direct) // 2] if direct else (data["start"], t)
    dlast = direct[-21] if len(direct) > 21 else dmid
    html, ap = "text/html", "application/activity+json"
    return [
        ("HTML first page", f"/p/{t}", html),
        ("HTML middle page", f"/p/{t}?after={cursor(mid[25], mid[0])}", html),
        ("HTML last page", f"/p/{t}?before=latest", html),
        ("JSON replies first", f"/p/{t}/replies?page=first", ap),
        ("JSON replies middle", f"/p/{t}/replies?page={cursor(*dmid)}", ap),
        ("JSON replies last", f"/p/{t}/replies?page={cursor(*dlast)}", ap),
        ("JSON Note (+first replies)", f"/p/{t}", ap),
        ("JSON context middle", f"/p/{t}/context?page={cursor(mid[25], mid[0])}", ap),
    ]


async def measure_pages(base: str, page_list, requests: int) -> dict:
    import aiohttp

    out = {}
    async with aiohttp.ClientSession() as session:
        for name, path, accept in page_list:
            times, sizes, bad = [], 0, 0
            for i in range(requests + 3):
                t = time.perf_counter()
                async with session.get(base + path, headers={"Accept": accept}) as resp:
                    body = await resp.read()
                    status = resp.status
                elapsed = time.perf_counter() - t
                if i < 3:
                    continue  # warm
                if status != 200:
                    bad += 1
                times.append(elapsed)
                sizes = len(body)
            out[name] = {"p50_ms": round(pct(times, 50) * 1000, 2), "p99_ms": round(pct(times, 99) * 1000, 2),
                         "max_ms": round(max(times) * 1000, 1), "bytes": sizes, "non_200": bad}
    return out


def print_pages(title: str, res: dict) -> None:
    print(f"-- {title} ({load()})")
    for name, r in res.items():
        print(f"   {name:28s} p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  max {r['max_ms']:7.1f} ms  "
              f"{r['bytes']:7d} B{'  NON-200: ' + str(r['non_200']) if r['non_200'] else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_args(parser)
    parser.add_argument("--replies", type=int, default=500_000)
    parser.add_argument("--likes", type=int, default=2_000_000)
    parser.add_argument("--actors", type=int, default=20_000, help="remote authors and likers")
    parser.add_argument("--requests", type=int, default=200, help="per page")
    parser.add_argument("--ingest-rate", type=float, default=0, help="also measure while ingest runs at this rate")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    header("reading", db=args.db, replies=args.replies, likes=args.likes, actors=args.actors, requests=args.requests,
           ingest_rate=args.ingest_rate)
    server = make_server(args)
    results: dict = {}
    try:
        server.init()
        thread = seed.write_thread(server)
        t = time.monotonic()
        data = make_rows(thread, thread["community_actor_id"], args.replies, args.likes, args.actors)
        made = time.monotonic() - t
        if args.db == "postgres":
            asyncio.run(bulk_load_pg(server, data, thread))
        else:
            bulk_load_sqlite(server, data, thread)
        print(f"   bulk-loaded {len(data['replies'])} replies ({data['thread_direct']} direct), {len(data['likes'])} likes, "
              f"{len(data['actors'])} actors in {time.monotonic() - t:.0f} s (rows made in {made:.0f} s; {load()})",
              flush=True)
        server.start()
        page_list = pages(thread, data)
        spies = []
        if args.profile:
            (common.BENCH / "results").mkdir(exist_ok=True)
            profile_to = common.BENCH / "results" / f"reading-{args.db}-{int(time.time())}.pyspy"
            spies = py_spy(python_pids(server), 30, profile_to)
        idle = asyncio.run(measure_pages(server.base_url, page_list, args.requests))
        print_pages(f"idle, {args.requests} requests per page, one at a time", idle)
        for s in spies:
            s.wait(timeout=90)
        results["idle"] = idle
        if args.ingest_rate:
            results["under_ingest"] = under_ingest(server, thread, page_list, args)
        print("   " + server.rss.report())
        results["peak_rss_mib"] = round(server.rss.peak_total / 2**20)
        if server.errors_in_log():
            print("   server log errors:\n" + server.log_tail(15))
    finally:
        server.stop()
    common.dump_json(args.json, results)


def under_ingest(server: Server, thread: dict, page_list, args) -> dict:
    from ingest import warm_up
    from loadgen import LoadRun, SendConfig, viral_plan
    from remotes import RemoteFarm

    duration = 40 + args.requests * len(page_list) * 0.05
    with RemoteFarm(20, 20) as farm:
        url = server.base_url + "/inbox"
        warm_up(farm, server, thread, url, argparse.Namespace(processes=2))
        specs = viral_plan(int(args.ingest_rate * duration) + 10, farm.manifest["actors"], thread["ap_id"],
                           thread["community"], run="r" + secrets.token_hex(2))
        run = LoadRun(specs, farm.manifest["actors"], thread["community"],
                      SendConfig(url=url, mode="rate", rate=args.ingest_rate, duration=duration), processes=2)
        run.prepare()
        run.go(0.2)
        time.sleep(3)
        res = asyncio.run(measure_pages(server.base_url, page_list, args.requests))
        ingest = run.collect()
        lat = ingest.pop("latencies")
        print_pages(f"while ingest runs at {args.ingest_rate}/s offered (ingest: {ingest['accepted']} accepted, "
                    f"p99 {pct(lat, 99) * 1000:.1f} ms, errors {ingest['errors'] or 0})", res)
        return {"pages": res, "ingest_accepted": ingest["accepted"], "ingest_p99_ms": round(pct(lat, 99) * 1000, 1),
                "ingest_errors": ingest["errors"]}


if __name__ == "__main__":
    main()
