"""The rater's answer to the publication terms: carried by the record, checked by the service,
logged with every battle (in-process service over scripted models, a SQLite file, real Redis).
"""

from __future__ import annotations

import dataclasses

import pytest
from factories import make_battle
from fixtures.battle_service import RuleArena

from arena.config import ArenaSettings
from arena.consent import DEFAULT_TERMS, terms_text
from arena.errors import BadInput
from arena.record import BattleRecord, Consent, InvalidRecord

OWNER = "consenting-session"


def test_consent_is_frozen():
    consent = Consent(publish_text=True, terms_version="1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        consent.publish_text = False  # type: ignore[misc]


@pytest.mark.parametrize("answer", [True, False, None])
def test_the_record_carries_the_answer_through_its_dict(answer: bool | None):
    version = None if answer is None else "2024-06"
    record = dataclasses.replace(make_battle(), publish_consent=answer, terms_version=version)
    data = record.to_dict()
    assert (data["publish_consent"], data["terms_version"]) == (answer, version)
    again = BattleRecord.from_dict(data)
    assert (again.publish_consent, again.terms_version) == (answer, version)
    assert again.consent == (None if answer is None else Consent(answer, "2024-06"))


def test_a_record_written_before_consent_existed_reads_as_never_asked():
    data = make_battle().to_dict()
    del data["publish_consent"], data["terms_version"]
    record = BattleRecord.from_dict(data)
    assert (record.publish_consent, record.terms_version, record.consent) == (None, None, None)


@pytest.mark.parametrize(
    ("answer", "version", "message"),
    [
        ("yes", "1", "publish_consent must be true, false or null, got 'yes'"),
        (1, "1", "publish_consent must be true, false or null, got 1"),
        (True, None, "publish_consent and terms_version go together"),
        (None, "1", "publish_consent and terms_version go together"),
        (True, "", "terms_version must be a non-empty string or null"),
    ],
)
def test_a_malformed_answer_is_refused_naming_the_field(answer, version, message):
    data = {**make_battle().to_dict(), "publish_consent": answer, "terms_version": version}
    with pytest.raises(InvalidRecord, match=message):
        BattleRecord.from_dict(data)


def test_the_default_terms_say_what_is_published_scrubbed_and_that_declining_is_fine():
    text = terms_text(ArenaSettings())
    assert text == DEFAULT_TERMS
    for promise in ("prompts and both answers", "e-mail addresses", "never published",
                    "still battle and vote"):
        assert promise in text
    own = dataclasses.replace(ArenaSettings(), consent_terms="  Our own terms.\n")
    assert terms_text(own) == "Our own terms."


@pytest.mark.asyncio(loop_scope="session")
async def test_a_consent_to_other_terms_is_refused_naming_the_current_version(
    arena: RuleArena,
):
    stale = Consent(publish_text=True, terms_version="0")
    with pytest.raises(BadInput, match="terms in force are version '1'; reload the page"):
        await arena.service.start(OWNER, "Hello?", consent=stale)
    assert arena.log.count_battles() == 0


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("answer", [True, False, None])
async def test_every_battle_logs_the_answer_it_was_started_with(arena: RuleArena, answer):
    consent = None if answer is None else Consent(publish_text=answer, terms_version="1")
    voted, _ = await arena.battle(OWNER, "Hello?", consent=consent)
    await arena.service.vote(voted, OWNER, "tie")
    left, _ = await arena.battle(OWNER, "Hello again?", consent=consent)
    assert await arena.service.end(left, OWNER)
    await arena.service.aclose()  # commits what is queued
    expected = (answer, None if answer is None else "1")
    for battle_id in (voted, left):
        record = arena.logged(battle_id)
        assert record is not None
        assert (record.publish_consent, record.terms_version) == expected
