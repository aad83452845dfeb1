"""Library pages and actions: save, not interested, tags, notes, folders, export, import."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response

from paperfeed.app import Paperfeed
from paperfeed.catalogue import library, library_io
from paperfeed.catalogue.accounts import User
from paperfeed.web import finder
from paperfeed.web.deps import NAV_LINKS, csrf_protect, get_pf, render, require_user
from paperfeed.web.errors import BadRequest, NotFound
from paperfeed.web.schemas import API_ERRORS
from paperfeed.web.uploads import parses

router = APIRouter()
NAV_LINKS.append(("Library", "/library", "library"))
EXPORT_LIMIT = 10_000
SEARCH_EXPORT = 100


def _back(next_url: str, fallback: str = "/library") -> RedirectResponse:
    # Only same-site paths: an open redirect would let any page bounce users elsewhere.
    target = next_url if next_url.startswith("/") and not next_url.startswith("//") else fallback
    return RedirectResponse(target, status_code=303)


def _run(action) -> object:
    try:
        return action()
    except library.UnknownPaper as exc:
        raise NotFound(str(exc)) from None
    except library.LibraryError as exc:
        raise BadRequest(str(exc)) from None


def _require_folder(conn, user: User, folder: int | None) -> None:
    # One answer for a folder that does not exist and one that is someone else's.
    if folder is not None and not library.owns_folder(conn, user.id, folder):
        raise NotFound("No such folder.")


@router.get("/library", include_in_schema=False)
def library_page(
    request: Request,
    folder: int | None = None,
    tag: str | None = Query(None, max_length=50),
    user: User = Depends(require_user),
    pf: Paperfeed = Depends(get_pf),
):
    with pf.db.transaction() as conn:
        _require_folder(conn, user, folder)
        items = library.items(conn, user.id, folder_id=folder, tag=tag, limit=500)
        folders = library.folders(conn, user.id)
        tags = library.tags(conn, user.id)
        total = library.count_items(conn, user.id)
        last_import = library.last_import(conn, user.id)
    query = f"?folder={folder}" if folder else f"?tag={tag}" if tag else ""
    return render(
        request,
        "library/page.html",
        {
            "nav": "library",
            "items": items,
            "folders": folders,
            "tags": tags,
            "total": total,
            "folder": folder,
            "tag": tag,
            "export_query": query,
            "last_import": last_import,
        },
    )


@router.post(
    "/papers/{paper_id}/save", include_in_schema=False, dependencies=[Depends(csrf_protect)]
)
def save_form(
    paper_id: int,
    next: str = Form("/library"),
    action: str = Form("save"),
    user: User = Depends(require_user),
    pf: Paperfeed = Depends(get_pf),
):
    with pf.db.transaction() as conn:
        if action == "unsave":
            library.unsave(conn, user.id, paper_id)
        else:
            _run(lambda: library.save(conn, user.id, paper_id))
    return _back(next)


@router.post(
    "/papers/{paper_id}/not-interested",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)
def not_interested_form(
    paper_id: int,
    next: str = Form("/for-you"),
    action: str = Form("add"),
    user: User = Depends(require_user),
    pf: Paperfeed = Depends(get_pf),
):
    with pf.db.transaction() as conn:
        if action == "undo":
            library.undo_not_interested(conn, user.id, paper_id)
        else:
            _run(lambda: library.not_interested(conn, user.id, paper_id))
    return _back(next, "/for-you")


@router.post(
    "/library/{paper_id}/edit", include_in_schema=False, dependencies=[Depends(csrf_protect)]
)
def edit_item(
    paper_id: int,
    tags: str = Form(""),
    note: str = Form(""),
    folder: int | None = Form(None),
    next: str = Form("/library"),
    user: User = Depends(require_user),
    pf: Paperfeed = Depends(get_pf),
):
    with pf.db.transaction() as conn:
        _run(lambda: library.set_tags(conn, user.id, paper_id, tags.split(",")))
        _run(lambda: library.set_note(conn, user.id, paper_id, note))
        if folder:
            _run(lambda: library.add_to_folder(conn, user.id, folder, paper_id))
    return _back(next)


@router.post("/library/folders", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def create_folder(
    name: str = Form(..., max_length=200),
    user: User = Depends(require_user),
    pf: Paperfeed = Depends(get_pf),
):
    with pf.db.transaction() as conn:
        folder_id = _run(lambda: library.create_folder(conn, user.id, name))
    return _back(f"/library?folder={folder_id}")


@router.post(
    "/library/folders/{folder_id}/delete",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)
def delete_folder(
    folder_id: int, user: User = Depends(require_user), pf: Paperfeed = Depends(get_pf)
):
    with pf.db.transaction() as conn:
        if not library.delete_folder(conn, user.id, folder_id):
            raise NotFound("No such folder.")
    return _back("/library")


@router.post(
    "/library/folders/{folder_id}/remove/{paper_id}",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)
def remove_from_folder(
    folder_id: int,
    paper_id: int,
    user: User = Depends(require_user),
    pf: Paperfeed = Depends(get_pf),
):
    """Take a paper out of a folder; it stays in the library."""
    with pf.db.transaction() as conn:
        _run(lambda: library.remove_from_folder(conn, user.id, folder_id, paper_id))
    return _back(f"/library?folder={folder_id}")


@router.post("/library/import", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def import_file(
    request: Request,
    file: UploadFile = File(...),
    user: User = Depends(require_user),
    pf: Paperfeed = Depends(get_pf),
):
    """Import a BibTeX file: size-checked, parsed off this thread within a time budget,
    and only then written (web/uploads.py)."""
    uploads = parses(request)
    data = uploads.read_upload(file)
    filename = file.filename or ""
    parsed = _run(lambda: uploads.parse(data, filename))
    with pf.db.transaction() as conn:
        report = library_io.save_import(conn, user.id, parsed, filename)
    return render(request, "library/imported.html", {"nav": "library", "report": report})


def _export(papers: list[dict], fmt: str, name: str) -> Response:
    if fmt == "bib":
        return Response(
            library_io.to_bibtex(papers),
            media_type="application/x-bibtex",
            headers={"Content-Disposition": f'attachment; filename="{name}.bib"'},
        )
    if fmt == "csv":
        return Response(
            library_io.to_csv(papers),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    raise NotFound("Exports end in .bib or .csv.")


@router.get("/library/export.{fmt}", include_in_schema=False)
def export_library(
    fmt: str,
    folder: int | None = None,
    tag: str | None = None,
    user: User = Depends(require_user),
    pf: Paperfeed = Depends(get_pf),
):
    with pf.db.transaction() as conn:
        _require_folder(conn, user, folder)
        papers = library.items(conn, user.id, folder_id=folder, tag=tag, limit=EXPORT_LIMIT)
    return _export(papers, fmt, "paperfeed-library")


@router.get("/export/search.{fmt}", include_in_schema=False)
def export_search(
    fmt: str, q: str = Query(..., min_length=1, max_length=500), pf: Paperfeed = Depends(get_pf)
):
    """Any search's first results, as the search page ranks them, for a reference manager."""
    results = finder.search(pf, finder.Query(q=q.strip(), per_page=SEARCH_EXPORT))
    return _export(list(results.papers), fmt, "paperfeed-search")


