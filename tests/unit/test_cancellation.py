"""Loops that run until cancelled stop even when a call on the way swallowed the cancellation."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from services.common.cancellation import raise_if_cancel_lost


async def swallowing_call(entered: asyncio.Event) -> None:
    """Stands for asyncio.wait_for on Python 3.11 when its inner call finished in the turn the
    caller was cancelled: the caller's CancelledError never reaches it."""
    entered.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(30)


async def test_a_loop_stops_after_a_call_swallowed_its_cancellation() -> None:
    entered = asyncio.Event()
    turns = 0

    async def loop(guarded: bool) -> None:
        nonlocal turns
        while True:
            turns += 1
            if turns == 1:
                await swallowing_call(entered)
            if guarded:
                raise_if_cancel_lost()
            await asyncio.sleep(0.01)

    unguarded = asyncio.create_task(loop(guarded=False))
    await entered.wait()
    unguarded.cancel()
    await asyncio.sleep(0.1)
    assert not unguarded.done() and turns >= 2  # the failure this guards against: it just goes on
    unguarded.cancel()
    with pytest.raises(asyncio.CancelledError):
        await unguarded

    entered.clear()
    turns = 0
    guarded = asyncio.create_task(loop(guarded=True))
    await entered.wait()
    guarded.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(guarded, timeout=5)
    assert turns == 1


async def test_a_cancellation_that_was_handled_is_not_raised_again() -> None:
    raise_if_cancel_lost()  # never cancelled
    # asyncio.timeout cancels the task and takes its cancellation back when it turns it into TimeoutError.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)
    raise_if_cancel_lost()
