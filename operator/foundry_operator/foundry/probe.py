"""Ask one agent version a question through the Responses protocol, the way its callers do.

The probe goes where a client would: the agent's OpenAI-compatible endpoint, with the
``openai`` client the SDK hands out (``get_openai_client(agent_name=...)``: the same base URL,
``api-version`` and bearer token a user's client has). It reaches a *specific* version
without touching the traffic split through a session pinned to that version
(``create_session`` with a ``version_ref``), which the SDK supports on GA; a header to
override the version per request is not documented by the service, so it is not used.
When the version does not answer, the last lines of its container log (the session's log
stream) come back with the result, so a person sees why without opening the portal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

from azure.ai.projects.aio import AIProjectClient
from azure.ai.projects.models import VersionRefIndicator

# How long the log stream is read for the last lines (the stream never ends on its own).
LOG_READ_SECONDS: Final = 3.0
LOG_LINES: Final = 20
ANSWER_EXCERPT: Final = 300


@dataclass(frozen=True)
class ProbeResult:
    passed: bool
    # ProbeFailed (a wrong or empty answer, a client error) or AgentNotResponding (424/5xx,
    # a timeout: the container is not serving)
    reason: str = ""
    message: str = ""
    answer: str = ""
    logs: tuple[str, ...] = field(default=())


def judge(answer: str, expect: str | None) -> ProbeResult:
    """Pure: whether an answer passes."""
    excerpt = answer[:ANSWER_EXCERPT]
    if not answer.strip():
        return ProbeResult(False, "ProbeFailed", "the agent answered with no text", answer)
    if expect and expect not in answer:
        return ProbeResult(
            False,
            "ProbeFailed",
            f"the answer does not contain {expect!r}: {excerpt!r}",
            answer,
        )
    return ProbeResult(True, message=f"answered: {excerpt!r}", answer=answer)


def classify_error(status: int | None, text: str) -> ProbeResult:
    """Pure: what a failed request means for the version."""
    if status is None or status == 424 or status >= 500 or status == 408:
        what = f"HTTP {status}" if status else "no answer"
        return ProbeResult(False, "AgentNotResponding", f"{what}: {text}"[:1024])
    return ProbeResult(False, "ProbeFailed", f"HTTP {status}: {text}"[:1024])


def log_lines(chunks: list[bytes], limit: int = LOG_LINES) -> tuple[str, ...]:
    """Pure: the messages of the last ``limit`` SSE ``log`` frames."""
    lines: list[str] = []
    for raw in b"".join(chunks).decode("utf-8", errors="replace").splitlines():
        if not raw.startswith("data:"):
            continue
        data = raw[5:].strip()
        try:
            doc = json.loads(data)
            message = str(doc.get("message", data)) if isinstance(doc, dict) else data
        except ValueError:
            message = data  # the format is not contractual: keep the text
        lines.append(message)
    return tuple(lines[-limit:])


async def _read_for(stream: AsyncIterator[bytes], seconds: float) -> list[bytes]:
    chunks: list[bytes] = []
    deadline = time.monotonic() + seconds

    async def collect() -> None:
        async for chunk in stream:
            chunks.append(chunk)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(collect(), timeout=max(0.1, deadline - time.monotonic()))
    return chunks


def _status_of(exc: BaseException) -> int | None:
    for attr in ("status_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def _text_of(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    return str(message or exc)[:1024]


async def probe_version(
    project: AIProjectClient,
    agent: str,
    version: str,
    *,
    prompt: str,
    expect: str | None,
    seconds: float,
) -> ProbeResult:
    """One question to ``version`` of ``agent``; never raises for what the agent does."""
    session_id: str | None = None
    result: ProbeResult
    try:
        session = await asyncio.wait_for(
            project.agents.create_session(
                agent, version_indicator=VersionRefIndicator(agent_version=version)
            ),
            timeout=seconds,
        )
        session_id = str(session.agent_session_id)
        client = project.get_openai_client(agent_name=agent)
        try:
            response: Any = await asyncio.wait_for(
                client.responses.create(input=prompt, extra_body={"agent_session_id": session_id}),
                timeout=seconds,
            )
        finally:
            await client.close()
        result = judge(str(getattr(response, "output_text", "") or ""), expect)
    except TimeoutError:
        result = ProbeResult(False, "AgentNotResponding", f"no answer within {seconds:.0f}s")
    except Exception as exc:  # the agent's failure is the probe's result, not ours
        result = classify_error(_status_of(exc), _text_of(exc))
    if not result.passed and session_id is not None:
        try:
            stream = await project.agents.get_session_log_stream(agent, version, session_id)
            logs = log_lines(await _read_for(stream, LOG_READ_SECONDS))  # type: ignore[arg-type]
            result = ProbeResult(result.passed, result.reason, result.message, result.answer, logs)
        except Exception:  # the log stream is a help, not a requirement
            pass
    if session_id is not None:
        # Sessions expire on their own: a leftover costs nothing.
        with contextlib.suppress(Exception):
            await project.agents.delete_session(agent, session_id)
    return result
