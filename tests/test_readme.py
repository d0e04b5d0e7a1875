"""The README stays true: every setting is in its configuration table, every action in its operations table."""

from __future__ import annotations

from pathlib import Path

from tools.registry import CATALOG
from tools.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        f"AI_BACKEND_{name.upper()}" for name in Settings.model_fields if f"AI_BACKEND_{name.upper()}" not in README
    ]
    assert not missing, f"add these to the README's configuration table: {missing}"


def test_every_action_is_documented() -> None:
    missing = [op.action for op in CATALOG if f"`{op.action}`" not in README]
    missing += [action for action in CATALOG.planned_actions if f"`{action}`" not in README]
    assert not missing, f"add these to the README's operations table: {missing}"
