"""Per-format extraction (issue 9): PDF paragraphs and page furniture, Markdown rendering and front
matter, DOCX in document order, and broken files of every kind turned into one-line DocumentErrors."""

from __future__ import annotations

import logging
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from assistant import formats
from assistant.chunking import chunk_text
from assistant.documents import load_document
from assistant.errors import DocumentError
from tests.doc_files import (
    QUEBEC_FOOTER,
    QUEBEC_HEADER,
    QUEBEC_HEADING,
    QUEBEC_PARAGRAPHS,
    make_docx,
    make_pdf,
    make_quebec_pdf,
)

ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------- PDF


@pytest.mark.parametrize(
    "furniture_first", [True, False], ids=["footer-drawn-first", "footer-last"]
)
def test_pdf_paragraphs_are_rebuilt_without_page_furniture(
    tmp_path: Path, furniture_first: bool
) -> None:
    pdf = make_quebec_pdf(tmp_path / "quebec.pdf", furniture_first=furniture_first)
    doc = load_document(pdf)
    assert doc.text.split("\n\n") == QUEBEC_PARAGRAPHS
    assert doc.title == QUEBEC_HEADING
    furniture = [r for r in doc.removed if r.rule == "page-furniture"]
    assert len(furniture) == 1
    assert sorted(furniture[0].text.split("\n")) == sorted(
        [QUEBEC_HEADER, QUEBEC_HEADER, QUEBEC_FOOTER.format(page=1), QUEBEC_FOOTER.format(page=2)]
    )


@pytest.mark.parametrize(
    ("lines", "joined"),
    [
        # a figure split across a line break stays one figure
        (["The plant cost C$612", "million to build."], "The plant cost C$612 million to build."),
        # end-of-line hyphenation is undone
        (
            ["It supplies 300,000 electric-vehicle bat-", "teries a year."],
            "It supplies 300,000 electric-vehicle batteries a year.",
        ),
        # a real hyphen inside a line stays
        (
            ["Demand for lithium-ion cells", "keeps rising."],
            "Demand for lithium-ion cells keeps rising.",
        ),
        # a compound that broke at its hyphen, and occurs whole elsewhere, keeps the hyphen
        (
            ["Lithium-ion plants need lithium-", "ion grade hydroxide."],
            "Lithium-ion plants need lithium-ion grade hydroxide.",
        ),
        # a dash between figures joins without a space
        (["Output rose in 2022-", "2024 by half."], "Output rose in 2022-2024 by half."),
    ],
)
def test_pdf_join_rules(lines: list[str], joined: str) -> None:
    pieces = [formats._Line(text, 700 - 17 * i, 11, 0) for i, text in enumerate(lines)]
    evidence = formats._hyphen_evidence(pieces)
    assert formats._join(pieces, evidence) == joined


def _line(text: str, y: float, size: float = 11, page: int = 0) -> formats._Line:
    return formats._Line(text, y, size, page)


FULL = "x" * 90


@pytest.mark.parametrize(
    ("prev", "line", "continues"),
    [
        (_line(FULL, 700), _line("and more", 683), True),  # the usual leading: same paragraph
        (_line(FULL, 700), _line("And more", 683), True),  # a capital after a full line continues
        (_line(FULL, 700), _line("and more", 660), False),  # a blank line's worth of space
        (_line(FULL, 700), _line("and more", 683, size=16), False),  # a heading size change
        (_line("Short last line.", 700), _line("Next one", 683), False),  # short, ended, capital
        (_line("Cobalt Supply Outlook", 700), _line("Cobalt output", 683), False),  # a heading
        (_line("Short but unfinished", 700), _line("and lower", 683), True),
        (_line(FULL, 700), _line("• a bullet item", 683), False),
        (_line(FULL + " of the", 60), _line("company said.", 750, page=1), True),  # next page
        (_line(FULL + " it said.", 60), _line("The next", 750, page=1), False),
        (
            _line("ذكرت الوزارة أن صادرات الكوبالت", 60),
            _line("ارتفعت بنسبة كبيرة", 750, page=1),
            True,
        ),
        (_line("ذكرت الوزارة أن صادرات الكوبالت ارتفعت.", 60), _line("وقال", 750, page=1), False),
    ],
)
def test_pdf_paragraph_break_rules(
    prev: formats._Line, line: formats._Line, continues: bool
) -> None:
    assert formats._continues(prev, line, leading=17, full=90) is continues


