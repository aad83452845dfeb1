"""Item 16 (Info): HEAD answers like GET without a body; redirects never carry the Host
header's site."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_head_answers_like_get_without_a_body(client: TestClient) -> None:
    get = client.get("/")
    head = client.head("/")
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def test_a_trailing_slash_redirect_does_not_reflect_the_host_header(client: TestClient) -> None:
    response = client.get(
        "/api/trending/", headers={"Host": "evil.example"}, follow_redirects=False
    )
    assert response.status_code in (307, 308)
    assert "evil.example" not in response.headers["location"]
    assert response.headers["location"].startswith("/api/trending")
