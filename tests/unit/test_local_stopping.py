"""Stopping `aicore local`: a stop signal wakes the main thread whichever thread the kernel gives it to."""

from __future__ import annotations

import signal
import threading

import pytest

from aicore.local.stopping import Deadline, StopSignals, join_threads

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals only")


def test_a_sigterm_delivered_to_another_thread_still_wakes_the_main_thread() -> None:
    with StopSignals(wake_every_s=0.05) as signals:

        def deliver_to_this_thread_once_main_waits() -> None:
            assert signals.waiting.wait(60)
            signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

        # Given the main thread waiting for a stop signal
        other = threading.Thread(target=deliver_to_this_thread_once_main_waits)
        other.start()

        # When SIGTERM is delivered to another thread (as the kernel may do under load), then the
        # main thread's wait still returns it: an untimed wait would never wake up
        assert signals.wait(timeout_s=60) == signal.SIGTERM
        other.join()


def test_threads_started_while_blocked_never_take_a_stop_signal() -> None:
    masks: list[set[int]] = []

    def record_mask() -> None:
        masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))

    with StopSignals() as signals:
        with signals.blocked():
            worker = threading.Thread(target=record_mask)
            worker.start()
        worker.join()
        main_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])

    assert {signal.SIGINT, signal.SIGTERM} <= masks[0]
    assert not {signal.SIGINT, signal.SIGTERM} & main_mask  # the main thread takes them again


def test_a_signal_that_arrives_while_blocked_is_handled_when_the_block_ends() -> None:
    with StopSignals() as signals:
        with signals.blocked():
            signal.raise_signal(signal.SIGTERM)
            assert signals.count == 0
        assert signals.wait(timeout_s=60) == signal.SIGTERM


def test_a_second_signal_calls_on_repeat() -> None:
    repeats: list[int] = []
    with StopSignals(on_repeat=repeats.append) as signals:
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGTERM)
        assert signals.wait(timeout_s=60) == signal.SIGINT

    assert repeats == [signal.SIGTERM]


def test_the_previous_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with StopSignals():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_wait_gives_up_after_its_timeout() -> None:
    with StopSignals(wake_every_s=0.01) as signals:
        assert signals.wait(timeout_s=0.0) is None


def test_a_deadline_shares_one_bound_and_leaves_late_steps_a_slice() -> None:
    now = [100.0]
    deadline = Deadline.after(10, clock=lambda: now[0])

    assert deadline.left() == 10
    now[0] = 108.0
    assert deadline.left() == 2
    now[0] = 200.0
    assert deadline.passed
    assert deadline.left(minimum=0.5) == 0.5


def test_join_threads_names_those_still_running_at_the_deadline() -> None:
    release = threading.Event()
    busy = threading.Thread(target=release.wait, name="busy-handler", daemon=True)
    done = threading.Thread(target=lambda: None, name="done")
    busy.start()
    done.start()

    late = join_threads([busy, done], Deadline.after(0.0))

    release.set()
    assert late == ["busy-handler"]
