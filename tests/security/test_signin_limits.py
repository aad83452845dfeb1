"""Item 9: one normalised address (NFKC + case fold) for look-up and limit, and a short
per-account backoff instead of a 5-minute lock."""

from __future__ import annotations

from .conftest import sign_in, sign_up

EMAIL = "victim@example.org"


def test_spellings_of_one_address_share_one_limit(browser) -> None:
    sign_up(browser(), EMAIL)
    attacker = browser()
    spellings = [EMAIL.upper(), "ｖｉｃｔｉｍ@example.org", "Victim@Example.org"]
    codes = [sign_in(attacker, spellings[i % 3], "wrong guess").status_code for i in range(9)]
    assert codes.count(401) == 5 and codes[5:] == [429] * 4
    # The canonical spelling is in the same backoff.
    assert sign_in(attacker, EMAIL, "wrong guess").status_code == 429


def test_a_look_alike_is_another_address(browser) -> None:
    sign_up(browser(), EMAIL)
    # 'İ' lower-cases to 'i' in the database, but it is not the same address.
    response = sign_in(browser(), "vİctim@example.org")
    assert response.status_code == 401


def test_full_width_spelling_signs_in(browser) -> None:
    sign_up(browser(), EMAIL)
    assert sign_in(browser(), "ＶＩＣＴＩＭ@example.org").status_code == 303


def test_the_owner_waits_seconds_not_minutes(browser) -> None:
    sign_up(browser(), EMAIL)
    guesser = browser()
    for _ in range(10):
        response = sign_in(guesser, EMAIL, "wrong guess")
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) <= 60
