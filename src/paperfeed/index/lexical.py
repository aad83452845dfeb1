"""Keyword side of search: query parsing and BM25-style ranking inside PostgreSQL.

A query is split into quoted phrases, `-excluded` words and plain words.
Phrases and exclusions are hard constraints (websearch_to_tsquery syntax);
plain words are OR-ed, so a long question still finds papers that share only
its rarer words. Each matching paper scores

    sum over query terms t of  idf(t) * ts_rank(weights, search, t)

which is BM25 in spirit: ts_rank of one term is a saturating, field-weighted
term frequency (title counts twice the abstract) and idf comes from the
planner's own statistics of the `search` column (pg_stats most_common_elems),
so ranking costs no extra scan. Only the papers matching at least one
informative term are ranked, and at most POOL of them (see `candidates`).

Size: query parsing, term statistics, the access paths of the candidate pool and the
score form one query plan, easier to reason about in one file.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache

import psycopg
from psycopg.rows import dict_row

from paperfeed.model import clean_text

try:  # general-English word frequencies (data shipped in the package)
    from wordfreq import zipf_frequency
except ImportError:  # pragma: no cover - a declared dependency; without it every word informs
    zipf_frequency = None

# ts_rank weights for {D, C, B, A}: authors/organisation C, abstract B, title A.
RANK_WEIGHTS = [0.1, 0.25, 0.5, 1.0]
# At most this many matching papers are ranked per query: ranking every match of
# a common word at a million papers would read a large part of the table.
POOL = 500
# A term found in more papers than this does not select candidates (it still
# scores). Rare terms select by OR, so a long question still finds papers
# sharing its rare words; a query of common words only selects papers holding
# all of them.
RARE_DOCS = 5_000
STATS_TTL = 600.0
# A query of common words only (say "large language models") matches a large
# share of the catalogue, and its pool is the first POOL matches in physical
# order. A bitmap index scan must intersect whole posting lists to find them
# (140 ms at a million papers); reading the table from its start finds the
# same POOL rows after about POOL / share rows (3 ms). So when the expected
# share of matches is at least this, the pool is read by a sequential scan.
SEQ_SCAN_SHARE = 0.02
# Below that share, the index still finds a pool of common words, but
# intersecting every posting list is the cost ("how should learning rate scale
# with batch size": five lists of 10-60% of the papers). The DRIVING_TERMS
# rarest of them pick the rows from the index and each row is checked against
# the whole query: the same rows, in the same order, for a third of the work.
DRIVING_TERMS = 2
# Both shortcuts above still grow with the catalogue: a bitmap scan builds the
# whole intersection of posting lists that each hold a share of every paper,
# and a sequential scan's reach depends on how the words co-occur. So the
# papers are also indexed in blocks of BLOCK_PAPERS consecutive ids (a partial
# GIN index per block, `papers_search_block_<n>`, made by `ensure_blocks`), and
# a query of common words reads its pool from the newest block backwards,
# stopping at POOL matches: each block's posting lists are bounded by the
# block, not the catalogue, and the pool is the newest matches.
BLOCK_PAPERS = 50_000
BLOCK_INDEX = "papers_search_block_"
# The walk reads at most the newest WALK_BLOCKS blocks (400,000 papers), so a
# query of common words costs the same in any catalogue: a combination that is
# rare as a whole ("function novel degrades dynamically": 264 papers in a
# million) made it read every block, one statement's planning and a recheck of
# every paper with the driving terms per block, 100-230 ms at a million papers
# and growing with the catalogue. Reading the older papers through the
# whole-catalogue index instead costs as much (30-60 ms at a million for the
# benchmark's such queries: GIN intersects posting lists of up to 77% of the
# papers, or the rows of the driving terms are rechecked), and grows too. Such
# a query's keyword list is then its matches among the newest 400,000 papers;
# the semantic list still covers the whole catalogue (docs/search.md).
WALK_BLOCKS = 8

# Term specificity from general English (wordfreq's Zipf scale: 7 ≈ "the", 3 ≈ once
# per million words). A word at least as common as COMMON_ZIPF ("how", "make", "which")
# carries no information about a paper's topic; one at or below SPECIFIC_ZIPF
# ("gradient", "softmax", words not in the list at all) carries all its idf; linear
# in between ("stop" 5.5 keeps 17%, "tiny" 4.6 keeps 46%). A small ML catalogue
# finds everyday request words rare, so its idf alone weighs them like topic words.
COMMON_ZIPF = 6.0
SPECIFIC_ZIPF = 3.0

# A query whose informative weight totals less than this (about one specific
# word's idf) is measured against this instead: one made of everyday words
# ("how do I make it stop") cannot be "covered" by a paper matching them.
MIN_INFORMATIVE = 3.0

_PHRASE = re.compile(r'(-?)"([^"]*)"')
_WORD = re.compile(r"[^\s\"]+")
# British spellings the english stemmer keeps apart from the American ones;
# the American variant is added as an alternative (it only ever adds matches).
_SPELLING = [
    (re.compile(r"^(\w{3,})is(e|es|ed|ing|ation|ations|er|ers)$"), r"\1iz\2"),
    (re.compile(r"^(\w{2,})ys(e|es|ed|ing)$"), r"\1yz\2"),
    (re.compile(r"^(\w{3,}[^aeiou\W])our(s|ed|ing|al)?$"), r"\1or\2"),
]


@dataclass(frozen=True)
class ParsedQuery:
    """A query split into its parts; `words` are plain words, `must` the hard constraints."""

    text: str
    words: tuple[str, ...]
    phrases: tuple[str, ...]
    excluded: tuple[str, ...]

    @property
    def must(self) -> str:
        """Phrases and exclusions in websearch syntax (empty when there are none)."""
        parts = [f'"{p}"' for p in self.phrases] + [f"-{e}" for e in self.excluded]
        return " ".join(parts)

    @property
    def scored_text(self) -> str:
        """Every positive word, phrases included, with spelling variants: the ranked terms."""
        words = list(self.words) + [w for p in self.phrases for w in p.split()]
        return " ".join(words + [v for w in words if (v := spelling_variant(w))])


def spelling_variant(word: str) -> str | None:
    """The American spelling of a British-spelt word (optimising → optimizing), if any."""
    lowered = word.lower()
    for pattern, repl in _SPELLING:
        variant = pattern.sub(repl, lowered)
        if variant != lowered:
            return variant
    return None


def parse(text: str) -> ParsedQuery:
    """Split a query into phrases ("…"), exclusions (-word, -"…") and plain words.

    Anything the syntax does not cover (stray quotes, operators, punctuation)
    becomes plain words: a query never fails to parse.
    """
    text = clean_text(text)
    phrases: list[str] = []
    excluded: list[str] = []

    def take(match: re.Match[str]) -> str:
        inner = " ".join(_WORD.findall(match.group(2)))
        if inner:
            (excluded if match.group(1) else phrases).append(inner)
        return " "

    rest = _PHRASE.sub(take, text)
    words: list[str] = []
    for token in _WORD.findall(rest):
        if token.startswith("-") and len(token) > 1 and token[1].isalnum():
            excluded.append(token[1:])
        elif token.upper() != "OR":
            words.append(token)
    return ParsedQuery(text, tuple(words), tuple(phrases), tuple(excluded))


@lru_cache(maxsize=65536)
def specificity(word: str) -> float:
    """How much a query word can say about a paper's topic, 0..1, from general English."""
    if zipf_frequency is None:
        return 1.0
    zipf = zipf_frequency(word.lower(), "en")
    return min(1.0, max(0.0, (COMMON_ZIPF - zipf) / (COMMON_ZIPF - SPECIFIC_ZIPF)))


