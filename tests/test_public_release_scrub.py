"""The scrubber of published text: each kind of personal data it replaces, and look-alikes it
must leave alone (real scrubadub, offline)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from arena.transfer.scrub import TextScrubber, scrubber_info

SCRUBBER = TextScrubber()

# (text, what it must become)
FOUND = {
    "email": [
        ("Mail me at john.doe@example.com please", "Mail me at {{EMAIL}} please"),
        ("reach a.b+tag@mail.example.co.uk.", "reach {{EMAIL}}."),
        ("<ops-team@corp.example.org>", "<{{EMAIL}}>"),
    ],
    "phone": [
        ("call +44 20 7946 0958 today", "call {{PHONE}} today"),
        ("or (415) 555-2671", "or {{PHONE}}"),
        ("Büro: +49 30 901820", "Büro: {{PHONE}}"),
    ],
    "ip address": [
        ("server 192.168.1.20:8080 is down", "server {{IP_ADDRESS}}:8080 is down"),
        ("ping 8.8.8.8.", "ping {{IP_ADDRESS}}."),
        ("v6 2001:db8::8a2e:370:7334 here", "v6 {{IP_ADDRESS}} here"),
        ("link-local fe80::1", "link-local {{IP_ADDRESS}}"),
    ],
    "card number": [
        ("card 4111 1111 1111 1111 exp", "card {{CREDIT_CARD}} exp"),
        ("card 4111-1111-1111-1111", "card {{CREDIT_CARD}}"),
        ("card 5500005555555559", "card {{CREDIT_CARD}}"),
        ("amex 3782 822463 10005", "amex {{CREDIT_CARD}}"),
    ],
    "api key or token": [
        ("key sk-proj-abcdefghijklmnopqrstuvwx1234", "key {{API_KEY}}"),
        ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123", "{{API_KEY}}"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token {{API_KEY}}"),
        ("AKIAIOSFODNN7EXAMPLE", "{{API_KEY}}"),
        ("AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", "{{API_KEY}}"),
        ("hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "{{API_KEY}}"),
        ("xoxb-123456789012-abcdefghij", "{{API_KEY}}"),
        ("Authorization: Bearer abcdef0123456789abcdef", "Authorization: Bearer {{API_KEY}}"),
        ('api_key="zq8Xk2LmP0"', 'api_key="{{API_KEY}}"'),
        ("password: hunter22", "password: {{API_KEY}}"),
        ("my password is hunter0", "my password is {{API_KEY}}"),
        ("postgres://arena:s3cretpw@db:5432/x", "postgres://arena:{{API_KEY}}@db:5432/x"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3",
         "jwt {{API_KEY}}"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIB\n-----END RSA PRIVATE KEY-----\nok",
         "{{API_KEY}}\nok"),
    ],
}

# Text that looks like personal data but is not: must come back unchanged.
LEFT_ALONE = {
    "email": ["use the @decorator", "a@b", "cost: 5 @ 3 each", "user@localhost"],
    "phone": ["on 2024-01-05", "12345678", "pi is 3.14159265", "1,234,567 people",
              "call 555-2671"],
    "ip address": ["version 1.2.3", "999.1.1.1", "1.2.3.4.5", "std::vector", "at 12:30:45",
                   "localhost 127.0.0.1 and ::1 and 0.0.0.0"],
    "card number": ["4111 1111 1111 1112", "ISBN 978-3-16-148410-0", "1234 5678",
                    "order 1234567890123"],
    "api key or token": ["risk-free", "task-12345", "sk-learn", "the token count is 42",
                         "password policy", "password: abc", "Bearer of bad news",
                         "https://example.org/path@v2"],
}


@pytest.mark.parametrize(("kind", "text", "expected"),
                         [(kind, text, expected) for kind, cases in FOUND.items()
                          for text, expected in cases])
def test_personal_data_is_replaced_by_a_placeholder_naming_its_kind(kind, text, expected):
    assert SCRUBBER.scrub(text) == expected, kind


@pytest.mark.parametrize(("kind", "text"),
                         [(kind, text) for kind, texts in LEFT_ALONE.items() for text in texts])
def test_look_alikes_are_left_alone(kind, text):
    assert SCRUBBER.scrub(text) == text, kind


def test_the_scrubber_needs_no_network():
    """scrubadub pulls in NLTK and TextBlob, which can download corpora: importing and running
    the detectors used here must not. A fresh interpreter where every connection attempt
    raises imports scrubadub and scrubs."""
    program = textwrap.dedent("""
        import socket

        def refuse(*args, **kwargs):
            raise SystemExit("the scrubber tried to open a network connection")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        from arena.transfer.scrub import TextScrubber

        print(TextScrubber().scrub("write to ana@example.org or +1 415 555 2671"))
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "write to {{EMAIL}} or {{PHONE}}\n"


def test_the_manifest_names_the_scrubber_and_its_version():
    from importlib.metadata import version

    info = scrubber_info()
    assert info["name"] == "scrubadub" and info["version"] == version("scrubadub")
    assert info["replaces"] == ["PHONE", "EMAIL", "CREDIT_CARD", "IP_ADDRESS", "API_KEY"]
