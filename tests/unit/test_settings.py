from ipaddress import ip_network

import pytest

from service.llm_settings import LLMMode
from service.settings import SettingsError, load_settings


def test_environment_names_are_the_contract(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("SIGNALS_LLM_MODEL", "m")
    monkeypatch.setenv("SIGNALS_LLM_MODE", "json_schema")
    monkeypatch.setenv("SIGNALS_FETCH_ALLOWED_NETWORKS", "127.0.0.1/32, ::1/128")
    monkeypatch.setenv("SIGNALS_PUBLIC_READ", "true")
    s = load_settings()
    assert s.database_url == "postgresql://u@h/db"
    assert s.llm_configured and s.llm_mode is LLMMode.json_schema
    assert s.fetch_allowed_networks == [ip_network("127.0.0.1/32"), ip_network("::1/128")]
    assert s.public_read is True


def test_defaults_need_nothing(monkeypatch):
    for name in ("DATABASE_URL", "OPENAI_BASE_URL", "SIGNALS_LLM_MODEL", "SIGNALS_FETCH_ALLOWED_NETWORKS"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings()
    assert s.database_url is None and not s.llm_configured
    assert s.llm_missing() == ["OPENAI_BASE_URL", "SIGNALS_LLM_MODEL"]
    assert s.fetch_allowed_networks == [] and s.fetch_max_bytes == 5 * 1024 * 1024
    assert s.llm_max_retries == 2 and s.fetch_timeout_seconds == 20 and s.extract_min_words == 120


def test_invalid_values_give_one_clear_message_naming_the_variables(monkeypatch):
    monkeypatch.setenv("SIGNALS_PORT", "eighty")
    monkeypatch.setenv("SIGNALS_LLM_MODE", "telepathy")
    monkeypatch.setenv("SIGNALS_FETCH_ALLOWED_NETWORKS", "not-a-network")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "SIGNALS_PORT" in message and "SIGNALS_LLM_MODE" in message
    assert "SIGNALS_FETCH_ALLOWED_NETWORKS" in message


def test_llm_rows_default_to_the_probe_and_the_servers_context(monkeypatch):
    for name in ("SIGNALS_LLM_MODE", "SIGNALS_LLM_CONTEXT_TOKENS", "SIGNALS_LLM_REPEAT_PENALTY"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings()
    assert s.llm_mode is LLMMode.auto and s.llm_context_tokens is None and s.llm_repeat_penalty == 1.1
    monkeypatch.setenv("SIGNALS_LLM_CONTEXT_TOKENS", "8192")
    monkeypatch.setenv("SIGNALS_LLM_REPEAT_PENALTY", "1.0")
    s = load_settings()
    assert s.llm_context_tokens == 8192 and s.llm_repeat_penalty == 1.0
    monkeypatch.setenv("SIGNALS_LLM_CONTEXT_TOKENS", "512")
    with pytest.raises(SettingsError, match="SIGNALS_LLM_CONTEXT_TOKENS"):
        load_settings()
