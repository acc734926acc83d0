"""`aicore local` on a port that is taken: one clear line, exit code 1, nothing started."""

from __future__ import annotations

import socket
import threading

import pytest

from aicore.local import cli


@pytest.mark.parametrize("flag", ["--port", "--model-port"])
def test_a_busy_port_is_one_line_before_anything_starts(
    flag: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Threads of other tests' servers come and go; only those this call starts count.
    started: list[threading.Thread] = []
    start = threading.Thread.start
    this_test = threading.current_thread()

    def recording_start(thread: threading.Thread) -> None:
        if threading.current_thread() is this_test:
            started.append(thread)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", recording_start)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        arguments = ["local", flag, str(port)] + (["--port", "0"] if flag == "--model-port" else [])

        assert cli.main(arguments) == 1

    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert f"Port {port} on 127.0.0.1 is in use" in error
    assert f"({flag.replace('--', 'aicore local --')} N)" in error
    assert "Traceback" not in error
    assert [thread.name for thread in started if thread.is_alive()] == []
