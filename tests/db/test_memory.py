"""The memory line of `db status`: what it says for each state of huge pages."""

from __future__ import annotations

from paperfeed.db.memory import ServerMemory, describe


def memory(huge_pages: str | None, needed: int | None = 3116, size: str = "0") -> ServerMemory:
    return ServerMemory("6026MB", huge_pages, needed, size)


def test_huge_pages_off_says_how_many_to_reserve() -> None:
    assert describe(memory("off")) == (
        "memory: shared_buffers 6026MB, huge pages off (searches are faster with them:"
        " sysctl -w vm.nr_hugepages=3116 as root, then restart the server)"
    )


def test_a_huge_page_size_of_its_own_is_named_instead_of_the_default_sysctl() -> None:
    line = describe(memory("off", size="1GB"))
    assert "reserve 3116 huge pages of 1GB" in line and "sysctl" not in line


def test_huge_pages_on_or_not_possible_here_give_no_advice() -> None:
    assert describe(memory("on")) == "memory: shared_buffers 6026MB, huge pages on"
    # A system without huge pages (shared_memory_size_in_huge_pages is -1).
    assert describe(memory("off", needed=None)) == "memory: shared_buffers 6026MB, huge pages off"


def test_a_server_before_postgresql_17_shows_only_shared_buffers() -> None:
    assert describe(memory(None, needed=None)) == "memory: shared_buffers 6026MB"
