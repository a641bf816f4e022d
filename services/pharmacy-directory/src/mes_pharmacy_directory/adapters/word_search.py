"""Which pharmacies have a word starting with each word of a search, reading few words.

A search is driven by its rarest word: one round trip first adds up the counts of the words
each search word is the prefix of (as of the last import's end), and reads the first and last
of those words. The rarest word's
entries are then read, and each of its pharmacies is checked for the other words by a probe
of the (FINESS, word) index. When the rarest word's range holds a single word, its entries
come in name order from the covering index, so a page stops after its last match instead of
sorting every candidate: a search of two common words ("gare paris") reads a few dozen
entries, a search with a rare word reads that word's few.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    exists,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import FromClause

from .tables import pharmacy_word_counts, pharmacy_words

__all__ = ["WordPlan", "matching_words", "plan_words"]


@dataclass(frozen=True)
class WordPlan:
    driver: str
    # The only word the driver is a prefix of, when there is one: an equality, in name order.
    exact: str | None
    others: tuple[str, ...]


def _prefix_of(table: FromClause, prefix: str, *, planned: bool = False) -> ColumnElement[bool]:
    # Words are [0-9a-z] only and "{" follows "z": the range holds exactly the words that
    # start with the prefix (byte order on both engines).
    return and_(
        table.c.word >= _value(prefix, planned), table.c.word < _value(prefix + "{", planned)
    )


def _value(word: str, planned: bool) -> BindParameter[str]:
    """``planned``: written into the statement, so that the engine plans it for this word.
    PostgreSQL otherwise reuses, after five runs of a prepared statement, a plan made for
    any word, which sorts all the driving word's entries instead of walking them in name
    order (5 ms instead of 0.3 for "paris"). Words are [0-9a-z] only."""
    return bindparam(None, word, type_=String(), literal_execute=planned)


async def plan_words(conn: AsyncConnection, words: Sequence[str]) -> WordPlan | None:
    """The plan of a search by ``words``; ``None`` when a word matches no pharmacy. The
    counts only choose the driving word (a word newer than them counts as rare); which
    pharmacies match is read from the words themselves."""
    columns = []
    for i, word in enumerate(words):
        in_range = _prefix_of(pharmacy_words, word)
        counted = select(func.coalesce(func.sum(pharmacy_word_counts.c.pharmacies), 0)).where(
            _prefix_of(pharmacy_word_counts, word)
        )
        columns += [
            counted.scalar_subquery().label(f"n{i}"),
            select(pharmacy_words.c.word)
            .where(in_range)
            .order_by(pharmacy_words.c.word)
            .limit(1)
            .scalar_subquery()
            .label(f"first{i}"),
            select(pharmacy_words.c.word)
            .where(in_range)
            .order_by(pharmacy_words.c.word.desc())
            .limit(1)
            .scalar_subquery()
            .label(f"last{i}"),
        ]
    row = (await conn.execute(select(*columns))).one()
    ranked = []
    for i, word in enumerate(words):
        count, first, last = row[3 * i], row[3 * i + 1], row[3 * i + 2]
        if first is None:
            return None
        ranked.append((int(count), first != last, i, word, first if first == last else None))
    _, _, chosen, driver, exact = min(ranked)
    return WordPlan(driver, exact, tuple(w for i, w in enumerate(words) if i != chosen))


def matching_words(plan: WordPlan) -> tuple[Select[tuple[str, str]], FromClause]:
    """(sort_name, FINESS) of the pharmacies matching the plan, each once; and the words'
    alias the statement reads, to add conditions and an order on its columns."""
    driving = pharmacy_words.alias("driving")
    where = [
        driving.c.word == _value(plan.exact, True)
        if plan.exact is not None
        else _prefix_of(driving, plan.driver, planned=True)
    ]
    for n, other in enumerate(plan.others):
        probe = pharmacy_words.alias(f"probe{n}")
        where.append(exists().where(probe.c.finess == driving.c.finess, _prefix_of(probe, other)))
    stmt = select(driving.c.sort_name, driving.c.finess).where(*where)
    if plan.exact is None:
        # Several words of one pharmacy may start with the driver ("gare", "garenne").
        stmt = stmt.distinct()
    return stmt, driving