def test_pdf_damaged_page_costs_that_page_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = make_quebec_pdf(tmp_path / "q.pdf")
    real = formats._page_lines

    def page_lines(page: object, number: int) -> list[formats._Line]:
        if number == 0:
            raise KeyError("/Font")
        return real(page, number)

    monkeypatch.setattr(formats, "_page_lines", page_lines)
    paragraphs = load_document(pdf).text.split("\n\n")
    # (With one page of text left there is nothing to compare, so its header and footer stay.)
    # (Nor is "lithium-ion" whole on page 1 any more to tell that its line-end hyphen is real.)
    assert paragraphs[-2] == QUEBEC_PARAGRAPHS[-2]
    assert paragraphs[-1].startswith("Critics argue that the North American supply chain")
    assert not set(paragraphs) & set(QUEBEC_PARAGRAPHS[:-2])
    monkeypatch.setattr(formats, "_page_lines", lambda page, number: page_lines(page, 0))
    with pytest.raises(DocumentError, match=r"^unreadable: not a valid PDF \(KeyError: '/Font'\)$"):
        load_document(pdf)


def test_pdf_page_numbers_and_running_header_dropped(tmp_path: Path) -> None:
    pages = [
        [["Cobalt exports from Congo rose in the first quarter, the mines ministry said."]],
        [["Most of the metal went to refiners in China, customs figures show."], ["Prices rose."]],
        [["Traders expect the export quota to tighten supply later in the year."]],
    ]
    pdf = make_pdf(
        tmp_path / "weekly.pdf",
        pages,
        heading="Cobalt exports rise",
        header="{page}",
        footer="Page {page} of {pages}",
    )
    doc = load_document(pdf)
    assert doc.text.split("\n\n") == [
        "Cobalt exports rise",
        *(paragraph[0] for page in pages for paragraph in page),
    ]
    numbers = [r for r in doc.removed if r.rule == "page-number"]
    assert numbers and sorted(numbers[0].text.split("\n")) == sorted(
        ["1", "2", "3", "Page 1 of 3", "Page 2 of 3", "Page 3 of 3"]
    )


def test_pdf_running_head_with_chapter_and_page_number_dropped(tmp_path: Path) -> None:
    # The book style: "Chapter 2: Refining 5" on top, its text changing with the chapter; the
    # printed page number is the PDF page plus 2 (two unnumbered front pages).
    chapters = ["Mining", "Mining", "Refining", "Refining", "Refining", "Recycling"]
    texts = [
        "Congo mined 170,000 tonnes of cobalt in 2023, the survey found.",
        "Indonesia now mines more nickel than the rest of the world combined.",
        "China refines about two thirds of the world's lithium chemicals.",
        "New refineries in Quebec and Nevada will start production next year.",
        "Refining margins fell as spodumene prices collapsed in 2023.",
        "Recycled black mass could meet a tenth of cathode demand by 2035.",
    ]
    pages = [[[text]] for text in texts]
    pdf = make_pdf(
        tmp_path / "book.pdf",
        pages,
        header=lambda n: (
            f"Chapter {chapters.index(chapters[n - 1]) + 1}: {chapters[n - 1]} {n + 2}"
        ),
    )
    doc = load_document(pdf)
    assert "Chapter" not in doc.text
    assert doc.text.split("\n\n") == [p[0][0] for p in pages]


def test_pdf_line_repeated_on_one_page_only_is_kept(tmp_path: Path) -> None:
    pdf = make_pdf(
        tmp_path / "a.pdf",
        [[["Nickel output in Sulawesi rose sharply last year."]], [["Prices fell in March."]]],
        footer="Draft for comment",
        header="",
    )
    doc = load_document(pdf)
    assert "Draft for comment" not in doc.text  # on both pages: furniture
    single = make_pdf(
        tmp_path / "b.pdf",
        [[["Nickel output in Sulawesi rose sharply last year."]]],
        footer="Draft for comment",
    )
    assert "Draft for comment" in load_document(single).text  # one page: nothing to compare


