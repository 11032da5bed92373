"""Parsing model answers: clean text, grounded regions, and every malformed piece reported."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vl2ingest.vl2 import ParsedOutput, Region, parse_output

FAST = settings(max_examples=200, deadline=None)
SIZE = (1000, 500)

Box = tuple[int, int, int, int]


def _boxes(parsed: ParsedOutput) -> list[Box]:
    return [region.box_norm for region in parsed.regions]


def _assert_invariants(parsed: ParsedOutput, sizes: list[tuple[int, int]]) -> None:
    width, height = sizes[0]
    for region in parsed.regions:
        x1, y1, x2, y2 = region.box_norm
        assert 0 <= x1 <= x2 <= 999
        assert 0 <= y1 <= y2 <= 999
        px1, py1, px2, py2 = region.box_px
        assert 0 <= px1 <= px2 <= width - 1
        assert 0 <= py1 <= py2 <= height - 1
        assert region.image_index == 0
    assert all(problem for problem in parsed.problems)


# --- well-formed answers -----------------------------------------------------------------------
def test_readme_locate_answer() -> None:
    """DeepSeek's README answer parses to its label, its box, and clean text."""
    answer = (
        "<|ref|>The giraffe at the back.<|/ref|><|det|>[[580, 270, 999, 900]]<|/det|>"
        "<｜end▁of▁sentence｜>"
    )
    parsed = parse_output(answer, [SIZE])
    assert parsed == ParsedOutput(
        text="The giraffe at the back.",
        regions=(
            Region(
                image_index=0,
                label="The giraffe at the back.",
                box_norm=(580, 270, 999, 900),
                box_px=(580, 135, 999, 450),
            ),
        ),
        problems=(),
    )


def test_grounded_caption_keeps_labels_in_text() -> None:
    """A grounded caption keeps its labels in the text and yields one region per box."""
    answer = (
        "<|grounding|>Put it in the <|ref|>bin<|/ref|><|det|>[[10,20,30,40]]<|/det|> next to "
        "the <|ref|>two chairs<|/ref|><|det|>[[100,200,300,400],[500,600,700,800]]<|/det|>."
    )
    parsed = parse_output(answer, [SIZE])
    assert parsed.text == "Put it in the bin next to the two chairs."
    assert [(r.label, r.box_norm) for r in parsed.regions] == [
        ("bin", (10, 20, 30, 40)),
        ("two chairs", (100, 200, 300, 400)),
        ("two chairs", (500, 600, 700, 800)),
    ]
    assert parsed.problems == ()


def test_pixel_boxes_follow_deepseeks_formula() -> None:
    """box_px is int(v / 999 * extent), clamped into the image, so 999 is the last pixel."""
    parsed = parse_output("<|ref|>x<|/ref|><|det|>[[0,0,999,999],[1,1,500,998]]<|/det|>", [SIZE])
    assert [r.box_px for r in parsed.regions] == [
        (0, 0, 999, 499),
        (int(1 / 999 * 1000), int(1 / 999 * 500), int(500 / 999 * 1000), int(998 / 999 * 500)),
    ]


def test_whitespace_and_leading_zeros_in_boxes_are_fine() -> None:
    """Spaces, newlines and leading zeros inside a box list are accepted."""
    parsed = parse_output("<|ref|>x<|/ref|><|det|>[ [ 001 ,\n002, 0999 , 03 ] ]<|/det|>", [SIZE])
    assert _boxes(parsed) == [(1, 2, 999, 3)]
    assert parsed.problems == ()


def test_label_is_stripped_and_ref_whitespace_allowed() -> None:
    """Labels are stripped, and whitespace between <|/ref|> and <|det|> keeps the label."""
    parsed = parse_output("<|ref|>  a cat \n<|/ref|> \n<|det|>[[1,2,3,4]]<|/det|>", [SIZE])
    assert [r.label for r in parsed.regions] == ["a cat"]
    assert parsed.problems == ()


def test_ref_without_det_is_a_mention() -> None:
    """A <|ref|> with no box block after it is plain text, not a problem."""
    parsed = parse_output("I see <|ref|>a dog<|/ref|> here.", [SIZE])
    assert (parsed.text, parsed.regions, parsed.problems) == ("I see a dog here.", (), ())


@pytest.mark.parametrize(
    "token",
    [
        "<｜end▁of▁sentence｜>",
        "<|end_of_sentence|>",
        "<|end▁of▁sentence|>",
        "<｜begin▁of▁sentence｜>",
        "<｜▁pad▁｜>",
        "<|grounding|>",
    ],
)
def test_special_tokens_are_removed(token: str) -> None:
    """End-of-sentence, padding and grounding tokens vanish from the text silently."""
    parsed = parse_output(f"{token}Hello{token} world{token}", [SIZE])
    assert (parsed.text, parsed.problems) == ("Hello world", ())


