"""What a paper links to: arXiv, PDF, code, project page, Hugging Face, DOI.

Links come from three places, in this order of trust:
1. the paper's own fields (arXiv id → abstract page and PDF, DOI, github_url);
2. fields of the raw records the sources kept (Hugging Face's `githubRepo`
   and `projectPage`);
3. URLs written in the abstract ("Code: https://github.com/…", bare
   "huggingface.co/datasets/…").
Every URL is classified by host and path (`classify`) and stored only if it
is http(s) (`model.http_url`): a `javascript:` or `data:` link never reaches a
page. Code hosts are GitHub, GitLab, Bitbucket and Codeberg; Hugging Face
paths are models (`/owner/name`), datasets and spaces; any other outside URL
in the abstract is taken as a project page. Links to arXiv from the abstract
are left out: they name other papers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import psycopg

from paperfeed.model import http_url

KINDS = ("arxiv", "pdf", "code", "project", "hf_model", "hf_dataset", "hf_space", "doi")
LABELS = {
    "arxiv": "arXiv",
    "pdf": "PDF",
    "code": "Code",
    "project": "Project page",
    "hf_model": "Model",
    "hf_dataset": "Dataset",
    "hf_space": "Space",
    "doi": "DOI",
}
CODE_HOSTS = {
    "github.com": "GitHub",
    "gitlab.com": "GitLab",
    "bitbucket.org": "Bitbucket",
    "codeberg.org": "Codeberg",
}
# First path segments of huggingface.co that are not a model's owner.
_HF_RESERVED = {
    "papers", "docs", "blog", "collections", "organizations", "settings", "login", "join",
    "pricing", "tasks", "learn", "chat", "posts", "new", "api", "search", "welcome", "enterprise",
}  # fmt: skip
# GitHub paths that are not repositories.
_GITHUB_RESERVED = {"orgs", "features", "topics", "sponsors", "marketplace", "about", "settings"}
MAX_LINKS = 20
MAX_URL = 500

# A URL in free text: with a scheme, or a bare code/Hugging Face host. It stops
# at whitespace, quotes and brackets that cannot be part of a written URL.
_URL = re.compile(
    r"(?:https?://|(?<![\w./@-])(?:www\.)?(?:github\.com|gitlab\.com|bitbucket\.org|"
    r"codeberg\.org|huggingface\.co)/)[^\s<>\"'`{}|\\^\[\]]+",
    re.IGNORECASE,
)
# Every _URL match holds one of these (lower-cased).
_URL_MARKERS = ("://", *(f"{host}/" for host in (*CODE_HOSTS, "huggingface.co")))
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_TRAILING = ".,;:!?*"


@dataclass(frozen=True)
class Link:
    """One outside link of a paper."""

    kind: str
    url: str
    label: str
    origin: str
    # GitHub stars when the source said (Hugging Face's githubStars), else None.
    stars: int | None = None


def _trim(url: str) -> str:
    """Drop punctuation that ends the sentence rather than the URL."""
    while url:
        unbalanced = url[-1] == ")" and url.count("(") < url.count(")")
        if url[-1] in _TRAILING or unbalanced:
            url = url[:-1]
        else:
            break
    return url


def url_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, URL with a scheme) of every URL written in `text`, in order."""
    if not text:
        return []
    # Most abstracts hold no URL: substring tests are ~50x cheaper than the pattern's
    # alternation tried at every character (a third of a Kaggle import's Python time).
    lowered = text.lower()
    if not any(marker in lowered for marker in _URL_MARKERS):
        return []
    found = []
    for match in _URL.finditer(text):
        written = _trim(match.group(0))
        url = written
        if not url.lower().startswith(("http://", "https://")):
            url = "https://" + url
        if http_url(url):
            found.append((match.start(), match.start() + len(written), url))
    return found


def urls_in_text(text: str) -> list[str]:
    """Every URL written in `text`, in order, with a scheme added to bare hosts."""
    return [url for _, _, url in url_spans(text)]


def classify(url: str, origin: str, *, default: str | None = "project") -> Link | None:
    """The Link a URL stands for, or None (not http(s), or a kind not kept)."""
    url = http_url(_trim(url.strip())[:MAX_URL]) if url else None
    if url is None:
        return None
    rest = url.split("://", 1)[1]
    host_part, _, path = rest.partition("/")
    host = host_part.lower().split("@")[-1].split(":")[0].removeprefix("www.")
    segments = [s for s in path.split("?")[0].split("#")[0].split("/") if s]
    if host in CODE_HOSTS:
        if len(segments) < 2 or (host == "github.com" and segments[0] in _GITHUB_RESERVED):
            return None
        owner, repo = segments[0], segments[1].removesuffix(".git")
        if not repo:
            return None
        return Link("code", f"https://{host}/{owner}/{repo}", f"{owner}/{repo}", origin)
    if host == "huggingface.co":
        if len(segments) >= 3 and segments[0] in ("datasets", "spaces"):
            kind = "hf_dataset" if segments[0] == "datasets" else "hf_space"
            name = f"{segments[1]}/{segments[2]}"
            return Link(kind, f"https://huggingface.co/{segments[0]}/{name}", name, origin)
        if len(segments) >= 3 and segments[0] == "models":
            segments = segments[1:]
        if len(segments) >= 2 and segments[0] not in _HF_RESERVED | {"datasets", "spaces"}:
            name = f"{segments[0]}/{segments[1]}"
            return Link("hf_model", f"https://huggingface.co/{name}", name, origin)
        return None
    if host in ("doi.org", "dx.doi.org"):
        doi = path.split("?")[0]
        return Link("doi", f"https://doi.org/{doi}", doi, origin) if _DOI.match(doi) else None
    if host.endswith("arxiv.org") or default is None:
        return None
    return Link(default, url, host, origin)