@pytest.mark.parametrize(
    ("meta", "title"),
    [
        ("Quebec refinery report", "Quebec refinery report"),
        ("", QUEBEC_HEADING),
        ("Microsoft Word - quebec_draft3.docx", QUEBEC_HEADING),
        ("untitled", QUEBEC_HEADING),
        (QUEBEC_HEADER, QUEBEC_HEADING),  # the publication's running header, not this article
    ],
)
def test_pdf_title_from_metadata_else_first_heading(tmp_path: Path, meta: str, title: str) -> None:
    pdf = make_quebec_pdf(tmp_path / "q.pdf", title=meta)
    assert load_document(pdf).title == title


def test_pdf_title_is_never_the_running_footer(tmp_path: Path) -> None:
    # Footer drawn first on every page and no heading in a larger font: before issue 9 the title
    # was "Critical Minerals Review - Issue 12 - page 1".
    pdf = make_pdf(
        tmp_path / "plain.pdf",
        [
            [["Lithium Supply Outlook"], ["Lithium prices fell 20% in 2024, the agency said."]],
            [["Chile and Argentina raised output."], ["Australia cut it."]],
        ],
        footer=QUEBEC_FOOTER,
    )
    doc = load_document(pdf)
    assert doc.title == "Lithium Supply Outlook"
    assert "page" not in doc.text


def test_pdf_library_warnings_never_reach_stderr(tmp_path: Path) -> None:
    # Outside pytest nothing configures logging, so pypdf's warnings would reach Python's
    # last-resort handler and print raw on stderr: run a real interpreter to see.
    pdf = tmp_path / "junk.pdf"
    pdf.write_bytes(b"garbage before the header %PDF-1.4\n1 0 obj << >> endobj\n")
    code = (
        "import sys\nfrom assistant.documents import load_document\n"
        "from assistant.errors import DocumentError\n"
        "try:\n    load_document(sys.argv[1])\nexcept DocumentError as e:\n    print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(pdf)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.stderr == ""
    assert done.stdout.startswith("unreadable: not a valid PDF (")
    assert len(done.stdout.strip().splitlines()) == 1


def test_pdf_library_warnings_go_to_debug_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pdf = make_quebec_pdf(tmp_path / "q.pdf")
    data = pdf.read_bytes()
    # Junk before the header: pypdf warns ("invalid pdf header", "incorrect startxref") and reads on.
    (tmp_path / "junk.pdf").write_bytes(b"junk\n" + data)
    with caplog.at_level(logging.DEBUG, logger="assistant.formats"):
        doc = load_document(tmp_path / "junk.pdf")
    assert doc.text.split("\n\n") == QUEBEC_PARAGRAPHS
    mine = [r for r in caplog.records if r.name == "assistant.formats"]
    assert any("invalid pdf header" in r.getMessage() for r in mine)
    assert all(r.levelno == logging.DEBUG for r in mine)
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]


# --------------------------------------------------------------------------- Markdown


@pytest.mark.parametrize(
    ("markdown", "text"),
    [
        ("Prices *fell* sharply.", "Prices fell sharply."),
        ("Prices _fell_ sharply.", "Prices fell sharply."),
        ("Prices **fell** sharply.", "Prices fell sharply."),
        ("Prices __fell__ sharply.", "Prices fell sharply."),
        ("Prices ~~rose~~ fell.", "Prices rose fell."),
        ("The field snake_case_name stays.", "The field snake_case_name stays."),
        ("Output rose 2 * 3 = 6 times.", "Output rose 2 * 3 = 6 times."),
        ("Escaped \\*stars\\* stay.", "Escaped *stars* stay."),
        ("## Outlook ##", "Outlook"),
        ("Outlook\n=======", "Outlook"),
        ("See [the ministry](https://example.org/r) now.", "See the ministry now."),
        ("A chart: ![Nickel prices](p.png)", "A chart: Nickel prices"),
        ("Run `pip install` first.", "Run pip install first."),
        ("- one\n- **two**\n  - nested", "one\ntwo\nnested"),
        ("1. first\n2. second", "1. first\n2. second"),
        ("| Metal | Price |\n|---|---:|\n| Nickel | 16,000 |", "Metal | Price\nNickel | 16,000"),
        ("Some <b>bold</b> and<br>a break.", "Some bold and\na break."),
        ("<div class='x'>\nBlock &amp; <em>html</em>\n</div>", "Block & html"),
        ("<!-- a comment -->\n\nText.", "Text."),
        ("> A quote from *someone*.", "A quote from someone."),
        ("A line\nwrapped in the source.", "A line wrapped in the source."),
        ("```\nprint(1)\n```", "print(1)"),
    ],
)
def test_markdown_markup_becomes_plain_text(markdown: str, text: str) -> None:
    assert formats.extract_markdown(markdown).text == text


