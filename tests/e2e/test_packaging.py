"""The wheel the Docker image installs (`pip wheel .`, as its build stage runs it) carries
everything the service reads from its package: migrations and queries, the sample article,
the API documentation's scripts and the reader pages' templates. An editable install reads
them from the source tree and would never notice one missing."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)


def test_the_wheel_holds_the_package_data(tmp_path: Path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = tmp_path.glob("signals-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "sql/migrations/0001_core.sql",
        "service/samples/leak-sensors.txt",
        "service/docs_assets/static/scalar/standalone.js",
        "service/docs_assets/static/scalar/theme.css",
        "service/docs_assets/static/swagger-ui/swagger-ui-bundle.js",
        "service/docs_assets/static/swagger-ui/swagger-ui-standalone-preset.js",
        "service/docs_assets/static/swagger-ui/swagger-ui.css",
    }
    assert expected <= names, sorted(expected - names)
    queries = {p.relative_to(ROOT).as_posix() for p in (ROOT / "sql" / "queries").glob("*.sql")}
    assert queries <= names, sorted(queries - names)
    reader = {  # the reader pages' templates, stylesheet and icon
        p.relative_to(ROOT).as_posix()
        for folder in ("templates", "static")
        for p in (ROOT / "service" / "reader" / folder).rglob("*")
        if p.is_file()
    }
    assert reader and reader <= names, sorted(reader - names)
