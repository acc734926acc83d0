"""The `aicore` command line: strict flags, help on every flag, --version, doctor's own flags."""

from __future__ import annotations

import argparse

import pytest

from aicore.auth import Role
from aicore.local import cli
from aicore.local.budget import DEADLINE_SCALE_VARIABLE
from aicore.local.runtime import local_issuer


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    return int(exited.value.code or 0)


def test_an_unknown_flag_is_refused_with_usage_and_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["local", "--whatever"]) == 2

    error = capsys.readouterr().err
    assert "usage: aicore" in error
    assert "unrecognized arguments: --whatever" in error


@pytest.mark.parametrize(
    "argv",
    [
        ["local", "--port", "eighty"],
        ["local", "--port", "70000"],
        ["local", "--log-level", "LOUD"],
        ["local", "--deadline-scale", "0"],
        ["local", "--deadline-scale", "5000"],
        ["token"],
        [],
    ],
)
def test_bad_values_are_refused_with_exit_code_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["--version"]) == 0
    assert capsys.readouterr().out.startswith("aicore ")


def test_every_flag_of_every_command_has_help() -> None:
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        if name == "doctor":  # its own parser: aicore.local.doctor
            continue
        for action in command._actions:
            assert action.help, f"aicore {name} {action.option_strings or action.dest} has no help"


def test_doctor_keeps_its_own_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[list[str]] = []

    def doctor(argv: list[str]) -> int:
        received.append(argv)
        return 0

    monkeypatch.setattr("aicore.local.doctor.main", doctor)

    assert cli.main(["doctor", "--env", "prod", "--region", "eu-west-1"]) == 0
    assert received == [["--env", "prod", "--region", "eu-west-1"]]


def test_the_deadline_scale_comes_from_the_flag_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[float] = []

    def run_local(args: argparse.Namespace) -> int:
        started.append(args.deadline_scale)
        return 0

    monkeypatch.setattr(cli, "run_local", run_local)

    monkeypatch.delenv(DEADLINE_SCALE_VARIABLE, raising=False)
    cli.main(["local"])
    monkeypatch.setenv(DEADLINE_SCALE_VARIABLE, "300")
    cli.main(["local"])
    cli.main(["local", "--deadline-scale", "50"])

    assert started == [100.0, 300.0, 50.0]


def test_a_bad_deadline_scale_in_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(DEADLINE_SCALE_VARIABLE, "fast")

    assert _exit_code(["local"]) == 2
    assert DEADLINE_SCALE_VARIABLE in capsys.readouterr().err


def test_token_prints_a_token_for_the_player(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["token", "--player", "ana", "--role", "studio"]) == 0

    caller = local_issuer().verify(capsys.readouterr().out.strip())
    assert (caller.subject, caller.world_id, caller.roles) == ("ana", "demo", (Role.STUDIO,))