def test_plain_text_is_untouched() -> None:
    """Text without markup comes back as it was, including brackets and angle brackets."""
    text = "Total: [[1,2,3,4]] <b>bold</b> a < b | c"
    assert parse_output(text, [SIZE]) == ParsedOutput(text=text, regions=(), problems=())


def test_whitespace_is_tidied_but_indentation_kept() -> None:
    """Trailing spaces and blank-line runs go; leading indentation (markdown) stays."""
    parsed = parse_output("\n\n# Title   \n\n\n\n- item\n    - sub item\t\n\n", [SIZE])
    assert parsed.text == "# Title\n\n- item\n    - sub item"


def test_removed_block_leaves_single_space() -> None:
    """Removing a box block between two spaces leaves one space."""
    parsed = parse_output("see <|ref|>x<|/ref|> <|det|>[[1,2,3,4]]<|/det|> here", [SIZE])
    assert parsed.text == "see x here"


def test_several_images_attribute_boxes_to_the_first() -> None:
    """With several images every region is image 0, scaled by the first image's size."""
    parsed = parse_output("<|ref|>x<|/ref|><|det|>[[0,0,999,999]]<|/det|>", [(200, 100), SIZE])
    assert [(r.image_index, r.box_px) for r in parsed.regions] == [(0, (0, 0, 199, 99))]


def test_bad_sizes_are_refused() -> None:
    """No sizes, or a non-positive size, is a caller error."""
    with pytest.raises(ValueError, match="at least one image"):
        parse_output("x", [])
    with pytest.raises(ValueError, match="positive"):
        parse_output("x", [(0, 10)])


