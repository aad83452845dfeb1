"""Item 16 (Info): another user's folder is answered exactly like a folder that does not exist.

Before, `/library?folder=<someone else's folder>` listed those of *my* saved papers that
the other user's folder held: anyone could tell whether a folder holds a paper they
saved. Every folder route (page, exports, edit, remove, delete) now gives one answer
for "not yours" and "no such folder".
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import Corpus

from .conftest import csrf_of, sign_up

_TOKENS = re.compile(r'content="csrf[^"]*"|name="csrf_token" value="[^"]*"|pf-req-[\w-]+')
_FOLDER = re.compile(r"(?<=folder=)\d+|(?<=folders/)\d+")
MISSING = 987_654_321


def _answer(response) -> tuple[int, str]:
    """Status and page, with tokens and any folder id in a link blanked."""
    return response.status_code, _FOLDER.sub("ID", _TOKENS.sub("", response.text))


def test_another_users_folder_looks_like_no_folder(
    browser: Callable[[], TestClient], corpus: Corpus
) -> None:
    held, other = corpus.ids["graphs"][:2]
    owner, prober = browser(), browser()
    sign_up(owner, "owner@example.org")
    sign_up(prober, "prober@example.org")
    token = csrf_of(owner, "/library")
    owner.post("/library/folders", data={"csrf_token": token, "name": "Secret"})
    [folder] = re.findall(r'href="/library\?folder=(\d+)"', owner.get("/library").text)
    owner.post(f"/api/library/{held}", headers={"X-CSRF-Token": token})
    edit = {"csrf_token": token, "folder": folder, "tags": "", "note": ""}
    assert owner.post(f"/library/{held}/edit", data=edit).status_code == 200
    assert f'id="paper-{held}"' in owner.get(f"/library?folder={folder}").text

    probe = csrf_of(prober, "/library")
    for pid in (held, other):
        prober.post(f"/api/library/{pid}", headers={"X-CSRF-Token": probe})

    def both(send: Callable[[str], object]) -> None:
        theirs, missing = _answer(send(folder)), _answer(send(str(MISSING)))
        assert theirs == missing and theirs[0] in (400, 404)

    both(lambda f: prober.get(f"/library?folder={f}"))
    both(lambda f: prober.get(f"/library/export.bib?folder={f}"))
    both(lambda f: prober.get(f"/library/export.csv?folder={f}"))
    both(
        lambda f: prober.post(
            f"/library/{held}/edit", data={"csrf_token": probe, "folder": f, "tags": "", "note": ""}
        )
    )
    both(lambda f: prober.post(f"/library/folders/{f}/remove/{held}", data={"csrf_token": probe}))
    both(lambda f: prober.post(f"/library/folders/{f}/delete", data={"csrf_token": probe}))
    # Nothing of the owner's changed.
    assert f'id="paper-{held}"' in owner.get(f"/library?folder={folder}").text
