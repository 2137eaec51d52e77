"""Claims queued rows and runs them: received activities first, then deliveries.

Rows are claimed with a lease (`locked_until`), and on PostgreSQL with FOR UPDATE SKIP LOCKED,
so any number of workers share the queues; a killed worker's rows come back when the lease ends.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from . import housekeeping
from .db import write_transaction
from .domain.pseudonyms import retire_orphans as retire_pseudonyms
from .inbox.backfill import run_requests as run_backfills
from .inbox.batch import process_batch
from .inbox.context import RetryLater
from .inbox.process import process_item, record_failure
from .models import Actor, Delivery, InboxItem, Instance, OutboxActivity, utcnow
from .models.queues import LEASE, QUEUED
from .outbox import deliver
from .outbox.deliver import retry_delay
from .remote.instances import refresh_software
from .services import Services, open_services
from .settings import Settings

log = logging.getLogger("fedisupport.worker")
BREAKER_FAILURES = 10
BREAKER_PAUSE = dt.timedelta(seconds=60)
PAUSE_AFTER_FAILURE_DAYS = 7
SOFTWARE_CHECK_EVERY = 5.0  # seconds
BACKFILL_CHECK_EVERY = 2.0
PSEUDONYMS_CHECK_EVERY = 600.0  # pseudonyms whose person left are retired days later; no hurry
HOUSEKEEPING_EVERY = 3600.0  # handled rows are kept for days (housekeeping.py); hourly is plenty
# How long a batch of deliveries waits for its slowest ones before the next batch is claimed; the
# rest finish on their own (within the client's deadline) and are recorded when they do.
STRAGGLER_WAIT = 2.0
# Deliveries in flight at once, and claimed per batch: larger claims cost less per delivery (500
# against 200: 1.24 against 1.47 ms of CPU each in bench/fanout.py).
DELIVERY_CONCURRENCY = 64
DELIVERY_BATCH = 500
DELIVERY_ROUNDS = 8


async def claim(session: AsyncSession, table: Any, limit: int, *extra_conditions: Any) -> list[int]:
    now = utcnow()
    candidates = (
        select(table.id)
        .where(table.state == QUEUED, table.next_attempt_at <= now,
               or_(table.locked_until.is_(None), table.locked_until < now), *extra_conditions)
        .order_by(table.next_attempt_at, table.id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    result = await session.execute(
        update(table).where(table.id.in_(candidates.scalar_subquery())).values(locked_until=now + LEASE)
        .returning(table.id)
    )
    return [row[0] for row in result]


class Worker:
    def __init__(self, services: Services, *, concurrency: int = DELIVERY_CONCURRENCY, batch: int = 200) -> None:
        self.services = services
        self.concurrency = concurrency
        self.batch = batch  # received activities per claim
        # Deliveries claimed and unrecorded at most: every one then waits for at most
        # DELIVERY_ROUNDS turns of the client's 30 s deadline (4 min), inside its 5-minute lease.
        self.delivery_batch = min(DELIVERY_BATCH, concurrency * DELIVERY_ROUNDS)
        self._stopping = False
        self._side_tasks: dict[str, asyncio.Task] = {}
        self._side_due: dict[str, float] = {}
        self._sending = asyncio.Semaphore(concurrency)  # shared by every batch, stragglers included
        self._outstanding = 0  # deliveries claimed and not yet recorded
        self._stragglers: set[asyncio.Task] = set()

    # -- received activities -------------------------------------------------
    async def run_inbox_batch(self) -> int:
        async with write_transaction(self.services.sessions) as session:
            ids = await claim(session, InboxItem, self.batch)
        if not ids:
            return 0
        # Many to a transaction; the few that need a fetch from another server, one at a time.
        for item_id in await process_batch(self.services, ids):
            await self._process(item_id)
        return len(ids)

    async def _process(self, item_id: int) -> None:
        try:
            await process_item(self.services, item_id)
        except RetryLater as exc:
            await record_failure(self.services, item_id, str(exc), retry_delay(1))
        except Exception as exc:
            log.exception("processing inbox item %s failed", item_id)
            await record_failure(self.services, item_id, f"{type(exc).__name__}: {exc}", retry_delay(1))

    # -- deliveries ----------------------------------------------------------
    async def run_delivery_batch(self) -> int:
        now = utcnow()
        resting = select(Instance.host).where(or_(Instance.paused.is_(True),
                                                  and_(Instance.paused_until.is_not(None), Instance.paused_until > now)))
        # Never more than one batch's worth claimed and unrecorded: a claimed row must be sent well
        # within its lease, or another worker could claim and send it again.
        room = self.delivery_batch - self._outstanding
        if room <= 0:
            return 0
        async with self.services.sessions() as session, session.begin():
            ids = await claim(session, Delivery, room, Delivery.host.not_in(resting))
            if not ids:
                return 0
            rows = (await session.execute(
                select(Delivery.id, Delivery.inbox_url, Delivery.host, Delivery.attempts, Delivery.created_at,
                       OutboxActivity.body, Actor.key_id, Actor.private_key_pem)
                .join(OutboxActivity, OutboxActivity.id == Delivery.activity_id)
                .join(Actor, Actor.id == OutboxActivity.actor_id)
                .where(Delivery.id.in_(ids))
            )).all()
        self._outstanding += len(rows)
        tasks = [asyncio.create_task(self._deliver(row)) for row in rows]
        try:
            done, pending = await asyncio.wait(tasks, timeout=STRAGGLER_WAIT)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise
        # A slow or dead host must not hold up the next batch (it used to wait for the slowest).
        await self._record_finished([task.result() for task in done])
        if pending:
            straggler = asyncio.create_task(self._record_when_done(pending), name="worker-stragglers")
            self._stragglers.add(straggler)
            straggler.add_done_callback(self._stragglers.discard)
        return len(rows)

    async def _deliver(self, row) -> tuple[Any, deliver.Outcome]:
        async with self._sending:
            try:
                outcome = await deliver.send(self.services.client, row.inbox_url, row.body.encode("utf-8"), row.key_id,
                                             row.private_key_pem, attempts=row.attempts + 1,
                                             created_at=row.created_at, now=utcnow())
            except Exception as exc:  # a bug, not the network: retry later rather than lose the row's result
                log.exception("delivery %s failed unexpectedly", row.id)
                outcome = deliver.plan_retry(row.attempts + 1, row.created_at, utcnow(), None,
                                             f"{type(exc).__name__}: {exc}")
            return row, outcome

    async def _record_finished(self, results: list[tuple[Any, deliver.Outcome]]) -> None:
        try:
            if results:
                await self._record_deliveries(results)
        finally:
            self._outstanding -= len(results)

    async def _record_when_done(self, pending: set[asyncio.Task]) -> None:
        try:
            await asyncio.wait(pending)
            await self._record_finished([task.result() for task in pending])
        except asyncio.CancelledError:
            for task in pending:
                task.cancel()
            raise
        except Exception:
            log.exception("recording late deliveries failed; they are retried when their lease ends")
        self.services.work_available.set()  # room for the next batch

    async def _record_deliveries(self, results: list[tuple[Any, deliver.Outcome]]) -> None:
        """One executemany per kind of outcome and one statement for the live hosts, not one per row:
        at fan-out scale the per-row UPDATEs cost more than the sending."""
        now = utcnow()
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row, outcome in results:
            values: dict[str, Any] = {"id": row.id, "state": outcome.state, "attempts": row.attempts + 1,
                                      "last_status": outcome.status, "last_error": outcome.error,
                                      "locked_until": None}
            if outcome.state == "sent":
                values["sent_at"] = now
            if outcome.next_attempt_at is not None:
                values["next_attempt_at"] = outcome.next_attempt_at
            groups.setdefault(tuple(values), []).append(values)
        async with self.services.sessions() as session, session.begin():
            for rows in groups.values():
                await session.execute(update(Delivery), rows)  # ORM bulk UPDATE by primary key
            await record_hosts(session, _host_results(results), now)

    async def run_once(self) -> int:
        done = await self.run_inbox_batch() + await self.run_delivery_batch()
        # Work that waits on other servers runs beside the queues, never in their way: a slow
        # host must not hold up deliveries.
        self._beside("software", SOFTWARE_CHECK_EVERY, lambda: refresh_software(self.services))
        self._beside("backfill", BACKFILL_CHECK_EVERY, lambda: run_backfills(self.services, claim))
        self._beside("pseudonyms", PSEUDONYMS_CHECK_EVERY, lambda: retire_pseudonyms(self.services))
        self._beside("housekeeping", HOUSEKEEPING_EVERY, lambda: housekeeping.prune(self.services.sessions))
        return done

    def _beside(self, name: str, every: float, work) -> None:
        now = asyncio.get_running_loop().time()
        task = self._side_tasks.get(name)
        if now < self._side_due.get(name, 0.0) or (task is not None and not task.done()):
            return
        self._side_due[name] = now + every

        async def run() -> None:
            try:
                await work()
            except Exception:
                log.exception("%s pass failed", name)

        self._side_tasks[name] = asyncio.create_task(run(), name=f"worker-{name}")

    async def run_forever(self, idle_wait: float = 1.0) -> None:
        try:
            while not self._stopping:
                try:
                    done = await self.run_once()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("worker pass failed; trying again shortly")
                    done = 0
                    await asyncio.sleep(idle_wait)
                if done == 0:
                    self.services.work_available.clear()
                    try:
                        await asyncio.wait_for(self.services.work_available.wait(), idle_wait)
                    except TimeoutError:
                        pass
        finally:
            await self.finish_stragglers()

    async def finish_stragglers(self, grace: float = 5.0) -> None:
        """On the way out, give deliveries still on the wire a moment to be recorded: a row
        cancelled here is sent again when its lease ends."""
        if self._stragglers:
            _, late = await asyncio.wait(set(self._stragglers), timeout=grace)
            for task in late:
                task.cancel()

    def stop(self) -> None:
        self._stopping = True
        for task in self._side_tasks.values():
            task.cancel()
        self.services.work_available.set()


def _host_results(results: list[tuple[Any, deliver.Outcome]]) -> dict[str, bool]:
    """One verdict per host for this batch: alive if any delivery got an answer below 500."""
    verdict: dict[str, bool] = {}
    for row, outcome in results:
        if outcome.state == "failed" and outcome.status is None:
            continue  # refused by us (SSRF guard), says nothing about the host
        verdict[row.host] = verdict.get(row.host, False) or outcome.host_alive
    return verdict


async def record_hosts(session: AsyncSession, verdicts: dict[str, bool], now: dt.datetime) -> None:
    """`record_host` for a batch: the live hosts (nearly all of them) with one UPDATE."""
    alive = sorted(host for host, ok in verdicts.items() if ok)
    if alive:
        known = set(await session.scalars(select(Instance.host).where(Instance.host.in_(alive))))
        if known:
            await session.execute(
                update(Instance).where(Instance.host.in_(known))
                .values(last_success_at=now, consecutive_failures=0, failure_days=0, paused=False, paused_until=None)
                .execution_options(synchronize_session=False))
        for host in alive:
            if host not in known:
                await record_host(session, host, True, now)
    for host, ok in verdicts.items():
        if not ok:
            await record_host(session, host, False, now)


async def record_host(session: AsyncSession, host: str, alive: bool, now: dt.datetime) -> None:
    """Host health: a circuit breaker for bursts, and a pause after failures on 7 distinct days."""
    instance = await session.get(Instance, host)
    if instance is None:
        instance = Instance(host=host, first_seen_at=now, failure_days=0, consecutive_failures=0, paused=False)
        session.add(instance)
    if alive:
        instance.last_success_at = now
        instance.consecutive_failures = 0
        instance.failure_days = 0
        instance.paused = False
        instance.paused_until = None
        return
    if instance.last_failure_at is None or instance.last_failure_at.date() != now.date():
        instance.failure_days = (instance.failure_days or 0) + 1
    instance.last_failure_at = now
    instance.consecutive_failures = (instance.consecutive_failures or 0) + 1
    if instance.consecutive_failures >= BREAKER_FAILURES:
        instance.paused_until = now + BREAKER_PAUSE
    if instance.failure_days >= PAUSE_AFTER_FAILURE_DAYS:
        instance.paused = True
        log.warning("pausing deliveries to %s after failures on %d days", host, instance.failure_days)


async def run_worker_forever(settings: Settings, concurrency: int | None = None) -> None:
    async with open_services(settings) as services:
        log.info("worker started for %s", settings.domain)
        await Worker(services, concurrency=concurrency or DELIVERY_CONCURRENCY).run_forever()
