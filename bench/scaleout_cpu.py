"""Where the CPU of a queued run goes: per process and role, from /proc, for bench/scaleout.py.

A thread reads utime + stime of every process of the run (the coordinator, each worker's
event loop, each worker's extraction processes, redis-server, this process's test servers)
every ``every`` seconds. Deltas over the crawl's clock give CPU seconds per role; the
samples give how busy each extraction process was and when the first and last pages were
extracted; the archive, read-only, gives when the first page was stored.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int, tid: int | None = None) -> float | None:
    """utime + stime of a process (or one of its threads) in seconds; None once it is gone."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    try:
        with open(path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def children_of(pid: int) -> list[int]:
    """Direct children, forked by any thread of ``pid``."""
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except FileNotFoundError:
        pass
    return out


class Probe:
    """Samples the CPU of a run's processes in a thread, from ``start()`` to ``stop()``."""

    def __init__(self, workers: list[int], redis: int | None, db: Path,
                 every: float = 0.05) -> None:
        self.roles: dict[int, str] = {redis: "redis-server"} if redis else {}
        for i, pid in enumerate(workers):
            self.roles[pid] = f"worker {i} loop"
        self.workers, self.db, self.every = workers, db, every
        self.samples: dict[int, list[tuple[float, float]]] = defaultdict(list)
        self.threads: dict[int, list[tuple[float, float]]] = defaultdict(list)
        self.first_stored: float | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="probe")
        self.bench_before = self._bench_cpu()

    def add(self, pid: int, role: str) -> None:
        self.roles[pid] = role

    def start(self) -> None:
        self.t0 = time.monotonic()
        self._sample(self.t0)
        self.thread.start()

    def stop(self) -> None:
        """Call before any process of the run exits (the coordinator: see ``coordinator``)."""
        self.t1 = time.monotonic()
        self.done.set()
        self.thread.join()
        self._sample(self.t1)
        self.bench_after = self._bench_cpu()

    def _bench_cpu(self) -> float:
        """This process's CPU but the probe's own thread: the test servers and the bench."""
        return (cpu_of(os.getpid()) or 0.0) - getattr(self, "probe_cpu", 0.0)

    def _sample(self, now: float) -> None:
        for i, worker in enumerate(self.workers):
            for child in children_of(worker):
                self.roles.setdefault(child, f"worker {i} extraction")
        for pid in list(self.roles):
            cpu = cpu_of(pid)
            if cpu is not None:
                self.samples[pid].append((now, cpu))
        for pid in self.workers:  # the event loop's own thread, without the pool's helpers
            cpu = cpu_of(pid, pid)
            if cpu is not None:
                self.threads[pid].append((now, cpu))

    def _run(self) -> None:
        self.probe_tid = threading.get_native_id()
        last_db = 0.0
        while not self.done.wait(self.every):
            now = time.monotonic()
            self._sample(now)
            if self.first_stored is None and now - last_db >= 0.1:
                last_db = now
                self.first_stored = self._stored_at(now)
        self.probe_cpu = cpu_of(os.getpid(), self.probe_tid) or 0.0  # gone once it ends

    def _stored_at(self, now: float) -> float | None:
        if not self.db.exists():
            return None
        try:
            conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=0.05)
            try:
                n = conn.execute("SELECT count(*) FROM versions").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error:
            return None
        return now if n else None

    def report(self, pages: int, coordinator_cpu: float | None) -> dict[str, Any]:
        """CPU seconds per role, extraction busy fractions, first/last page times."""
        wall = self.t1 - self.t0
        by_role: dict[str, float] = defaultdict(float)
        busy: list[dict[str, float]] = []
        for pid, samples in self.samples.items():
            role = self.roles[pid]
            # a process born during the run started at zero CPU
            base = samples[0][1] if samples[0][0] <= self.t0 else 0.0
            used = samples[-1][1] - base
            by_role[{"loop": "worker loops", "extraction": "extraction"}.get(
                role.split()[-1], role)] += used
            if role.endswith("extraction"):
                active = [t for (t, c), (_, c0) in zip(samples[1:], samples) if c > c0]
                busy.append({"pid": pid, "cpu": used, "busy": used / wall,
                             "first": (active[0] - self.t0) if active else wall,
                             "last": (active[-1] - self.t0) if active else 0.0})
        for samples in self.threads.values():
            by_role["of which loop threads"] += samples[-1][1] - samples[0][1]
        if coordinator_cpu is not None:
            by_role["coordinator"] = coordinator_cpu
        by_role["test servers + bench"] = self.bench_after - self.bench_before
        first_page = min((b["first"] for b in busy), default=wall)
        last_page = max((b["last"] for b in busy), default=wall)
        total = sum(v for k, v in by_role.items() if not k.startswith("of which"))
        return {
            "wall": wall, "pages": pages, "cpu_by_role": dict(by_role), "cpu_total": total,
            "machine_busy": total / (wall * (os.cpu_count() or 1)),
            "extraction": busy, "first_extraction": first_page,
            "first_stored": (self.first_stored - self.t0) if self.first_stored else None,
            "tail": wall - last_page, "timeline": self._timeline(),
        }

    def _timeline(self) -> list[float]:
        """Cores used by the extraction processes, per second of the run."""
        seconds = int(self.t1 - self.t0) + 1
        cores = [0.0] * seconds
        for pid, samples in self.samples.items():
            if not self.roles[pid].endswith("extraction"):
                continue
            for (_, c0), (t1, c1) in itertools.pairwise(samples):
                cores[min(seconds - 1, int(t1 - self.t0))] += c1 - c0
        return [round(c, 1) for c in cores]


def markdown(name: str, r: dict[str, Any]) -> list[str]:
    """A run's profile as report lines."""
    pages = max(1, r["pages"])
    roles = sorted(r["cpu_by_role"].items(), key=lambda kv: -kv[1])
    lines = [f"{name}: {r['wall']:.1f} s wall, {r['cpu_total']:.1f} CPU s "
             f"({r['machine_busy']:.0%} of the machine); CPU ms per page: "
             + ", ".join(f"{role} {cpu * 1000 / pages:.1f}" for role, cpu in roles)]
    first = f"{r['first_stored']:.2f} s" if r["first_stored"] is not None else "-"
    if not r["extraction"]:  # extracted in the worker's loop (--processes 0)
        lines.append(f"{name}: first stored page ~{first}")
        return lines
    lines.append(f"{name}: first extraction at {r['first_extraction']:.2f} s, first stored "
                 f"page ~{first}, tail after the last extraction {r['tail']:.2f} s; "
                 "extraction processes busy " + ", ".join(
                     f"{b['busy']:.0%} ({b['cpu']:.1f} s, {b['first']:.1f}–{b['last']:.1f} s)"
                     for b in r["extraction"]))
    if len(r["timeline"]) <= 40:  # a long run's would not fit a line
        lines.append(f"{name}: extraction cores per second: "
                     + " ".join(f"{c:.1f}" for c in r["timeline"]))
    return lines
