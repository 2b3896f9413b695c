import subprocess
import sys


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
    assert "battle record format 1, battle-log schema 3" in result.stdout
