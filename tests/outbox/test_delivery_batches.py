"""The worker's delivery batches on a real database, sending real signed POSTs over sockets.

A batch's outcomes are recorded together (sent, retry, given up; host health), and a host that
never answers does not hold up the deliveries claimed after it.
"""
from __future__ import annotations

import asyncio
import json

import httpx
from sqlalchemy import select

from fedisupport import db, worker as worker_module
from fedisupport.activitypub.fetch import SafeClient
from fedisupport.activitypub.signatures import verify_request
from fedisupport.models import Actor, Delivery, Instance, OutboxActivity, utcnow
from fedisupport.worker import Worker
from tests.federation.test_follow import make_community
from tests.support.waiting import wait_for


class Inboxes:
    """Loopback inboxes: `/ok` answers 202, `/gone` 410, `/down` 503, `/stall` never answers."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._release = asyncio.Event()

    async def __aenter__(self) -> Inboxes:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:  # keep-alive: several requests per connection
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                line, *lines = head.strip().split("\r\n")
                path = line.split(" ")[1]
                headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.received.append((path, headers, body))
                route = path.partition("?")[0]
                if route == "/stall":
                    await self._release.wait()
                    return
                status = {"/ok": 202, "/gone": 410, "/down": 503}[route]
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def _queue(inst, inboxes: Inboxes, paths: list[str]) -> list[int]:
    """One activity from a community, queued for delivery to each path (in this order)."""
    community = await make_community(inst, "hope")
    body = json.dumps({"id": inst.url("/activities/1"), "type": "Announce", "actor": inst.url("/c/hope")})
    host = f"127.0.0.1:{inboxes.port}"
    async with db.transaction(inst.sessions) as session:
        activity = OutboxActivity(ap_id=inst.url("/activities/1"), actor_id=community.actor_id, type="Announce",
                                  body=body)
        session.add(activity)
        await session.flush()
        rows = [Delivery(activity_id=activity.id, inbox_url=f"http://{host}{path}?n={n}", host=host,
                         next_attempt_at=utcnow()) for n, path in enumerate(paths)]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def _states(inst) -> dict[int, Delivery]:
    async with inst.sessions() as session:
        return {row.id: row for row in await session.scalars(select(Delivery))}


async def test_a_batch_is_recorded_together(start_instance):
    async with start_instance(run_worker_in_serve=False) as inst, Inboxes() as inboxes:
        ids = await _queue(inst, inboxes, ["/ok", "/gone", "/down", "/ok"])
        assert await Worker(inst.services).run_delivery_batch() == 4
        await asyncio.sleep(0)
        rows = await _states(inst)
        assert [rows[i].state for i in ids] == ["sent", "failed", "queued", "sent"]
        assert [rows[i].attempts for i in ids] == [1, 1, 1, 1]
        assert [rows[i].last_status for i in ids] == [202, 410, 503, 202]
        assert rows[ids[0]].sent_at is not None and rows[ids[1]].sent_at is None
        assert rows[ids[2]].next_attempt_at > utcnow() and "HTTP 503" in rows[ids[2]].last_error
        assert all(rows[i].locked_until is None for i in ids)
        # Each POST was signed by the community for its own URL.
        async with inst.sessions() as session:
            key_id, public_key = (await session.execute(
                select(Actor.key_id, Actor.public_key_pem).where(Actor.username == "hope"))).one()
        assert len(inboxes.received) == 4
        for target, headers, body in inboxes.received:
            path, _, query = target.partition("?")
            verified = verify_request("POST", path, query, headers, body, {key_id: public_key}.get, scheme="http",
                                      expected_host=f"127.0.0.1:{inboxes.port}")
            assert verified.key_id == key_id
        # The host answered below 500 at least once: it is alive, whatever else it said.
        async with inst.sessions() as session:
            host = await session.get(Instance, f"127.0.0.1:{inboxes.port}")
            assert host.last_success_at is not None and host.consecutive_failures == 0


async def test_a_silent_host_does_not_hold_up_the_next_batch(start_instance, monkeypatch):
    monkeypatch.setattr(worker_module, "STRAGGLER_WAIT", 0.2)
    async with start_instance(run_worker_in_serve=False) as inst, Inboxes() as inboxes:
        original = inst.services.client
        inst.services.client = SafeClient(allow_private=True, deadline=3.0,
                                          timeout=httpx.Timeout(connect=1.0, read=2.0, write=1.0, pool=1.0))
        try:
            stalled, fine = await _queue(inst, inboxes, ["/stall", "/ok"])
            worker = Worker(inst.services, concurrency=1)
            worker.delivery_batch = 1
            assert await worker.run_delivery_batch() == 1  # claims the silent host's row, moves on
            assert await worker.run_delivery_batch() == 0  # one batch's worth is still out: no more claims
            rows = await _states(inst)
            assert rows[stalled].state == "queued" and rows[stalled].locked_until is not None

            # The silent host's read timeout (or the deadline) ends it; its row is recorded on its own.
            async def recorded():
                return (await _states(inst))[stalled].attempts == 1
            await wait_for(recorded, timeout=10)
            rows = await _states(inst)
            assert rows[stalled].state == "queued" and rows[stalled].locked_until is None
            assert "timeout" in rows[stalled].last_error or "deadline" in rows[stalled].last_error
            assert rows[stalled].next_attempt_at > utcnow()

            assert await worker.run_delivery_batch() == 1  # room again: the next row goes out
            assert (await _states(inst))[fine].state == "sent"
        finally:
            await inst.services.client.aclose()
            inst.services.client = original


async def test_deliveries_to_one_host_reuse_its_connection(start_instance):
    async with start_instance(run_worker_in_serve=False) as inst, Inboxes() as inboxes:
        await _queue(inst, inboxes, ["/ok"] * 16)
        worker = Worker(inst.services, concurrency=1)  # claims 8 at a time
        assert await worker.run_delivery_batch() == 8
        assert await worker.run_delivery_batch() == 8  # the next batch reuses the connection too
        assert len(inboxes.received) == 16
        assert inboxes.connections == 1