def tsquery_literal(lexeme: str) -> str:
    """A lexeme quoted for tsquery input, so that it is never re-parsed or re-stemmed."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass
class _Stats:
    """Document frequencies of the most common lexemes, from pg_stats."""

    freqs: dict[str, float] = field(default_factory=dict)
    # Share of papers assumed for a lexeme missing from the list (it is rarer than all listed).
    floor: float = 0.0
    papers: float = 0.0
    loaded_at: float = -math.inf
    # Block numbers with a valid partial index.
    blocks: frozenset[int] = frozenset()


class TermStats:
    """Per-process cache of term statistics per database; refreshed every STATS_TTL seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats: dict[tuple[str, str, str], _Stats] = {}

    def get(self, conn: psycopg.Connection) -> _Stats:
        key = (conn.info.host, str(conn.info.port), conn.info.dbname)
        with self._lock:
            stats = self._stats.get(key)
            if stats is None or time.monotonic() - stats.loaded_at > STATS_TTL:
                stats = self._stats[key] = _load_stats(conn)
            return stats

    def invalidate(self) -> None:
        with self._lock:
            self._stats.clear()


def _load_stats(conn: psycopg.Connection) -> _Stats:
    row = conn.execute(
        "SELECT most_common_elems::text::text[] AS elems, most_common_elem_freqs AS freqs,"
        " (SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'papers'::regclass) AS n"
        " FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'papers'"
        " AND attname = 'search'"
    ).fetchone()
    stats = _Stats(loaded_at=time.monotonic())
    stats.blocks = _indexed_blocks(conn)
    if row and row["elems"]:
        elems, freqs = row["elems"], row["freqs"]
        # pg_stats appends min, max and null frequencies after the per-element ones.
        stats.freqs = dict(zip(elems, freqs[: len(elems)], strict=True))
        stats.floor = min(freqs[len(elems)], 1.0) / 2
        stats.papers = float(row["n"] or 0)
    return stats


