"""The OpenAI Responses protocol as a hosted agent serves it: a deterministic echo.

Only the shape matters here: the ``openai`` client must parse the JSON response and the
streaming events (``response.created`` ... ``response.completed``) into its own models. The
text names the agent and version that answered, so tests can check traffic routing.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from .errors import invalid


def input_text(body: dict[str, Any]) -> str:
    """The text of the last user turn in ``input`` (a string or a list of input items)."""
    value = body.get("input")
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise invalid("'input' must be a string or a list of input items.", param="input")
    for item in reversed(value):
        if isinstance(item, dict) and item.get("role", "user") == "user":
            text = _content_text(item.get("content"))
            if text is not None:
                return text
    return ""


def _content_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") in ("input_text", "text")
        ]
        return "".join(parts) if parts else None
    return None


def reply_text(agent: str, version: str, prompt: str) -> str:
    return f"[{agent} v{version}] echo: {prompt}"


def build_response(
    *,
    agent: str,
    version: str,
    body: dict[str, Any],
    session_id: str | None,
) -> dict[str, Any]:
    prompt = input_text(body)
    answer = reply_text(agent, version, prompt)
    now = int(time.time())
    input_tokens = max(1, len(prompt.split()))
    output_tokens = len(answer.split())
    response: dict[str, Any] = {
        "id": f"resp_{secrets.token_hex(12)}",
        "object": "response",
        "created_at": now,
        "status": "completed",
        "completed_at": now,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body.get("model") or agent,
        "output": [_message(answer, f"msg_{secrets.token_hex(12)}")],
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "temperature": body.get("temperature"),
        "tool_choice": "auto",
        "tools": [],
        "top_p": body.get("top_p"),
        "truncation": "disabled",
        "metadata": body.get("metadata") or {},
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        },
        # Foundry extras: which session and which version answered.
        "agent_session_id": session_id,
        "agent_reference": {"type": "agent_reference", "name": agent, "version": version},
    }
    return response


def _message(text: str, item_id: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def stream_events(final: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The event sequence the Responses API streams for one text message, ending in
    ``response.completed`` carrying ``final``."""
    message = final["output"][0]
    text: str = message["content"][0]["text"]
    item_id: str = message["id"]
    in_progress = {
        **final,
        "status": "in_progress",
        "output": [],
        "completed_at": None,
        "usage": None,
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": in_progress}),
        ("response.in_progress", {"response": in_progress}),
        (
            "response.output_item.added",
            {"output_index": 0, "item": {**message, "status": "in_progress", "content": []}},
        ),
        (
            "response.content_part.added",
            {
                "output_index": 0,
                "item_id": item_id,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
            },
        ),
    ]
    for chunk in _chunks(text):
        events.append(
            (
                "response.output_text.delta",
                {
                    "output_index": 0,
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": chunk,
                    "logprobs": [],
                },
            )
        )
    events += [
        (
            "response.output_text.done",
            {
                "output_index": 0,
                "item_id": item_id,
                "content_index": 0,
                "text": text,
                "logprobs": [],
            },
        ),
        (
            "response.content_part.done",
            {
                "output_index": 0,
                "item_id": item_id,
                "content_index": 0,
                "part": message["content"][0],
            },
        ),
        ("response.output_item.done", {"output_index": 0, "item": message}),
        ("response.completed", {"response": final}),
    ]
    return events


def encode_sse(events: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
    frames = []
    for sequence, (kind, data) in enumerate(events):
        payload = {"type": kind, "sequence_number": sequence, **data}
        frames.append(f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode())
    return frames


def _chunks(text: str) -> list[str]:
    """Word-sized deltas that concatenate back to ``text`` exactly."""
    pieces: list[str] = []
    current = ""
    for char in text:
        current += char
        if char == " ":
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces or [""]
