"""Share links: a read-only page of one voted battle, for a rater who agreed to publish it.

A link is ``/shared/<token>``, where the token is the battle id signed with HMAC-SHA256
(itsdangerous' `Signer`, its own salt) under the arena's rater salt, a server secret every
worker shares. So a link cannot be made for a battle without the secret, cannot be guessed
from other ids (the battle id is 128 random bits, the signature 256), and carries nothing of
the rater: two links of one rater share nothing but their form. The link lets its holder read
the page (arena.web.share) and nothing else: every action on a battle needs its rater's
session.
"""

from __future__ import annotations

import hashlib

from itsdangerous import BadSignature, Signer

SHARE_PREFIX = "/shared/"
# Different salts keep a share token from passing for any other value signed with the key.
SIGNER_SALT = "arena.share.v1"
MAX_TOKEN_CHARS = 200


class ShareLinks:
    """Signs battle ids into share tokens and reads them back."""

    def __init__(self, secret: str) -> None:
        self._signer = Signer(secret, salt=SIGNER_SALT, digest_method=hashlib.sha256)

    def path(self, battle_id: str) -> str:
        """The share page's path for `battle_id`: ``/shared/<token>``."""
        return SHARE_PREFIX + self._signer.sign(battle_id).decode()

    def battle_of(self, token: str) -> str | None:
        """The battle id a token carries; None for a forged, garbled or oversized one."""
        if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            return None
        try:
            return self._signer.unsign(token).decode()
        except BadSignature:
            return None
