"""The agent directory's promises, against a scripted Foundry: many new names share one
listing, a listing answers only questions asked before it started, anything it cannot rule
out takes the usual GET, and failures reach every caller as the client's FoundryError."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from foundry_operator.foundry.client import AgentNamesPage, FoundryError
from foundry_operator.foundry.directory import AgentDirectory
from foundry_operator.reconcile.observed import AgentInfo

T = TypeVar("T")
PAGE = 100


class Gate:
    """A point a call stops at until the test opens it (open unless closed)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._event.set()

    def close(self) -> None:
        self._event.clear()

    def open(self) -> None:
        self._event.set()

    async def passed(self) -> None:
        await self._event.wait()


class ScriptedFoundry:
    """Agents in creation order; a listing page is read when its request leaves."""

    def __init__(self, agents: list[str] | None = None) -> None:
        self.agents = list(agents or [])
        self.calls: list[tuple[str, str | None]] = []
        self.slot = {"get": Gate(), "list": Gate()}  # waiting for a free Foundry slot
        self.answer = {"get": Gate(), "list": Gate()}  # the request is out, no answer yet
        self.list_error: FoundryError | None = None
        self.unnamed = 0

    async def get_agent(self, agent: str) -> AgentInfo | None:
        await self.slot["get"].passed()
        self.calls.append(("get", agent))
        exists = agent in self.agents
        await self.answer["get"].passed()
        return AgentInfo(name=agent) if exists else None

    async def list_agent_names(
        self, after: str | None = None, *, sending: Callable[[], None] | None = None
    ) -> AgentNamesPage:
        await self.slot["list"].passed()
        if sending is not None:
            sending()
        self.calls.append(("list", after))
        start = self.agents.index(after) + 1 if after is not None else 0
        page = tuple(self.agents[start : start + PAGE])
        more = start + PAGE < len(self.agents)
        await self.answer["list"].passed()
        if self.list_error is not None:
            raise self.list_error
        return AgentNamesPage(page, self.unnamed, page[-1] if more else None)

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls]


async def until(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until ``condition`` holds (a bounded number of turns)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=10))


def ask(directory: AgentDirectory, *names: str) -> list[asyncio.Task[AgentInfo | None]]:
    return [asyncio.create_task(directory.get_agent(n)) for n in names]


async def busy_round(directory: AgentDirectory, foundry: ScriptedFoundry) -> asyncio.Task[Any]:
    """A first question whose GET is in flight: what others ask now waits for a round."""
    foundry.answer["get"].close()
    (first,) = ask(directory, "first")
    await until(lambda: ("get", "first") in foundry.calls)
    return first


async def gather(tasks: list[asyncio.Task[T]]) -> list[T]:
    return list(await asyncio.gather(*tasks))


def test_a_new_name_asked_alone_costs_the_get_it_always_did() -> None:
    async def scenario() -> None:
        foundry = ScriptedFoundry(["other"])
        directory = AgentDirectory(foundry)
        assert await directory.get_agent("mine") is None
        assert await directory.get_agent("other") == AgentInfo(name="other")
        assert foundry.calls == [("get", "mine"), ("get", "other")]

    run(scenario)


def test_names_asked_during_a_round_share_one_listing_and_absent_is_a_404() -> None:
    async def scenario() -> None:
        foundry = ScriptedFoundry(["someone-else"])
        directory = AgentDirectory(foundry)
        first = await busy_round(directory, foundry)
        later = ask(directory, "a", "b", "c", "d", "e")
        await until(lambda: len(directory._waiting) == 5)
        foundry.answer["get"].open()
        assert await first is None
        assert await gather(later) == [None] * 5  # what get_agent says of a 404
        assert foundry.calls == [("get", "first"), ("list", None)]

    run(scenario)


def test_a_listed_name_takes_the_usual_get_so_ownership_is_judged_as_before() -> None:
    async def scenario() -> None:
        foundry = ScriptedFoundry(["taken"])
        directory = AgentDirectory(foundry)
        first = await busy_round(directory, foundry)
        later = ask(directory, "a", "b", "c", "taken")
        await until(lambda: len(directory._waiting) == 4)
        foundry.answer["get"].open()
        await first
        assert await gather(later) == [None, None, None, AgentInfo(name="taken")]
        assert foundry.calls == [("get", "first"), ("list", None), ("get", "taken")]

    run(scenario)


def test_a_listing_never_answers_a_question_asked_after_it_started() -> None:
    async def scenario() -> None:
        foundry = ScriptedFoundry()
        directory = AgentDirectory(foundry)
        first = await busy_round(directory, foundry)
        batch = ask(directory, "a", "b", "c", "d")
        await until(lambda: len(directory._waiting) == 4)
        foundry.answer["list"].close()
        foundry.answer["get"].open()
        await first
        await until(lambda: ("list", None) in foundry.calls)  # its page is already read
        (late,) = ask(directory, "late")
        foundry.agents.append("late")  # created elsewhere after the page was read
        foundry.answer["list"].open()
        assert await gather(batch) == [None] * 4
        # The listing did not see "late", but it had started before the question: no answer.
        assert await late == AgentInfo(name="late")
        assert foundry.calls[-1] == ("get", "late")

    run(scenario)