@pytest.mark.parametrize(
    "source",
    [
        '---\ntitle: "Indonesia\'s nickel boom"\ndate: 2024-05-01\nlang: en\n---\n\nBody text.\n',
        '+++\ntitle = "Indonesia\'s nickel boom"\ndate = 2024-05-01\nlang = "en"\n+++\nBody text.\n',
        "\ufeff---\ntitle: Indonesia's nickel boom\nlang: en\n...\nBody text.\n",
    ],
    ids=["yaml", "toml", "yaml-dots-bom"],
)
def test_markdown_front_matter_becomes_metadata(source: str) -> None:
    extracted = formats.extract_markdown(source)
    assert extracted.text == "Body text."
    assert extracted.title == "Indonesia's nickel boom"
    assert extracted.language == "en"


@pytest.mark.parametrize(
    ("lang", "language"),
    [("en-GB", "en"), ("ar_EG", "ar"), ("EN", "en"), ("english", ""), ("3", "")],
)
def test_markdown_front_matter_language(lang: str, language: str) -> None:
    assert formats.extract_markdown(f"---\nlang: {lang}\n---\nText.").language == language


def test_markdown_without_front_matter_keeps_a_leading_rule() -> None:
    extracted = formats.extract_markdown("---\nJust prose between rules.\n---\n\nMore.")
    assert extracted.text == "Just prose between rules.\n\nMore."
    assert formats.split_front_matter("---\n- a\n- b\n---\nx")[0] == {}  # a list is no metadata


def test_simple_toml_fallback() -> None:
    assert formats._parse_simple_toml("title = \"Nickel\"\ncount = 3\nlang = 'en'") == {
        "title": "Nickel",
        "lang": "en",
    }


MARKDOWN_ARTICLE = """---
title: "Indonesia's nickel boom reshapes Sulawesi"
author: Staff
tags: [nickel, indonesia]
---

# Nickel *boom*

Indonesia's **nickel** output rose to 1.8 million tonnes in 2023, says
[the ministry](https://example.org/report), as _Chinese-backed_ smelters in
Morowali came online.

| Region | Smelters |
|--------|---------:|
| Sulawesi | 34 |
| Maluku | 9 |

- Exports of raw ore stay *banned*.
- The `smelter_count` field counts plants.
"""


def test_markdown_document_text_is_clean_and_offsets_exact(tmp_path: Path) -> None:
    md = tmp_path / "nickel.md"
    md.write_text(MARKDOWN_ARTICLE, "utf-8")
    doc = load_document(md)
    assert doc.title == "Indonesia's nickel boom reshapes Sulawesi"
    assert doc.text == (
        "Nickel boom\n\n"
        "Indonesia's nickel output rose to 1.8 million tonnes in 2023, says the ministry, as "
        "Chinese-backed smelters in Morowali came online.\n\n"
        "Region | Smelters\nSulawesi | 34\nMaluku | 9\n\n"
        "Exports of raw ore stay banned.\nThe smelter_count field counts plants."
    )
    chunks = chunk_text(doc.text, max_tokens=24, overlap_tokens=4)
    assert len(chunks) > 2
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        for markup in ("**", "](", "---", "title:", "`"):
            assert markup not in chunk.text


# --------------------------------------------------------------------------- DOCX

DOCX_BLOCKS: list[tuple[str, object]] = [
    ("title", "Congo caps cobalt exports"),
    (
        "paragraph",
        "The Democratic Republic of Congo set a cobalt export quota of 96,600 tonnes for 2026.",
    ),
    ("heading", "Quota by company"),
    ("table", [["Company", "Tonnes"], ["CMOC", "31,200"], ["Glencore", "18,100"]]),
    ("paragraph", "The regulator said the cap would support prices after a long slump."),
]


def test_docx_blocks_in_document_order(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "cobalt.docx", DOCX_BLOCKS)
    doc = load_document(path)
    assert doc.text.split("\n\n") == [
        "Congo caps cobalt exports",
        "The Democratic Republic of Congo set a cobalt export quota of 96,600 tonnes for 2026.",
        "Quota by company",
        "Company | Tonnes\nCMOC | 31,200\nGlencore | 18,100",
        "The regulator said the cap would support prices after a long slump.",
    ]
    assert doc.title == "Congo caps cobalt exports"


