"""The CLI as a user runs it: db upgrade, keys create / list / revoke, serve printing the first key once."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.processes import CLI, ROOT, Server, service_env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_db_upgrade_and_keys(tmp_path: Path) -> None:
    env = service_env(tmp_path)
    upgraded = _run(env, "db", "upgrade")
    assert upgraded.returncode == 0 and "database at revision" in upgraded.stdout
    refused = _run(env, "keys", "create")
    assert refused.returncode == 2 and "--user-id" in refused.stderr
    created = _run(env, "keys", "create", "--user-id", "alice", "--name", "phone")
    key = re.search(r"aib_\S+", created.stdout)
    assert created.returncode == 0 and key
    listed = _run(env, "keys", "list").stdout
    assert "user=alice" in listed and key.group(0) not in listed
    prefix = listed.split("…")[0].strip()
    assert _run(env, "keys", "revoke", prefix).stdout.strip() == "revoked 1 key(s)"
    assert "revoked" in _run(env, "keys", "list").stdout


def test_serve_creates_one_admin_key_on_first_start(tmp_path: Path) -> None:
    env = service_env(tmp_path)
    first = Server(env)
    first.stop()
    second = Server(env)
    second.stop()
    assert len(re.findall(r"aib_\S+", first.output())) == 1
    assert "aib_" not in second.output()
