"""The agent directory: "does agent X exist?" for many new names at the cost of one listing.

Every brand-new HostedAgent first checks that its Foundry agent does not exist (the operator
never touches an agent it did not create). Asked one GET per name, a thousand new objects
cost a thousand calls that all answer 404. The directory answers them in groups instead:

* Questions are answered in *rounds*, one round at a time. A question asked while a round
  is under way waits for the next one, which takes every question waiting when it starts.
  The wait is what gathers a group: under a burst, many questions arrive during one round.
* A round lists every agent (pages of 100, one call each) when that costs no more calls
  than a GET per waiting question; otherwise it makes those GETs, as without a directory.
  Which one is :func:`directory_policy.choose`'s decision, from the size of the last listing.
* A listing answers only the questions asked before it started (the freshness rule of
  ``directory_policy``). A name it lacks is absent: exactly what a 404 says. A name it holds,
  or one it cannot vouch for, goes the usual way: the caller's own GET, then the plan, so
  ownership, conflicts and adoption are decided as they always were.
* A listing that would cost more pages than the GETs it replaces stops at that budget, and
  the names it could not rule out get their GETs in the same round: the worst case is
  bounded, and the size it learnt makes the next round choose GETs unless more questions
  wait.
* A failed call fails the questions that depended on it with the client's FoundryError, as
  a failed GET would.

The check-then-act window is the same as with a GET: an agent created by someone else after
the listing read its page is not seen, just as one created after the GET answered 404.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from ..reconcile.observed import AgentInfo
from . import directory_policy as policy
from .client import AgentNamesPage, FoundryError

log = logging.getLogger("foundry_operator.foundry.directory")


class AgentSource(Protocol):
    """The two calls the directory makes (FoundryClient has both)."""

    async def get_agent(self, agent: str) -> AgentInfo | None: ...

    async def list_agent_names(
        self, after: str | None = None, *, sending: Callable[[], None] | None = None
    ) -> AgentNamesPage: ...


@dataclass(frozen=True)
class _Known:
    """The directory's answer: what ``get_agent`` would return (None: no such agent)."""

    info: AgentInfo | None


# What a question's future holds: an answer, or None for "look it up yourself".
_Reply = _Known | None


@dataclass
class _Question:
    name: str
    asked: int
    reply: asyncio.Future[_Reply] = field(repr=False)

    @property
    def open(self) -> bool:
        return not self.reply.done()

    def answer(self, reply: _Reply) -> None:
        if self.open:
            self.reply.set_result(reply)

    def fail(self, exc: BaseException) -> None:
        if self.open:
            # A copy each: one exception object raised in many tasks would pile up their
            # tracebacks on one another.
            self.reply.set_exception(replace(exc) if isinstance(exc, FoundryError) else exc)


class AgentDirectory:
    """One per Foundry client. :meth:`get_agent` has the client's contract."""

    def __init__(self, source: AgentSource, *, min_batch: int = policy.MIN_BATCH) -> None:
        self._source = source
        self._min_batch = min_batch
        self._waiting: list[_Question] = []
        self._rounds: asyncio.Task[None] | None = None
        self._clock = 0
        self._last: policy.ListingSize | None = None

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    async def get_agent(self, agent: str) -> AgentInfo | None:
        """What ``FoundryClient.get_agent`` returns for ``agent``, for a name that most
        likely does not exist yet. Raises FoundryError as the client does."""
        question = _Question(agent, self._tick(), asyncio.get_running_loop().create_future())
        self._waiting.append(question)
        if self._rounds is None:
            self._rounds = asyncio.create_task(self._run(), name="agent-directory")
        reply = await question.reply
        if reply is None:
            # Listed, or not provably absent: the usual look, whose answer the plan reads.
            return await self._source.get_agent(agent)
        return reply.info

    async def _run(self) -> None:
        """Rounds back to back while questions wait; the task ends when none do."""
        batch: list[_Question] = []
        try:
            while True:
                batch = [q for q in self._waiting if q.open]
                self._waiting = []
                if not batch:
                    return
                way = policy.choose(len(batch), policy.expected_pages(self._last), self._min_batch)
                try:
                    if way is policy.Way.LIST:
                        await self._list(batch)
                    else:
                        await self._get(batch)
                except Exception as exc:  # a bug must not leave callers waiting forever
                    for question in batch:
                        question.fail(exc)
        except asyncio.CancelledError:
            for question in [*batch, *self._waiting]:
                question.reply.cancel()
            raise
        finally:
            self._rounds = None

    async def _get(self, batch: list[_Question]) -> None:
        async def one(question: _Question) -> None:
            try:
                question.answer(_Known(await self._source.get_agent(question.name)))
            except Exception as exc:
                question.fail(exc)

        await asyncio.gather(*(one(q) for q in batch))

    async def _list(self, batch: list[_Question]) -> None:
        # The listing starts when its first request leaves, not when the round chose it: that
        # request may wait for a free slot, and whoever asks until it leaves joins the round.
        started = self._tick()
        joinable = True
        budget = policy.page_budget(len(batch))

        def sending() -> None:
            nonlocal started, joinable, budget
            if not joinable:
                return  # a retry of the first page: the listing had already started
            joinable = False
            started = self._tick()
            batch.extend(q for q in self._waiting if q.open)
            self._waiting = []
            budget = policy.page_budget(len(batch))

        names: set[str] = set()
        seen = pages = 0
        unnamed = finished = False
        cursor: str | None = None
        try:
            while pages < budget:
                page = await self._source.list_agent_names(
                    cursor, sending=sending if pages == 0 else None
                )
                joinable = False
                if pages == 0:
                    assert all(policy.may_answer(q.asked, started) for q in batch)
                pages += 1
                seen += len(page.names)
                names.update(policy.normalized(n) for n in page.names)
                unnamed = unnamed or page.unnamed > 0
                cursor = page.after
                if cursor is None:
                    finished = True
                    break
                # A listed name takes the usual path whatever the other pages hold: let it go.
                listing = policy.Listing(frozenset(names), finished=False)
                for question in batch:
                    if policy.verdict(listing, question.name) is policy.Verdict.PRESENT:
                        question.answer(None)
                if not any(q.open for q in batch):
                    break
        except FoundryError as err:
            for question in batch:
                question.fail(err)
            return
        if finished:
            self._last = policy.size_after(seen, pages, finished=True)
        elif pages >= budget:
            self._last = policy.size_after(seen, pages, finished=False)
        listing = policy.Listing(frozenset(names), finished=finished, unnamed=unnamed)
        unsure: list[_Question] = []
        for question in batch:
            match policy.verdict(listing, question.name):
                case policy.Verdict.ABSENT:
                    question.answer(_Known(None))
                case policy.Verdict.PRESENT:
                    question.answer(None)
                case policy.Verdict.UNKNOWN:
                    unsure.append(question)
        log.debug(
            "listed %d agents in %d page(s) for %d new name(s); %d left to GET",
            seen,
            pages,
            len(batch),
            len(unsure),
        )
        if unsure:
            await self._get([q for q in unsure if q.open])
