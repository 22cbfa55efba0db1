"""Substring search on records' names and jobs' prompts, served by an index.

`LIKE '%zz%'` cannot use an index: it reads every row, and a handful of
clients asking for a rare pattern would keep the database busy. SQLite's FTS5
trigram tokenizer serves only patterns of three characters or more, and
MariaDB has no n-gram parser at all, so the index is kept here, the same way
on every database:

- each text is kept folded (NFKC, then case-folded: the matching ignores
  case in every script; accents and other marks still count), and
- every position of it is indexed by the three characters starting there,
  padded at the end, packed into one integer (21 bits a character). So a
  pattern of one or two characters is the prefix of some gram: a range of
  them; a longer one contains only texts that have each of its trigrams.

A search then either reads the candidates of its rarest gram and checks
each exactly (a rare pattern: a few rows, wherever they are), or walks the
list's own order and checks row by row (a common pattern: the page fills
within a few rows). Which costs less is judged from a sample of fixed size,
the newest texts, so that judging costs the same however many there are.

Names and prompts never change once stored; a text is indexed when its row
is inserted (the mapper events below) and leaves with it (ON DELETE CASCADE).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from itertools import islice
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    ForeignKey,
    Integer,
    Select,
    Table,
    Text,
    bindparam,
    case,
    event,
    exists,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import mysql

from .models import MYSQL, GenerationJob, Image, db, hex_digest

CHARACTER_BITS = 21  # every Unicode code point fits
# Newest texts read to judge how common a pattern is, and trigrams counted in them.
SAMPLE = 1_000
SAMPLED_TRIGRAMS = 8
BATCH = 5_000

# Folded text, compared code point by code point (binary collation on MySQL).
FoldedText = Text().with_variant(mysql.MEDIUMTEXT(collation="utf8mb4_bin"), *MYSQL)


def fold(text: str) -> str:
    """What matching compares: the text in compatibility form, case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def grams(folded: str) -> set[int]:
    """The padded trigram at each position of `folded`, packed."""
    points = [ord(character) for character in folded] + [0, 0]
    return {_pack(points[start : start + 3]) for start in range(len(folded))}


def _pack(points: list[int]) -> int:
    """Up to three code points as one gram, missing ones as 0 (the padding)."""
    packed = 0
    for position, point in enumerate(points):
        packed |= point << (CHARACTER_BITS * (2 - position))
    return packed


def _prefix_range(folded: str) -> tuple[int, int]:
    """The grams that begin with `folded` (one to three characters)."""
    low = _pack([ord(character) for character in folded])
    return low, low | ((1 << (CHARACTER_BITS * (3 - len(folded)))) - 1)


