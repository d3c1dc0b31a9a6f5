"""Cancellations that a library lost on the way.

On Python 3.11, ``asyncio.wait_for`` returns its inner call's result when that call finishes in the
same turn of the event loop in which the caller is cancelled: the cancellation vanishes (3.12 fixed
it). redis-py sends every command through ``wait_for`` once ``socket_timeout`` is set, as ours is, so
a task cancelled while it writes to Redis may simply carry on. Measured on the feed poller: 8 of 300
cancellations at random moments of a poll were lost, and the poller ran on until killed.

The task still counts the request (``Task.cancelling()``), so every loop that runs until cancelled
calls :func:`raise_if_cancel_lost` once per turn.
"""

from __future__ import annotations

import asyncio


def raise_if_cancel_lost() -> None:
    """Raise :class:`asyncio.CancelledError` if the current task was cancelled and carried on."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError("cancelled earlier; a call swallowed the cancellation")
