# ruff: noqa: RUF001 - the document is Japanese, full-width punctuation and all
"""Every text of the user's document appears on its screen, to the letter.

The document (``data/seed-model-change.txt``, a copy of seed/000_5703786ead540e5a.txt) is read
line by line from step ① to its last line about the app; each line must be shown by some screen
of the model change (or be the simulator's guide narration, or be listed with a reason in
``DOCUMENT_LINES_NOT_ON_SCREENS``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from app_walk import Phones, walk_model_change

from mobile_jpki.phone.app.screens import Screen
from mobile_jpki.phone.app.texts import (
    DOCUMENT_LINES_NOT_ON_SCREENS,
    SAME_IN_BOTH_LANGUAGES,
    TEXTS,
    text,
)
from mobile_jpki.phone.app.texts_model import Lang, TextSource

DOC = (Path(__file__).parent / "data" / "seed-model-change.txt").read_text(encoding="utf-8")
FIRST, LAST = "①マイナポータルアプリを開き", "マイナポータルアプリの操作マニュアルはこちら"


def document_lines() -> list[str]:
    """The document's lines about the app, stripped of list markup, icons and chevrons."""
    body = DOC[DOC.index(FIRST) : DOC.index(LAST) + len(LAST)]
    out = []
    for raw in body.splitlines():
        line = raw.strip()
        line = re.sub(r"^- ", "", line)
        line = re.sub(r"^・", "", line)
        line = re.sub(r"^[①②] (?=\S)", "", line)  # the info icons before 注意事項 and the hint
        line = re.sub(r" >$", "", line)  # the chevron of a row that leads on
        if line:
            out.append(line)
    return out


def joined_document() -> str:
    """The document with layout line breaks (two trailing spaces) removed."""
    return re.sub(r" {2}\n", "", DOC)


@pytest.fixture
def walked(phones: Phones) -> list[Screen]:
    screens: list[Screen] = []
    walk_model_change(phones.new, lambda _name, screen: screens.append(screen))
    return screens


def test_every_document_line_is_on_a_screen_or_in_the_guide(walked: list[Screen]) -> None:
    shown = "\n".join(t for s in walked for t in s.texts(Lang.JA))
    guide = "\n".join(text(g) for s in walked for g in s.guide)
    missing = [
        line
        for line in document_lines()
        if line not in shown and line not in guide and line not in DOCUMENT_LINES_NOT_ON_SCREENS
    ]
    assert missing == []


def test_every_document_screen_text_is_shown_by_the_walk(walked: list[Screen]) -> None:
    shown = {t for s in walked for t in s.texts(Lang.JA)}
    not_shown = [
        t.id for t in TEXTS.values() if t.source is TextSource.DOCUMENT and t.ja not in shown
    ]
    assert not_shown == []


def test_document_and_guide_texts_are_verbatim_in_the_document() -> None:
    doc = joined_document()
    wrong = [t.id for t in TEXTS.values() if t.source is not TextSource.OURS and t.ja not in doc]
    assert wrong == []


def test_key_texts_to_the_letter() -> None:
    assert text("revoke_old_title") == "旧スマホ用電子証明書は失効されます"
    assert text("sign_password_hint") == "6～16ケタ、英大文字と数字の組み合わせ"
    assert text("enter_card_sign_password") == (
        "マイナンバーカード用署名用電子証明書のパスワードを入力してください。"
    )
    assert text("apply_done_body") == "スマホ用電子証明書の利用申請しました"


def test_every_text_has_an_english_translation() -> None:
    for t in TEXTS.values():
        assert (t.en and t.en != t.ja) or t.id in SAME_IN_BOTH_LANGUAGES, t.id
        # placeholders agree between the languages
        assert set(re.findall(r"{(\w+)}", t.ja)) == set(re.findall(r"{(\w+)}", t.en)), t.id


def test_screens_render_in_english(walked: list[Screen]) -> None:
    english = [t for s in walked for t in s.texts(Lang.EN)]
    assert "Agree and continue" in english
    assert not any(re.search(r"[\u3040-\u30ff]", t) for t in english)


def test_the_document_typo_is_recorded_not_shown(walked: list[Screen]) -> None:
    assert "マイナページ" in document_lines()
    assert all("マイナページ" not in t for s in walked for t in s.texts())


def test_every_portal_refusal_has_a_message_and_no_code_reaches_a_screen() -> None:
    """docs/lifecycle.md "Errors": each code the portal can answer (api.problems'
    table) and each the adapters raise maps to a message of its own in both languages."""
    from mobile_jpki.api.problems import PORTAL_PROBLEMS
    from mobile_jpki.phone.app.backend import Rejected
    from mobile_jpki.phone.app.messages import ERROR_MESSAGES, message_for
    from mobile_jpki.phone.app.screens import MessageCode

    # Codes the app handles itself rather than showing: the consent dialog, and the base.
    shown_elsewhere = {"revoke-consent-required", "bad-request"}
    codes = {error.code for error in PORTAL_PROBLEMS} - shown_elsewhere
    missing = sorted(c for c in codes if c not in ERROR_MESSAGES)
    assert missing == []
    for code in [*codes, "sw-6985", "sw-6a82", "some-future-code"]:
        message = message_for(Rejected(code))
        assert message.code is not MessageCode.OTHER or code == "some-future-code"
        for lang in Lang:
            rendered = message.render(lang)
            assert code not in rendered and "{" not in rendered, (code, rendered)


def test_the_guide_narrates_only_the_numbered_steps(walked: list[Screen]) -> None:
    """Captions (「画面例 署名用電子証明書」, 「スマホ用電子証明書の登録完了」) and links
    (「続きはこちら」) are not steps: they are in the in-app manual, not in the guide."""
    guide = [g for s in walked for g in s.guide]
    assert guide and all(re.fullmatch(r"guide_step\d+", g) for g in guide), guide
    assert all(text(g)[0] in "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬" for g in guide)
    manual = [t for s in walked if s.id.value == "manual" for t in s.texts()]
    for caption in ("画面例 署名用電子証明書", "続きはこちら", "スマホ用電子証明書の登録完了"):
        assert caption in manual


HOTLINE_BLOCK = DOC[DOC.index("## マイナンバー制度") :]


def test_the_help_block_is_the_documents_to_the_letter(walked: list[Screen]) -> None:
    """The hotline, its hours, the IP-phone and the multilingual lines: every line of the
    document's help block is on the manual's last page."""
    shown = " ".join(t for s in walked for t in s.texts())
    lines = [re.sub(r"^#+ ", "", line.strip()) for line in HOTLINE_BLOCK.splitlines()]
    lines = [line for line in lines if line and line != "マイナンバー"]  # a logo's alt text
    for line in lines:
        assert all(part in shown for part in line.split(" ")), line
    for needle in ("平日：9時30分～20時00分", "土日祝：9時30分～17時30分（年末年始を除く）",
                   "050-3818-1250", "050-3816-9405", "0120-0178-26", "0120-0178-27"):  # fmt: skip
        assert needle in shown
