"""What a probe's answer, or its failure, means for the version."""

from __future__ import annotations

import json

from foundry_operator.foundry.probe import classify_error, judge, log_lines


def test_an_answer_containing_the_expected_text_passes() -> None:
    assert judge("pong from agent", "pong").passed
    assert judge("anything", None).passed


def test_a_wrong_or_empty_answer_fails_and_says_what_came_back() -> None:
    wrong = judge("hello", "pong")
    assert (wrong.passed, wrong.reason) == (False, "ProbeFailed")
    assert "'pong'" in wrong.message and "'hello'" in wrong.message
    assert judge("  ", None).reason == "ProbeFailed"


def test_424_and_5xx_mean_the_container_is_not_serving() -> None:
    assert classify_error(424, "session_not_ready").reason == "AgentNotResponding"
    assert classify_error(503, "busy").reason == "AgentNotResponding"
    assert classify_error(None, "connection reset").reason == "AgentNotResponding"
    assert classify_error(400, "agent_version_failed").reason == "ProbeFailed"


def test_the_last_log_lines_come_from_the_sse_frames() -> None:
    frames = [
        b"event: log\ndata: "
        + json.dumps({"stream": "stderr", "message": f"line {n}"}).encode()
        + b"\n\n"
        for n in range(30)
    ]
    frames.append(b"event: log\ndata: not json\n\n")
    lines = log_lines(frames, limit=3)
    assert lines == ("line 28", "line 29", "not json")