# --- JSON API -------------------------------------------------------------


@router.get("/api/library", responses=API_ERRORS)
def api_library(user: User = Depends(require_user), pf: Paperfeed = Depends(get_pf)) -> dict:
    """The signed-in user's saved papers, newest first."""
    with pf.db.transaction() as conn:
        items = library.items(conn, user.id, limit=1000)
    keys = ("id", "title", "arxiv_id", "tags", "note", "folders")
    return {
        "items": [{k: i[k] for k in keys} | {"saved_at": i["saved_at"].isoformat()} for i in items]
    }


@router.post("/api/library/{paper_id}", responses=API_ERRORS, dependencies=[Depends(csrf_protect)])
def api_save(
    paper_id: int, user: User = Depends(require_user), pf: Paperfeed = Depends(get_pf)
) -> JSONResponse:
    """Save a paper to the library."""
    with pf.db.transaction() as conn:
        added = _run(lambda: library.save(conn, user.id, paper_id))
    return JSONResponse({"paper_id": paper_id, "saved": True, "added": added})


@router.delete(
    "/api/library/{paper_id}", responses=API_ERRORS, dependencies=[Depends(csrf_protect)]
)
def api_unsave(
    paper_id: int, user: User = Depends(require_user), pf: Paperfeed = Depends(get_pf)
) -> JSONResponse:
    """Remove a paper from the library."""
    with pf.db.transaction() as conn:
        removed = library.unsave(conn, user.id, paper_id)
    return JSONResponse({"paper_id": paper_id, "saved": False, "removed": removed})


@router.post(
    "/api/papers/{paper_id}/not-interested",
    responses=API_ERRORS,
    dependencies=[Depends(csrf_protect)],
)
def api_not_interested(
    paper_id: int, user: User = Depends(require_user), pf: Paperfeed = Depends(get_pf)
) -> JSONResponse:
    """Mark a paper "not interested": similar papers rank lower in the for-you feed."""
    with pf.db.transaction() as conn:
        _run(lambda: library.not_interested(conn, user.id, paper_id))
    return JSONResponse({"paper_id": paper_id, "not_interested": True})
