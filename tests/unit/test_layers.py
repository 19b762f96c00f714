"""The layers of service/ and what may import what, checked by import-linter against the
contracts in pyproject.toml ([tool.importlinter]); and SQL only in sql/queries."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_contract_holds():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-4000:]
    assert "Contracts: 4 kept, 0 broken." in report  # none went missing from the config


def test_no_sql_strings_in_repositories():
    for path in (ROOT / "service").rglob("repository.py"):
        text = path.read_text()
        for keyword in ("SELECT ", "INSERT ", "UPDATE ", "DELETE "):
            assert keyword not in text, f"{path.relative_to(ROOT)} holds SQL; put it in sql/queries"
