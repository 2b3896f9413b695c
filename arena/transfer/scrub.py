"""Scrubbing personal data out of conversation text before it is published.

One `TextScrubber` runs scrubadub (https://scrubadub.readthedocs.io) with a fixed set of
detectors, each replacing what it finds by a placeholder that names the kind of data:

- `{{PHONE}}`: phone numbers, found by scrubadub's `PhoneDetector` (Google's libphonenumber
  via `phonenumbers`): any number written in international form (`+44 20 7946 0958`) and
  numbers in United States national form (`(415) 555-2671`).
- `{{EMAIL}}`: e-mail addresses (`name@domain.tld`). scrubadub's own e-mail detector also
  reads "me at john.doe" as an address and then leaves the real one half in place, so a
  precise pattern is used instead.
- `{{CREDIT_CARD}}`: card numbers of 13 to 19 digits, contiguous or in groups of four (or
  Amex's 4-6-5) separated by one consistent space or hyphen, that pass the Luhn check
  (scrubadub's `CreditCardFilth` does the check; its detector misses grouped numbers).
- `{{IP_ADDRESS}}`: IPv4 and IPv6 addresses that Python's `ipaddress` accepts, except the
  loopback and unspecified addresses (127.0.0.1, ::1, 0.0.0.0, ::), which identify nobody
  and fill every networking answer.
- `{{API_KEY}}`: API keys and tokens: the published shapes of OpenAI/Anthropic (`sk-...`),
  Stripe, GitHub, GitLab, Slack, AWS access key ids, Google API keys, Hugging Face tokens,
  JSON Web Tokens, PEM private key blocks; the token after `Bearer`; the value of an
  assignment to a secret-looking name (`api_key=...`, `password: ...`, `token = "..."`) and
  of "password is ..."; the password in a URL (`https://user:secret@host`).

Names, street addresses and free-form identifiers are NOT detected: the scrubber lowers the
risk, it does not remove it. That is why text is only published with the rater's consent.
scrubadub and its detectors run offline (no model or word list is downloaded).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from typing import Any

SCRUBBER_NAME = "scrubadub"
# Bump when a detector or pattern below changes what is replaced: the release manifest
# records it beside scrubadub's version, so two releases scrubbed differently can be told apart.
PATTERNS_VERSION = 1
PHONE_LOCALE = "en_US"

EMAIL = re.compile(
    r"(?<![\w.+%-])[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![\w-])"
)
CARD_NUMBER = re.compile(
    r"(?<![\d-])(?:"
    r"\d{4}([ -]?)\d{4}\1\d{4}\1\d{1,4}(?:\1\d{1,3})?"  # 4-4-4-4 (13 to 19 digits)
    r"|\d{4}([ -]?)\d{6}\2\d{5}"  # Amex 4-6-5
    r")(?![\d-])"
)
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d|\w)")
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}"
                  r"\d{1,3})?(?![\w:])")
# (pattern, group): the group's span is replaced (0: the whole match).
SECRETS: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(pattern), group)
    for pattern, group in (
        (r"(?<![\w-])sk-(?:[A-Za-z]+-)?[A-Za-z0-9_-]{20,}", 0),  # OpenAI, Anthropic
        (r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}", 0),  # Stripe
        (r"\bgh[pousr]_[A-Za-z0-9]{30,}", 0),  # GitHub
        (r"\bgithub_pat_[A-Za-z0-9_]{22,}", 0),
        (r"\bglpat-[A-Za-z0-9_-]{20,}", 0),  # GitLab
        (r"\bxox[abposr]-[A-Za-z0-9-]{10,}", 0),  # Slack
        (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", 0),  # AWS access key id
        (r"\bAIza[0-9A-Za-z_-]{35}", 0),  # Google API key
        (r"\bhf_[A-Za-z0-9]{30,}", 0),  # Hugging Face
        (r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 0),  # JWT
        (r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
         0),
        (r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{16,}=*)", 1),
        (r"(?i)\b(?:[a-z0-9]+[_-])*(?:api[_-]?key|apikey|secret|token|password|passwd|pwd|"
         r"access[_-]?key|private[_-]?key|auth)\b[\"']?\s*[:=]\s*[\"']?([^\s\"',;]{6,})", 1),
        # "my password is hunter0"
        (r"(?i)\b(?:password|passwd|passphrase|pwd)\s+(?:is|was)\s+[\"']?([^\s\"',;]{4,})", 1),
        (r"\b[a-z][a-z0-9+.-]*://[^\s/:@]+:([^\s/@]+)@", 1),  # https://user:password@host
    )
)


class TextScrubber:
    """Replaces personal data in text by placeholders (see the module docstring).

    scrubadub (and the NLTK it imports, about a second) is loaded on the first `scrub`, so a
    release without published text never pays for it.
    """

    def scrub(self, text: str) -> str:
        """`text` with every detected e-mail, phone, card number, IP address and key replaced."""
        if not text:
            return text
        return self._scrubber.clean(text)

    @cached_property
    def _scrubber(self) -> Any:
        import scrubadub
        from scrubadub.detectors import PhoneDetector
        from scrubadub.post_processors import FilthReplacer, PrefixSuffixReplacer

        detectors = [PhoneDetector(locale=PHONE_LOCALE)]
        detectors += [kind() for kind in _precise_detectors()]
        # Placeholders `{{TYPE}}` set by post-processors: scrubadub's older per-filth
        # replacement is deprecated and warns on every call.
        replacers = [FilthReplacer(include_type=True, uppercase=True, separator="+"),
                     PrefixSuffixReplacer(prefix="{{", suffix="}}")]
        return scrubadub.Scrubber(detector_list=detectors, post_processor_list=replacers,
                                  locale=PHONE_LOCALE)


def scrubber_info() -> dict[str, Any]:
    """What the release manifest records about the scrubber: name, version, our patterns."""
    try:
        installed = version(SCRUBBER_NAME)
    except PackageNotFoundError:
        installed = "not installed"
    return {
        "name": SCRUBBER_NAME,
        "version": installed,
        "patterns_version": PATTERNS_VERSION,
        "phone_locale": PHONE_LOCALE,
        "replaces": ["PHONE", "EMAIL", "CREDIT_CARD", "IP_ADDRESS", "API_KEY"],
    }


def _ip_is_personal(candidate: str) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_unspecified)


def _precise_detectors() -> list[type]:
    """Our detectors as scrubadub classes (built here so scrubadub is imported lazily)."""
    from scrubadub.detectors import Detector, RegexDetector
    from scrubadub.filth import CreditCardFilth, EmailFilth, Filth

    class IpAddressFilth(Filth):
        type = "ip_address"

    class ApiKeyFilth(Filth):
        type = "api_key"

    class EmailAddressDetector(RegexDetector):
        name = "email_address"
        filth_cls = EmailFilth
        regex = EMAIL

    class CardNumberDetector(RegexDetector):
        name = "card_number"
        filth_cls = CreditCardFilth  # its is_valid() is the Luhn check
        regex = CARD_NUMBER

    class IpAddressDetector(Detector):
        name = "ip_address"

        def iter_filth(self, text: str, document_name: str | None = None) -> Iterator[Filth]:
            for pattern in (IPV4, IPV6):
                for match in pattern.finditer(text):
                    if _ip_is_personal(match.group(0)):
                        yield IpAddressFilth(beg=match.start(), end=match.end(),
                                             text=match.group(0), detector_name=self.name,
                                             document_name=document_name, locale=self.locale)

    class ApiKeyDetector(Detector):
        name = "api_key"

        def iter_filth(self, text: str, document_name: str | None = None) -> Iterator[Filth]:
            for pattern, group in SECRETS:
                for match in pattern.finditer(text):
                    yield ApiKeyFilth(beg=match.start(group), end=match.end(group),
                                      text=match.group(group), detector_name=self.name,
                                      document_name=document_name, locale=self.locale)

    return [EmailAddressDetector, CardNumberDetector, IpAddressDetector, ApiKeyDetector]
