"""Settings: every option is documented, parsed strictly, and secrets are masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperfeed.config import ConfigError, Settings, options

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("option", options(), ids=lambda o: o.env)
def test_every_setting_is_documented_in_the_readme(option) -> None:
    assert f"`{option.env}`" in README


def test_environment_values_are_parsed() -> None:
    settings = Settings.from_env(
        {"PAPERFEED_POOL_SIZE": "3", "PAPERFEED_AUTO_MIGRATE": "no", "PAPERFEED_HOME": "/x"}
    )
    assert settings.pool_size == 3 and settings.auto_migrate is False
    assert settings.home == Path("/x")


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="PAPERFEED_POOL_SIZE"):
        Settings.from_env({"PAPERFEED_POOL_SIZE": "many"})
    with pytest.raises(ConfigError, match="PAPERFEED_SMTP_SECURITY"):
        Settings.from_env({"PAPERFEED_SMTP_SECURITY": "tls13"})


def test_secrets_are_masked() -> None:
    described = dict(
        (env, value)
        for env, value, _ in Settings.from_env(
            {"PAPERFEED_SMTP_PASSWORD": "hunter2", "PAPERFEED_DATABASE_URL": "postgresql://u:p@h/d"}
        ).describe()
    )
    assert described["PAPERFEED_SMTP_PASSWORD"] == "********"
    assert described["PAPERFEED_DATABASE_URL"] == "********"
    assert "hunter2" not in str(described)


def test_model_cache_defaults_to_home_and_can_be_shared(tmp_path: Path) -> None:
    from paperfeed.app import Paperfeed

    own = Paperfeed(Settings.from_env({"PAPERFEED_HOME": str(tmp_path / "h")}))
    assert own.model_dir == tmp_path / "h" / "models"
    shared = Paperfeed(
        Settings.from_env({"PAPERFEED_HOME": str(tmp_path), "PAPERFEED_MODEL_DIR": "/srv/models"})
    )
    assert shared.model_dir == Path("/srv/models")
