"""Every line of Taskiq and Redis: the task stream, the results stream, host leases, handshake.

Swapping the engine (Dramatiq is the fallback) means rewriting this package only: the rest
of ``scraper.queue`` sees ``RedisQueue`` (the coordinator's ``Queue``), ``run_worker`` (with
its ``Admission``) and ``Lease``, all importable from here. By responsibility: ``common``
(keys, limits, errors), ``leases``, ``broker`` (the task stream), ``coordinator`` and
``worker`` (each side's use).

Redis keys (one Redis database per archive: the ``/DB`` of the URL)::

    scraper:tasks          stream of host tasks (Taskiq RedisStreamBroker), group "workers"
    scraper:results        stream of host results, group "coordinator", deleted once stored
    scraper:lease:{host}   who runs the host now: a token, with a time-to-live it extends
    scraper:pace:{host}    set on release: its TTL is what the host's delay still asks
    scraper:done:{task}    a finished task (a redelivered copy is not run again), one day
    scraper:handshake      the coordinator's schema and extractor, checked by workers

Delivery is at least once: a worker acknowledges a task after its result is on the results
stream; a task whose worker died is claimed by another after ``idle_timeout``. The
coordinator acknowledges (and deletes) a result after storing it.
"""

from __future__ import annotations

from .broker import Admission, _Broker, make_broker
from .common import (
    COORDINATOR,
    DONE_TTL,
    HANDSHAKE,
    IDLE_TIMEOUT,
    LEASE_TTL,
    MAX_STREAM,
    RESULTS,
    TASK_NAME,
    TASKS,
    WORKERS,
    HostBusy,
    QueueUnavailable,
    VersionMismatch,
    _group,
    _unavailable,
    redis_url,
)
from .coordinator import RedisQueue
from .leases import HostLeases, Lease
from .worker import RunTask, host_task_function, run_worker

__all__ = [
    "COORDINATOR",
    "DONE_TTL",
    "HANDSHAKE",
    "IDLE_TIMEOUT",
    "LEASE_TTL",
    "MAX_STREAM",
    "RESULTS",
    "TASKS",
    "TASK_NAME",
    "WORKERS",
    "Admission",
    "HostBusy",
    "HostLeases",
    "Lease",
    "QueueUnavailable",
    "RedisQueue",
    "RunTask",
    "VersionMismatch",
    "_Broker",
    "_group",
    "_unavailable",
    "host_task_function",
    "make_broker",
    "redis_url",
    "run_worker",
]
