"""Hybrid search and similar papers.

A search runs two candidate lists in PostgreSQL, each with the filters applied:
keyword (BM25-style ranking over the weighted tsvector, see `lexical`) and
semantic (nearest neighbours of the query's embedding in the HNSW index).
They are fused by reciprocal rank. The semantic list is then refined once by
pseudo-relevance feedback: the query vector moves towards the top papers of
the first fusion (Rocchio), which finds papers that share their topic but not
the query's words, and the final ranking fuses the keyword list with that
refined list. docs/search.md has the measurements behind every constant.

Every fused result then has to earn its place: its calibrated relevance (the
probability that a reader judges it relevant, from the cosine similarity of its
vector to the query's and from how much of the query's informative weight its
keywords match; see `relevance`) must reach CUTOFF. Nonsense and off-topic
queries so return nothing, and counts, sorting and everything built on search
(alerts, feeds, digests) see only the relevant set.

Papers without a vector are still found by keyword (their missing semantic
rank is taken to be their keyword rank, so an exact title still comes first);
without an embedder the search is keyword-only.

Size: candidate lists, fusion, feedback, the calibrated cut-off and identifier look-ups
make one search; the cut-off's constants sit beside the fusion that produces its inputs.
"""

from __future__ import annotations

import contextvars
import math
import re
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple, Protocol

import numpy as np
import psycopg

from paperfeed.catalogue.moderation import VISIBLE
from paperfeed.catalogue.papers import paper_id_for_arxiv
from paperfeed.db import Database
from paperfeed.index import lexical
from paperfeed.index.hits import UPVOTES, Hit, fetch_hits
from paperfeed.model import normalise_arxiv_id

MAX_QUERY = 500
MAX_PER_PAGE = 100
# Depth of each candidate list; the fused list (and so pagination) ends there.
DEPTH = 100
# Reciprocal-rank fusion constant (the usual 60; 30-100 measured within 0.01).
RRF_K = 60
# Pseudo-relevance feedback: the first FEEDBACK_DOCS results, at this weight.
FEEDBACK_DOCS = 5
FEEDBACK_WEIGHT = 1.0
# The first semantic list only has to place the feedback papers: it can be short.
FIRST_PASS_DEPTH = 20
# Calibrated relevance, P(grade >= 1) = sigmoid(COS * cosine + COVERAGE * coverage
# + BIAS), a logistic regression fitted on the dev judgments (all 26 queries, the
# fused top 100 of each; `python benchmarks/search_quality.py --calibrate`).
# coverage = informative weight of the matched query terms and phrases (see
# lexical.Analysed) / max(their total, lexical.MIN_INFORMATIVE): a query of
# only everyday words ("how do I make it stop") cannot cover much.
RELEVANCE_COS = 6.11
RELEVANCE_COVERAGE = 5.84
RELEVANCE_BIAS = -5.37
# The same fit on coverage alone, for papers without a vector (or no embedder).
KEYWORD_COVERAGE = 6.05
KEYWORD_BIAS = -3.42
# A result is shown when its relevance reaches this (docs/search.md: the
# precision/recall of each candidate value and why this one).
CUTOFF = 0.07
# HNSW candidate list per query: at least the number of neighbours asked for.
EF_SEARCH = 100
# A date filter passing fewer papers than this is selective: its papers are the
# candidates (found through the day index), the semantic list is their exact
# nearest neighbours, and keyword search may intersect the day index with the
# text index. A wider one ("since 2024": two thirds of the papers) is only
# checked on the rows the text index and the HNSW graph find: intersecting with
# it read two thirds of the day index per query (240 ms at 300k papers for a
# word in 4,600 papers, growing with the catalogue; docs/search.md).
PREFILTER_ROWS = 10_000
SORTS = ("relevance", "date", "upvotes")
# Organisations offered as filters with a page of results.
ORG_FACETS = 12

_TERM_STATS = lexical.TermStats()


