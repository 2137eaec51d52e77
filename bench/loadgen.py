"""The load generator: signed inbox POSTs from the simulated remote actors, sent by several processes.

Signing costs about 0.3-1 ms of CPU (RSA-2048), which would make the generator the limit on a
2-core machine, so every sender process signs its whole share *before* the clock starts
(`prepare`), then all start together (`go`) and only send. Keys are loaded once per actor
(cryptography objects kept in a dict), the same draft-cavage signature Mastodon sends:
`(request-target) host date digest content-type`.

Two ways to send:
- "max": closed loop, `concurrency` requests in flight per process, as fast as the server answers,
  until the duration ends or the pre-signed requests run out (reported: then the budget, not
  the server, was the limit);
- "rate": open loop at a fixed offered rate; each request's latency counts from the moment it
  was due, so a slow server cannot hide behind a waiting generator (no coordinated omission).

Clients: aiohttp (default) or httpx (`--client httpx`, with sniffio installed) for comparison.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import multiprocessing as mp
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = AS + "#Public"
AP = "application/activity+json"


# --------------------------------------------------------------------------- what to send

@dataclass(frozen=True, slots=True)
class Spec:
    """One activity: a reply (Create/Note) or a Like, by actor `actor` (index in the manifest)."""

    seq: int
    kind: str  # "reply" | "like"
    actor: int
    target: str  # the post replied to or liked
    note_id: str | None = None  # the reply's id
    activity_id: str | None = None
    repeat: bool = False  # a deliberate re-send of an earlier activity (replay: a retrying server)


def viral_plan(n: int, actors: list[dict], thread: str, community: str, *, run: str, likes_per_reply: int = 4,
               nested: float = 0.2, lag: int = 2000, seed: int = 1, replies: int | None = None,
               likes: int | None = None, first_seq: int = 0) -> list[Spec]:
    """n activities, 1 reply then `likes_per_reply` likes, from random actors, to one thread.

    Replies answer the thread, or (share `nested`) an earlier reply sent at least `lag` activities
    before (so it is processed by then: the queue is first in, first out); likes go to the thread
    or to such an earlier reply. With `replies`/`likes` given, n is their sum and the likes are
    spread evenly between the replies.
    """
    import bisect

    rnd = random.Random(seed)
    out: list[Spec] = []
    reply_seqs: list[int] = []
    reply_ids: list[str] = []
    if replies is not None:
        likes = likes or 0
        n = replies + likes
        per = likes / max(replies, 1)
    else:
        per = float(likes_per_reply)
    seq = first_seq

    def earlier_reply() -> str | None:
        cut = bisect.bisect_right(reply_seqs, seq - lag)
        if cut == 0:
            return None
        return reply_ids[rnd.randrange(max(0, cut - 50_000), cut)]

    def add_reply() -> None:
        nonlocal seq
        a = rnd.randrange(len(actors))
        parent = thread
        if rnd.random() < nested:
            parent = earlier_reply() or thread
        note = f"{actors[a]['id']}/notes/{run}-{seq}"
        out.append(Spec(seq, "reply", a, parent, note, note + "/activity"))
        reply_seqs.append(seq)
        reply_ids.append(note)
        seq += 1

    def add_like() -> None:
        nonlocal seq
        a = rnd.randrange(len(actors))
        target = thread if rnd.random() < 0.05 else (earlier_reply() or thread)
        out.append(Spec(seq, "like", a, target, None, f"{actors[a]['id']}/likes/{run}-{seq}"))
        seq += 1

    credit = 0.0
    while len(out) < n:
        if replies is None or len(reply_ids) < replies:
            add_reply()
            credit += per
            while credit >= 1 and len(out) < n:
                add_like()
                credit -= 1
        else:
            add_like()
    return out


def activity_body(spec: Spec, actor: dict, community: str) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    a = actor["id"]
    if spec.kind == "reply":
        note = {"id": spec.note_id, "type": "Note", "attributedTo": a, "inReplyTo": spec.target,
                "content": f"<p>I hear you. Reply {spec.seq}: you are not alone in this, and it does get easier "
                           f"with people around you.</p>",
                "published": now, "to": [PUBLIC], "cc": [a + "/followers", community], "audience": community,
                "sensitive": False, "url": spec.note_id}
        doc = {"@context": [AS, {"sensitive": "as:sensitive"}], "id": spec.activity_id, "type": "Create", "actor": a,
               "published": now, "to": [PUBLIC], "cc": [a + "/followers", community], "object": note}
    else:
        doc = {"@context": AS, "id": spec.activity_id, "type": "Like", "actor": a, "object": spec.target}
    return json.dumps(doc, separators=(",", ":")).encode()


class Signer:
    """draft-cavage rsa-sha256 signing with each actor's key parsed once."""

    def __init__(self, pems: dict[int, str]) -> None:
        from cryptography.hazmat.primitives import serialization

        self._pems = pems
        self._keys: dict[int, Any] = {}
        self._ser = serialization

    def sign(self, key_index: int, key_id: str, url: str, body: bytes) -> dict[str, str]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        key = self._keys.get(key_index)
        if key is None:
            # Our own keys: skip the (slow) RSA consistency check cryptography makes on every load.
            key = self._keys[key_index] = self._ser.load_pem_private_key(self._pems[key_index].encode(), None,
                                                                         unsafe_skip_rsa_key_validation=True)
        parts = urlsplit(url)
        host = parts.netloc
        date = formatdate(usegmt=True)
        digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
        signing = (f"(request-target): post {parts.path}\nhost: {host}\ndate: {date}\ndigest: {digest}\n"
                   f"content-type: {AP}").encode()
        sig = base64.b64encode(key.sign(signing, padding.PKCS1v15(), hashes.SHA256())).decode()
        return {"Host": host, "Date": date, "Digest": digest, "Content-Type": AP,
                "Signature": f'keyId="{key_id}",algorithm="rsa-sha256",headers="(request-target) host date digest '
                             f'content-type",signature="{sig}"'}


