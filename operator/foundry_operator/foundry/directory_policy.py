"""The decisions of the agent directory, as pure functions (the I/O is in ``directory.py``).

A HostedAgent that has never had a version must first learn whether its Foundry agent
exists: the operator never touches an agent it did not create. One GET per name answers
that; so does one listing of every agent, for any number of names at once, at a cost of one
call per page. These functions decide which of the two a group of waiting questions gets,
and which answers a listing may give.

The freshness rule, which keeps today's check-then-act semantics: a name may be called
absent only by a listing that *started after* the question was asked. A listing that was
already under way may have read its pages before the agent appeared, so its silence says
nothing about the question; an older listing is never reused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from ..api.status import HostedAgentStatus
from ..reconcile.conditions import find_condition
from ..reconcile.errors import Reason

# The largest page Foundry serves (``limit`` ranges from 1 to 100).
PAGE_SIZE = 100
# Below this many waiting questions a listing is not worth its coordination: the questions
# get their GETs, as they would without a directory.
MIN_BATCH = 4


class Way(Enum):
    """How a group of waiting questions is answered."""

    LIST = "list"  # one listing of every agent, then each name is looked up in it
    GET = "get"  # one GET per name, as without a directory


class Verdict(Enum):
    """What a listing says about one name."""

    ABSENT = "absent"  # a complete listing that started after the question lacks the name
    PRESENT = "present"  # the name is listed: the caller takes the usual path (GET, then plan)
    UNKNOWN = "unknown"  # the listing cannot tell (stopped early, unreadable entry): GET it


@dataclass(frozen=True)
class ListingSize:
    """What the last listing saw and cost: the basis of the next one's estimate."""

    agents: int
    pages: int


@dataclass(frozen=True)
class Listing:
    """The names a listing saw (casefolded), and whether its silence may be believed."""

    names: frozenset[str]
    finished: bool  # every page was read, up to the one without a next cursor
    unnamed: bool = False  # an entry came without a name: it could be any agent


def normalized(name: str) -> str:
    """Names compare without case: should Foundry treat ``Foo`` and ``foo`` as one agent,
    a listed ``Foo`` must not let ``foo`` pass as absent. (Calling a name present when it is
    not costs only the GET the question would have made anyway.)"""
    return name.casefold()


def expected_pages(last: ListingSize | None, page_size: int = PAGE_SIZE) -> int:
    """Calls the next listing is expected to take, judged by the last one (one page before
    any listing: nothing is known yet, and a listing that turns out longer stops at its
    budget, see :func:`page_budget`)."""
    if last is None:
        return 1
    return max(1, last.pages, math.ceil(last.agents / page_size))


def choose(waiting: int, expected: int, min_batch: int = MIN_BATCH) -> Way:
    """A listing for ``waiting`` questions when it costs no more calls than their GETs
    (``expected`` pages against ``waiting`` GETs) and the group is big enough to bother."""
    return Way.LIST if waiting >= max(min_batch, expected, 1) else Way.GET


def page_budget(waiting: int) -> int:
    """The most pages a listing for ``waiting`` questions may read: past that it would cost
    more than the GETs it replaces, so it stops, and the names it could not rule out get
    their GETs."""
    return max(1, waiting)


def size_after(seen: int, pages: int, finished: bool) -> ListingSize:
    """What to remember of a listing. One that stopped at its budget saw only a part of the
    agents; the page it did not read is counted, so the next estimate asks for more."""
    return ListingSize(agents=seen, pages=pages if finished else pages + 1)


def may_answer(asked: int, started: int) -> bool:
    """The freshness rule, on one logical clock that ticks at every question and at every
    listing's start: a listing may answer only the questions asked before it started."""
    return started > asked


def verdict(listing: Listing, name: str) -> Verdict:
    if normalized(name) in listing.names:
        return Verdict.PRESENT
    if listing.finished and not listing.unnamed:
        return Verdict.ABSENT
    return Verdict.UNKNOWN


def is_brand_new(previous: HostedAgentStatus) -> bool:
    """Whether a HostedAgent's first look may go through the directory: status records no
    version it created and no name conflict, so its agent most likely does not exist. (It
    is only a guess at what pays: any answer the directory gives is as true as a GET.)"""
    if previous.latest_version or previous.serving_version or previous.versions:
        return False
    ready = find_condition(previous.conditions, "Ready")
    return ready is None or ready.reason != str(Reason.AGENT_NAME_CONFLICT)
