"""A hostile Markdown corpus posted as comments is inert in a real Chromium.

Each payload is posted through the JSON API from the signed-in page; then the
paper page (where the author also gets edit forms holding the raw source) is
loaded, and nothing may run: no dialog, no `window.__xss`, no console error
(the site's CSP would log a refused inline script), no script/iframe/svg/img/
style/form element or on* attribute inside a comment, and every link in a
comment is http(s) or mailto. The page screenshot goes to test-artifacts/.
"""

from __future__ import annotations

import pytest

from tests.e2e.browser import ARTIFACTS
from tests.e2e.test_browser import page, server  # noqa: F401 - the fixtures

pytestmark = pytest.mark.e2e

HOSTILE = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    "[click](javascript:window.__xss=1)",
    "[click](JaVaScRiPt:window.__xss=1)",
    "[click](java&#115;cript:window.__xss=1)",
    "[x](&#106;avascript:window.__xss=1)",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](javascript:window.__xss=1)",
    "![img](https://example.org/x.png)",
    '<a href="javascript:window.__xss=1">a</a>',
    "<svg onload=window.__xss=1>",
    '<iframe src="javascript:window.__xss=1"></iframe>',
    "`<script>window.__xss=1</script>`",
    "```html\n<script>window.__xss=1</script>\n```",
    '[a](https://x.org" onmouseover="window.__xss=1)',
    "<style>body{display:none}</style>",
    "**<b onmouseover=window.__xss=1>bold</b>**",
    "[link](vbscript:msgbox(1))",
    "<details open ontoggle=window.__xss=1>",
    "> <form action=https://evil.example><input name=x></form>",
    '<math><mi xlink:href="javascript:window.__xss=1">x</mi></math>',
    "$x<script>window.__xss=1</script>$ and $e^{i\\pi}+1=0$",
    "[ref]: javascript:window.__xss=1\n\n[ref]",
    "<javascript:window.__xss=1> and <https://ok.example/>",
    "<!-- <script>window.__xss=1</script> -->",
    '"><script>window.__xss=1</script>',
    "</textarea><script>window.__xss=1</script>",
    "<a href='https://ok.example' onclick='window.__xss=1'>ok</a>",
    "- list\n- <img src=x onerror=window.__xss=1>",
    "[*emph*](https://ok.example/path?a=1&b=<script>)",
]


def test_hostile_markdown_is_inert(page, server) -> None:  # noqa: F811 - fixtures
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto("/signup")
    page.fill("input[name=email]", "xss@example.org")
    page.fill("input[name=password]", "correct horse battery")
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    page.goto("/")
    page.locator(".paper-title a").first.click()
    page.wait_for_url("**/papers/*")
    paper_id = int(page.url.rsplit("/", 1)[1].split("?")[0].split("#")[0])
    statuses = page.evaluate(
        """async ([pid, bodies]) => {
            const token = document.querySelector('meta[name=csrf-token]').content;
            const out = [];
            let top = null;
            for (const body of bodies) {
                const r = await fetch(`/api/papers/${pid}/comments`, {
                    method: 'POST',
                    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
                    body: JSON.stringify(top ? {body, parent_id: top} : {body}),
                });
                const made = await r.json();
                if (top === null) top = made.id;
                out.push(r.status);
            }
            return out;
        }""",
        [paper_id, HOSTILE],
    )
    assert statuses == [201] * len(HOSTILE)
    page.goto(f"/papers/{paper_id}?sort=new#discussion")
    page.wait_for_load_state("networkidle")
    # Hover and click what could carry a handler.
    for selector in (".comment-body b", ".comment-body a", ".comment-body details"):
        for element in page.locator(selector).all()[:10]:
            element.hover()
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    found = page.evaluate(
        """() => {
            const bodies = [...document.querySelectorAll('.comment-body')];
            const bad = [];
            for (const b of bodies) {
                for (const el of b.querySelectorAll('*')) {
                    const tag = el.tagName.toLowerCase();
                    if (['script','iframe','svg','img','style','form','input','math','details',
                         'object','embed'].includes(tag)) bad.push(tag);
                    for (const a of el.attributes)
                        if (a.name.startsWith('on') || a.name === 'style')
                            bad.push(tag + '@' + a.name);
                    if (tag === 'a' && !/^(https?:|mailto:)/i.test(el.getAttribute('href') || ''))
                        bad.push('a[href=' + el.getAttribute('href') + ']');
                }
            }
            return {count: bodies.length, bad};
        }"""
    )
    assert found["count"] >= len(HOSTILE)
    assert found["bad"] == []
    # Written text survives as text: the script source is visible, not run.
    assert page.locator(".comment-body code", has_text="<script>").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "e2e-hostile-comments.png"), full_page=True)


@pytest.fixture(autouse=True)
def generous_comment_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The corpus is posted at once by one account: lift the per-account limit for it."""
    monkeypatch.setenv("PAPERFEED_COMMENT_RATE", "1000")
