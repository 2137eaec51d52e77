"""Waiting for asynchronous effects (deliveries, workers) without fixed sleeps."""
from __future__ import annotations

import asyncio


async def wait_for(check, timeout: float = 15.0, interval: float = 0.05):
    """Poll an async check until it returns something truthy; fail with what it last saw."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)
