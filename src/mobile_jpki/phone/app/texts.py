# ruff: noqa: RUF001, RUF002, RUF003 - Japanese text uses full-width punctuation on purpose
"""Every text the app shows, keyed by a stable id, in Japanese and English.

Three sources, kept apart so that nobody "improves" the user's document by accident:

- ``DOCUMENT``: a text printed on a screen in the user's document
  (``seed/000_5703786ead540e5a.txt``, the Mynaportal app's model-change guide, steps ①–⑬).
  The Japanese is copied to the letter; tests check it against the document itself.
- ``GUIDE``: the document's narration around the screenshots (step captions such as
  「⑧マイナンバーカードを読み取ります」). The app never shows these; the browser simulator shows
  them beside the phone so a person can follow the guide.
- ``OURS``: wording the document does not give (other flows, error messages, the old phone's
  notice). Written in the document's style; the English is a plain translation.

Line breaks the document introduces only for layout (e.g. after 「マイナンバーカード用署名用
電子証明書」) are joined; the bullet 「・」 and the chevron 「>」 are rendering, not text.

The texts themselves are in :mod:`.texts_seed` (``DOCUMENT`` and ``GUIDE``) and
:mod:`.texts_app` and :mod:`.texts_authapp` (``OURS``); what a text is, in :mod:`.texts_model`.
"""

from __future__ import annotations

from collections.abc import Mapping

from mobile_jpki.phone.app.texts_app import APP_TEXTS
from mobile_jpki.phone.app.texts_authapp import AUTHAPP_TEXTS
from mobile_jpki.phone.app.texts_model import Lang, Text
from mobile_jpki.phone.app.texts_seed import SEED_TEXTS

_ALL: tuple[Text, ...] = (*SEED_TEXTS, *APP_TEXTS, *AUTHAPP_TEXTS)

TEXTS: Mapping[str, Text] = {t.id: t for t in _ALL}
if len(TEXTS) != len(_ALL):  # pragma: no cover - guards editing mistakes at import time
    raise RuntimeError("duplicate text id in phone.app.texts")


def text(text_id: str, lang: Lang = Lang.JA, **params: str) -> str:
    """The text ``text_id`` in ``lang`` with its ``{placeholders}`` filled."""
    value = TEXTS[text_id].in_lang(lang)
    return value.format(**params) if params else value


# Texts printed the same in both languages: telephone numbers, and the lines the document itself
# prints in English on its Japanese page (the multilingual hotline).
SAME_IN_BOTH_LANGUAGES: frozenset[str] = frozenset(
    {
        "ok",
        "hotline_free_dial_number",
        "hotline_ip_card_number",
        "hotline_ip_other_number",
        "hotline_multi_system_number",
        "hotline_multi_card_number",
        "hotline_multi_system_en",
        "hotline_multi_card_en",
        "hotline_multi_note_en",
    }
)

# Lines of the document that are on no screen and why: recorded so the coverage test accounts
# for every line of steps ①–⑬ rather than silently skipping some.
DOCUMENT_LINES_NOT_ON_SCREENS: Mapping[str, str] = {
    "マイナページ": (
        "the caption over screen ③ spells my page 「マイナページ」; step ② and screen ⑫ say "
        "「マイページ」, so we read it as a typo and show 「マイページ」"
    ),
    "スクロール": "a layout annotation: screens ④–⑦ are one scrolling screen",
}
