"""The browser arena: a thin Gradio 6 front end over `arena.battles.BattleService`.

Every rule (who may vote, when names are revealed, what is logged) lives in the service; the
UI only wires widgets to it. This module builds the whole page and chooses its screens. Tabs:
Arena (anonymous battle, `arena.web.ui.battle`; logged battles to re-vote instead when the
service has a re-vote pool, `arena.web.ui.revote`), Side by side (named battle), Leaderboard
(`arena.web.ui.leaderboard`), About.

Anonymity. Before a vote the browser receives no model name, endpoint or served id:
- the battle id is the only handle; it stays on the server in `Views`, keyed by Gradio's
  per-tab `session_hash` (chosen by the browser: it keys the page's state, never a rater);
- names arrive only in the vote's reply, after the service committed the vote to SQL;
- the Side-by-side model list and the leaderboard are fetched when their tab is opened, never
  at page load, so an Arena-only visit carries no model name at all;
- every event is `api_visibility="private"` (not in the API page, not callable by Gradio's
  clients), run history and the footer links are off.

Raters: the server issues each visitor a signed session cookie (`arena.web.identity`); the
handlers take the rater from it, and every battle and vote passes the same limits as the REST
API (`arena.web.guard`).

Consent: above the tabs, before the first prompt, the page asks once whether the rater's
conversation may be published, with the operator's terms (`ConsentQuestion`, text from
`arena.consent`). One click on Agree or Decline; the answer lives in the page's session state
(it survives New round, a reload asks again) and goes with every battle the page starts as an
`arena.record.Consent`. Declining changes nothing else: the rater battles and votes as before.
A prompt sent without an answer starts a battle logged as never asked (never published).

Text safety: prompts and answers are rendered on the server (`arena.web.ui.rendering`:
CommonMark with raw HTML off, then an HTML allow-list); the title, status lines and names are
escaped for Markdown (`markdown_text`). The operator's terms are the operator's own Markdown.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import gradio as gr
from fastapi import FastAPI

from arena.battles import BattleService
from arena.config import ArenaSettings
from arena.consent import terms_text
from arena.errors import ArenaError
from arena.live.limits import LimitStore
from arena.record import Consent
from arena.web.client_address import ProxyTrust
from arena.web.guard import VLLM_DEFAULT_MAX_NUM_SEQS, BattleGuard
from arena.web.identity import ClientIdentity, SessionCookies
from arena.web.sessions import SessionSigner
from arena.web.ui.battle import BattlePanel
from arena.web.ui.examples import configured_prompts
from arena.web.ui.keys import KEYS_HEAD, KEYS_PATH, keys_script
from arena.web.ui.leaderboard import build_leaderboard_tab
from arena.web.ui.panel import PRIVATE_EVENT, Views, VotePanel
from arena.web.ui.revote import RevotePanel
from arena.web.ui.style import ARENA_THEME, PAGE_CSS
from arena.web.ui.text import ABOUT_MARKDOWN, markdown_text

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 16
# The page's head when new sessions must pass a challenge: the browser's solver, served by
# this host (arena.web.app), so the page's CSP lets it run.
CHALLENGE_HEAD = '<script src="/challenge/boot.js"></script>'

# Options for `gr.mount_gradio_app` / `launch`: no run history (it would keep calls in the
# browser), no footer (API page, settings), no server-side rendering (needs Node), errors as
# generic text; the page's CSS (`arena.web.ui.style`: phone layout, leaderboard plots).
MOUNT_OPTIONS: dict[str, Any] = {
    "ssr_mode": False,
    "run_history": False,
    "footer_links": [],
    "show_error": False,
    "mcp_server": False,
    "css": PAGE_CSS,
    "theme": ARENA_THEME,
}


def build_ui(
    service: BattleService,
    *,
    leaderboard: Callable[[], Awaitable[dict | None]],
    settings: ArenaSettings,
    guard: BattleGuard,
    identity: ClientIdentity,
) -> gr.Blocks:
    """The arena's Gradio app. Mount it with `mount_ui` (or pass `MOUNT_OPTIONS` yourself);
    its visitors need the session cookie of `arena.web.identity.SessionCookies`."""
    views = Views()
    revoting = service.replay is not None  # `arena serve --revote`: logged battles, no prompt
    question = ConsentQuestion(settings)
    screen = {"examples": configured_prompts(settings),
              "comment_chars": settings.reason_comment_chars,
              "regenerate": settings.max_regenerations > 0}
    arena: VotePanel = (RevotePanel(guard, identity, views) if revoting
                        else BattlePanel(guard, identity, views, mode="anonymous", prefix="",
                                         **screen))
    named = BattlePanel(guard, identity, views, mode="named", prefix="named-", **screen)
    with gr.Blocks(title=settings.title, analytics_enabled=False) as demo:
        gr.Markdown(f"# {markdown_text(settings.title)}\nAsk anything, compare two "
                    "anonymous answers, vote for the better one.")
        # A re-vote arena shows logged battles: the rater types nothing that could be published.
        if not revoting:
            question.build()
            for panel in (arena, named):
                assert isinstance(panel, BattlePanel)
                panel.consent = question.answer
        with gr.Tabs():
            with gr.Tab("Arena", id="arena-tab"):
                arena.build()
            with gr.Tab("Side by side", id="named-tab", visible=not revoting) as named_tab:
                gr.Markdown("Pick both models. Named battles are logged but never count "
                            "towards the leaderboard.")
                named.build()
            build_leaderboard_tab(leaderboard)
            with gr.Tab("About", id="about-tab"):
                gr.Markdown(ABOUT_MARKDOWN)

        async def list_models() -> tuple[dict, dict]:
            names = await service.states.pickable()
            first, second = (names + [None, None])[:2]
            return (gr.update(choices=names, value=first),
                    gr.update(choices=names, value=second))

        assert named.pickers is not None
        named_tab.select(list_models, outputs=list(named.pickers), **PRIVATE_EVENT)
        if not revoting:
            question.wire()
        # Each visitor gets a fresh draw of example prompts (the buttons start with one draw
        # made at build time, so they are never unlabelled).
        drawn = [panel.examples for panel in (arena, named)
                 if isinstance(panel, BattlePanel) and panel.examples.buttons]
        if drawn:
            demo.load(_drawer(drawn), outputs=[c for row in drawn for c in row.load_outputs()],
                      **PRIVATE_EVENT)
        demo.unload(_tab_closer(service, identity, views))
    demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY)
    return demo


class ConsentQuestion:
    """The publication question: the operator's terms, Agree and Decline, asked once per page.

    Element ids: `consent` (the question), `consent-terms`, `consent-agree`,
    `consent-decline`, and `consent-note` (the answer given, shown instead of the question).
    `answer` is the page session's state: None until a button is clicked, then a Consent for
    the terms version in force when the page was built.
    """

    def __init__(self, settings: ArenaSettings) -> None:
        self.terms = terms_text(settings)
        self.version = settings.consent_terms_version

    def build(self) -> None:
        self.answer = gr.State(None)
        with gr.Column(elem_id="consent", variant="panel") as self.box:
            gr.Markdown("## May we publish your conversation?", elem_id="consent-title")
            gr.Markdown(self.terms, elem_id="consent-terms")
            # At phone width the terms fold (arena.web.ui.style shows one copy or the other),
            # so the prompt box is on the first screen.
            with gr.Accordion("Read the terms: what is published", open=False,
                              elem_id="consent-terms-phone"):
                gr.Markdown(self.terms)
            with gr.Row():
                # Native buttons: reachable with Tab, pressed with Enter or Space.
                self.agree = gr.Button("Agree: publish my conversation (scrubbed)",
                                       variant="primary", elem_id="consent-agree")
                self.decline = gr.Button("Decline: keep my conversation private",
                                         elem_id="consent-decline")
        self.note = gr.Markdown("", elem_id="consent-note", visible=False)

    def wire(self) -> None:
        outputs = [self.answer, self.box, self.note]
        for button, publish in ((self.agree, True), (self.decline, False)):
            button.click(self.answerer(publish), outputs=outputs, trigger_mode="once",
                         **PRIVATE_EVENT)

    def answerer(self, publish: bool) -> Callable[[], tuple[Consent, dict, dict]]:
        """The click handler of Agree (`publish`) or Decline."""

        def answer() -> tuple[Consent, dict, dict]:
            consent = Consent(publish_text=publish, terms_version=self.version)
            return consent, gr.update(visible=False), gr.update(
                value=self.note_text(consent), visible=True)

        answer.__name__ = "consent_agree" if publish else "consent_decline"
        return answer

    @staticmethod
    def note_text(consent: Consent) -> str:
        if consent.publish_text:
            said = ("You agreed: the text of your battles may be published, scrubbed of "
                    "personal data")
        else:
            said = "You declined: the text of your battles is never published"
        version = markdown_text(consent.terms_version)
        return f"{said} (terms version {version}). Reload the page to answer again."


def _drawer(rows: list[Any]) -> Callable[[], list[Any]]:
    """The page-load handler that draws each example row's prompts."""
    draws = [row.on_load() for row in rows]

    def draw_examples() -> list[Any]:
        return [value for draw in draws for value in draw()]

    return draw_examples