class SearchError(ValueError):
    """A search that cannot run as asked; `status` is the HTTP status to answer with."""

    status = 400

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Embedder(Protocol):
    name: str
    dim: int

    def embed_query(self, text: str) -> np.ndarray: ...


@dataclass(frozen=True)
class Filters:
    """Restrictions every result must meet; None means no restriction."""

    date_from: date | None = None
    date_to: date | None = None
    organization: str | None = None
    has_code: bool | None = None
    min_upvotes: int | None = None

    def sql(self, day_index: bool = True) -> tuple[str, dict[str, Any]]:
        """A WHERE fragment (starting with AND) over `papers p`, and its parameters.

        `day_index` False writes the date bounds so that no index matches them
        (`day + 0`, the same value): for a wide range, which the planner would
        otherwise intersect with the text index or prefer to the HNSW graph,
        reading most of papers_day_idx per query (see `PREFILTER_ROWS`).
        """
        parts: list[str] = []
        params: dict[str, Any] = {}
        day = "coalesce(p.listed_on, p.published_on)" + ("" if day_index else " + 0")
        if self.date_from is not None:
            parts.append(f"{day} >= %(date_from)s")
            params["date_from"] = self.date_from
        if self.date_to is not None:
            parts.append(f"{day} <= %(date_to)s")
            params["date_to"] = self.date_to
        if self.organization and without_controls(self.organization).strip():
            # Any case, at the start of the name or of one of its words:
            # "auckland" finds "University of Auckland", "meta" finds "Meta AI".
            parts.append("p.organization ~* %(organization)s")
            params["organization"] = organization_pattern(self.organization)
        if self.has_code is True:
            parts.append(HAS_CODE)
        elif self.has_code is False:
            parts.append(f"NOT {HAS_CODE}")
        if self.min_upvotes is not None:
            parts.append(f"{UPVOTES} >= %(min_upvotes)s")
            params["min_upvotes"] = self.min_upvotes
        return "".join(" AND " + p for p in parts), params


# "Has code": the github_url field, or any code link found in the paper's
# fields, raw records or abstract (catalogue/links.py).
HAS_CODE = (
    "(p.github_url IS NOT NULL OR EXISTS (SELECT 1 FROM paper_links cl"
    " WHERE cl.paper_id = p.id AND cl.kind = 'code'))"
)


@dataclass
class SearchResults:
    """One page of results; `total` counts every relevant result across pages."""

    query: str
    hits: list[Hit]
    total: int
    page: int
    per_page: int
    sort: str
    filters: Filters = field(default_factory=Filters)
    cutoff: float = CUTOFF
    # (organisation, relevant results from it), most first: offered as filters.
    organizations: list[tuple[str, int]] = field(default_factory=list)

    @property
    def has_next(self) -> bool:
        return self.page * self.per_page < self.total


class Ranked(NamedTuple):
    """One result: the fused rank score (what orders results) and its calibrated relevance."""

    id: int
    score: float
    relevance: float
    # Read with the evidence, for the organisation facets (no second look-up).
    organization: str | None = None


class Evidence(NamedTuple):
    """What the cut-off weighs for one candidate (see `relevance`), and its organisation."""

    cosine: float | None
    coverage: float
    organization: str | None


# Control characters carry no meaning in a query, and PostgreSQL refuses NUL in text.
_CONTROLS = {code: " " for code in [*range(32), 127]}


def without_controls(text: str) -> str:
    """The text with every ASCII control character (NUL, tab, newline …) as a space."""
    return text.translate(_CONTROLS)


# A DOI as typed or pasted: bare, "doi:…", or a doi.org link.
_DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)