def test_docx_title_from_core_properties_else_first_heading(tmp_path: Path) -> None:
    blocks = DOCX_BLOCKS[1:]  # no Title-styled paragraph: the first heading is the title
    assert load_document(make_docx(tmp_path / "a.docx", blocks)).title == "Quota by company"
    titled = make_docx(tmp_path / "b.docx", blocks, title="Cobalt quota memo")
    assert load_document(titled).title == "Cobalt quota memo"


def test_docx_merged_cells_appear_once(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "Cobalt output, tonnes"
    for c, value in enumerate(["2023", "2024", "2025"]):
        table.cell(1, c).text = value
    document.save(str(tmp_path / "merged.docx"))
    assert (
        load_document(tmp_path / "merged.docx").text == "Cobalt output, tonnes\n2023 | 2024 | 2025"
    )


# --------------------------------------------------------------------------- broken files


def _truncated_docx(tmp_path: Path) -> bytes:
    data = make_docx(tmp_path / "whole.docx", DOCX_BLOCKS).read_bytes()
    return data[: len(data) // 2]


def _docx_without_document(tmp_path: Path) -> bytes:
    path = tmp_path / "empty.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a word file")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        (
            "garbage.pdf",
            lambda tmp: b"%PDF-1.4\nthis is not really a pdf\n",
            r"^unreadable: not a valid PDF \(",
        ),
        ("random.pdf", lambda tmp: bytes(range(256)) * 8, r"^unreadable: not a valid PDF \("),
        (
            "garbage.docx",
            lambda tmp: b"PK\x03\x04 garbage garbage",
            r"^unreadable: not a valid \.docx file",
        ),
        (
            "text.docx",
            lambda tmp: b"just some text, not a zip",
            r"^unreadable: not a valid \.docx file",
        ),
        ("truncated.docx", _truncated_docx, r"^unreadable: not a valid \.docx file"),
        ("nodoc.docx", _docx_without_document, r"^unreadable: not a valid \.docx file"),
        ("binary.md", lambda tmp: b"\x00\x01\x02\x03" * 64, r"^binary file$"),
        ("empty.html", lambda tmp: b"", r"^empty file$"),
    ],
)
def test_broken_files_raise_one_line_document_errors(
    tmp_path: Path, name: str, make: object, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(make(tmp_path))  # type: ignore[operator]
    with pytest.raises(DocumentError, match=reason) as info:
        load_document(path)
    assert "\n" not in str(info.value)


def test_any_extractor_exception_becomes_a_document_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.html"
    path.write_text("<html><body><p>Lithium prices fell in 2024.</p></body></html>", "utf-8")

    def crash(data: bytes) -> formats.Extracted:
        raise RuntimeError("parser crashed\nwith a second line of detail")

    monkeypatch.setattr(formats, "extract_html", crash)
    with pytest.raises(DocumentError, match=r"^unreadable: RuntimeError: parser crashed$"):
        load_document(path)

    def missing(data: bytes) -> formats.Extracted:
        raise ImportError("lxml.html.clean module is now a separate project lxml_html_clean.")

    monkeypatch.setattr(formats, "extract_html", missing)
    with pytest.raises(DocumentError, match=r"^cannot read \.html files here: lxml\.html\.clean"):
        load_document(path)


def test_a_crash_while_cleaning_becomes_a_document_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.documents as documents

    path = tmp_path / "a.txt"
    path.write_text("Lithium prices fell in 2024.", "utf-8")

    def crash(raw: str) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(documents, "clean_text", crash)
    with pytest.raises(DocumentError, match=r"^unreadable: RecursionError: maximum recursion"):
        load_document(path)


@pytest.mark.parametrize(
    ("title", "kept"),
    [
        ("Quebec refinery report", "Quebec refinery report"),
        ("  Quebec   refinery ", "Quebec refinery"),
        ("", ""),
        (None, ""),
        ("Microsoft Word - draft.docx", ""),
        ("report_final.pdf", ""),
        ("Untitled-3", ""),
        ("Document1", ""),
        ("12", ""),
    ],
)
def test_meaningful_title(title: object, kept: str) -> None:
    assert formats._meaningful_title(title) == kept
