"""Parse DeepSeek-VL2's answer: clean text, grounded regions, and what was malformed.

Grammar of a grounded answer::

    <|ref|>label<|/ref|><|det|>[[x1,y1,x2,y2], [x1,y1,x2,y2], ...]<|/det|>

Coordinates are integers on a 0-999 grid over the ORIGINAL image's width and height; pixel
x = int(x / 999 * width), y likewise (DeepSeek's own demo does exactly this).

Rules, chosen to keep what is valid and report what is not (``ParsedOutput.problems``):

* The parse is a hand-written scanner; nothing is ever evaluated. It never raises on any
  text (only on bad ``sizes``, a caller error).
* A box is a bracketed list of exactly four integers 0..999, comma separated, with
  x1 <= x2 and y1 <= y2, sitting directly inside the block's outer list. Anything else -
  odd or wrong value counts, nested lists, non-integers, runaway digits, values over 999,
  inverted boxes (not swapped: an inverted box means the model lost track), a bare box with
  no outer list, an unclosed list - is skipped and reported; valid boxes around it are kept.
* A ``<|det|>`` block takes its label from the ``<|ref|>..<|/ref|>`` right before it (only
  whitespace between). Without one its boxes are kept with label ``""`` and it is reported.
  A ``<|ref|>`` with no block after it is normal text (a mention), not a problem.
* Unclosed ``<|ref|>``/``<|det|>``, stray closing tags, malformed tags (``<|det|`` and the
  like) and a tag cut off at the very end of the output are reported.
* ``text`` is the answer with the markup (``<|ref|>``, ``<|/ref|>``, ``<|grounding|>``, whole
  ``<|det|>..<|/det|>`` blocks) and end-of-sentence / other special tokens removed; labels
  stay. Whitespace is tidied: trailing spaces on each line and runs of blank lines go,
  indentation stays (it matters in markdown).
* Image attribution: DeepSeek-VL2 has no per-image box marker, so every region gets
  ``image_index`` 0 and is scaled by the first image's size. With several images that is a
  documented limitation, not a reported problem: ask grounding questions one image at a time
  when the boxes matter.
* ``box_px`` holds inclusive pixel indices: each coordinate is clamped into
  [0, width - 1] or [0, height - 1], so 999 maps to the last row/column.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

GRID_MAX: Final = 999
"""Coordinates run 0..999 over the original image."""

_TAG_RE: Final = re.compile(
    r"(?P<ref><\|ref\|>)"
    r"|(?P<ref_end><\|/ref\|>)"
    r"|(?P<det><\|det\|>)"
    r"|(?P<det_end><\|/det\|>)"
    r"|(?P<grounding><\|grounding\|>)"
    r"|(?P<eos><[|｜](?:end|begin)[▁_]of[▁_]sentence[|｜]>)"
    r"|(?P<broken><[|｜]/?(?:ref|det|grounding)[|｜]?>?)"
    r"|(?P<special><｜[^｜<>\n]{1,40}｜>)"
)
"""Every piece of markup. Complete tags come first, so ``broken`` only sees damaged ones."""

_KNOWN_TAGS: Final = (
    "<|ref|>",
    "<|/ref|>",
    "<|det|>",
    "<|/det|>",
    "<|grounding|>",
    "<｜end▁of▁sentence｜>",
    "<|end▁of▁sentence|>",
    "<|end_of_sentence|>",
)
_LONGEST_TAG: Final = max(len(tag) for tag in _KNOWN_TAGS)

_DET_TOKEN_RE: Final = re.compile(r"\s+|\[|\]|,|[0-9]+|[^\s\[\],0-9]+")
_TRAILING_SPACE_RE: Final = re.compile(r"[ \t]+(?=\n|$)")
_BLANK_LINES_RE: Final = re.compile(r"\n{3,}")
_SNIP: Final = 40


@dataclass(frozen=True, slots=True)
class Region:
    """One box: on the 0-999 grid (``box_norm``) and in the image's pixels (``box_px``)."""

    image_index: int
    label: str
    box_norm: tuple[int, int, int, int]
    box_px: tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class ParsedOutput:
    """The cleaned ``text``, the valid ``regions``, and one line per malformed piece."""

    text: str
    regions: tuple[Region, ...]
    problems: tuple[str, ...]


def parse_output(text: str, sizes: Sequence[tuple[int, int]]) -> ParsedOutput:
    """Parse a model answer for the images of ``sizes`` ((width, height) each, in turn order)."""
    if not sizes:
        raise ValueError("parse_output needs the size of at least one image")
    for width, height in sizes:
        if width < 1 or height < 1:
            raise ValueError(f"image sizes must be positive, got {width}x{height}")
    scanner = _Scanner(sizes[0])
    scanner.run(text)
    return ParsedOutput(
        text=_tidy("".join(scanner.out)),
        regions=tuple(scanner.regions),
        problems=tuple(scanner.problems),
    )


