# ruff: noqa: RUF002 - the docstring writes the document's step range with its en dash
"""What a text is: its languages, where its wording comes from, and the :class:`Text` record.

Apart from the tables (:mod:`.texts_seed`, :mod:`.texts_app`) so that they can build their
entries and :mod:`.texts` can assemble them without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Lang(StrEnum):
    JA = "ja"
    EN = "en"


class TextSource(StrEnum):
    DOCUMENT = "document"
    GUIDE = "guide"
    OURS = "ours"


@dataclass(frozen=True)
class Text:
    """One text. ``step`` names the document step (①–⑬) where it appears, if any.

    ``ja``/``en`` may hold ``{name}`` placeholders filled by :func:`.texts.text`.
    """

    id: str
    ja: str
    en: str
    source: TextSource
    step: str = ""

    def in_lang(self, lang: Lang) -> str:
        return self.ja if lang is Lang.JA else self.en