def _indexed_blocks(conn: psycopg.Connection) -> frozenset[int]:
    rows = conn.execute(
        "SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = 'papers'::regclass AND i.indisvalid AND c.relname LIKE %s",
        (BLOCK_INDEX + "%",),
    ).fetchall()
    suffixes = [r["name"][len(BLOCK_INDEX) :] for r in rows]
    return frozenset(int(n) for n in suffixes if n.isdigit())


def _block_of(paper_id: int) -> int:
    return max(paper_id - 1, 0) // BLOCK_PAPERS


def _block_range(block: int) -> tuple[int, int]:
    """Ids lo < id <= hi of a block: the ids 1..50,000 are block 0."""
    return block * BLOCK_PAPERS, (block + 1) * BLOCK_PAPERS


def _block_ddl(block: int) -> str:
    lo, hi = _block_range(block)
    # lo and hi are ints computed here: the predicate must be constants anyway.
    return (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {BLOCK_INDEX}{block} ON papers"
        f" USING gin (search) WHERE id > {lo} AND id <= {hi}"
    )


def ensure_blocks(url: str) -> list[int]:
    """Create the missing block indexes up to one block past the newest paper; return them.

    CONCURRENTLY, so ingest and votes carry on meanwhile (each build reads the
    table twice; only a block's own rows go into its index). The block after
    the newest one is made while still empty, so new papers are always in an
    indexed block. Run by the back-fill's upkeep; cheap when nothing is missing.
    A failed build leaves an invalid index, which search ignores and the next
    run rebuilds.
    """
    made = []
    with psycopg.connect(url, autocommit=True) as conn:
        invalid = conn.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'papers'::regclass AND NOT i.indisvalid AND c.relname LIKE %s",
            (BLOCK_INDEX + "%",),
        ).fetchall()
        for (name,) in invalid:
            conn.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
        conn.row_factory = dict_row
        have = _indexed_blocks(conn)
        top = conn.execute("SELECT coalesce(max(id), 0) AS m FROM papers").fetchone()["m"]
        for block in range(_block_of(int(top)) + 2):
            if block not in have:
                conn.execute(_block_ddl(block))
                made.append(block)
    return made