def identifier_paper(conn: psycopg.Connection, query: str) -> int | None:
    """The paper a query names by identifier alone (an arXiv id in any common form, a DOI).

    `2401.05566`, `2401.05566v2`, `arXiv:2401.05566`, `hep-th/9901001`,
    `https://arxiv.org/abs/…` or `…/pdf/….pdf`; `10.1000/xyz`, `doi:…`,
    `https://doi.org/…`. None when the query is something else or the paper
    is not in the catalogue (the query is then searched as words).
    """
    text = without_controls(query or "").strip()
    arxiv = normalise_arxiv_id(text)
    if arxiv is not None:
        return paper_id_for_arxiv(conn, arxiv)
    match = _DOI.match(text)
    if match is None:
        return None
    row = conn.execute(
        "SELECT id FROM papers WHERE lower(doi) = lower(%s) ORDER BY id LIMIT 1",
        (match.group(1).rstrip(".,;"),),
    ).fetchone()
    return row["id"] if row else None


def organization_pattern(name: str) -> str:
    """A PostgreSQL regular expression matching `name` at the start of any word of a name."""
    text = " ".join(without_controls(name).split())
    # In PostgreSQL's regular expressions a backslash before a non-alphanumeric
    # character always means that character itself.
    escaped = "".join(ch if ch.isalnum() else "\\" + ch for ch in text)
    return f"(^|[^[:alnum:]]){escaped}"


def check_query(query: str) -> str:
    """The query stripped, or SearchError (400) when it is empty or too long."""
    text = without_controls(query or "").strip()
    if not text:
        raise SearchError("Type something to search for.")
    if len(text) > MAX_QUERY:
        raise SearchError(f"A query can be at most {MAX_QUERY} characters long.")
    if not any(ch.isalnum() for ch in text):
        raise SearchError("A query needs at least one word or number.")
    return text


