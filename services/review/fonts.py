"""Fonts for the PDF report: any name, title or note may be in any script.

DejaVu Sans (shipped with matplotlib, so always there) covers Latin, Greek, Cyrillic and the
usual symbols ("≥", "→"). For Chinese, Japanese and Korean a CJK font is found through
fontconfig (`fc-match`; Debian's fonts-noto-cjk, installed by .ci/run and the Dockerfile), and
REPORT_PDF_FONTS can name more font files. A character no font covers is drawn as "□" and the
report says which script it could not show, instead of printing "?".
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import matplotlib
from fontTools.ttLib import TTFont, TTLibError

log = logging.getLogger("beacon.review")
MISSING_GLYPH = "□"  # in DejaVu Sans
_CJK_PROBE = "中あ가"  # a Han, a kana and a Hangul character: a CJK font covers all three
_FC_TIMEOUT = 5.0


@dataclass(frozen=True)
class FontFile:
    family: str  # the name fpdf2 knows it by
    path: str
    index: int = 0  # the face inside a collection (.ttc)
    bold_path: str = ""


@functools.cache
def coverage(path: str, index: int = 0) -> frozenset[int]:
    """The code points a font draws (read once per process: a CJK collection takes ~0.5 s)."""
    try:
        cmap = TTFont(path, fontNumber=index, lazy=True).getBestCmap() or {}
    except (OSError, TTLibError) as error:
        log.warning("font %s cannot be read: %s", path, error)
        return frozenset()
    return frozenset(cmap)


def dejavu() -> FontFile:
    folder = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    return FontFile("DejaVu", os.path.join(folder, "DejaVuSans.ttf"), 0, os.path.join(folder, "DejaVuSans-Bold.ttf"))


def _fc_match(pattern: str) -> tuple[str, int] | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        found = subprocess.run(["fc-match", "--format", "%{file}|%{index}", pattern], capture_output=True,
                               text=True, timeout=_FC_TIMEOUT, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, index = found.partition("|")
    return (path, int(index)) if path and index.isdigit() else None


def fontconfig_cjk() -> FontFile | None:
    """A sans-serif CJK font through fontconfig, if it really covers Han, kana and Hangul
    (fc-match always answers with its best guess, even DejaVu)."""
    probe = " ".join(f"{ord(c):x}" for c in _CJK_PROBE)
    regular = _fc_match(f"sans-serif:charset={probe}:weight=regular")
    if regular is None or not all(ord(c) in coverage(*regular) for c in _CJK_PROBE):
        return None
    bold = _fc_match(f"sans-serif:charset={probe}:weight=bold")
    same_face = bold is not None and bold[1] == regular[1] and all(ord(c) in coverage(*bold) for c in _CJK_PROBE)
    return FontFile("CJK", regular[0], regular[1], bold[0] if bold and same_face else "")


def script_of(char: str) -> str:
    """The script a character belongs to, in words a reader knows."""
    if unicodedata.category(char).startswith("S"):
        return "symbols and emoji"
    first = unicodedata.name(char, "unnamed").split(" ")[0]
    named = {"CJK": "Chinese and Japanese (CJK)", "HIRAGANA": "Japanese", "KATAKANA": "Japanese",
             "HANGUL": "Korean", "HALFWIDTH": "Japanese", "FULLWIDTH": "CJK punctuation"}
    return named.get(first, first.capitalize())


@dataclass
class FontPlan:
    """Which fallbacks a document needs and what no font can show."""

    fallbacks: list[FontFile] = field(default_factory=list)
    unshown: set[str] = field(default_factory=set)

    @property
    def unshown_scripts(self) -> list[str]:
        return sorted({script_of(c) for c in self.unshown})

    def clean(self, text: str) -> str:
        """The text as the PDF draws it: format and control characters dropped (a zero-width
        joiner has no glyph), what no font covers as □."""
        out = []
        for char in text:
            if char in "\n\t":
                out.append(char)
            elif unicodedata.category(char) in ("Cc", "Cf"):
                continue
            else:
                space = unicodedata.category(char) == "Zs"
                out.append((" " if space else MISSING_GLYPH) if char in self.unshown else char)
        return "".join(out)


class PdfFonts:
    """The main font and the fallbacks on this machine, found once."""

    def __init__(self, extra: Iterable[str] = ()):
        self.main = dejavu()
        self._extra = [FontFile(f"Extra{n}", path) for n, path in enumerate(extra) if path]

    @functools.cached_property
    def candidates(self) -> list[FontFile]:
        found = [f for f in self._extra if coverage(f.path, f.index)]
        cjk = fontconfig_cjk()
        if cjk is not None:
            found.append(cjk)
        return found

    def plan(self, texts: Iterable[str]) -> FontPlan:
        """Only fonts some character needs are embedded (a CJK font is large to read)."""
        main = coverage(self.main.path)
        wanted = {c for text in texts for c in text
                  if ord(c) not in main and unicodedata.category(c) not in ("Cc", "Cf")}
        plan = FontPlan()
        for font in self.candidates if wanted else ():
            covered = {c for c in wanted if ord(c) in coverage(font.path, font.index)}
            if covered:
                plan.fallbacks.append(font)
                wanted -= covered
        plan.unshown = wanted
        return plan