def _newest_first(conn: psycopg.Connection, indexed: tuple[int, ...]) -> list[int] | None:
    """Every block from the newest paper's down to 0, newest first, if all are indexed."""
    top = conn.execute("SELECT coalesce(max(id), 0) AS m FROM papers").fetchone()["m"]
    wanted = list(range(_block_of(int(top)), -1, -1))
    return wanted if set(indexed).issuperset(wanted) else None


def idf(stats: _Stats, lexeme: str) -> float:
    """BM25's idf from a document share; without statistics every term weighs the same."""
    if not stats.freqs:
        return 1.0
    share = stats.freqs.get(lexeme, stats.floor)
    n = max(stats.papers, 1.0)
    df = share * n
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class Analysed:
    """A parsed query turned into lexemes and tsqueries by PostgreSQL's english config."""

    terms: tuple[str, ...]
    idfs: tuple[float, ...]
    # Phrases and exclusions: every result of the search must satisfy them.
    must: str | None
    # OR of the informative terms AND the hard constraints: what selects candidates.
    match: str | None
    # OR of every term AND the constraints, for highlighting.
    highlight: str | None
    # The expected share of papers `match` selects when every term is common
    # (it then ANDs them; terms taken as independent), else 0.
    common_share: float = 0.0
    # When every term is common: the AND of the rarest few, which leads the index scan.
    driving: str | None = None
    # When every term is common: the blocks with an index (see BLOCK_PAPERS).
    blocks: tuple[int, ...] = ()
    # Per term: idf times the specificity of its words in general English; what a
    # match on it says about relevance (the cut-off's keyword evidence, see search).
    informative: tuple[float, ...] = ()
    # Neighbouring query words as phrase tsqueries, each with the informative weight
    # it adds when a paper has that phrase: the part of its words' idf that their
    # specificity took away ("state space": common English words, a specific phrase).
    phrases: tuple[tuple[str, float], ...] = ()
    # The least total informative weight a query is measured against (see search's
    # coverage): MIN_INFORMATIVE on the idf scale of real statistics, 1 without them
    # (every idf is then 1).
    weight_floor: float = 1.0


def analyse(conn: psycopg.Connection, parsed: ParsedQuery, stats: _Stats) -> Analysed:
    """Stem the query's words and build the tsqueries that select and highlight papers."""
    words = parsed.scored_text.split()
    row = conn.execute(
        "SELECT tsvector_to_array(to_tsvector('english', %s)) AS terms,"
        " websearch_to_tsquery('english', %s)::text AS must,"
        " (SELECT coalesce(json_agg(json_build_array(w,"
        "    tsvector_to_array(to_tsvector('english', w))) ORDER BY i), '[]')"
        "  FROM unnest(%s::text[]) WITH ORDINALITY AS u(w, i)) AS lexemes",
        (parsed.scored_text, parsed.must, words),
    ).fetchone()
    terms = tuple(row["terms"])
    must = row["must"] or ""
    idfs = tuple(idf(stats, t) for t in terms)
    # A lexeme made from several words (a word and its spelling variant) is as
    # specific as its most specific word.
    specific: dict[str, float] = {}
    for word, lexemes in row["lexemes"]:
        for lexeme in lexemes:
            specific[lexeme] = max(specific.get(lexeme, 0.0), specificity(word))
    informative = tuple(w * specific.get(t, 1.0) for t, w in zip(terms, idfs, strict=True))
    positive = row["lexemes"][: len(_positive_words(parsed))]
    phrases = _phrases(conn, positive, dict(zip(terms, idfs, strict=True)))
    rare = [t for t in terms if stats.freqs.get(t, 0.0) * stats.papers <= RARE_DOCS]
    anyof = " | ".join(tsquery_literal(t) for t in terms)
    # Rare words select by OR; a query of common words only needs all of them.
    select = " | ".join(tsquery_literal(t) for t in rare) or " & ".join(
        tsquery_literal(t) for t in terms
    )

    def constrained(query: str) -> str | None:
        # Without a positive term there is nothing to look up in the index (a
        # lone exclusion would match nearly every paper): no keyword list then.
        if not terms:
            return None
        return f"({query}) & ({must})" if must else query

    common_share = math.prod(stats.freqs.get(t, 0.0) for t in terms) if terms and not rare else 0.0
    driving = None
    if terms and not rare and len(terms) > DRIVING_TERMS:
        rarest = sorted(terms, key=lambda t: (stats.freqs.get(t, 0.0), t))[:DRIVING_TERMS]
        driving = " & ".join(tsquery_literal(t) for t in rarest)
    blocks = tuple(sorted(stats.blocks)) if terms and not rare else ()
    return Analysed(
        terms,
        idfs,
        must or None,
        constrained(select),
        constrained(anyof),
        common_share,
        driving,
        blocks,
        informative,
        phrases,
        MIN_INFORMATIVE if stats.freqs else 1.0,
    )