def rrf(lists: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion: (id, score) best first.

    Ties (a paper first in one list, another first in the other) go to the
    earlier list, the keyword one in a hybrid search, then to the lower id, so
    that pages are stable.
    """
    scores: dict[int, float] = {}
    first_seen: dict[int, tuple[int, int]] = {}
    for which, ranked in enumerate(lists):
        for rank, pid in enumerate(ranked):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank + 1)
            first_seen.setdefault(pid, (which, rank))
    return sorted(scores.items(), key=lambda item: (-item[1], first_seen[item[0]], item[0]))


def _day_rows(conn: psycopg.Connection, filters: Filters) -> int | None:
    """Papers in the filters' date range, counted up to PREFILTER_ROWS; None without one.

    An index-only range scan of papers_day_idx that stops at PREFILTER_ROWS
    entries: at most a few milliseconds whatever the range.
    """
    if filters.date_from is None and filters.date_to is None:
        return None
    day = "coalesce(p.listed_on, p.published_on)"
    row = conn.execute(
        # Only constant SQL fragments are concatenated; every value is a parameter.
        f"SELECT count(*) AS n FROM (SELECT 1 FROM papers p WHERE {day} >= %(lo)s"  # noqa: S608
        f" AND {day} <= %(hi)s LIMIT %(cap)s) d",
        {
            "lo": filters.date_from or date.min,
            "hi": filters.date_to or date.max,
            "cap": PREFILTER_ROWS,
        },
    ).fetchone()
    return int(row["n"])


def _dense(
    conn: psycopg.Connection,
    vector: np.ndarray,
    model: str,
    where: str,
    params: dict[str, Any],
    limit: int,
    *,
    exact: bool = False,
) -> list[tuple[int, float]]:
    """(id, cosine distance) of the papers nearest to `vector` among those embedded
    by `model`, nearest first.

    `exact` ranks every paper the filters pass by its distance (no HNSW graph):
    for a selective date filter, whose few papers the day index finds, where an
    HNSW scan would walk far through the graph to find enough that pass.
    """
    if exact:
        # No index scans, so no HNSW graph; bitmap scans (of the day index) stay.
        with lexical.planner_settings(conn, enable_indexscan="off"):
            return _dense(conn, vector, model, where, params, limit)
    rows = conn.execute(
        # Only constant SQL fragments are concatenated; every value is a parameter.
        "WITH near AS MATERIALIZED ("  # noqa: S608
        "  SELECT p.id, p.embedding <=> %(vec)s::halfvec AS dist FROM papers p"
        "  WHERE p.embedding IS NOT NULL AND p.embedding_model = %(model)s"
        + where
        + "  ORDER BY p.embedding <=> %(vec)s::halfvec LIMIT %(limit)s)"
        " SELECT id, dist FROM near ORDER BY dist, id",
        {**params, "vec": vector, "model": model, "limit": limit},
    ).fetchall()
    return [(r["id"], float(r["dist"])) for r in rows]


def _search_settings(conn: psycopg.Connection, neighbours: int | None) -> None:
    """Planner settings of this search, transaction-local, in one round trip.

    Custom plans: psycopg prepares a statement run five times on a connection,
    and PostgreSQL then may switch it to a generic plan, made without the
    values. For search the values are the plan: a generic plan of the filtered
    semantic list (exclusions or phrases and a date filter) took 22-28 s at
    300k papers, where its own plan takes 0.1 s. Planning costs a few
    milliseconds. With `neighbours` (an HNSW scan follows), the HNSW candidate
    list and iterative scans, which keep filtered searches from returning too
    few neighbours.
    """
    names, values = ["plan_cache_mode"], ["force_custom_plan"]
    if neighbours is not None:
        names += ["hnsw.ef_search", "hnsw.iterative_scan"]
        values += [str(max(EF_SEARCH, neighbours)), "relaxed_order"]
    lexical.set_local(conn, names, values)


def _feedback_vector(
    conn: psycopg.Connection, query_vec: np.ndarray, model: str, top: list[int]
) -> np.ndarray:
    """The query vector moved towards the mean of the top results' vectors (Rocchio)."""
    rows = conn.execute(
        "SELECT embedding FROM papers WHERE id = ANY(%s) AND embedding_model = %s",
        (top, model),
    ).fetchall()
    if not rows:
        return query_vec
    centroid = np.mean([np.asarray(r["embedding"].to_numpy(), dtype=np.float32) for r in rows], 0)
    moved = query_vec + FEEDBACK_WEIGHT * centroid
    return (moved / np.linalg.norm(moved)).astype(np.float32)


def relevance(cosine: float | None, coverage: float) -> float:
    """P(relevant) of a result from its evidence; without a vector, from its keywords alone."""
    if cosine is None:
        logit = KEYWORD_COVERAGE * coverage + KEYWORD_BIAS
    else:
        logit = RELEVANCE_COS * cosine + RELEVANCE_COVERAGE * coverage + RELEVANCE_BIAS
    return 1.0 / (1.0 + math.exp(-logit))


def _evidence(
    conn: psycopg.Connection,
    ids: list[int],
    analysed: lexical.Analysed,
    vector: np.ndarray | None,
    model: str | None,
) -> dict[int, Evidence]:
    """Per id: cosine to the query (None without a vector of `model`), keyword coverage."""
    if not ids:
        return {}
    queries = [lexical.tsquery_literal(t) for t in analysed.terms]
    weights = list(analysed.informative)
    for phrase, bonus in analysed.phrases:
        queries.append(phrase)
        weights.append(bonus)
    total = max(sum(weights), analysed.weight_floor)
    rows = conn.execute(
        "SELECT p.id, p.organization,"  # noqa: S608 - constant fragments only
        " CASE WHEN %(vec)s::halfvec IS NOT NULL AND p.embedding IS NOT NULL"
        "      AND p.embedding_model = %(model)s"
        "      THEN 1 - (p.embedding <=> %(vec)s::halfvec) END AS cosine,"
        " (SELECT coalesce(sum(q.w), 0) FROM unnest(%(tqs)s::tsquery[], %(ws)s::float8[])"
        "    AS q(tq, w) WHERE p.search @@ q.tq) AS matched"
        # Hidden papers (catalogue/moderation.py) drop out here, before counting.
        f" FROM papers p WHERE p.id = ANY(%(ids)s) AND {VISIBLE}",
        {
            "ids": ids,
            "vec": vector,
            "model": model,
            "tqs": queries,
            "ws": weights,
        },
    ).fetchall()
    return {
        r["id"]: Evidence(
            None if r["cosine"] is None else float(r["cosine"]),
            float(r["matched"]) / total,
            r["organization"],
        )
        for r in rows
    }


def rank(
    conn: psycopg.Connection,
    embedder: Embedder | None,
    query: str,
    filters: Filters,
    *,
    mode: str = "hybrid",
    depth: int | None = None,
    query_vector: np.ndarray | None = None,
    cutoff: float | None = CUTOFF,
    analysed: lexical.Analysed | None = None,
    beside: Database | None = None,
) -> list[Ranked]:
    """Every result best first, each with its relevance; those below `cutoff` left out.

    mode is hybrid, keyword or semantic; cutoff None keeps every candidate (to
    measure). `analysed` is `analyse_query(conn, query)` when the caller has it.
    With `beside`, a hybrid search embeds the query and finds its first semantic
    list on a second connection of that database while `conn` finds the keyword
    list (see `_semantic_ahead`).
    """
    depth = depth or DEPTH
    semantic = embedder is not None and mode != "keyword"
    _search_settings(conn, depth if semantic else None)
    if analysed is None:
        analysed = analyse_query(conn, query)
    if cutoff is not None and not any(analysed.informative):
        # Only stop words and everyday words ("the", "how to make"): nothing in the
        # query says what a paper should be about, so no paper can earn its place.
        return []
    day_rows = _day_rows(conn, filters)
    selective = day_rows is not None and day_rows < PREFILTER_ROWS
    where, params = filters.sql(day_index=selective)
    if analysed.must:
        where += " AND p.search @@ %(must)s::tsquery"
        params["must"] = analysed.must
    ahead = None
    if semantic and mode == "hybrid" and FEEDBACK_DOCS and beside is not None:
        first_depth = min(depth, FIRST_PASS_DEPTH)
        ahead = _semantic_ahead(
            beside, embedder, query, query_vector, where, params, first_depth, depth, selective
        )
    keyword: list[tuple[int, float]] = []
    if mode in ("hybrid", "keyword"):
        keyword = lexical.candidates(conn, analysed, where, params, depth)
    vector = None
    if not semantic:
        fused = keyword
    else:
        first = None
        if ahead is not None:
            vector, first = ahead.result()
        elif query_vector is not None:
            vector = query_vector
        else:
            vector = embedder.embed_query(query)
        fused = _fuse(
            conn,
            embedder,
            vector,
            [pid for pid, _ in keyword],
            where,
            params,
            mode,
            depth,
            exact=selective,
            first=first,
        )
    model = embedder.name if embedder is not None else None
    evidence = _evidence(conn, [pid for pid, _ in fused], analysed, vector, model)
    if mode == "hybrid" and vector is not None:
        fused = _impute_unembedded(fused, [pid for pid, _ in keyword], evidence)
    out = []
    for pid, score in fused:
        if pid not in evidence:  # deleted meanwhile
            continue
        found = evidence[pid]
        cosine = None if mode == "keyword" else found.cosine
        p = relevance(cosine, found.coverage)
        if cutoff is None or p >= cutoff:
            out.append(Ranked(pid, score, p, found.organization))
    return out


def _fuse(
    conn: psycopg.Connection,
    embedder: Embedder,
    vector: np.ndarray,
    keyword_ids: list[int],
    where: str,
    params: dict[str, Any],
    mode: str,
    depth: int,
    *,
    exact: bool = False,
    first: list[int] | None = None,
) -> list[tuple[int, float]]:
    """The semantic list (mode semantic) or its fusion with the keyword list (hybrid).

    `exact`: the semantic lists rank every paper the filters pass (see `_dense`).
    `first`: the first semantic list of a hybrid search, when already found.
    """

    def dense(vec: np.ndarray, limit: int) -> list[int]:
        return [
            pid for pid, _ in _dense(conn, vec, embedder.name, where, params, limit, exact=exact)
        ]

    if mode == "semantic":
        return [(pid, 1.0 / (RRF_K + i + 1)) for i, pid in enumerate(dense(vector, depth))]
    if not FEEDBACK_DOCS:
        return rrf([keyword_ids, dense(vector, depth)])
    if first is None:
        first = dense(vector, min(depth, FIRST_PASS_DEPTH))
    top = [pid for pid, _ in rrf([keyword_ids, first])[:FEEDBACK_DOCS]]
    moved = _feedback_vector(conn, vector, embedder.name, top)
    return rrf([keyword_ids, dense(moved, depth)])


# Threads that run `_semantic_ahead`: one per search in flight, the pool's
# connections bound how many of them read at once.
_AHEAD = ThreadPoolExecutor(max_workers=32, thread_name_prefix="search-ahead")


def _semantic_ahead(
    db: Database,
    embedder: Embedder,
    query: str,
    vector: np.ndarray | None,
    where: str,
    params: dict[str, Any],
    limit: int,
    depth: int,
    exact: bool,
) -> Future[tuple[np.ndarray, list[int] | None]]:
    """(query vector, first semantic list) found beside the keyword list.

    The two lists do not depend on each other: the keyword list is the
    database's work on one connection, the query embedding the model's in this
    process, the HNSW pass the database's on a second connection. On two cores
    they so take the time of the longer one instead of their sum (measured in
    docs/search.md). The list is None when no second connection is free at once;
    the caller then runs the pass on its own. The read route (a replica or the
    primary) is a context variable: the thread runs in a copy of the caller's.
    """

    def work() -> tuple[np.ndarray, list[int] | None]:
        vec = embedder.embed_query(query) if vector is None else vector
        with db.spare_transaction() as spare:
            if spare is None:
                return vec, None
            _search_settings(spare, depth)
            nearest = _dense(spare, vec, embedder.name, where, params, limit, exact=exact)
            return vec, [pid for pid, _ in nearest]

    return _AHEAD.submit(contextvars.copy_context().run, work)


def _impute_unembedded(
    fused: list[tuple[int, float]],
    keyword_ids: list[int],
    evidence: dict[int, Evidence],
) -> list[tuple[int, float]]:
    """Fused scores in which a paper without a vector counts its keyword rank twice.

    It cannot be in the semantic list, so RRF would bury it under every paper
    found by both lists; taking its semantic rank to be its keyword rank ranks
    it by its keyword score alone (an exact title query puts it first).
    """
    unembedded = {pid for pid, found in evidence.items() if found.cosine is None}
    if not unembedded:
        return fused
    scores = dict(fused)
    for rank_, pid in enumerate(keyword_ids):
        if pid in unembedded:
            scores[pid] += 1.0 / (RRF_K + rank_ + 1)
    order = {pid: i for i, (pid, _) in enumerate(fused)}
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))