# --- malformed answers -------------------------------------------------------------------------
REF = "<|ref|>thing<|/ref|>"
MALFORMED: list[tuple[str, str, list[Box], list[str]]] = [
    ("odd-length box", f"{REF}<|det|>[[1,2,3]]<|/det|>", [], ["3 values where 4"]),
    ("five values", f"{REF}<|det|>[[1,2,3,4,5]]<|/det|>", [], ["5 values where 4"]),
    ("empty box", f"{REF}<|det|>[[]]<|/det|>", [], ["0 values where 4"]),
    ("nested box", f"{REF}<|det|>[[[1,2,3,4]]]<|/det|>", [], ["nested list inside a box"]),
    ("bare box", f"{REF}<|det|>[1,2,3,4]<|/det|>", [], ["is not inside a list of boxes"]),
    ("runaway digits", f"{REF}<|det|>[[1,2,3,{'4' * 60}]]<|/det|>", [], ["outside 0..999"]),
    ("value 1000", f"{REF}<|det|>[[1,2,3,1000]]<|/det|>", [], ["'1000' is outside 0..999"]),
    ("inverted x", f"{REF}<|det|>[[500,10,100,20]]<|/det|>", [], ["inverted box"]),
    ("inverted y", f"{REF}<|det|>[[10,500,20,100]]<|/det|>", [], ["inverted box"]),
    ("empty det", f"{REF}<|det|><|/det|>", [], ["empty, no boxes"]),
    ("empty list", f"{REF}<|det|>[]<|/det|>", [], ["empty box list"]),
    ("negative", f"{REF}<|det|>[[-1,2,3,4]]<|/det|>", [], ["non-integer value '-'"]),
    ("float", f"{REF}<|det|>[[1.5,2,3,4]]<|/det|>", [], ["non-integer value '.'"]),
    ("arabic digit", f"{REF}<|det|>[[١,2,3,4]]<|/det|>", [], ["non-integer value"]),
    ("no commas", f"{REF}<|det|>[[1 2 3 4]]<|/det|>", [], ["not separated by single commas"]),
    ("double comma", f"{REF}<|det|>[[1,,2,3,4]]<|/det|>", [], ["not separated by single"]),
    ("trailing comma", f"{REF}<|det|>[[1,2,3,4,]]<|/det|>", [], ["not separated by single"]),
    (
        "missing ref",
        "<|det|>[[1,2,3,4]]<|/det|>",
        [(1, 2, 3, 4)],
        ["has no <|ref|>label<|/ref|> right before it"],
    ),
    (
        "text between ref and det",
        f"{REF} is at <|det|>[[1,2,3,4]]<|/det|>",
        [(1, 2, 3, 4)],
        ["has no <|ref|>label"],
    ),
    (
        "truncated det",
        f"{REF}<|det|>[[1,2,3,4],[5,6",
        [(1, 2, 3, 4)],
        ["never closed with <|/det|>", "box 2 '[5,6': never closed with ']'"],
    ),
    (
        "truncated closing tag",
        f"{REF}<|det|>[[1,2,3,4]]<|/de",
        [(1, 2, 3, 4)],
        ["truncated tag '<|/de'", "never closed with <|/det|>"],
    ),
    ("truncated ref tag", "The <|re", [], ["truncated tag '<|re'"]),
    ("unclosed ref", "<|ref|>a cat", [], ["<|ref|> is never closed"]),
    (
        "ref unclosed before det",
        "<|ref|>a<|det|>[[1,2,3,4]]<|/det|>",
        [(1, 2, 3, 4)],
        ["<|ref|> is never closed", "has no <|ref|>label"],
    ),
    (
        "ref opened twice",
        "<|ref|>a<|ref|>b<|/ref|><|det|>[[1,2,3,4]]<|/det|>",
        [(1, 2, 3, 4)],
        ["opened again"],
    ),
    ("stray det close", "foo<|/det|>", [], ["stray <|/det|>"]),
    ("stray ref close", "foo<|/ref|>", [], ["stray <|/ref|>"]),
    (
        "broken open tag",
        f"{REF}<|det|[[1,2,3,4]]<|/det|>",
        [],
        ["malformed tag '<|det|'", "stray <|/det|>"],
    ),
    ("fullwidth tag", "<｜ref｜>x", [], ["malformed tag '<｜ref｜>'"]),
    (
        "junk before boxes",
        f"{REF}<|det|>boxes: [[1,2,3,4]]<|/det|>",
        [(1, 2, 3, 4)],
        ["unexpected 'boxes:' outside the box list"],
    ),
    (
        "junk between boxes",
        f"{REF}<|det|>[[1,2,3,4], and [5,6,7,8]]<|/det|>",
        [(1, 2, 3, 4), (5, 6, 7, 8)],
        ["unexpected 'and' between boxes"],
    ),
    (
        "missing comma between boxes",
        f"{REF}<|det|>[[1,2,3,4][5,6,7,8]]<|/det|>",
        [(1, 2, 3, 4), (5, 6, 7, 8)],
        ["boxes are not separated by single commas"],
    ),
    (
        "two box lists",
        f"{REF}<|det|>[[1,2,3,4]], [[5,6,7,8]]<|/det|>",
        [(1, 2, 3, 4), (5, 6, 7, 8)],
        ["2 box lists", "unexpected ','"],
    ),
    (
        "valid boxes around a bad one",
        f"{REF}<|det|>[[1,2,3,4],[9,9,9],[5,6,7,8]]<|/det|>",
        [(1, 2, 3, 4), (5, 6, 7, 8)],
        ["box 2 '[9,9,9]': 3 values"],
    ),
    ("extra bracket", f"{REF}<|det|>[[1,2,3,4]]]<|/det|>", [(1, 2, 3, 4)], ["1 unmatched ']'"]),
    (
        "det opened twice",
        f"{REF}<|det|>[[1,2,3,4]]<|det|>[[5,6,7,8]]<|/det|>",
        [(1, 2, 3, 4), (5, 6, 7, 8)],
        ["det block 1 ('thing') is never closed", "det block 2 has no <|ref|>label"],
    ),
    (
        "det cut by end of sentence",
        f"{REF}<|det|>[[1,2,3,4]]<｜end▁of▁sentence｜>",
        [(1, 2, 3, 4)],
        ["is never closed with <|/det|>"],
    ),
]


@pytest.mark.parametrize(
    ("text", "boxes", "problems"),
    [pytest.param(text, boxes, problems, id=name) for name, text, boxes, problems in MALFORMED],
)
def test_malformed_corpus(text: str, boxes: list[Box], problems: list[str]) -> None:
    """Each malformed answer keeps exactly its valid boxes and reports each bad piece."""
    parsed = parse_output(text, [SIZE])
    assert _boxes(parsed) == boxes
    for expected in problems:
        assert any(expected in problem for problem in parsed.problems), (
            expected,
            parsed.problems,
        )
    _assert_invariants(parsed, [SIZE])


def test_problems_name_the_block_and_label() -> None:
    """A problem line says which det block, its label, which box and why."""
    parsed = parse_output(f"{REF}<|det|>[[1,2,3]]<|/det|>", [SIZE])
    assert parsed.problems == (
        "det block 1 ('thing'): box 1 '[1,2,3]': 3 values where 4 were expected; skipped",
    )


def test_markup_never_leaks_into_text() -> None:
    """Malformed answers still give text without grounding markup or box lists."""
    parsed = parse_output(f"A {REF}<|det|>[[1,2,3]]<|/det|> B <|det|>[[5,", [SIZE])
    assert parsed.text == "A thing B"


