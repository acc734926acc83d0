"""`aicore local` as a child process: started, read until ready, stopped, and never leaked.

The process runs in its own session (process group). Stopping sends SIGTERM and waits a bound;
past it the whole group is killed and the test fails, so a hung stop shows as a failure, not as
a process left running after the test run.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from aicore.local.embedded_aws import free_port

READY_TIMEOUT_S = 120
STOP_BOUND_S = 60  # generous: `aicore local` stops within 20 s even with handlers busy
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LocalProcess:
    """`python -m aicore.local.cli local ...`, or `python -c PRELUDE` that ends by calling it."""

    extra_args: Sequence[str] = ()
    prelude: str | None = None  # Python run first in the child (e.g. busy threads), then the CLI
    environment: Mapping[str, str] = field(default_factory=dict)  # the child's, over ours
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    banner: str = ""
    _output: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _ended: threading.Event = field(default_factory=threading.Event)  # its output ended (it is exiting)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        found = re.search(r"^\s*token\s+(\S+)", self.banner, re.MULTILINE)
        assert found, self.banner
        return found.group(1)

    @property
    def models_url(self) -> str:
        found = re.search(r"^\s*models\s+(\S+)", self.banner, re.MULTILINE)
        assert found, self.banner
        return found.group(1)

    def ws(self, token: str | None = None) -> str:
        return f"ws://127.0.0.1:{self.port}/ws?token={token or self.token}"

    @property
    def output(self) -> str:
        return "".join(self._output)

    def start(self) -> LocalProcess:
        arguments = ["local", "--port", str(self.port), *self.extra_args]
        if self.prelude is None:
            command = [sys.executable, "-m", "aicore.local.cli", *arguments]
        else:
            cli = f"import sys\nfrom aicore.local.cli import main\nsys.exit(main({arguments!r}))"
            program = f"{self.prelude}\n{cli}"
            command = [sys.executable, "-c", program]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **self.environment},
            cwd=REPO_ROOT,
            start_new_session=True,  # its own process group: killed whole if it hangs
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(READY_TIMEOUT_S) or self._ended.is_set() or self.process.poll() is not None:
            self.kill()
            raise AssertionError("aicore local did not become ready:\n" + self.output)
        self.banner = self.output
        return self

    def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._output.append(line)
            if line.startswith("Ctrl-C"):
                self._ready.set()
        # Ended before it was ready: start() sees that (its exit may come a moment after its output ends).
        self._ended.set()
        self._ready.set()

    def stop(self, sig: signal.Signals = signal.SIGTERM, bound_s: float = STOP_BOUND_S) -> float:
        """Send `sig` and wait at most `bound_s`: the seconds it took. Past the bound: killed, and fails."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=bound_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"aicore local did not stop within {bound_s} s of {sig.name}; killed.\n" + self.output
            ) from None
        finally:
            self._kill_group()
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL the whole process group (a crash, or cleaning up after a hung stop)."""
        if self.process is None:
            return
        self._kill_group()
        self.process.wait(timeout=30)

    def _kill_group(self) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):  # nothing left
            os.killpg(self.process.pid, signal.SIGKILL)

    def __enter__(self) -> LocalProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