def analyse_query(conn: psycopg.Connection, query: str) -> lexical.Analysed:
    """The query parsed and analysed with this database's term statistics."""
    return lexical.analyse(conn, lexical.parse(query), _TERM_STATS.get(conn))


def ranked_ids(conn: psycopg.Connection, *args: Any, **kwargs: Any) -> list[tuple[int, float]]:
    """(paper id, fused score) of every relevant result, best first: `rank`'s arguments."""
    return [(r.id, r.score) for r in rank(conn, *args, **kwargs)]


def search(
    db: Database,
    embedder: Embedder | None,
    query: str,
    filters: Filters | None = None,
    sort: str = "relevance",
    page: int = 1,
    per_page: int = 20,
) -> SearchResults:
    """One page of hybrid search results with highlighted snippets."""
    text = check_query(query)
    filters = filters or Filters()
    if sort not in SORTS:
        raise SearchError(f"Unknown sort {sort!r}: use one of {', '.join(SORTS)}.")
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise SearchError(f"page must be >= 1 and per_page between 1 and {MAX_PER_PAGE}.")
    with db.transaction() as conn:
        # Analysed once: ranking and the snippets' highlighting use the same terms.
        analysed = analyse_query(conn, text)
        # The query is embedded beside the keyword list (see `_semantic_ahead`).
        ranked = rank(conn, embedder, text, filters, analysed=analysed, beside=db)
        if sort != "relevance":
            ranked = _resort(conn, ranked, sort)
        start = (page - 1) * per_page
        window = ranked[start : start + per_page]
        hits = fetch_hits(conn, [r.id for r in window], analysed.highlight)
        facets = _organizations(ranked)
    by_id = {r.id: r for r in window}
    for hit in hits:
        hit.score = by_id[hit.id].score
        hit.relevance = by_id[hit.id].relevance
    return SearchResults(
        text, hits, len(ranked), page, per_page, sort, filters, organizations=facets
    )


