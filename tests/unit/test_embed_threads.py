"""The model's default threads when every service shares one process (``ragbus up``)."""

import os

import pytest

from ragbus.settings import InfraSettings, default_all_in_one_threads, set_all_in_one_threads

pytestmark = pytest.mark.unit


def test_one_core_is_left_to_the_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert default_all_in_one_threads() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert default_all_in_one_threads() == 7
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert default_all_in_one_threads() == 1


def test_the_default_reaches_the_settings_and_an_operator_setting_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)
    monkeypatch.delenv("RAGBUS_EMBED_THREADS", raising=False)
    assert set_all_in_one_threads() == 3
    assert InfraSettings().embed_threads == 3
    monkeypatch.setenv("RAGBUS_EMBED_THREADS", "2")
    assert set_all_in_one_threads() == 2
    assert InfraSettings().embed_threads == 2
