"""Print constraints.txt: every installed package paperfeed[test] needs, pinned.

Run after ./scripts/test passed with the versions you want to keep:

    python scripts/lock.py > constraints.txt

It walks the installed metadata from paperfeed's own requirements (with the
`test` extra) plus import-linter, so packages that merely happen to be on the
machine are left out.
"""

from __future__ import annotations

import importlib.metadata as md

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HEADER = """\
# Every package the test suite installs, at the versions CI last passed with.
# scripts/test installs with `-c constraints.txt`, so a fresh machine gets exactly
# this set and an upstream release can never turn CI red overnight.
#
# To bump: install the new version by hand, run ./scripts/test, then regenerate
# this file with `python scripts/lock.py > constraints.txt` and commit both.
# (pyproject.toml keeps ranges, with upper bounds where a major release may break.)"""


def closure() -> dict[str, str]:
    """Installed versions of everything reachable from paperfeed[test]."""
    stack = [Requirement(r) for r in md.requires("paperfeed") or []]
    stack = [r for r in stack if not r.marker or r.marker.evaluate({"extra": "test"})]
    versions: dict[str, str] = {}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while stack:
        req = stack.pop()
        key = (canonicalize_name(req.name), tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            continue  # an optional dependency that is not installed
        versions[key[0]] = dist.version
        envs = [{"extra": e} for e in (req.extras or {""})]
        for line in dist.requires or []:
            sub = Requirement(line)
            if not sub.marker or any(sub.marker.evaluate(e) for e in envs):
                stack.append(sub)
    versions.pop("paperfeed", None)
    return versions


def main() -> None:
    print(HEADER)
    for name, version in sorted(closure().items()):
        # The CPU build is installed from a local file as "2.13.0+cpu"; pin the
        # public version so that pip matches the same file.
        print(f"{name}=={version.split('+')[0] if name == 'torch' else version}")


if __name__ == "__main__":
    main()
