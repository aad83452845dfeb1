"""Submit a paper: by arXiv id (queued for the ingest worker) or described (imported now)."""

from __future__ import annotations

import logging
from datetime import date

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed import catalogue
from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts, moderation
from paperfeed.catalogue.accounts import User
from paperfeed.index import backfill
from paperfeed.model import Paper, Record, clean_text
from paperfeed.web import finder
from paperfeed.web.deps import (
    csrf_protect,
    current_user,
    get_pf,
    parse_day,
    render,
    require_user,
    safe_url,
)

router = APIRouter(include_in_schema=False)
SOURCE = "submission"
log = logging.getLogger("paperfeed.web")


def embed_now(pf: Paperfeed, paper_id: int) -> None:
    """Give a just-submitted paper its vector (run after the response is sent)."""
    model = finder.embedder(pf)
    if model is None:
        return
    try:
        backfill.embed_papers(pf.db, model, [paper_id])
    except Exception:  # the back-fill job embeds it later anyway
        log.exception("embedding submitted paper %s failed", paper_id)


def _page(request: Request, user: User | None, pf: Paperfeed, **context) -> dict:
    mine = []
    if user is not None:
        with pf.db.transaction() as conn:
            mine = accounts.user_submissions(conn, user.id, limit=10)
    return {"nav": "submit", "mine": mine, **context}


@router.get("/submit", response_class=HTMLResponse)
def submit_form(
    request: Request, pf: Paperfeed = Depends(get_pf), user: User | None = Depends(current_user)
) -> HTMLResponse:
    """The submission form (signed-in users; others are invited to sign in)."""
    return render(request, "submit.html", _page(request, user, pf))


@router.post("/submit", dependencies=[Depends(csrf_protect)])
def submit(
    request: Request,
    background: BackgroundTasks,
    arxiv_id: str = Form(""),
    title: str = Form(""),
    abstract: str = Form(""),
    authors: str = Form(""),
    url: str = Form(""),
    published_on: str = Form(""),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> Response:
    """Queue or import the paper; duplicates are refused politely with a link to the paper."""
    form = {
        "arxiv_id": arxiv_id,
        "title": title,
        "abstract": abstract,
        "authors": authors,
        "url": url,
        "published_on": published_on,
    }
    try:
        if arxiv_id.strip():
            with pf.db.transaction() as conn:
                row = accounts.submit_arxiv(conn, user.id, arxiv_id)
            notice = f"Thank you! arXiv:{row['arxiv_id']} is queued and will appear once fetched."
            return render(request, "submit.html", _page(request, user, pf, notice=notice))
        day = parse_day(published_on) or date.today()
        if day > date.today():
            raise accounts.AccountError("The date cannot be in the future.")
        paper_id, held = _import_form(pf, user, title, abstract, authors, url, day)
    except accounts.AlreadyKnown as exc:
        context = _page(request, user, pf, error=str(exc), known_id=exc.paper_id, form=form)
        return render(request, "submit.html", context, status_code=409)
    except accounts.SubmissionLimit as exc:
        context = _page(request, user, pf, error=str(exc), form=form)
        return render(request, "submit.html", context, status_code=429)
    except accounts.AccountError as exc:
        context = _page(request, user, pf, error=str(exc), form=form)
        return render(request, "submit.html", context, status_code=400)
    # Searchable by keyword already; semantic search finds it once this has run.
    background.add_task(embed_now, pf, paper_id)
    notice = (
        "Thank you! Papers from new accounts are checked by an administrator first:"
        " this one appears in the lists and search once approved."
        if held
        else "Thank you! The paper is now in the catalogue."
    )
    return render(
        request, "submit.html", _page(request, user, pf, notice=notice, known_id=paper_id)
    )


def _import_form(
    pf: Paperfeed, user: User, title: str, abstract: str, authors: str, url: str, day: date
) -> tuple[int, bool]:
    """Import a described paper now; `day` (its publication date) places it in the lists.

    Its id, and whether it is held for an admin's review (a new account's paper,
    with PAPERFEED_REVIEW_NEW_SUBMISSIONS: catalogue/moderation.py).
    """
    title, abstract = clean_text(title), clean_text(abstract)
    if not title or len(abstract) < 20:
        raise accounts.AccountError("Please give the title and the abstract (or an arXiv id).")
    names = [clean_text(a) for a in authors.replace("\n", ",").split(",") if clean_text(a)]
    link = safe_url(url)
    link = None if link == "#" else link
    with pf.db.transaction() as conn:
        row = accounts.record_form_submission(conn, user.id, title, abstract, names, link)
        hold = moderation.review_hold(conn, user.id, pf.settings.review_new_submissions)
    paper = Paper(
        title=title,
        abstract=abstract,
        authors=tuple(names),
        published_on=day,
        github_url=link if link and "github.com/" in link else None,
    )
    record = Record(paper, SOURCE, f"submission:{row['id']}", f"submission {row['id']}")
    # The hold commits with the paper, never after it: no moment in which it is public.
    report = catalogue.ingest(
        pf.db, [record], source=SOURCE, origin=f"user {user.id}", hold=hold
    )
    with pf.db.transaction() as conn:
        if report.errors:
            accounts.finish_submission(conn, row["id"], "failed", None, report.errors[0].reason)
            raise accounts.AccountError(f"This paper could not be added: {report.errors[0].reason}")
        paper_id = catalogue.paper_id_for_sighting(conn, SOURCE, record.external_key)
        accounts.finish_submission(conn, row["id"], "imported", paper_id)
    return paper_id, hold is not None and bool(report.new)
