"""The failed-key throttle's arithmetic, on a clock the test moves: when a source is
blocked, for how long, and how many of its keys are checked once a block has passed."""

from __future__ import annotations

from qmoi.api.throttle import FREE, MAX_BLOCK_S, WINDOW_S, AuthThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_free_failures_then_blocks_that_double_up_to_the_cap() -> None:
    clock = Clock()
    throttle = AuthThrottle(clock=clock)
    for _ in range(FREE - 1):
        assert throttle.admit("10.0.0.9") is None
        assert throttle.failed("10.0.0.9") is None
    blocks = []
    for _ in range(2000):  # an attacker who keeps trying, as soon as each block ends
        assert throttle.admit("10.0.0.9") is None
        blocks.append(throttle.failed("10.0.0.9"))
        assert throttle.admit("10.0.0.9") == blocks[-1]
        clock.now += blocks[-1] or 0
    assert blocks[:7] == [1, 2, 4, 8, 16, 32, int(MAX_BLOCK_S)]
    assert set(blocks[6:]) == {int(MAX_BLOCK_S)}  # one guess a minute, for ever
    assert throttle.admit("10.0.0.10") is None  # another source: nothing recorded


def test_once_a_block_has_passed_a_burst_gets_one_attempt_checked() -> None:
    clock = Clock()
    throttle = AuthThrottle(clock=clock)
    for _ in range(FREE):
        throttle.admit("10.0.0.9")
        throttle.failed("10.0.0.9")
    clock.now += 1
    answers = [throttle.admit("10.0.0.9") for _ in range(50)]  # sent together
    assert answers[0] is None
    assert all(wait is not None and wait >= 1 for wait in answers[1:])
    throttle.succeeded("10.0.0.9")  # that one was the right key: the next is checked
    assert throttle.admit("10.0.0.9") is None


def test_a_quiet_window_forgives_a_source() -> None:
    clock = Clock()
    throttle = AuthThrottle(clock=clock)
    for _ in range(FREE - 1):
        throttle.failed("10.0.0.9")
        clock.now += WINDOW_S  # each within the window of the one before: still counted
    assert throttle.failed("10.0.0.9") == 1
    clock.now += WINDOW_S + 1
    assert throttle.admit("10.0.0.9") is None
    assert throttle.failed("10.0.0.9") is None  # the first of five new free failures
