"""What an admin sees of the delivery queue: counts by host and state, and one host's rows."""
from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Delivery, Instance, utcnow

STATES = ("queued", "sent", "failed", "given_up")


async def summary(session: AsyncSession) -> list[str]:
    rows = (await session.execute(
        select(Delivery.host, Delivery.state, func.count()).group_by(Delivery.host, Delivery.state)
    )).all()
    if not rows:
        return ["The delivery queue is empty."]
    per_host: dict[str, dict[str, int]] = {}
    for host, state, n in rows:
        per_host.setdefault(host, {})[state] = n
    health = {i.host: i for i in await session.scalars(select(Instance).where(Instance.host.in_(per_host)))}
    width = max(len(h) for h in per_host)
    lines = [f"{'host'.ljust(width)}  " + "  ".join(f"{s:>8}" for s in STATES) + "  health"]
    for host in sorted(per_host, key=lambda h: (-per_host[h].get("queued", 0), h)):
        counts = per_host[host]
        instance = health.get(host)
        if instance is None or not instance.consecutive_failures:
            note = "ok"
        elif instance.paused:
            note = f"paused after failures on {instance.failure_days} days"
        else:
            note = f"{instance.consecutive_failures} failures in a row"
        lines.append(f"{host.ljust(width)}  " + "  ".join(f"{counts.get(s, 0):>8}" for s in STATES) + f"  {note}")
    return lines


async def host_detail(session: AsyncSession, host: str, limit: int = 50) -> list[str]:
    rows = list(await session.scalars(
        select(Delivery).where(Delivery.host == host).order_by(Delivery.state != "queued", Delivery.id.desc()).limit(limit)
    ))
    if not rows:
        return [f"No deliveries to {host}."]
    return [
        f"{d.id:>8}  {d.state:<8}  tries {d.attempts:<2}  next {d.next_attempt_at:%Y-%m-%d %H:%M}  "
        f"{d.last_status or '-'}  {(d.last_error or '')[:80]}"
        for d in rows
    ]


async def retry_host_now(session: AsyncSession, host: str) -> int:
    now = utcnow()
    await session.execute(update(Instance).where(Instance.host == host)
                          .values(paused=False, paused_until=None, consecutive_failures=0))
    result = await session.execute(update(Delivery).where(Delivery.host == host, Delivery.state == "queued")
                                   .values(next_attempt_at=now, locked_until=None))
    return result.rowcount or 0
