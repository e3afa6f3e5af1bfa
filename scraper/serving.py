"""The pages' side of ``Gates.serve``: each host's frontier, worked at the host's turns.

``scraper.hosts`` decides when a host may send its next request; this module decides what
that request is (the frontier's next job, once ``triage`` allows it) and keeps count of the
jobs left and the tasks running.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .hosts import Gates, HostGate

# the gates the running task holds a turn of: a robots.txt needed inside a turn (a page
# redirected to another origin of its host) must not wait for a slot it holds itself
HELD: contextvars.ContextVar[frozenset[HostGate]] = contextvars.ContextVar(
    "held_gates", default=frozenset())

Triage = Literal["go", "prepare", "drop"]


class Serving:
    """One ``Gates.serve`` call: its callbacks, its tasks, and how many jobs are left."""

    def __init__(self, run: Callable[[HostGate, Any], Awaitable[None]],
                 triage: Callable[[HostGate, Any], Triage],
                 prepare: Callable[[HostGate, Any], Awaitable[None]],
                 expire: Callable[[HostGate], None], deadline: float | None) -> None:
        self.run, self.triage, self.prepare = run, triage, prepare
        self._expire, self.deadline = expire, deadline
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.tasks: set[asyncio.Task[None]] = set()
        self.left = 0

    def step(self, gates: Gates, gate: HostGate) -> bool:
        """Deal with the next job of ``gate``: True when it may deal with another now.

        A job to drop goes without waiting for a turn, and so does a robots.txt to read
        first (which takes its own turn); a job to run waits for the host's next start.
        """
        now = gates.clock()
        if self.deadline is not None and now >= self.deadline:
            self.expire(gate)
            return False
        job = gate.frontier[0]
        verdict = self.triage(gate, job)
        if verdict == "drop":
            gate.frontier.popleft()
            self.left -= 1
            self.check()
            return True
        if verdict == "prepare":
            gate.preparing = True
            self._spawn(self._prepared(gates, gate, job))
            return False
        if gate.next_start > now:
            if self.deadline is not None and gate.next_start >= self.deadline:
                self.expire(gate)  # its next page would start too late
            else:
                gates._schedule(gate)
            return False
        gate.frontier.popleft()
        gates._take(gate)
        self._spawn(self._ran(gates, gate, job))
        return True

    def expire(self, gate: HostGate) -> None:
        n = len(gate.frontier)
        self._expire(gate)  # the caller counts them
        gate.frontier.clear()
        self.left -= n
        self.check()

    def check(self) -> None:
        if self.left <= 0 and not self.tasks and not self.done.done():
            self.done.set_result(None)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not self.done.done():
            self.done.set_exception(task.exception())  # type: ignore[arg-type]
        self.check()

    async def _prepared(self, gates: Gates, gate: HostGate, job: Any) -> None:
        HELD.set(frozenset())
        try:
            await self.prepare(gate, job)
        finally:
            gate.preparing = False
            gates._wake(gate)

    async def _ran(self, gates: Gates, gate: HostGate, job: Any) -> None:
        HELD.set(frozenset({gate}))
        try:
            await self.run(gate, job)
        finally:
            HELD.set(frozenset())
            self.left -= 1
            gates.leave(gate)
            if not gate.frontier and not gate.in_flight and not gate.waiters:
                gates.retire(gate)
