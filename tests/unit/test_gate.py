"""The service's gate: questions side by side, a write alone and before new questions."""

from __future__ import annotations

import threading
import time

from assistant.server import Gate


def test_questions_hold_the_gate_side_by_side() -> None:
    gate = Gate()
    inside = threading.Barrier(3, timeout=5)

    def question() -> None:
        with gate.shared():
            inside.wait()  # all three are in at once, or the barrier times out

    threads = [threading.Thread(target=question) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert not inside.broken


def test_a_write_waits_for_questions_in_flight_and_holds_the_gate_alone() -> None:
    gate = Gate()
    events: list[str] = []
    in_question = threading.Event()
    release = threading.Event()

    def question() -> None:
        with gate.shared():
            in_question.set()
            release.wait(5)
            events.append("question done")

    def write() -> None:
        with gate.exclusive():
            events.append("write")

    q = threading.Thread(target=question)
    q.start()
    in_question.wait(5)
    w = threading.Thread(target=write)
    w.start()
    time.sleep(0.1)
    assert events == []  # the write waits for the question in flight
    release.set()
    q.join(5)
    w.join(5)
    assert events == ["question done", "write"]


def test_a_waiting_write_goes_before_new_questions() -> None:
    gate = Gate()
    order: list[str] = []
    first_in = threading.Event()
    release = threading.Event()

    def first() -> None:
        with gate.shared():
            first_in.set()
            release.wait(5)

    def write() -> None:
        with gate.exclusive():
            order.append("write")

    def later_question() -> None:
        with gate.shared():
            order.append("question")

    a = threading.Thread(target=first)
    a.start()
    first_in.wait(5)
    w = threading.Thread(target=write)
    w.start()
    time.sleep(0.1)
    b = threading.Thread(target=later_question)
    b.start()
    time.sleep(0.1)
    release.set()
    for t in (a, w, b):
        t.join(5)
    assert order == ["write", "question"]
