"""`aicore local` on a port that is taken: one clear line, exit code 1, nothing started."""

from __future__ import annotations

import socket
import threading

import pytest

from aicore.local import cli


@pytest.mark.parametrize("flag", ["--port", "--model-port"])
def test_a_busy_port_is_one_line_before_anything_starts(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    threads_before = {thread.name for thread in threading.enumerate()}
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        arguments = ["local", flag, str(port)] + (["--port", "0"] if flag == "--model-port" else [])

        assert cli.main(arguments) == 1

    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert f"Port {port} on 127.0.0.1 is in use" in error
    assert f"({flag.replace('--', 'aicore local --')} N)" in error
    assert "Traceback" not in error
    assert {thread.name for thread in threading.enumerate()} <= threads_before