# --------------------------------------------------------------------------- sender processes

@dataclass
class SendConfig:
    url: str
    mode: str = "max"  # max | rate
    rate: float = 0.0  # total offered rate (rate mode)
    duration: float = 60.0
    concurrency: int = 32  # per process
    client: str = "aiohttp"
    timeout: float = 30.0


def _sender(index: int, processes: int, specs: list[Spec], actors: list[dict], community: str, cfg: SendConfig,
            ready: Any, go: Any, start_at: Any, results: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    from keypool import load_keys

    keys = load_keys(max(a["key"] for a in actors) + 1)
    signer = Signer({a["key"]: keys[a["key"]][0] for a in {actors[s.actor]["key"]: actors[s.actor] for s in specs}.values()})
    t = time.perf_counter()
    prepared = []
    for spec in specs:
        actor = actors[spec.actor]
        body = activity_body(spec, actor, community)
        prepared.append((body, signer.sign(actor["key"], actor["key_id"], cfg.url, body), spec.kind))
    ready.put((index, len(prepared), time.perf_counter() - t))
    go.wait()
    t0 = start_at.value
    out = asyncio.run(_send_all(index, processes, prepared, cfg, t0))
    results.put(out)


async def _send_all(index: int, processes: int, prepared: list, cfg: SendConfig, t0: float) -> dict[str, Any]:
    latencies: list[float] = []
    status: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    per_second: Counter[int] = Counter()
    sent = 0
    end = t0 + cfg.duration
    if cfg.client == "httpx":
        import httpx

        limit = cfg.concurrency if cfg.mode == "max" else max(cfg.concurrency, 256)
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
                                   timeout=cfg.timeout)

        async def post(body: bytes, headers: dict) -> int:
            r = await client.post(cfg.url, content=body, headers=headers)
            return r.status_code

        async def close() -> None:
            await client.aclose()
    else:
        import aiohttp

        limit = cfg.concurrency if cfg.mode == "max" else max(cfg.concurrency, 256)
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit, force_close=False),
                                        timeout=aiohttp.ClientTimeout(total=cfg.timeout),
                                        skip_auto_headers=("User-Agent",))

        async def post(body: bytes, headers: dict) -> int:
            async with session.post(cfg.url, data=body, headers=headers) as r:
                await r.read()
                return r.status

        async def close() -> None:
            await session.close()

    async def one(item: tuple, due: float) -> None:
        body, headers, kind = item
        try:
            code = await post(body, headers)
        except Exception as exc:  # noqa: BLE001 - every failure is a figure
            errors[type(exc).__name__] += 1
            status["error"] += 1
            return
        done = time.time()
        status[str(code)] += 1
        if code == 202:
            latencies.append(done - due)
            per_second[int(done - t0)] += 1
        else:
            errors[f"HTTP {code}"] += 1

    now = time.time()
    if now < t0:
        await asyncio.sleep(t0 - now)
    cpu0 = time.process_time()
    if cfg.mode == "max":
        position = 0

        async def worker() -> None:
            nonlocal position, sent
            while position < len(prepared) and time.time() < end:
                item = prepared[position]
                position += 1
                sent += 1
                await one(item, time.time())

        await asyncio.gather(*(worker() for _ in range(cfg.concurrency)))
    else:
        per_process = cfg.rate / processes
        tasks = set()
        k = 0
        while k < len(prepared):
            due = t0 + (k + index / processes) / per_process
            if due >= end:
                break
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(prepared[k], due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
            k += 1
        if tasks:
            await asyncio.wait(tasks, timeout=cfg.timeout)
    await close()
    return {"cpu_s": time.process_time() - cpu0, "index": index, "sent": sent, "budget": len(prepared), "latencies": latencies, "status": dict(status),
            "errors": dict(errors), "per_second": dict(per_second), "finished_at": time.time()}


class LoadRun:
    """Spread specs over `processes` senders, let them sign, then send all at once."""

    def __init__(self, specs: list[Spec], actors: list[dict], community: str, cfg: SendConfig, processes: int = 4):
        self.ctx = mp.get_context("spawn")
        self.cfg = cfg
        self.processes = processes
        self.ready = self.ctx.Queue()
        self.results = self.ctx.Queue()
        self.go_event = self.ctx.Event()
        self.start_at = self.ctx.Value("d", 0.0)
        self.procs = [self.ctx.Process(target=_sender, daemon=True, args=(
            i, processes, specs[i::processes], actors, community, cfg, self.ready, self.go_event, self.start_at,
            self.results)) for i in range(processes)]
        self.total = len(specs)

    def prepare(self) -> float:
        """Start the senders and wait until every request is signed; returns the signing wall time."""
        t = time.monotonic()
        for p in self.procs:
            p.start()
        for _ in self.procs:
            self.ready.get(timeout=3600)
        return time.monotonic() - t

    def go(self, delay: float = 0.3) -> float:
        self.start_at.value = time.time() + delay
        self.go_event.set()
        return self.start_at.value

    def collect(self) -> dict[str, Any]:
        parts = [self.results.get(timeout=self.cfg.duration + self.cfg.timeout + 600) for _ in self.procs]
        for p in self.procs:
            p.join(timeout=30)
        latencies = [x for part in parts for x in part["latencies"]]
        status: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        per_second: Counter[int] = Counter()
        for part in parts:
            status.update(part["status"])
            errors.update(part["errors"])
            per_second.update({int(k): v for k, v in part["per_second"].items()})
        return {"generator_cpu_s": round(sum(p["cpu_s"] for p in parts), 1), "sent": sum(p["sent"] for p in parts), "budget": sum(p["budget"] for p in parts),
                "accepted": status.get("202", 0), "status": dict(status), "errors": dict(errors),
                "latencies": latencies, "per_second": dict(sorted(per_second.items())),
                "finished_at": max(p["finished_at"] for p in parts)}

    def stop(self) -> None:
        for p in self.procs:
            if p.is_alive():
                p.terminate()
