"""Item 5: LaTeX in paper text reaches no BibTeX export verbatim: the paper page, the API and
the library export (page and CLI) share one writer, catalogue/citation.py."""

from __future__ import annotations

from datetime import date

from paperfeed.app import Paperfeed
from paperfeed.catalogue import library, library_io
from tests.delivery.conftest import add_papers

from .conftest import csrf_of, sign_up

# Balanced braces: what a writer that only checks brace balance lets through.
HOSTILE = r"Paper \input{/etc/passwd} and \immediate\write18{id} at 100% $x$"


def _hostile_paper(pf: Paperfeed) -> int:
    [pid] = add_papers(pf, [("Hostile Paper", date(2026, 11, 23), 1)], abstract=HOSTILE)
    with pf.db.transaction() as conn:
        conn.execute(
            "UPDATE papers SET title = %s, organization = %s, authors = %s WHERE id = %s",
            (HOSTILE, HOSTILE, [r"Eve \def\x{y}"], pid),
        )
    return pid


def _assert_inert(text: str) -> None:
    assert r"\input{" not in text and r"\write18{" not in text and r"\def\x" not in text
    assert r"\textbackslash{}input\{/etc/passwd\}" in text
    # Braces balance inside every entry: nothing closes a field early.
    unescaped = text.replace(r"\{", "").replace(r"\}", "")
    assert unescaped.count("{") == unescaped.count("}")


def test_every_bibtex_export_escapes_latex(mpf: Paperfeed, client) -> None:
    pid = _hostile_paper(mpf)
    sign_up(client, "reader@example.com")
    saved = client.post(f"/api/library/{pid}", headers={"X-CSRF-Token": csrf_of(client)})
    assert saved.status_code == 200
    exports = {
        "page": client.get(f"/papers/{pid}/bibtex").text,
        "api": client.get(f"/api/papers/{pid}").json()["bibtex"],
        "library": client.get("/library/export.bib").text,
    }
    with mpf.db.connection() as conn:
        user_id = conn.execute("SELECT id FROM users").fetchone()["id"]
        exports["cli"] = library_io.to_bibtex(library.items(conn, user_id))
    for where, text in exports.items():
        assert "etc/passwd" in text, where
        _assert_inert(text)