def _organizations(ranked: list[Ranked]) -> list[tuple[str, int]]:
    """The organisations of these results with their counts, most first (at most ORG_FACETS).

    Ties go by name in code-point order (PostgreSQL's C collation).
    """
    counts = Counter(r.organization for r in ranked if r.organization is not None)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:ORG_FACETS]


def _resort(conn: psycopg.Connection, ranked: list[Ranked], sort: str) -> list[Ranked]:
    """The relevant results (only those) reordered by date or upvotes."""
    order = (
        "coalesce(p.listed_on, p.published_on) DESC NULLS LAST, p.id DESC"
        if sort == "date"
        else f"{UPVOTES} DESC, p.id DESC"
    )
    rows = conn.execute(
        # Only constant SQL fragments are concatenated; every value is a parameter.
        f"SELECT p.id FROM papers p WHERE p.id = ANY(%s) ORDER BY {order}",  # noqa: S608
        ([r.id for r in ranked],),
    ).fetchall()
    by_id = {r.id: r for r in ranked}
    return [by_id[r["id"]] for r in rows]


def similar(
    db: Database, paper_id: int, limit: int = 10, recent_days: int | None = None
) -> list[Hit]:
    """Papers nearest to this paper's vector: never itself nor a copy of it (same title/text)."""
    if not 1 <= limit <= MAX_PER_PAGE:
        raise SearchError(f"limit must be between 1 and {MAX_PER_PAGE}.")
    if recent_days is not None and recent_days < 1:
        raise SearchError("recent_days must be at least 1.")
    with db.transaction() as conn:
        me = conn.execute(
            "SELECT id, title, norm_title, embedding, embedding_model FROM papers WHERE id = %s",
            (paper_id,),
        ).fetchone()
        if me is None:
            raise SearchError(f"No paper with id {paper_id}.", status=404)
        _search_settings(conn, None if me["embedding"] is None else limit)
        where = f" AND p.id <> %(me)s AND p.norm_title <> %(norm_title)s AND {VISIBLE}"
        params: dict[str, Any] = {"me": paper_id, "norm_title": me["norm_title"]}
        if recent_days is not None:
            where += " AND coalesce(p.listed_on, p.published_on) >= current_date - %(days)s"
            params["days"] = recent_days
        if me["embedding"] is None:
            # Not embedded yet: its title's words find the nearest papers instead.
            found = lexical.candidates(
                conn,
                lexical.analyse(conn, lexical.parse(me["title"]), _TERM_STATS.get(conn)),
                where,
                params,
                limit,
            )
        else:
            # Identical text gives distance ~0: a copy under another id, not a neighbour.
            where += " AND (p.embedding <=> %(vec)s::halfvec) > 1e-4"
            vec = np.asarray(me["embedding"].to_numpy(), dtype=np.float32)
            nearest = _dense(conn, vec, me["embedding_model"], where, params, limit)
            # A hit's score is its cosine similarity to this paper.
            found = [(pid, 1.0 - dist) for pid, dist in nearest]
        hits = fetch_hits(conn, [pid for pid, _ in found], None)
    if me["embedding"] is not None:
        similarity = dict(found)
        for hit in hits:
            hit.score = similarity[hit.id]
    return hits


def reset_term_stats() -> None:
    """Forget cached term statistics (after a bulk import or ANALYZE)."""
    _TERM_STATS.invalidate()