def doi_url(doi: str | None) -> str | None:
    """https://doi.org/<doi> for a well-formed DOI (escaped), else None."""
    text = (doi or "").strip()
    if not _DOI.match(text):
        return None
    return "https://doi.org/" + quote(text, safe="/:;()._-")


def extract(paper: Mapping[str, Any], raws: Iterable[Mapping[str, Any]] = ()) -> list[Link]:
    """Every link of a paper (fields, raw records, abstract), de-duplicated, in display order.

    `paper` has arxiv_id, doi, github_url and abstract; each raw is a
    source's record as kept in paper_sources.raw.
    """
    found: list[Link] = []
    arxiv_id = paper.get("arxiv_id")
    if arxiv_id:
        found.append(Link("arxiv", f"https://arxiv.org/abs/{arxiv_id}", arxiv_id, "arxiv_id"))
        found.append(Link("pdf", f"https://arxiv.org/pdf/{arxiv_id}", arxiv_id, "arxiv_id"))
    doi = doi_url(paper.get("doi"))
    if doi:
        found.append(Link("doi", doi, paper["doi"], "doi"))
    if paper.get("github_url"):
        link = classify(paper["github_url"], "github_url", default="code")
        if link:
            found.append(link)
    for raw in raws:
        fields = raw.get("paper") if isinstance(raw.get("paper"), Mapping) else raw
        for key, default in (("githubRepo", "code"), ("projectPage", "project")):
            value = fields.get(key)
            if isinstance(value, str) and value:
                link = classify(value, key, default=default)
                stars = fields.get("githubStars") if key == "githubRepo" else None
                if link and isinstance(stars, int) and not isinstance(stars, bool) and stars >= 0:
                    link = Link(link.kind, link.url, link.label, link.origin, stars)
                if link:
                    found.append(link)
    for url in urls_in_text(paper.get("abstract") or ""):
        link = classify(url, "abstract")
        if link:
            found.append(link)
    unique: dict[str, Link] = {}
    for link in found:
        key = link.url.rstrip("/").lower()
        first = unique.setdefault(key, link)
        if first.stars is None and link.stars is not None:  # the same repo, with its stars
            unique[key] = Link(first.kind, first.url, first.label, first.origin, link.stars)
    order = {kind: i for i, kind in enumerate(KINDS)}
    ranked = sorted(unique.values(), key=lambda link: order[link.kind])  # stable: first seen
    return ranked[:MAX_LINKS]


def write(conn: psycopg.Connection, links_of: Mapping[int, list[Link]]) -> None:
    """Replace the stored links of these papers (stars already fetched are kept)."""
    ids = list(links_of)
    if not ids:
        return
    stars = {
        (r["paper_id"], r["url"]): (r["stars"], r["stars_checked_at"])
        for r in conn.execute(
            "SELECT paper_id, url, stars, stars_checked_at FROM paper_links"
            " WHERE paper_id = ANY(%s) AND stars_checked_at IS NOT NULL",
            (ids,),
        ).fetchall()
    }
    conn.execute("DELETE FROM paper_links WHERE paper_id = ANY(%s)", (ids,))
    rows = []
    for paper_id, links in links_of.items():
        for rank, link in enumerate(links):
            kept = stars.get((paper_id, link.url), (None, None))
            if link.stars is not None and kept[0] is None:
                kept = (link.stars, None)  # the source's count until the GitHub job checks
            rows.append((paper_id, link.url, link.kind, link.label, link.origin, rank, *kept))
    if rows:
        with conn.cursor() as cur, cur.copy(
            "COPY paper_links (paper_id, url, kind, label, origin, rank, stars, stars_checked_at)"
            " FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)


def of_paper(conn: psycopg.Connection, paper_id: int) -> list[dict[str, Any]]:
    """A paper's stored links in display order."""
    return conn.execute(
        "SELECT kind, url, label, origin, stars FROM paper_links WHERE paper_id = %s ORDER BY rank",
        (paper_id,),
    ).fetchall()
