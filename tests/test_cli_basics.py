import subprocess
import sys

from arena.record import SCHEMA_VERSION
from arena.store import STORE_SCHEMA_VERSION


def test_cli_help_lists_commands():
    result = subprocess.run(
        [sys.executable, "-m", "arena", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "version" in result.stdout


def test_version_reports_schema():
    result = subprocess.run(
        [sys.executable, "-m", "arena", "version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    expected = f"battle record format {SCHEMA_VERSION}, battle-log schema {STORE_SCHEMA_VERSION}"
    assert expected in result.stdout
