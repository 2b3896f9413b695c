"""One timer per stream deadline, for the reads of a streamed HTTP response."""

from __future__ import annotations

import asyncio
from typing import Any


class ReadDeadline:
    """A deadline for the reads of one stream: TimeoutError from `read` once it has passed.

    `asyncio.timeout_at` around each read would make a timer and a context per chunk; this
    keeps one timer per deadline instead. When it fires while a read is pending, it cancels
    the task, exactly as `asyncio.timeout` does, and `read` turns that cancellation into
    TimeoutError; when it fires between reads, it only marks the deadline expired and the next
    `read` raises. So it never cancels the task anywhere but inside `read`: the stream's
    generator yields between reads, and the consumer's own awaits there must not be hit (a
    single timeout around the whole read loop would do exactly that).
    """

    def __init__(self, when: float) -> None:
        self._loop = asyncio.get_running_loop()
        self.when = when
        self.expired = False
        self._reader: asyncio.Task[Any] | None = None  # the task inside `read`, if any
        self._cancelled_it = False
        self._timer = self._loop.call_at(when, self._fire)

    def move(self, when: float) -> None:
        """Replace the deadline (monotonic loop time, as `loop.time()`). An old deadline that
        passed between reads no longer counts (the first-token deadline, once text came)."""
        if when == self.when:
            return
        self._timer.cancel()
        self.when = when
        self.expired = self._loop.time() >= when
        if not self.expired:
            self._timer = self._loop.call_at(when, self._fire)

    async def read(self, awaitable: Any) -> Any:
        """Await one read; TimeoutError if the deadline has passed or passes meanwhile."""
        if self.expired:
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()  # never awaited: close it so Python does not warn
            raise TimeoutError
        self._reader = asyncio.current_task()
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self._cancelled_it and self._reader is not None:
                self._cancelled_it = False
                if self._reader.uncancel() == 0:  # nobody else cancelled the task as well
                    raise TimeoutError from None
            raise
        finally:
            self._reader = None

    def close(self) -> None:
        """Cancel the timer (the stream is over)."""
        self._timer.cancel()

    def _fire(self) -> None:
        self.expired = True
        if self._reader is not None and not self._cancelled_it:
            self._cancelled_it = True
            self._reader.cancel()