# --- the markup scanner ------------------------------------------------------------------------
_State = Literal["text", "ref", "det"]


@dataclass(slots=True)
class _Scanner:
    size: tuple[int, int]
    out: list[str] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    state: _State = "text"
    label_parts: list[str] = field(default_factory=list)
    pending_label: str | None = None
    det_parts: list[str] = field(default_factory=list)
    det_label: str | None = None
    det_count: int = 0
    just_removed: bool = False

    def run(self, text: str) -> None:
        text = self._cut_truncated_tail(text)
        pos = 0
        for match in _TAG_RE.finditer(text):
            if match.start() > pos:
                self._plain(text[pos : match.start()])
            self._tag(match.lastgroup or "", match.group())
            pos = match.end()
        if pos < len(text):
            self._plain(text[pos:])
        if self.state == "ref":
            self.problems.append("<|ref|> is never closed; its text is kept as plain text")
        elif self.state == "det":
            self._close_det(closed=False)

    def _cut_truncated_tail(self, text: str) -> str:
        start = text.rfind("<", max(0, len(text) - _LONGEST_TAG))
        if start < 0:
            return text
        tail = text[start:]
        if len(tail) < 2 or tail[1] not in "|｜":  # "<" plus one bar
            return text
        if any(tag.startswith(tail) and tag != tail for tag in _KNOWN_TAGS):
            self.problems.append(f"the output ends in a truncated tag {tail!r}; dropped")
            return text[:start]
        return text

    def _plain(self, piece: str) -> None:
        if self.state == "det":
            self.det_parts.append(piece)
            return
        if self.state == "ref":
            self.label_parts.append(piece)
        elif piece.strip():
            self.pending_label = None  # text between </ref> and <det>: the label is not its
        if self.just_removed and piece.startswith(" ") and self.out and self.out[-1].endswith(" "):
            piece = piece.lstrip(" ")
        self.just_removed = False
        self.out.append(piece)

    def _tag(self, kind: str, raw: str) -> None:
        if self.state == "det" and kind != "det_end":
            self._close_det(closed=False)
        self.just_removed = True
        if kind == "ref":
            if self.state == "ref":
                self.problems.append("<|ref|> opened again before <|/ref|>; the first is dropped")
            self.state = "ref"
            self.label_parts = []
            self.pending_label = None
        elif kind == "ref_end":
            if self.state == "ref":
                self.pending_label = "".join(self.label_parts).strip()
                self.state = "text"
            else:
                self.problems.append("stray <|/ref|> without <|ref|>; dropped")
        elif kind == "det":
            if self.state == "ref":
                self.problems.append("<|ref|> is never closed; its text is kept as plain text")
                self.state = "text"
                self.pending_label = None
            self.state = "det"
            self.det_parts = []
            self.det_label = self.pending_label
            self.pending_label = None
            self.det_count += 1
        elif kind == "det_end":
            if self.state == "det":
                self._close_det(closed=True)
            else:
                self.problems.append("stray <|/det|> without <|det|>; dropped")
        elif kind == "broken":
            self.problems.append(f"malformed tag {raw!r}; dropped")
        # grounding, eos and special tokens are dropped silently.

    def _close_det(self, *, closed: bool) -> None:
        label = self.det_label
        where = f"det block {self.det_count}" + (f" ({label!r})" if label else "")
        if not closed:
            self.problems.append(f"{where} is never closed with <|/det|>")
        if label is None:
            self.problems.append(
                f"{where} has no <|ref|>label<|/ref|> right before it; its boxes get label ''"
            )
        boxes, problems = _parse_boxes("".join(self.det_parts))
        self.problems.extend(f"{where}: {problem}" for problem in problems)
        width, height = self.size
        for box in boxes:
            x1, y1, x2, y2 = box
            self.regions.append(
                Region(
                    image_index=0,
                    label=label or "",
                    box_norm=box,
                    box_px=(
                        _to_px(x1, width),
                        _to_px(y1, height),
                        _to_px(x2, width),
                        _to_px(y2, height),
                    ),
                )
            )
        self.state = "text"
        self.det_parts = []
        self.det_label = None
        self.just_removed = True


def _to_px(value: int, extent: int) -> int:
    return min(max(int(value / GRID_MAX * extent), 0), extent - 1)


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _TRAILING_SPACE_RE.sub("", text)
    text = _BLANK_LINES_RE.sub("\n\n", text)
    return text.strip()


# --- the box-list parser -----------------------------------------------------------------------
_Box = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class _Atom:
    kind: Literal["num", "comma", "junk"]
    text: str


