"""Which pharmacies have a word starting with each word of a search, reading few words, in
one statement.

A search is driven by its rarest word. The statement first adds up, for each search word, the
counts of the words it is the prefix of (as of the last import's end), and reads the first and
last of those words; it keeps the word with the smallest count (a word that matches nothing
first: the answer is then empty). The driving word's entries are then read, and each of its
pharmacies is checked for the other words by a probe of the (FINESS, word) index. When the
driving word's range holds a single word, its entries come in name order from the covering
index, so a page stops after its last match instead of sorting every candidate: a search of
two common words ("gare paris") reads a few dozen entries, a search with a rare word reads
that word's few.

The choice is made by the engine while it runs the statement, from values it computes once
(uncorrelated subqueries): the statement holds both walks, and the one not chosen compares
its index to NULL, which reads nothing. Its text depends only on the number of words and on
the filter's shape, so a connection prepares it once and it needs no value written into it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    CTE,
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.sql import FromClause

from .listing import COLUMNS, MAILBOX, after_page
from .tables import pharmacies, pharmacy_word_counts, pharmacy_words

__all__ = ["WordSearch", "word_values", "words_page"]


def _word(i: int) -> BindParameter[str]:
    return bindparam(f"word{i}", type_=String())


def _word_end(i: int) -> BindParameter[str]:
    return bindparam(f"word{i}_end", type_=String())


def word_values(words: Sequence[str]) -> dict[str, str]:
    """The values of a statement's search words, by the names of its parameters."""
    values = {}
    for i, word in enumerate(words):
        # Words are [0-9a-z] only and "{" follows "z": [word, word + "{") holds exactly the
        # words that start with it (byte order on both engines).
        values[f"word{i}"], values[f"word{i}_end"] = word, word + "{"
    return values


def _prefix_of(table: FromClause, i: int) -> ColumnElement[bool]:
    """The words of ``table`` that start with search word ``i``."""
    return and_(table.c.word >= _word(i), table.c.word < _word_end(i))


def _candidate(i: int) -> Select[tuple[int, int, str, str, str, str]]:
    """Search word ``i``: its count, the first and last words it is the prefix of, and its
    range's bounds."""
    counted = select(func.coalesce(func.sum(pharmacy_word_counts.c.pharmacies), 0)).where(
        _prefix_of(pharmacy_word_counts, i)
    )
    in_range = _prefix_of(pharmacy_words, i)
    first = select(pharmacy_words.c.word).where(in_range).order_by(pharmacy_words.c.word)
    last = select(pharmacy_words.c.word).where(in_range).order_by(pharmacy_words.c.word.desc())
    return select(
        literal_column(str(i), Integer()).label("i"),
        counted.scalar_subquery().label("n"),
        first.limit(1).scalar_subquery().label("first"),
        last.limit(1).scalar_subquery().label("last"),
        _word(i).label("low"),
        _word_end(i).label("high"),
    )


class WordSearch:
    """The pharmacies matching a search of ``count`` words (at least one), as a statement's
    parts; the words are its parameters (:func:`word_values`)."""

    def __init__(self, count: int) -> None:
        self.count = count
        parts = [_candidate(i) for i in range(count)]
        candidates = (union_all(*parts) if len(parts) > 1 else parts[0]).cte("candidates")
        c = candidates.c
        # A word that matches nothing first, then the rarest; a single word before a prefix
        # of several (its walk is in name order); then the search's order.
        self.chosen: CTE = (
            select(c.i, c.first, c.last, c.low, c.high)
            .order_by(c.first.is_(None).desc(), c.n, c.first != c.last, c.i)
            .limit(1)
            .cte("chosen")
        )

    def _others_match(self, driving: FromClause) -> list[ColumnElement[bool]]:
        """Each search word but the driving one is the prefix of a word of the pharmacy."""
        if self.count == 1:
            return []
        driver = select(self.chosen.c.i).scalar_subquery()
        where: list[ColumnElement[bool]] = []
        for j in range(self.count):
            probe = pharmacy_words.alias(f"probe{j}")
            has = exists().where(probe.c.finess == driving.c.finess, _prefix_of(probe, j))
            where.append(or_(driver == literal_column(str(j), Integer()), has).self_group())
        return where

    def single_word_walk(self) -> tuple[Select[tuple[str, str]], FromClause]:
        """(sort_name, FINESS) of the matches when the driving word's range holds one word:
        an equality on the covering index, in name order. Reads nothing otherwise."""
        driving = pharmacy_words.alias("driving")
        word = select(self.chosen.c.first).where(self.chosen.c.first == self.chosen.c.last)
        stmt = select(driving.c.sort_name, driving.c.finess).where(
            driving.c.word == word.scalar_subquery(), *self._others_match(driving)
        )
        return stmt, driving

    def range_walk(self, *, always: bool = False) -> tuple[Select[tuple[str, str]], FromClause]:
        """(sort_name, FINESS) of the matches when the driving word's range holds several
        words, each pharmacy once (several of its words may start with the driver: "gare",
        "garenne"). Reads nothing otherwise, unless ``always``."""
        driving = pharmacy_words.alias("driving")
        chosen = self.chosen.c
        low, high = select(chosen.low), select(chosen.high)
        if not always:
            low, high = (
                low.where(chosen.first != chosen.last),
                high.where(chosen.first != chosen.last),
            )
        stmt = (
            select(driving.c.sort_name, driving.c.finess)
            .where(
                driving.c.word >= low.scalar_subquery(),
                driving.c.word < high.scalar_subquery(),
                *self._others_match(driving),
            )
            .distinct()
        )
        return stmt, driving


@functools.lru_cache(maxsize=128)
def words_page(count: int, postal: int, paged: bool) -> Select[Any]:
    """A page of the open pharmacies matching ``count`` words, in name order, with their
    mailbox: one statement, built once per shape and run with :func:`word_values`,
    ``page_size``, and as the shape says ``postal_code``/``postal_end`` (``postal``: the
    length of the postal code, a prefix below 5) and ``after_name``/``after_finess``."""
    search = WordSearch(count)
    pages = []
    for page, words in (search.single_word_walk(), search.range_walk()):
        if postal:
            page = page.join_from(words, pharmacies, pharmacies.c.finess == words.c.finess)
            page = page.where(pharmacies.c.open == true())
            if postal == 5:
                # Equality: the postal index then gives the rows in name order.
                page = page.where(
                    pharmacies.c.postal_code == bindparam("postal_code", type_=String())
                )
            else:
                page = page.where(
                    pharmacies.c.postal_code >= bindparam("postal_code", type_=String()),
                    pharmacies.c.postal_code < bindparam("postal_end", type_=String()),
                )
        if paged:
            cursor = (
                bindparam("after_name", type_=String()),
                bindparam("after_finess", type_=String()),
            )
            page = page.where(after_page(words.c.sort_name, words.c.finess, cursor))
        size = bindparam("page_size", type_=Integer())
        chosen = page.order_by(words.c.sort_name, words.c.finess).limit(size).subquery()
        pages.append(select(chosen.c.sort_name, chosen.c.finess))
    rows = union_all(*pages).subquery("page")
    return (
        select(*COLUMNS, MAILBOX)
        .select_from(rows.join(pharmacies, pharmacies.c.finess == rows.c.finess))
        .order_by(rows.c.sort_name, rows.c.finess)
    )
