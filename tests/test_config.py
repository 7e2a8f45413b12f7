import pytest

from app.config import ConfigError, load_settings


def test_bad_settings_fail_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONTROLROOM_DATABASE_URL", "mysql://nope")
    monkeypatch.setenv("CONTROLROOM_PORT", "99999")
    with pytest.raises(ConfigError):
        load_settings()
    err = capsys.readouterr().err
    assert "CONTROLROOM_DATABASE_URL" in err and "sqlite+aiosqlite" in err
    assert "CONTROLROOM_PORT" in err


def test_defaults_are_the_embedded_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CONTROLROOM_DATABASE_URL", "CONTROLROOM_REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings()
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.redis_url is None


def test_origins_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTROLROOM_ALLOWED_ORIGINS", "https://a.example, https://b.example/")
    assert load_settings().allowed_origins == ["https://a.example", "https://b.example"]