def _positive_words(parsed: ParsedQuery) -> list[str]:
    """The query's positive words in order, without the added spelling variants."""
    return list(parsed.words) + [w for p in parsed.phrases for w in p.split()]


def _phrases(
    conn: psycopg.Connection, lexemes: list[list], idfs: dict[str, float]
) -> tuple[tuple[str, float], ...]:
    """Each pair of neighbouring content words (stop words between them kept) as a phrase."""
    content = [i for i, (_, lex) in enumerate(lexemes) if lex]
    texts, bonuses = [], []
    for a, b in zip(content, content[1:], strict=False):
        bonus = sum(
            idfs.get(lexeme, 0.0) * (1.0 - specificity(word))
            for word, lex in (lexemes[a], lexemes[b])
            for lexeme in lex
        )
        if bonus > 0.0:
            texts.append(" ".join(word for word, _ in lexemes[a : b + 1]))
            bonuses.append(bonus)
    if not texts:
        return ()
    rows = conn.execute(
        "SELECT phraseto_tsquery('english', t)::text AS q"
        " FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i",
        (texts,),
    ).fetchall()
    return tuple((r["q"], bonus) for r, bonus in zip(rows, bonuses, strict=True) if r["q"])


def candidates(
    conn: psycopg.Connection,
    analysed: Analysed,
    where: str,
    params: dict[str, object],
    limit: int,
) -> list[tuple[int, float]]:
    """(paper id, score) of the best keyword matches, best first; `where` adds filters.

    The pool takes the first POOL matches in physical order before ranking, so
    at huge scale a query made only of common words ranks a sample of its
    matches; queries with a rare word (nearly all real ones) rank every match.
    """
    if analysed.match is None:
        return []
    # The shortcuts for common words only, and only without filters: the pool then
    # needs rows that pass them too, so the share of matches is unknown and a wider
    # index selection means checking many more rows (measured 3x slower at 1M).
    # Phrases and exclusions make the share unknown too.
    sequential = analysed.common_share >= SEQ_SCAN_SHARE and not where and not analysed.must
    driving = analysed.driving if not where else None
    # ts_match_vq is @@ as a function, which the planner never takes to the index:
    # the driving terms select rows there, the whole query is checked on each.
    selects = (
        "p.search @@ %(driving)s::tsquery AND ts_match_vq(p.search, %(match)s::tsquery)"
        if driving
        else "p.search @@ %(match)s::tsquery"
    )
    values = {
        **params,
        "match": analysed.match,
        "driving": driving,
        "pool": POOL,
        "weights": RANK_WEIGHTS,
        "tqs": [tsquery_literal(t) for t in analysed.terms],
        "idfs": list(analysed.idfs),
        "limit": limit,
    }
    # The newest paper's block is looked up per query (an index probe): the
    # cached statistics may predate the latest import.
    blocks = _newest_first(conn, analysed.blocks) if analysed.blocks else None
    if blocks:
        values["ids"] = _block_pool(conn, blocks[:WALK_BLOCKS], selects, where, values)
        source = "SELECT p.id, p.search FROM papers p WHERE p.id = ANY(%(ids)s)"
    else:
        source = (
            "SELECT p.id, p.search FROM papers p WHERE "  # noqa: S608 - constant fragments
            + selects
            + where
            + " LIMIT %(pool)s"
        )
    with _sequential_scan(conn) if sequential and not blocks else nullcontext():
        rows = conn.execute(
            # Only constant SQL fragments are concatenated; every value is a parameter.
            "WITH pool AS MATERIALIZED (" + source + ")"  # noqa: S608
            " SELECT id, (SELECT coalesce(sum(q.idf * ts_rank(%(weights)s::float4[],"
            "                                                 pool.search, q.tq)), 0)"
            "             FROM unnest(%(tqs)s::tsquery[], %(idfs)s::float8[]) AS q(tq, idf))"
            "        AS score"
            " FROM pool ORDER BY score DESC, id LIMIT %(limit)s",
            values,
        ).fetchall()
    return [(r["id"], float(r["score"])) for r in rows]