@dataclass(slots=True)
class _List:
    start: int
    end: int | None = None
    items: list[_List | _Atom] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.end is not None

    def source(self, content: str) -> str:
        return content[self.start : self.end if self.end is not None else len(content)]


def _parse_boxes(content: str) -> tuple[list[_Box], list[str]]:
    """The valid boxes of one det block's content, and a line per malformed piece."""
    root = _List(start=0, end=len(content))
    stack = [root]
    stray_closes = 0
    for match in _DET_TOKEN_RE.finditer(content):
        piece = match.group()
        if piece.isspace():
            continue
        if piece == "[":
            new = _List(start=match.start())
            stack[-1].items.append(new)
            stack.append(new)
        elif piece == "]":
            if len(stack) == 1:
                stray_closes += 1
            else:
                stack.pop().end = match.end()
        elif piece == ",":
            stack[-1].items.append(_Atom("comma", piece))
        elif piece[0] in "0123456789":
            stack[-1].items.append(_Atom("num", piece))
        else:
            stack[-1].items.append(_Atom("junk", piece))

    problems: list[str] = []
    outers = [item for item in root.items if isinstance(item, _List)]
    loose = [item for item in root.items if isinstance(item, _Atom)]
    if not root.items:
        problems.append("empty, no boxes")
    if loose:
        problems.append(f"unexpected {_snip(_atoms_text(loose))} outside the box list; ignored")
    if stray_closes:
        problems.append(f"{stray_closes} unmatched ']'; ignored")
    if len(outers) > 1:
        problems.append(f"{len(outers)} box lists where one was expected; all are read")

    boxes: list[_Box] = []
    for outer in outers:
        if not outer.closed:
            problems.append("the box list is never closed with ']' (output cut off?)")
        inner = [item for item in outer.items if isinstance(item, _List)]
        atoms = [item for item in outer.items if isinstance(item, _Atom)]
        if not inner:
            if not atoms:
                problems.append("empty box list, no boxes")
            else:
                problems.append(
                    f"bare box {_snip(outer.source(content))} is not inside a list of boxes "
                    "[[x1,y1,x2,y2], ...]; skipped"
                )
            continue
        if any(atom.kind != "comma" for atom in atoms):
            junk = [atom for atom in atoms if atom.kind != "comma"]
            problems.append(f"unexpected {_snip(_atoms_text(junk))} between boxes; ignored")
        elif not _separated(outer.items, _List):
            problems.append("boxes are not separated by single commas; read anyway")
        for index, candidate in enumerate(inner, start=1):
            box, reason = _read_box(candidate)
            if box is not None:
                boxes.append(box)
            else:
                problems.append(
                    f"box {index} {_snip(candidate.source(content))}: {reason}; skipped"
                )
    return boxes, problems


def _read_box(candidate: _List) -> tuple[_Box | None, str]:
    if not candidate.closed:
        return None, "never closed with ']' (output cut off?)"
    if any(isinstance(item, _List) for item in candidate.items):
        return None, "nested list inside a box"
    atoms = [item for item in candidate.items if isinstance(item, _Atom)]
    junk = [atom for atom in atoms if atom.kind == "junk"]
    if junk:
        return None, f"non-integer value {_snip(junk[0].text)}"
    numbers = [atom.text for atom in atoms if atom.kind == "num"]
    if len(numbers) != 4:  # x1, y1, x2, y2
        return None, f"{len(numbers)} values where 4 were expected"
    if not _separated(candidate.items, _Atom):
        return None, "values are not separated by single commas"
    values: list[int] = []
    for digits in numbers:
        significant = digits.lstrip("0") or "0"
        # Length first: int() of a runaway digit string is slow, and refused past 4300 digits.
        if len(significant) > len(str(GRID_MAX)) or int(significant) > GRID_MAX:
            return None, f"value {_snip(digits)} is outside 0..{GRID_MAX}"
        values.append(int(significant))
    x1, y1, x2, y2 = values
    if x1 > x2 or y1 > y2:
        return None, "inverted box (x1 > x2 or y1 > y2)"
    return (x1, y1, x2, y2), ""


def _separated(items: Sequence[_List | _Atom], element: type[_List] | type[_Atom]) -> bool:
    """Whether items run element, comma, element, ..., element (commas exactly between)."""
    for position, item in enumerate(items):
        is_comma = isinstance(item, _Atom) and item.kind == "comma"
        if position % 2 == 1:
            if not is_comma:
                return False
        elif is_comma or not isinstance(item, element):
            return False
    return len(items) % 2 == 1


def _atoms_text(atoms: Sequence[_Atom]) -> str:
    return " ".join(atom.text for atom in atoms)


def _snip(text: str) -> str:
    if len(text) > _SNIP:
        text = text[: _SNIP - 1] + "…"
    return repr(text)
