"""Build PDF (fpdf2) and DOCX (python-docx) files during a test, with controlled layout."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

# A page is a list of paragraphs; a paragraph is the list of its lines, set exactly as given.
Page = Sequence[Sequence[str]]


def make_pdf(
    path: Path,
    pages: Sequence[Page],
    *,
    heading: str = "",
    title: str = "",
    header: str | Callable[[int], str] = "",
    footer: str | Callable[[int], str] = "",
    furniture_first: bool = True,
    paragraph_gap: float = 5.0,
) -> Path:
    """Write an A4 PDF: `heading` in 16 pt bold atop page 1, the lines in 11 pt Helvetica.

    `header` and `footer` are drawn on every page, with ``{page}`` and ``{pages}`` filled in (or
    called with the page number);
    `furniture_first` draws them before the body (as reportlab's page callbacks do) rather than
    after it (fpdf2's header()/footer()). `title` goes into the document metadata. Paragraphs are
    `paragraph_gap` mm apart on top of the 6 mm line pitch; 0 sets them with no gap at all.
    """
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(20, 20)
    if title:
        pdf.set_title(title)

    def fill(template: str | Callable[[int], str], number: int) -> str:
        if callable(template):
            return template(number)
        return template.format(page=number, pages=len(pages))

    def furniture(number: int) -> None:
        pdf.set_font("Helvetica", size=9)
        if header:
            pdf.text(20, 12, fill(header, number))
        if footer:
            pdf.text(20, 287, fill(footer, number))

    for number, page in enumerate(pages, start=1):
        pdf.add_page()
        if furniture_first:
            furniture(number)
        pdf.set_xy(20, 24)
        if number == 1 and heading:
            pdf.set_font("Helvetica", "B", 16)
            pdf.cell(0, 10, heading)
            pdf.ln(14)
        pdf.set_font("Helvetica", size=11)
        for k, paragraph in enumerate(page):
            if k and paragraph_gap:
                pdf.ln(paragraph_gap)
            for line in paragraph:
                pdf.cell(0, 6, line)
                pdf.ln(6)
        if not furniture_first:
            furniture(number)
    pdf.output(str(path))
    return path


def make_docx(
    path: Path,
    blocks: Sequence[tuple[str, object]],
    *,
    title: str = "",
) -> Path:
    """Write a Word file from ("heading", text), ("title", text), ("paragraph", text) and
    ("table", rows) blocks in that order; `title` goes into the core properties."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    for kind, content in blocks:
        if kind == "title":
            document.add_heading(str(content), level=0)
        elif kind == "heading":
            document.add_heading(str(content), level=1)
        elif kind == "paragraph":
            document.add_paragraph(str(content))
        elif kind == "table":
            rows = [list(row) for row in content]  # type: ignore[attr-defined]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    table.cell(r, c).text = str(value)
        else:
            raise ValueError(kind)
    document.save(str(path))
    return path


# The article the PDF tests use: the Quebec refinery text from issue 9, set in lines that run
# the full width, with a figure split across a line break and hyphenated words at line ends.
QUEBEC_HEADING = "Quebec opens North America's first lithium hydroxide refinery"
QUEBEC_PAGES: list[list[list[str]]] = [
    [
        [
            "The refinery in Becancour, Quebec, is the first of its kind on the continent. It cost C$612",
            "million and is designed to produce lithium hydroxide for roughly 300,000 electric-vehicle bat-",
            "teries each year, according to Nemaska Lithium, which has signed deals with two carmakers.",
        ],
        [
            "Spodumene concentrate from the Whabouchi mine in northern Quebec will be trucked to the",
            "plant, where it is converted into battery-grade hydroxide for lithium-ion cells. The company",
            "says the process runs on hydro power.",
            "Analysts at Benchmark Mineral Intelligence expect the plant to reach full output by 2027, as",
            "demand from battery makers in Ontario and Michigan is forecast to double by the end of 2030.",
        ],
    ],
    [
        [
            "The provincial government, which owns half of the company through Investissement Quebec,",
            "said the refinery would create 160 permanent jobs in the Becancour industrial park and",
            "would cut the shipping of raw concentrate to refineries in China.",
        ],
        [
            "Critics argue that the North American supply chain for lithium-",
            "ion batteries remains exposed to price swings: lithium carbonate prices fell by more than",
            "80 percent between late 2022 and the middle of 2024, and several projects were delayed.",
        ],
    ],
]
QUEBEC_PARAGRAPHS = [
    QUEBEC_HEADING,
    "The refinery in Becancour, Quebec, is the first of its kind on the continent. It cost C$612 "
    "million and is designed to produce lithium hydroxide for roughly 300,000 electric-vehicle "
    "batteries each year, according to Nemaska Lithium, which has signed deals with two carmakers.",
    "Spodumene concentrate from the Whabouchi mine in northern Quebec will be trucked to the "
    "plant, where it is converted into battery-grade hydroxide for lithium-ion cells. The company "
    "says the process runs on hydro power.",
    "Analysts at Benchmark Mineral Intelligence expect the plant to reach full output by 2027, as "
    "demand from battery makers in Ontario and Michigan is forecast to double by the end of 2030.",
    "The provincial government, which owns half of the company through Investissement Quebec, "
    "said the refinery would create 160 permanent jobs in the Becancour industrial park and "
    "would cut the shipping of raw concentrate to refineries in China.",
    "Critics argue that the North American supply chain for lithium-ion batteries remains exposed "
    "to price swings: lithium carbonate prices fell by more than 80 percent between late 2022 and "
    "the middle of 2024, and several projects were delayed.",
]
QUEBEC_FOOTER = "Critical Minerals Review - Issue 12 - page {page}"
QUEBEC_HEADER = "Critical Minerals Review"


def make_quebec_pdf(path: Path, **options: object) -> Path:
    """The Quebec article as a two-page PDF with a running header and a numbered footer."""
    settings: dict[str, object] = {"header": QUEBEC_HEADER, "footer": QUEBEC_FOOTER}
    settings.update(options)
    return make_pdf(path, QUEBEC_PAGES, heading=QUEBEC_HEADING, **settings)  # type: ignore[arg-type]