def _block_pool(
    conn: psycopg.Connection,
    blocks: list[int],
    selects: str,
    where: str,
    values: dict[str, object],
) -> list[int]:
    """Ids of the newest POOL matches, read block by block through the blocks' indexes.

    A statement covers a run of blocks (one, then two, four, …: most queries of
    common words fill the pool from the newest block alone, rarer combinations
    take a few round trips); inside it, UNION ALL reads the blocks in order and
    stops as soon as the pool is full. The caller passes at most WALK_BLOCKS
    blocks, so the walk's cost does not grow with the catalogue.
    """
    found: list[int] = []
    start, run = 0, 1
    while start < len(blocks) and len(found) < POOL:
        parts = []
        for block in blocks[start : start + run]:
            lo, hi = _block_range(block)
            # lo and hi are ints: the planner needs them as constants to pick the
            # block's partial index, which a parameter would hide.
            parts.append(
                "(SELECT p.id FROM papers p WHERE "  # noqa: S608 - constant fragments
                + selects
                + f" AND p.id > {lo} AND p.id <= {hi}"
                + where
                + " LIMIT %(need)s)"
            )
        rows = conn.execute(
            "SELECT id FROM (" + " UNION ALL ".join(parts) + ") b LIMIT %(need)s",  # noqa: S608
            {**values, "need": POOL - len(found)},
        ).fetchall()
        found += [r["id"] for r in rows]
        start, run = start + run, run * 2
    return found


@contextmanager
def _sequential_scan(conn: psycopg.Connection) -> Iterator[None]:
    """Plan the next statements as a plain, single-process scan from the table's start.

    That is the physical order a bitmap scan visits too, so the pool is the
    same rows either way: one process (parallel workers interleave) and no
    synchronised scans (they start wherever another scan of the table is).
    """
    with planner_settings(
        conn,
        enable_bitmapscan="off",
        enable_indexscan="off",
        max_parallel_workers_per_gather="0",
        synchronize_seqscans="off",
    ):
        yield


@contextmanager
def planner_settings(conn: psycopg.Connection, **settings: str) -> Iterator[None]:
    """These planner settings for the statements inside; the transaction's own after."""
    names = list(settings)
    before = conn.execute(
        "SELECT array_agg(current_setting(n) ORDER BY i) AS v"
        " FROM unnest(%s::text[]) WITH ORDINALITY AS s(n, i)",
        (names,),
    ).fetchone()["v"]
    set_local(conn, names, list(settings.values()))
    try:
        yield
    finally:
        # A failed statement leaves the transaction aborted; its rollback undoes these anyway.
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
            set_local(conn, names, before)


def set_local(conn: psycopg.Connection, names: list[str], values: list[str]) -> None:
    """SET LOCAL each named setting to its value (for the rest of the transaction)."""
    conn.execute(
        "SELECT set_config(n, v, true) FROM unnest(%s::text[], %s::text[]) AS s(n, v)",
        (names, values),
    )
