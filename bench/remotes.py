"""Simulated remote instances: many hosts on loopback ports, served by one asyncio process.

Each port is a host of its own (`127.0.0.1:<port>`, as the server sees it). Every host serves
its actors (`/users/u<N>`, each with an RSA key of its own from bench/.cache), NodeInfo saying
it runs Lemmy (forum software, so a community announces everything to it), and a shared inbox
(`/inbox`) that receives deliveries:

- every delivery's HTTP signature is verified (draft-cavage, with fedisupport's own verifier;
  the signer's key is fetched from the server once and cached), with the Host the server
  signed for checked against the host that received it;
- every delivery is counted by (receiving host, activity id), so duplicates show.

It counts actor document fetches per actor: a key fetch is a GET of the actor (keyId minus
the fragment). `GET /_stats` on the control port returns all counters as JSON.

    .venv/bin/python bench/remotes.py --hosts 20 --actors-per-host 10 --manifest /tmp/m.json

writes the manifest (hosts, actor ids, key ids, which pool key each actor has) once every
port listens, then serves until killed. Benchmarks start it with `RemoteFarm`.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiohttp import ClientSession, ClientTimeout, web  # noqa: E402

from fedisupport.activitypub.signatures import SignatureError, parse_incoming, verify_signature  # noqa: E402
from keypool import load_keys  # noqa: E402

AP = "application/activity+json"
AS = "https://www.w3.org/ns/activitystreams"
SEC = "https://w3id.org/security/v1"


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class Farm:
    def __init__(self, hosts: int, actors_per_host: int, key_offset: int, software: str) -> None:
        self.software = software
        self.socks = [_listen() for _ in range(hosts)]
        self.ports = [s.getsockname()[1] for s in self.socks]
        keys = load_keys(key_offset + hosts * actors_per_host)
        self.docs: dict[str, bytes] = {}  # "host/users/uN" -> actor document
        self.manifest: dict[str, Any] = {"hosts": [], "actors": []}
        n = 0
        for port in self.ports:
            host = f"127.0.0.1:{port}"
            self.manifest["hosts"].append(host)
            for a in range(actors_per_host):
                key_index = key_offset + n
                n += 1
                actor_id = f"http://{host}/users/u{a}"
                doc = {
                    "@context": [AS, SEC], "id": actor_id, "type": "Person", "preferredUsername": f"u{a}",
                    "name": f"Person {a} of {port}", "inbox": actor_id + "/inbox", "outbox": actor_id + "/outbox",
                    "followers": actor_id + "/followers", "endpoints": {"sharedInbox": f"http://{host}/inbox"},
                    "publicKey": {"id": actor_id + "#main-key", "owner": actor_id, "publicKeyPem": keys[key_index][1]},
                }
                self.docs[f"{host}/users/u{a}"] = json.dumps(doc).encode()
                self.manifest["actors"].append({"id": actor_id, "key_id": actor_id + "#main-key", "key": key_index,
                                                "host": host, "inbox": actor_id + "/inbox"})
        self.fetches: Counter[str] = Counter()
        self.other_gets = 0
        self.received = 0
        self.verified = 0
        self.bad_signature: Counter[str] = Counter()
        self.seen: dict[str, set[str]] = defaultdict(set)
        self.duplicates = 0
        self.by_type: Counter[str] = Counter()
        self.first_delivery_at: float | None = None
        self.last_delivery_at: float | None = None
        self.server_keys: dict[str, str] = {}
        self.key_fetches_out = 0
        self._key_pending: dict[str, asyncio.Future] = {}
        self.session: ClientSession | None = None

    # -- serving -----------------------------------------------------------
    async def actor(self, request: web.Request) -> web.Response:
        key = f"{request.host}/users/{request.match_info['name']}"
        body = self.docs.get(key)
        if body is None:
            return web.Response(status=404)
        self.fetches[key] += 1
        return web.Response(body=body, content_type=AP)

    async def nodeinfo_links(self, request: web.Request) -> web.Response:
        self.other_gets += 1
        return web.json_response({"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                                             "href": f"http://{request.host}/nodeinfo/2.0"}]})

    async def nodeinfo(self, request: web.Request) -> web.Response:
        return web.json_response({"version": "2.0", "software": {"name": self.software, "version": "0.19.5"},
                                  "protocols": ["activitypub"], "usage": {"users": {"total": 1}},
                                  "openRegistrations": False})

    async def collection(self, request: web.Request) -> web.Response:
        self.other_gets += 1
        url = f"http://{request.host}{request.path}"
        return web.Response(body=json.dumps({"@context": AS, "id": url, "type": "OrderedCollection",
                                             "totalItems": 0, "orderedItems": []}).encode(), content_type=AP)

    async def _server_key(self, key_id: str) -> str:
        if key_id in self.server_keys:
            return self.server_keys[key_id]
        pending = self._key_pending.get(key_id)
        if pending is not None:
            return await pending
        fut = asyncio.get_running_loop().create_future()
        self._key_pending[key_id] = fut
        try:
            async with self.session.get(key_id.split("#")[0], headers={"Accept": AP}) as resp:
                doc = await resp.json(content_type=None)
            self.key_fetches_out += 1
            pem = doc["publicKey"]["publicKeyPem"]
            if doc["publicKey"]["id"] != key_id:
                raise SignatureError("key id mismatch")
            self.server_keys[key_id] = pem
            fut.set_result(pem)
            return pem
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()
            raise
        finally:
            self._key_pending.pop(key_id, None)

    async def inbox(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received += 1
        now = time.time()
        self.first_delivery_at = self.first_delivery_at or now
        self.last_delivery_at = now
        try:
            sig = parse_incoming("POST", request.raw_path.split("?")[0], request.query_string, request.headers, body,
                                 scheme="http", expected_host=request.host)
            pem = await self._server_key(sig.key_id)
            if not verify_signature(sig, pem):
                raise SignatureError("signature does not verify")
        except (SignatureError, KeyError, ValueError) as exc:
            self.bad_signature[str(exc)[:80]] += 1
            return web.json_response({"error": str(exc)}, status=401)
        self.verified += 1
        try:
            doc = json.loads(body)
        except ValueError:
            return web.Response(status=400)
        activity_id = doc.get("id", "")
        seen = self.seen[request.host]
        if activity_id in seen:
            self.duplicates += 1
        else:
            seen.add(activity_id)
        inner = doc.get("object")
        self.by_type[doc.get("type", "?") + ("/" + inner.get("type", "?") if isinstance(inner, dict) else "")] += 1
        return web.Response(status=202)

    async def stats(self, request: web.Request) -> web.Response:
        per_host = Counter(k.split("/")[0] for k in self.fetches)
        return web.json_response({
            "actor_fetches": sum(self.fetches.values()), "actors_fetched": len(self.fetches),
            "actors_fetched_more_than_once": sum(1 for v in self.fetches.values() if v > 1),
            "max_fetches_of_one_actor": max(self.fetches.values(), default=0),
            "hosts_fetched_from": len(per_host), "other_gets": self.other_gets,
            "deliveries_received": self.received, "deliveries_verified": self.verified,
            "bad_signatures": dict(self.bad_signature), "duplicates": self.duplicates,
            "distinct_deliveries": sum(len(s) for s in self.seen.values()), "hosts_delivered_to": len(self.seen),
            "by_type": dict(self.by_type), "first_delivery_at": self.first_delivery_at,
            "last_delivery_at": self.last_delivery_at, "server_key_fetches": self.key_fetches_out,
        })

    async def reset(self, request: web.Request) -> web.Response:
        self.fetches.clear()
        self.received = self.verified = self.duplicates = 0
        self.bad_signature.clear()
        self.seen.clear()
        self.by_type.clear()
        self.first_delivery_at = self.last_delivery_at = None
        return web.json_response({"ok": True})

    async def run(self, manifest_path: Path, control_port: int) -> None:
        self.session = ClientSession(timeout=ClientTimeout(total=10))
        app = web.Application(client_max_size=2**20)
        app.router.add_get("/users/{name}", self.actor)
        app.router.add_get("/users/{name}/{coll:(followers|following|outbox)}", self.collection)
        app.router.add_get("/.well-known/nodeinfo", self.nodeinfo_links)
        app.router.add_get("/nodeinfo/2.0", self.nodeinfo)
        app.router.add_post("/inbox", self.inbox)
        app.router.add_post("/users/{name}/inbox", self.inbox)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        for sock in self.socks:
            await web.SockSite(runner, sock, backlog=1024).start()
        control = web.Application()
        control.router.add_get("/_stats", self.stats)
        control.router.add_post("/_reset", self.reset)
        crunner = web.AppRunner(control, access_log=None, handle_signals=False)
        await crunner.setup()
        await web.TCPSite(crunner, "127.0.0.1", control_port).start()
        self.manifest["control"] = f"http://127.0.0.1:{control_port}"
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.manifest))
        tmp.replace(manifest_path)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()
        await crunner.cleanup()
        await self.session.close()


class RemoteFarm:
    """Start `remotes.py` as a child process and read its manifest; a context manager."""

    def __init__(self, hosts: int, actors_per_host: int, *, key_offset: int = 0, software: str = "lemmy",
                 workdir: Path | None = None) -> None:
        import tempfile

        self.args = (hosts, actors_per_host, key_offset, software)
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="fedibench-remotes-"))
        self.proc: subprocess.Popen | None = None
        self.manifest: dict[str, Any] = {}

    def __enter__(self) -> "RemoteFarm":
        hosts, per_host, offset, software = self.args
        from common import free_port

        path = self.workdir / "manifest.json"
        path.unlink(missing_ok=True)
        self.log = open(self.workdir / "remotes.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--hosts", str(hosts), "--actors-per-host", str(per_host),
             "--key-offset", str(offset), "--software", software, "--manifest", str(path),
             "--control-port", str(free_port())], stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 600  # the first run may generate the key pool
        while not path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("remotes did not start: " + (self.workdir / "remotes.log").read_text()[-2000:])
            time.sleep(0.1)
        self.manifest = json.loads(path.read_text())
        return self

    def __exit__(self, *exc: object) -> None:
        import shutil

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.manifest["control"] + "/_stats", timeout=30) as resp:
            return json.loads(resp.read())

    def reset(self) -> None:
        req = urllib.request.Request(self.manifest["control"] + "/_reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=30):
            pass

    @property
    def pid(self) -> int:
        return self.proc.pid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--actors-per-host", type=int, default=10)
    parser.add_argument("--key-offset", type=int, default=0, help="first key of the pool to use")
    parser.add_argument("--software", default="lemmy", help="what NodeInfo says the hosts run")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--control-port", type=int, default=0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    farm = Farm(args.hosts, args.actors_per_host, args.key_offset, args.software)
    if not args.control_port:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            args.control_port = s.getsockname()[1]
    asyncio.run(farm.run(args.manifest, args.control_port))


if __name__ == "__main__":
    main()