def _trigrams(folded: str) -> list[int]:
    """Distinct trigrams of `folded`, at most SAMPLED_TRIGRAMS of them, spread over it."""
    points = [ord(character) for character in folded]
    every = list(
        dict.fromkeys(_pack(points[start : start + 3]) for start in range(len(points) - 2))
    )
    return every[:: -(-len(every) // SAMPLED_TRIGRAMS)] if every else []


@dataclass(frozen=True)
class TextIndex:
    """One indexed text per owner row (`texts`), and its grams (`grams`)."""

    texts: Table
    grams: Table
    owner: Column  # the column of `texts` naming the row the text belongs to

    def add(self, connection: Connection, owner: Any, text: str | None) -> None:
        """Index `text` as `owner`'s (nothing for a missing or empty text)."""
        if not text:
            return
        folded = fold(text)
        text_id = connection.execute(
            insert(self.texts).values({self.owner.key: owner, "text": folded})
        ).inserted_primary_key[0]
        connection.execute(
            insert(self.grams), [{"gram": gram, "text_id": text_id} for gram in grams(folded)]
        )

    def add_all(self, connection: Connection, rows: Iterable[tuple[Any, str | None]]) -> None:
        """Index many `(owner, text)` at once, in batches (filling the index
        for rows that are already there)."""
        next_id = (connection.scalar(select(func.max(self.texts.c.id))) or 0) + 1
        rows = iter(rows)
        while chunk := list(islice(rows, BATCH)):
            batch = [(owner, fold(text)) for owner, text in chunk if text]
            if not batch:
                continue
            texts = [
                {"id": text_id, self.owner.key: owner, "text": folded}
                for text_id, (owner, folded) in enumerate(batch, start=next_id)
            ]
            postings = sorted((gram, row["id"]) for row in texts for gram in grams(row["text"]))
            connection.execute(insert(self.texts), texts)
            connection.execute(
                insert(self.grams),
                [{"gram": gram, "text_id": text_id} for gram, text_id in postings],
            )
            next_id += len(batch)

    def search(self, pattern: str, *, page: int) -> Search:
        """How to find the owners whose text contains `pattern`, for a list
        page of `page` images: through candidates, or walking the list."""
        folded = fold(pattern)
        trigrams = _trigrams(folded)
        newest, images, sampled, found, *counts = self._sample(folded, trigrams)
        if not sampled:
            return Search(self, folded, driver=(1, 0))  # nothing indexed: an empty range
        # Scaled up from the sample. Ids are never reused, so the newest id
        # counts the texts ever indexed, as the newest image's counts images.
        scale = newest / sampled
        matches = found * scale
        if trigrams:
            rarest = min(range(len(trigrams)), key=counts.__getitem__)
            driver, candidates = (trigrams[rarest], trigrams[rarest]), counts[rarest] * scale
        else:
            driver, candidates = _prefix_range(folded), matches
        # Rows a walk reads to fill the page: every one, when too few match.
        walked = images
        if matches:
            walked = min(walked, (page + 1) * walked / matches)
        return Search(self, folded, driver=None if walked < candidates + matches else driver)

    def _sample(self, folded: str, trigrams: list[int]) -> list[int]:
        """The newest text's id and image's id, and of the SAMPLE newest texts:
        how many there are, how many contain `folded`, and how many have each
        of `trigrams`."""
        parameters = {"folded": folded} | {f"trigram{n}": gram for n, gram in enumerate(trigrams)}
        row = db.session.execute(_sample_statement(self, len(trigrams)), parameters).one()
        return [int(number) for number in row]  # MySQL's SUM is a Decimal


@cache
def _sample_statement(index: TextIndex, trigrams: int) -> Select:
    """What TextIndex._sample asks, in one statement (one round trip), built
    once: building it costs more than the database takes to answer it."""
    texts, index_grams = index.texts, index.grams
    newest = select(func.max(texts.c.id)).correlate(None).scalar_subquery()
    since = func.coalesce(newest, 0) - SAMPLE
    contains = func.instr(texts.c.text, bindparam("folded")) > 0
    per_trigram = (
        select(func.count())
        .where(index_grams.c.gram == bindparam(f"trigram{n}"), index_grams.c.text_id > since)
        .scalar_subquery()
        for n in range(trigrams)
    )
    return select(
        func.coalesce(newest, 0),
        func.coalesce(select(func.max(Image.id)).scalar_subquery(), 0),
        func.count(),
        func.coalesce(func.sum(case((contains, 1), else_=0)), 0),
        *per_trigram,
    ).where(texts.c.id > since)


@dataclass(frozen=True)
class Search:
    """A pattern, and where its matches come from: the candidates of one gram
    range (`driver`), or, with no driver, a check of each row walked."""

    index: TextIndex
    folded: str
    driver: tuple[int, int] | None

    @property
    def walks(self) -> bool:
        return self.driver is None

    def holds(self, owner: ColumnElement) -> ColumnElement[bool]:
        """A condition on `owner`: its text contains the pattern."""
        texts, index_grams = self.index.texts, self.index.grams
        contains = func.instr(texts.c.text, self.folded) > 0
        if self.driver is None:
            return exists().where(self.index.owner == owner, contains)
        low, high = self.driver
        candidates = select(index_grams.c.text_id).where(index_grams.c.gram.between(low, high))
        return owner.in_(select(self.index.owner).where(texts.c.id.in_(candidates), contains))


def _index_tables(name: str, owner: Column) -> TextIndex:
    """The two tables of one index: `search_<name>_texts` and `search_<name>_grams`."""
    texts = Table(
        f"search_{name}_texts",
        db.metadata,
        Column("id", Integer, primary_key=True),
        owner,
        Column("text", FoldedText, nullable=False),
        # Ids never reused, as images' are: the newest id counts texts ever
        # indexed, in the units a walk over images is judged in.
        sqlite_autoincrement=True,
        mysql_charset="utf8mb4",
    )
    index_grams = Table(
        f"search_{name}_grams",
        db.metadata,
        Column("gram", BigInteger, primary_key=True, autoincrement=False),
        Column(
            "text_id",
            ForeignKey(texts.c.id, ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
            index=True,
        ),
        sqlite_with_rowid=False,
    )
    return TextIndex(texts, index_grams, owner)


NAMES = _index_tables(
    "name",
    Column(
        "image_id",
        ForeignKey("images.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
)
PROMPTS = _index_tables(
    "prompt",
    Column(
        "job_id",
        hex_digest(32),
        ForeignKey("generation_jobs.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
)


@event.listens_for(Image, "after_insert")
def _index_name(_mapper, connection: Connection, record: Image) -> None:
    NAMES.add(connection, record.id, record.original_name)


@event.listens_for(GenerationJob, "after_insert")
def _index_prompt(_mapper, connection: Connection, job: GenerationJob) -> None:
    PROMPTS.add(connection, job.id, job.prompt)