def _tab_closer(service: BattleService, identity: ClientIdentity,
                views: Views) -> Callable[[gr.Request], Awaitable[None]]:
    """The page's unload handler: log the closed tab's open battles as abandoned."""

    async def close_tab(request: gr.Request) -> None:
        session = getattr(request, "session_hash", None)
        if not session:
            return
        open_views = [view for view in views.pop_session(session) if view.is_open]
        if not open_views:
            return
        try:
            rater = identity.page_client(request).session
        except ArenaError:  # no valid cookie: the sweep logs them when they expire
            return
        for view in open_views:
            if view.is_open:
                try:
                    await service.end(view.battle_id, rater, reason="tab_closed")
                except Exception:  # the sweep logs it later
                    log.exception("ending battle %s on tab close failed", view.battle_id)

    return close_tab


def mount_ui(
    app: FastAPI,
    service: BattleService,
    *,
    leaderboard: Callable[[], Awaitable[dict | None]],
    settings: ArenaSettings,
    guard: BattleGuard | None = None,
    identity: ClientIdentity | None = None,
    path: str = "/",
) -> FastAPI:
    """Build the UI and mount it on `app` at `path` with the arena's `MOUNT_OPTIONS`, and add
    the middleware that gives its visitors their session cookie. Without `guard` and
    `identity` (a test's page over a bare service): the settings' limits over the service's
    Redis, and sessions signed with a secret of this process."""
    if identity is None:
        identity = ClientIdentity(
            SessionSigner(secrets.token_urlsafe(48), settings.session_max_age_s),
            ProxyTrust(settings.trusted_proxies))
    if guard is None:
        guard = BattleGuard(
            service, LimitStore(service.live.client, prefix=service.live.prefix), settings,
            max_streams=settings.max_concurrent_streams or VLLM_DEFAULT_MAX_NUM_SEQS)
    demo = build_ui(service, leaderboard=leaderboard, settings=settings, guard=guard,
                    identity=identity)
    options = dict(MOUNT_OPTIONS)
    # The keyboard shortcuts: a script from this host (the page's CSP runs no other).
    app.add_api_route(KEYS_PATH, keys_script, methods=["GET"], include_in_schema=False)
    options["head"] = KEYS_HEAD
    if identity.challenge is not None:
        # No cookie until the browser passes the challenge: the boot script solves it at page
        # load and POSTs the answer to /api/sessions, which sets the cookie (docs/challenge.md).
        options["head"] = CHALLENGE_HEAD + KEYS_HEAD
    app = gr.mount_gradio_app(app, demo, path=path, **options)
    app.add_middleware(SessionCookies, identity=identity)
    return app