def test_huge_runaway_number_is_fast() -> None:
    """A 200,000-digit number is reported quickly, without int() conversion errors."""
    started = time.perf_counter()
    parsed = parse_output(f"{REF}<|det|>[[1,2,3,{'9' * 200_000}]]<|/det|>", [SIZE])
    assert time.perf_counter() - started < 2
    assert parsed.regions == ()
    assert any("outside 0..999" in p for p in parsed.problems)
    assert all(len(p) < 200 for p in parsed.problems)


def test_deep_nesting_does_not_recurse() -> None:
    """A hundred thousand nested brackets are reported, not a RecursionError."""
    parsed = parse_output(f"{REF}<|det|>{'[' * 100_000}1,2,3,4{']' * 100_000}<|/det|>", [SIZE])
    assert parsed.regions == ()
    assert parsed.problems


def test_runaway_repetition_of_boxes_is_kept() -> None:
    """A long, looping answer of valid boxes keeps every box."""
    boxes = ",".join("[1,2,3,4]" for _ in range(2000))
    parsed = parse_output(f"{REF}<|det|>[{boxes}]<|/det|>", [SIZE])
    assert len(parsed.regions) == 2000
    assert parsed.problems == ()


# --- properties --------------------------------------------------------------------------------
image_sizes = st.lists(
    st.tuples(st.integers(1, 10_000), st.integers(1, 10_000)), min_size=1, max_size=3
)
PIECES = [
    "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>", "<|grounding|>", "<｜end▁of▁sentence｜>",
    "<|end_of_sentence|>", "<|re", "<|/de", "<|det|", "<｜", "｜>", "<", "|", ">",
    "[", "]", "[[", "]]", ",", ", ", " ", "\n", "-", ".", "0", "7", "999", "1000", "0999",
    "4" * 30, "label", "a cat", "[1,2,3,4]", "[[1,2,3,4]]", "[[5,6,7,8],[1,2,3,4]]",
    "[[900,900,100,100]]", "[[1,2,3]]", "[[[1,2,3,4]]]",
]  # fmt: skip
piece = st.one_of(st.sampled_from(PIECES), st.text(max_size=4))
grammar_text = st.lists(piece, max_size=60).map("".join)


@FAST
@given(st.text(), image_sizes)
def test_arbitrary_text_never_raises(text: str, sizes: list[tuple[int, int]]) -> None:
    """Any string parses without raising, and every region it yields is valid."""
    _assert_invariants(parse_output(text, sizes), sizes)


@FAST
@given(grammar_text, image_sizes)
def test_grammar_soup_never_raises(text: str, sizes: list[tuple[int, int]]) -> None:
    """Strings built from the grammar's pieces parse without raising, regions valid."""
    _assert_invariants(parse_output(text, sizes), sizes)


corners = st.tuples(st.integers(0, 999), st.integers(0, 999)).map(sorted)
valid_boxes = st.tuples(corners, corners).map(lambda xy: (xy[0][0], xy[1][0], xy[0][1], xy[1][1]))
labels = st.text(
    alphabet=st.characters(categories=["L", "N", "Zs"], exclude_characters="<>|[]"),
    min_size=1,
    max_size=20,
).filter(lambda s: s.strip() == s and s != "")


@FAST
@given(st.lists(st.tuples(labels, st.lists(valid_boxes, min_size=1, max_size=4)), max_size=5))
def test_well_formed_answers_round_trip(items: list[tuple[str, list[Box]]]) -> None:
    """A well-formed answer yields exactly its labelled boxes and no problems."""

    def block(boxes: list[Box]) -> str:
        return "[" + ", ".join(f"[{a}, {b}, {c}, {d}]" for a, b, c, d in boxes) + "]"

    answer = " and ".join(
        f"<|ref|>{label}<|/ref|><|det|>{block(boxes)}<|/det|>" for label, boxes in items
    )
    parsed = parse_output(answer + "<｜end▁of▁sentence｜>", [SIZE])
    assert parsed.problems == ()
    assert [(r.label, r.box_norm) for r in parsed.regions] == [
        (label, box) for label, boxes in items for box in boxes
    ]
    assert parsed.text == " and ".join(label for label, _ in items)


@FAST
@given(valid_boxes, st.tuples(st.integers(1, 100_000), st.integers(1, 100_000)))
def test_pixel_boxes_stay_inside_the_image(box: Box, size: tuple[int, int]) -> None:
    """Every valid box maps to pixel indices inside the image, order preserved."""
    a, b, c, d = box
    parsed = parse_output(f"<|ref|>x<|/ref|><|det|>[[{a},{b},{c},{d}]]<|/det|>", [size])
    (region,) = parsed.regions
    width, height = size
    assert region.box_px == (
        min(int(a / 999 * width), width - 1),
        min(int(b / 999 * height), height - 1),
        min(int(c / 999 * width), width - 1),
        min(int(d / 999 * height), height - 1),
    )
    _assert_invariants(parsed, [size])
