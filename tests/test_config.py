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


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("PAPERFEED_SMTP_PORT", "-1", "expected 1..65535"),
        ("PAPERFEED_POOL_SIZE", "0", "expected 1..1000"),
        ("PAPERFEED_BASE_URL", "papers.example.org", "http(s)://host"),
        ("PAPERFEED_EMBEDDING_MODEL", "bert-base", "expected one of minilm-l6-v2"),
        ("PAPERFEED_INGEST_HOURS", "1,24", "hours 0..23"),
        ("PAPERFEED_LOG_FORMAT", "xml", "expected one of text, json"),
        ("PAPERFEED_DATABASE_URL", "postgresql//app:hunter2@db/pf", "not shown"),
    ],
)
def test_each_setting_is_validated_with_one_line_naming_it(
    env: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({env: value})
    assert str(caught.value).startswith(f"{env}: ") and message in str(caught.value)
    assert "hunter2" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_misspelled_setting_is_warned_about_with_a_suggestion(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="paperfeed.config"):
        Settings.from_env({"PAPERFEED_SMTP_PROT": "2525", "PAPERFEED_TEST_DATABASE_URL": "x"})
    assert [r.getMessage() for r in caplog.records] == [
        "PAPERFEED_SMTP_PROT is not a paperfeed setting and is ignored"
        " (did you mean PAPERFEED_SMTP_PORT?)"
    ]


def test_the_known_models_are_the_ones_the_index_can_load() -> None:
    from paperfeed.config import KNOWN_MODELS
    from paperfeed.index.embed import MODELS

    assert set(KNOWN_MODELS) == set(MODELS)


def test_a_bad_setting_stops_a_command_with_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from paperfeed.cli import app

    result = CliRunner().invoke(
        app, ["db", "status"], env={"PAPERFEED_SMTP_PORT": "-1", "PAPERFEED_HOME": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: configuration error: PAPERFEED_SMTP_PORT: expected 1..65535, got -1"
    )


def test_an_external_database_needs_a_configured_secret_key(tmp_path: Path) -> None:
    from paperfeed.app import Paperfeed

    shared = Paperfeed(
        Settings.from_env({"PAPERFEED_HOME": str(tmp_path), "PAPERFEED_DATABASE_URL": "host=db"})
    )
    with pytest.raises(ConfigError, match="^PAPERFEED_SECRET_KEY: required with an external"):
        _ = shared.secret_key
    assert not (tmp_path / "secret_key").exists()
    embedded = Paperfeed(Settings.from_env({"PAPERFEED_HOME": str(tmp_path)}))
    assert len(embedded.secret_key) > 40  # generated once into the data directory