def test_questions_asked_while_the_listing_waits_for_a_slot_join_it() -> None:
    async def scenario() -> None:
        foundry = ScriptedFoundry()
        directory = AgentDirectory(foundry)
        first = await busy_round(directory, foundry)
        batch = ask(directory, "a", "b", "c", "d")
        await until(lambda: len(directory._waiting) == 4)
        foundry.slot["list"].close()
        foundry.answer["get"].open()
        await first
        await until(lambda: directory._waiting == [])  # the round took them
        joiner = ask(directory, "e", "f")
        await until(lambda: len(directory._waiting) == 2)
        foundry.slot["list"].open()
        assert await gather(batch + joiner) == [None] * 6
        assert foundry.calls == [("get", "first"), ("list", None)]

    run(scenario)


def test_a_failed_listing_fails_each_waiting_question_with_the_clients_error() -> None:
    async def scenario() -> None:
        foundry = ScriptedFoundry()
        foundry.list_error = FoundryError("list_agents", 503, "busy", "try later", 2.0)
        directory = AgentDirectory(foundry)
        first = await busy_round(directory, foundry)
        later = ask(directory, "a", "b", "c", "d")
        await until(lambda: len(directory._waiting) == 4)
        foundry.answer["get"].open()
        await first
        errors = await asyncio.gather(*later, return_exceptions=True)
        assert all(e == foundry.list_error for e in errors), errors
        assert len({id(e) for e in errors}) == 4  # one copy per caller
        # The directory is not wedged: the next question is answered.
        foundry.list_error = None
        assert await directory.get_agent("g") is None

    run(scenario)


def test_a_big_project_is_not_listed_past_the_gets_it_replaces() -> None:
    async def scenario() -> None:
        foundry = ScriptedFoundry([f"foreign-{i}" for i in range(1000)])
        directory = AgentDirectory(foundry)
        first = await busy_round(directory, foundry)
        later = ask(directory, "a", "b", "c", "d")
        await until(lambda: len(directory._waiting) == 4)
        foundry.answer["get"].open()
        await first
        assert await gather(later) == [None] * 4
        assert foundry.ops() == ["get"] + ["list"] * 4 + ["get"] * 4
        # It learnt the project is bigger than four pages: four new names now get GETs.
        foundry.calls.clear()
        first = await busy_round(directory, foundry)
        later = ask(directory, "e", "f", "g", "h")
        await until(lambda: len(directory._waiting) == 4)
        foundry.answer["get"].open()
        await first
        assert await gather(later) == [None] * 4
        assert foundry.ops() == ["get"] * 5

    run(scenario)


def test_a_listing_stops_once_every_asked_name_is_listed() -> None:
    async def scenario() -> None:
        names = ["a", "b", "c", "d"]
        foundry = ScriptedFoundry(names + [f"x{i}" for i in range(300)])
        directory = AgentDirectory(foundry)
        first = await busy_round(directory, foundry)
        later = ask(directory, *names)
        await until(lambda: len(directory._waiting) == 4)
        foundry.answer["get"].open()
        await first
        assert await gather(later) == [AgentInfo(name=n) for n in names]
        assert foundry.ops() == ["get", "list"] + ["get"] * 4

    run(scenario)


def test_an_entry_without_a_name_leaves_every_name_to_its_get() -> None:
    async def scenario() -> None:
        foundry = ScriptedFoundry()
        foundry.unnamed = 1
        directory = AgentDirectory(foundry)
        first = await busy_round(directory, foundry)
        later = ask(directory, "a", "b", "c", "d")
        await until(lambda: len(directory._waiting) == 4)
        foundry.answer["get"].open()
        await first
        assert await gather(later) == [None] * 4
        assert foundry.ops() == ["get", "list"] + ["get"] * 4

    run(scenario)


def test_a_cancelled_question_holds_up_no_one() -> None:
    async def scenario() -> None:
        foundry = ScriptedFoundry()
        directory = AgentDirectory(foundry)
        first = await busy_round(directory, foundry)
        gone, *rest = ask(directory, "gone", "a", "b", "c", "d")
        await until(lambda: len(directory._waiting) == 5)
        gone.cancel()
        foundry.answer["get"].open()
        await first
        assert await gather(rest) == [None] * 4
        with pytest.raises(asyncio.CancelledError):
            await gone

    run(scenario)


def test_a_bug_in_a_round_reaches_the_callers_instead_of_hanging_them() -> None:
    async def scenario() -> None:
        foundry = ScriptedFoundry()

        async def broken(agent: str) -> AgentInfo | None:
            raise RuntimeError("boom")

        foundry.get_agent = broken  # type: ignore[method-assign]
        directory = AgentDirectory(foundry)
        with pytest.raises(RuntimeError, match="boom"):
            await directory.get_agent("a")

    run(scenario)
