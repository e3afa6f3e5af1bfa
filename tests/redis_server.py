"""A throwaway redis-server for tests: a Unix socket in a temporary folder, persistence off.

    >>> with RedisServer(tmp_path) as redis:
    ...     redis.url        # "unix:///tmp/.../redis.sock?db=0"
    ...     redis.stop()     # SIGTERM by PID (a test may stop it mid-run), idempotent

Started by construction: ``start`` returns once PING answers (bounded), never after a sleep
of a guessed length. Tests skip with a clear reason when redis-server is not installed
(.ci/run installs Debian's package, so CI always has it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

import pytest

START_FAILSAFE = 20.0  # seconds; redis-server starts in milliseconds


def redis_server_or_skip() -> str:
    """The path of redis-server, or skip the test saying how to get it."""
    path = shutil.which("redis-server")
    if path is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; "
                    ".ci/run installs it)")
    return path


class RedisServer:
    """redis-server on ``folder/redis.sock``, no TCP port, nothing written to disk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket = folder / "redis.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def start(self) -> Self:
        binary = redis_server_or_skip()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder),
             "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        failsafe = time.monotonic() + START_FAILSAFE
        while not self.ping():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see "
                                   f"{self.folder / 'redis.log'}")
            if time.monotonic() > failsafe:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING in {START_FAILSAFE:g} s")
            time.sleep(0.01)  # polling a condition, not waiting a guessed time
        return self

    def ping(self) -> bool:
        """True when the server answers PING on its socket."""
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(1)
                sock.connect(str(self.socket))
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server by its PID and wait for it to exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
