"""Asking raters whether their conversation may be published, and checking their answer.

The UI asks once per browser session, before the first prompt, with the operator's terms
(`[arena] consent_terms`, else `DEFAULT_TERMS`). The answer travels with every battle as an
`arena.record.Consent` and is logged in the battle record as `publish_consent` and
`terms_version`. A battle is published with its text only when `publish_consent` is true;
declining never stops anyone from battling or voting.

`consent_terms_version` names the terms text: change it whenever the text changes, so that
every record says which words its rater agreed to. The service refuses a Consent given to
another version (a page left open across a change of terms must ask again).
"""

from __future__ import annotations

from arena.config import ArenaSettings
from arena.errors import BadInput
from arena.record import Consent

# The UI shows its own heading ("May we publish your conversation?") above the terms.
DEFAULT_TERMS = """\
This arena publishes a public data set of its battles so that anyone can check the
leaderboard. For every battle it always publishes the two models, your vote, the day, the
category, the language and a few style measures, never anything that identifies you.

If you **agree**, the text of your battles (your prompts and both answers) is published too,
after e-mail addresses, phone numbers, IP addresses, card numbers, API keys and tokens are
removed from it by an automatic scrubber. A scrubber can miss things: do not type anything
you would not want to see in public.

If you **decline**, your text is never published. You can still battle and vote, and your
votes count the same.

Your answer holds for every battle while this page stays open; reload the page to answer
again.
"""


def terms_text(settings: ArenaSettings) -> str:
    """The terms raters are shown: the operator's `consent_terms`, else `DEFAULT_TERMS`."""
    return settings.consent_terms.strip() or DEFAULT_TERMS


def check_consent(consent: Consent | None, settings: ArenaSettings) -> Consent | None:
    """`consent` if it answers the current terms (or is None: never asked), else BadInput.

    A Consent whose terms_version is not `settings.consent_terms_version` was given to other
    words than the ones in force, so it cannot stand for agreement to them.
    """
    if consent is None:
        return None
    if not isinstance(consent, Consent) or not isinstance(consent.publish_text, bool):
        raise BadInput("consent must say true or false to publishing the conversation")
    current = settings.consent_terms_version
    if consent.terms_version != current:
        raise BadInput(
            f"the consent answers terms version {consent.terms_version!r}, but the terms in "
            f"force are version {current!r}; reload the page and answer the current terms"
        )
    return consent
