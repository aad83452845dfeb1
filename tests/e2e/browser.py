"""How the browser tests run Chromium: Debian's build, headless, with no network chatter."""

from __future__ import annotations

from pathlib import Path

# Screenshots land here (git-ignored) so a person can look at what the tests saw.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google on this
# offline machine; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
