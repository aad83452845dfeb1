"""JSON shapes of the API. Field names here are the stable public contract (docs/web.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Query
from pydantic import BaseModel, Field

from paperfeed.model import http_url


class LinkOut(BaseModel):
    """Something a paper links to (catalogue/links.py); always an http(s) URL."""

    kind: str = Field(description="arxiv, pdf, code, project, hf_model, hf_dataset, hf_space, doi")
    url: str
    label: str
    stars: int | None = Field(None, description="GitHub stars, when the optional job fetched them")


_OPTIONAL = ("links", "summary", "key_phrases", "comments")


class PaperOut(BaseModel):
    """A paper as lists show it."""

    id: int
    arxiv_id: str | None
    title: str
    abstract: str
    authors: list[str]
    author_count: int | None
    organization: str | None
    published_on: date | None
    listed_on: date | None
    day: date | None = Field(description="coalesce(listed_on, published_on): the list day")
    github_url: str | None
    upvotes: int = Field(description="imported upvotes plus votes cast on this instance")
    url: str = Field(description="path of the paper page on this instance")
    links: list[LinkOut] = Field(default_factory=list)
    summary: str | None = Field(None, description="one-line summary (Hugging Face's or computed)")
    key_phrases: list[str] = Field(default_factory=list)
    comments: int = Field(0, description="visible comments in the paper's discussion")

    @classmethod
    def of(cls, row: dict[str, Any]) -> PaperOut:
        fields = {k: row.get(k) for k in cls.model_fields if k != "url"}
        # The one URL policy holds at this output too (model.http_url).
        fields["github_url"] = http_url(fields.get("github_url"))
        for key in _OPTIONAL:  # absent before a paper's community rows exist
            if fields[key] is None:
                del fields[key]
        return cls(**fields, url=f"/papers/{row['id']}")


class TrendingPaper(PaperOut):
    score: float = Field(description="upvotes / (age_hours + 2) ** 1.5")


class SearchHit(PaperOut):
    title_html: str = Field(description="HTML-escaped title; matches wrapped in <mark>")
    snippet_html: str = Field(description="HTML-escaped abstract excerpt; matches in <mark>")
    score: float = Field(description="fused rank score: what orders results by relevance")
    relevance: float = Field(
        description="calibrated probability that the paper is relevant (0-1); results"
        " below the response's cutoff are never returned"
    )


class SourceOut(BaseModel):
    source: str
    first_seen: str
    last_seen: str
    upvotes: int


class PaperDetail(PaperOut):
    """One paper with everything the paper page shows."""

    doi: str | None
    categories: list[str]
    sources: list[SourceOut]
    bibtex: str
    voted: bool = Field(description="whether the requesting user has upvoted it")


class PeriodList(BaseModel):
    period: str
    start: date
    end: date = Field(description="last day of the period (inclusive)")
    label: str
    previous: date | None = Field(description="nearest earlier day with papers")
    next: date | None = Field(description="nearest later day with papers")
    total: int
    page: int
    per_page: int
    papers: list[PaperOut]


class TrendingList(BaseModel):
    papers: list[TrendingPaper]


class PaperList(BaseModel):
    papers: list[PaperOut]


class OrganizationList(BaseModel):
    name: str
    total: int
    page: int
    per_page: int
    papers: list[PaperOut]


class SearchResults(BaseModel):
    query: str
    total: int
    page: int
    per_page: int
    engine: str = Field(description="hybrid, keyword, or identifier (the query named one paper)")
    semantic: str = Field(
        description="The semantic side: ready; preparing (the model is being prepared after"
        " a fresh install or restart: results are keyword-only meanwhile); unavailable"
    )
    cutoff: float = Field(description="the least relevance a result needs to be returned")
    results: list[SearchHit]


class VoteResult(BaseModel):
    paper_id: int
    voted: bool
    upvotes: int


class Me(BaseModel):
    id: int
    email: str
    display_name: str


# What model.normalise_arxiv_id accepts, so the schema promises no more than the API takes.
ARXIV_ID_PATTERN = (
    r"^(https?://)?((www\.|export\.)?arxiv\.org/abs/|arxiv\.org/pdf/)?([aA][rR][xX][iI][vV]:)?"
    r"([0-9]{4}\.[0-9]{4,5}|[a-z-]+(\.[A-Z]{2})?/[0-9]{7})(v[0-9]+)?(\.pdf)?$"
)


class SubmissionIn(BaseModel):
    arxiv_id: str = Field(
        min_length=1,
        max_length=200,
        pattern=ARXIV_ID_PATTERN,
        description="arXiv id (2401.05566, hep-th/9901001, arXiv:…) or abs/pdf URL",
    )


class SubmissionOut(BaseModel):
    id: int
    arxiv_id: str | None
    status: str
    paper_id: int | None
    message: str


class ErrorBody(BaseModel):
    status: int
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


# Every error status an API operation may answer with, in the one error shape: 401/403
# (sign-in, CSRF), 404 (unknown ids), 409 (conflicts), 429 (limits) and 503 (database
# down, load shed) included, so a client (and schemathesis) knows each of them.
API_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorOut} for s in (400, 401, 403, 404, 409, 422, 429, 503)
}

# Query parameters as forms send them: the value, or empty for unset (docs/search.md).
# The schema says exactly that (json_schema_extra replaces the plain "string or null"),
# so generated clients send dates as dates and numbers as numbers.
_EMPTY = {"type": "string", "maxLength": 0}


def form_query(schema: dict[str, Any], description: str) -> Any:
    """Query(None) documented as `schema` or empty; the value still arrives as a string."""
    return Query(None, description=description, json_schema_extra={"anyOf": [schema, _EMPTY]})


def day_query(description: str) -> Any:
    return form_query({"type": "string", "format": "date"}, description)


def flag_query(description: str) -> Any:
    spellings = "|".join(
        "".join(f"[{c.upper()}{c}]" if c.isalpha() else c for c in word)
        for word in ("true", "false", "yes", "no", "on", "off", "1", "0")
    )
    return form_query({"type": "string", "pattern": f"^({spellings})$"}, description)


def int_query(low: int, high: int, description: str) -> Any:
    return form_query({"type": "integer", "minimum": low, "maximum": high}, description)


def choice_query(choices: tuple[str, ...], description: str) -> Any:
    return form_query({"type": "string", "enum": list(choices)}, description)
