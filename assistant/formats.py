"""Text extraction per file format (Markdown, HTML, PDF, DOCX) into plain paragraphs + metadata.

Each extractor takes the file's bytes (or decoded text) and returns an ``Extracted``: blank-line
separated paragraphs, a title when the format carries one, and what it dropped. Cleaning of web
junk happens afterwards in ``documents.clean_text``; the libraries are imported lazily and their
log records and warnings are sent to this module's logger at debug level, never to stderr.
"""

from __future__ import annotations

import contextlib
import html
import io
import logging
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import DocumentError

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dropped:
    """Text an extractor left out of the document (page furniture), and why."""

    rule: str
    reason: str
    text: str


@dataclass(frozen=True)
class Extracted:
    """One file's text as blank-line separated paragraphs, with what the format says about it."""

    text: str
    title: str = ""
    language: str = ""
    dropped: tuple[Dropped, ...] = field(default=())


# --------------------------------------------------------------------------- library noise


class _ToDebug(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _log.debug("%s: %s", record.name, record.getMessage())


@contextlib.contextmanager
def quiet_libraries(*names: str) -> Iterator[None]:
    """Send the named libraries' log records and any warnings to our logger at debug level.

    pypdf logs "invalid pdf header", "EOF marker not found" and the like as warnings; with no
    handler configured, Python's last-resort handler would print them raw on stderr.
    """
    handler = _ToDebug()
    saved = []
    for name in names:
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate))
        logger.addHandler(handler)
        logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for item in caught:
            _log.debug("%s: %s", item.category.__name__, item.message)
    finally:
        for logger, propagate in saved:
            logger.removeHandler(handler)
            logger.propagate = propagate


def one_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message, shortened: libraries write whole paragraphs."""
    lines = str(exc).strip().splitlines()
    text = " ".join(lines[0].split()) if lines else ""
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or type(exc).__name__


def _meaningful_title(title: object) -> str:
    """A metadata title, or "" when it is empty or a tool's placeholder ("Microsoft Word - x.doc")."""
    if not isinstance(title, str):
        return ""
    text = " ".join(title.split())
    if len(text) < 3 or not any(ch.isalpha() for ch in text):
        return ""
    if re.match(r"(?i)^microsoft (?:word|powerpoint|excel) - ", text):
        return ""
    if re.search(r"(?i)\.(?:pdf|docx?|odt|rtf|txt|indd|tex|html?|pptx?|xlsx?)$", text):
        return ""
    if re.fullmatch(r"(?i)(?:untitled|title|document|presentation|slide|draft)[\s_-]*\d*", text):
        return ""
    return text


# --------------------------------------------------------------------------- HTML


def extract_html(data: bytes) -> Extracted:
    """Main article text and title of a web page (trafilatura), one block per paragraph."""
    if b"\x00" in data[:8192]:
        raise DocumentError("binary file")
    with quiet_libraries("trafilatura", "htmldate", "justext", "courlan"):
        import trafilatura

        try:
            result = trafilatura.bare_extraction(
                data,
                include_comments=False,
                include_tables=True,
                include_images=False,
                include_links=False,
                with_metadata=True,
            )
        except Exception as exc:  # noqa: BLE001 - trafilatura/lxml raise many types on bad markup
            raise DocumentError(f"unreadable: {type(exc).__name__}: {one_line(exc)}") from exc
    if result is None:
        raise DocumentError("nothing left after cleaning")
    text = getattr(result, "text", None) or ""
    title = getattr(result, "title", None) or ""
    # trafilatura's txt output puts one block (paragraph, heading, list item) per line; make each
    # block a paragraph so the chunker sees the same blank-line structure as in .txt files.
    blocks = [line.strip() for line in text.split("\n") if line.strip()]
    if not blocks:
        raise DocumentError("nothing left after cleaning")
    return Extracted("\n\n".join(blocks), title=title.strip())


# --------------------------------------------------------------------------- Markdown

# Front matter: YAML between "---" lines (closed by "---" or "..."), or TOML between "+++" lines.
_YAML_FRONT = re.compile(
    r"\A---[ \t]*\r?\n(.*?)(?:\r?\n)?^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S | re.M
)
_TOML_FRONT = re.compile(
    r"\A\+\+\+[ \t]*\r?\n(.*?)(?:\r?\n)?^\+\+\+[ \t]*(?:\r?\n|\Z)", re.S | re.M
)
_BR = re.compile(r"(?i)<br\s*/?>")
_TAG = re.compile(r"<[^>]*>")
_HTML_DROP = re.compile(r"(?is)<!--.*?-->|<(script|style)\b.*?</\1\s*>")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split YAML (---) or TOML (+++) front matter off a Markdown text.

    Returns the parsed mapping and the body. Text that merely starts with a horizontal rule, or
    whose block does not parse into a mapping, is left as it is.
    """
    text = text.removeprefix("\ufeff")
    match = _YAML_FRONT.match(text)
    if match:
        meta = _parse_yaml(match.group(1))
    else:
        match = _TOML_FRONT.match(text)
        meta = _parse_toml(match.group(1)) if match else None
    if match is None or meta is None:
        return {}, text
    return meta, text[match.end() :]


def _parse_yaml(block: str) -> dict[str, Any] | None:
    import yaml

    try:
        value = yaml.safe_load(block) if block.strip() else {}
    except yaml.YAMLError:
        return None
    return value if isinstance(value, dict) else None


def _parse_toml(block: str) -> dict[str, Any] | None:
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ModuleNotFoundError:
            return _parse_simple_toml(block)
    try:
        return dict(tomllib.loads(block))
    except tomllib.TOMLDecodeError:
        return None


def _parse_simple_toml(block: str) -> dict[str, Any]:
    # Without a TOML parser, the flat `key = "value"` lines front matter uses in practice.
    found: dict[str, Any] = {}
    for match in re.finditer(r'(?m)^\s*([\w-]+)\s*=\s*(["\'])(.*?)\2\s*$', block):
        found[match.group(1)] = match.group(3)
    return found


def extract_markdown(text: str) -> Extracted:
    """Markdown rendered to plain prose: front matter to metadata, markup to text."""
    meta, body = split_front_matter(text)
    blocks, heading = render_markdown(body)
    title = _meaningful_title(meta.get("title")) or heading
    language = meta.get("lang") or meta.get("language") or ""
    # "en", "en-GB", "ar_EG": the ISO 639-1 part is what the store keeps.
    code = re.fullmatch(r"([a-z]{2})(?:[-_][a-z0-9]{2,8})*", str(language).strip().lower())
    return Extracted("\n\n".join(blocks), title=title, language=code.group(1) if code else "")


def render_markdown(body: str) -> tuple[list[str], str]:
    """Render Markdown (CommonMark + pipe tables + strikethrough) to plain-text blocks.

    Returns the blocks (a paragraph, a heading, a list with one item per line, a table with one
    row per line and cells joined by " | ") and the text of the first heading when it is the first
    block. Emphasis follows CommonMark's rules, so ``snake_case`` and ``2 * 3`` stay as written.
    """
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    blocks: list[str] = []
    first_heading = ""
    lists: list[bool] = []  # open lists, innermost last: True for an ordered one
    items: list[str] = []
    number = ""  # "3. " while the first paragraph of an ordered list's item is pending
    row: list[str] | None = None
    rows: list[str] = []
    in_heading = False
    for token in md.parse(body):
        kind = token.type
        if kind == "inline":
            content = _render_inline(token.children or [])
            if row is not None:
                if content:
                    row.append(content)
            elif not content:
                continue
            elif lists:
                items.append(number + content)
                number = ""
            else:
                if in_heading and not blocks:
                    first_heading = content
                blocks.append(content)
        elif kind == "heading_open":
            in_heading = True
        elif kind == "heading_close":
            in_heading = False
        elif kind in ("bullet_list_open", "ordered_list_open"):
            lists.append(kind == "ordered_list_open")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            if not lists and items:
                blocks.append("\n".join(items))
                items = []
        elif kind == "list_item_open":
            # Bullets go; an ordered list keeps its numbers, which the text may refer to.
            number = f"{token.info}{token.markup} " if lists and lists[-1] and token.info else ""
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            if row:
                rows.append(" | ".join(row))
            row = None
        elif kind == "table_close":
            if rows:
                blocks.append("\n".join(rows))
            rows = []
        elif kind in ("fence", "code_block"):
            code = token.content.strip("\n")
            if code.strip():
                (items if lists else blocks).append(code)
        elif kind == "html_block":
            plain = _html_to_text(token.content)
            if plain:
                (items if lists else blocks).append(plain)
    return blocks, first_heading


def _render_inline(children: Sequence[Any]) -> str:
    parts: list[str] = []
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind == "softbreak":
            parts.append(" ")
        elif kind == "hardbreak":
            parts.append("\n")
        elif kind == "image":
            # The alt text stands in for the picture (it often names what the chart shows).
            parts.append(child.content)
        elif kind == "html_inline":
            if _BR.fullmatch(child.content.strip()):
                parts.append("\n")
        # link_open/close, em/strong/s open/close: the markup goes, the text inside stays.
    text = "".join(parts)
    return "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()


def _html_to_text(markup: str) -> str:
    text = _BR.sub("\n", _HTML_DROP.sub("", markup))
    text = html.unescape(_TAG.sub(" ", text))
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# --------------------------------------------------------------------------- DOCX


def extract_docx(data: bytes) -> Extracted:
    """Paragraphs, headings and tables of a Word file in document order (python-docx)."""
    import zipfile

    with quiet_libraries("docx"):
        import docx
        from docx.opc.exceptions import PackageNotFoundError
        from docx.table import Table

        try:
            document = docx.Document(io.BytesIO(data))
        except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError) as exc:
            raise DocumentError(f"unreadable: not a valid .docx file ({one_line(exc)})") from exc
        blocks: list[str] = []
        heading = ""
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                table = _docx_table(item)
                if table:
                    blocks.append(table)
                continue
            text = _docx_lines(item.text)
            if not text:
                continue
            style = _style_name(item)
            if not heading and (style == "Title" or style.startswith("Heading")):
                heading = text.replace("\n", " ")
            blocks.append(text)
        title = _meaningful_title(document.core_properties.title) or heading
    return Extracted("\n\n".join(blocks), title=title)


def _style_name(paragraph: Any) -> str:
    try:
        return str(paragraph.style.name or "") if paragraph.style is not None else ""
    except Exception:  # noqa: BLE001 - a broken style reference only costs the heading hint
        return ""


def _docx_lines(text: str) -> str:
    # A manual line break (w:br) comes through as "\n"; tabs as "\t".
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _docx_table(table: Any) -> str:
    """A table as text: one row per line, cells joined by " | " (merged cells once)."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; its XML element is shared.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = " ".join(cell.text.split())
            if text:
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return "\n".join(rows)


# --------------------------------------------------------------------------- PDF


@dataclass
class _Line:
    text: str
    y: float  # baseline height on the page (PDF units, growing upwards)
    size: float  # rendered font size
    page: int


_SENTENCE_END = re.compile(r"[.!?;:؟…]['\"’”)\]]*$")
_BULLET = re.compile(r"^(?:[•◦▪▫‣∙·■□●○–—*-]\s|\(?\d{1,2}[.)]\s|\(?[a-z][.)]\s)")
# A page number alone on a line: "2", "- 2 -", "Page 2", "page 2 of 3", "2/3", "p. 2", "iv".
_PAGE_NUMBER = re.compile(
    r"(?i)^[-–—\s]*(?:page|p\.|pg\.?)?\s*(\d{1,4}|[ivxlc]{1,7})(?:\s*(?:of|/)\s*\d{1,4})?[-–—\s]*$"
)
_FURNITURE_REASONS = {
    "page-furniture": "Running header or footer repeated on the PDF's pages, not article text.",
    "page-number": "Page number at the top or bottom of a PDF page.",
}


def extract_pdf(data: bytes) -> Extracted:
    """Paragraphs rebuilt from a PDF's text layer, without its running headers and footers."""
    with quiet_libraries("pypdf"):
        from pypdf import PdfReader

        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise DocumentError("unreadable: encrypted PDF")
            count = len(reader.pages)
        except DocumentError:
            raise
        except Exception as exc:  # noqa: BLE001 - pypdf raises many types on damaged files
            what = "encrypted PDF" if type(exc).__name__ == "DependencyError" else "not a valid PDF"
            raise DocumentError(
                f"unreadable: {what} ({type(exc).__name__}: {one_line(exc)})"
            ) from exc
        pages: list[list[_Line]] = []
        failure: Exception | None = None
        for number in range(count):
            # One damaged page (a broken font, a bad content stream) costs that page only.
            try:
                pages.append(_page_lines(reader.pages[number], number))
            except Exception as exc:  # noqa: BLE001
                _log.debug("page %d of a PDF has no readable text: %r", number + 1, exc)
                failure = failure or exc
                pages.append([])
        try:
            meta = reader.metadata
            meta_title = meta.title if meta is not None else None
        except Exception as exc:  # noqa: BLE001 - damaged metadata only loses the title
            _log.debug("unreadable PDF metadata: %r", exc)
            meta_title = None
    if not any(pages) and failure is not None:
        raise DocumentError(
            f"unreadable: not a valid PDF ({type(failure).__name__}: {one_line(failure)})"
        ) from failure
    if not any(pages):
        raise DocumentError("no text layer in PDF")
    pages, dropped = _drop_page_furniture(pages)
    paragraphs = _paragraphs(pages)
    body = _body_size([line for page in pages for line in page])
    title = _meaningful_title(meta_title)
    furniture = {_furniture_key(line) for d in dropped for line in d.text.split("\n")}
    if title and _furniture_key(title) in furniture:
        title = ""  # the metadata names the publication (its running header), not this text
    if not title:
        title = _first_heading(paragraphs, body)
    return Extracted("\n\n".join(text for text, _ in paragraphs), title=title, dropped=dropped)


def _page_lines(page: Any, number: int) -> list[_Line]:
    """The page's text lines as pypdf extracts them, each with its height and font size."""
    pieces: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text:
            return
        # Text space to page space: the text matrix times the current transformation matrix.
        c = tm[2] * cm[0] + tm[3] * cm[2]
        d = tm[2] * cm[1] + tm[3] * cm[3]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = math.hypot(c, d) or 1.0
        pieces.append((text, y, float(size or 0) * scale))

    page.extract_text(visitor_text=visit)
    lines: list[_Line] = []
    parts: list[str] = []
    where: tuple[float, float] | None = None

    def close() -> None:
        text = " ".join("".join(parts).replace("\x00", "").split())
        if text and where is not None:
            lines.append(_Line(text, where[0], where[1], number))

    for text, y, size in pieces:
        chunks = text.split("\n")
        for k, chunk in enumerate(chunks):
            if k:
                close()
                parts, where = [], None
            if chunk.strip() and where is None:
                # pypdf resets the matrices for its own newline pieces; only text has a position.
                where = (y, size)
            parts.append(chunk)
    close()
    return lines


def _furniture_key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def _edge_key(line: _Line) -> tuple[str, int, int]:
    # Running headers and footers sit at the same height in the same size on every page.
    return _furniture_key(line.text), round(line.size), round(line.y / 4)


def _drop_page_furniture(pages: list[list[_Line]]) -> tuple[list[list[_Line]], tuple[Dropped, ...]]:
    """Drop running headers/footers and page numbers.

    Only the two top- and bottom-most lines of a page can be furniture: a line that recurs there
    (digits aside, in the same size at the same height) on most pages; a bare page number
    ("7", "Page 7 of 9", "vii"); and the outermost line when it starts or ends with the page's
    number, counted with the same offset on many pages ("Chapter 3: Utilities 7").
    """
    edges: list[set[int]] = []
    outer: list[set[int]] = []
    for lines in pages:
        order = sorted(range(len(lines)), key=lambda i: -lines[i].y)
        edges.append(set(order[:2]) | set(order[-2:]))
        outer.append(set(order[:1]) | set(order[-1:]))
    counts: Counter[tuple[str, int, int]] = Counter()
    offsets: Counter[int] = Counter()
    for number, (lines, edge) in enumerate(zip(pages, edges)):
        counts.update({_edge_key(lines[i]) for i in edge})
        offsets.update({n - number for i in outer[number] for n in _edge_numbers(lines[i].text)})
    with_text = sum(1 for lines in pages if lines)
    needed = max(2, math.ceil(with_text / 2))
    offset, seen = offsets.most_common(1)[0] if offsets else (0, 0)
    numbered = with_text >= 3 and seen >= max(3, with_text * 0.3)
    removed: dict[str, list[str]] = {}
    kept_pages = []
    for number, (lines, edge) in enumerate(zip(pages, edges)):
        kept = []
        for i, line in enumerate(lines):
            rule = ""
            if i in edge:
                page_number = _PAGE_NUMBER.match(line.text)
                if page_number and (with_text > 1 or page_number.group(1) == "1"):
                    rule = "page-number"
                elif with_text > 1 and counts[_edge_key(line)] >= needed:
                    rule = "page-furniture"
                elif (
                    numbered
                    and i in outer[number]
                    and len(line.text) <= 120
                    and number + offset in _edge_numbers(line.text)
                ):
                    rule = "page-furniture"
            if rule:
                removed.setdefault(rule, []).append(line.text)
            else:
                kept.append(line)
        kept_pages.append(kept)
    dropped = tuple(
        Dropped(rule=rule, reason=_FURNITURE_REASONS[rule], text="\n".join(texts))
        for rule, texts in removed.items()
    )
    return kept_pages, dropped


def _edge_numbers(text: str) -> set[int]:
    """The numbers a line starts or ends with: where running heads put the page number."""
    found = set()
    for match in (re.match(r"(\d{1,4})\b", text), re.search(r"\b(\d{1,4})$", text)):
        if match:
            found.add(int(match.group(1)))
    return found


def _body_size(lines: Sequence[_Line]) -> float:
    """The font size most of the text is set in."""
    weights: Counter[float] = Counter()
    for line in lines:
        weights[round(line.size, 1)] += len(line.text)
    return weights.most_common(1)[0][0] if weights else 0.0


def _paragraphs(pages: list[list[_Line]]) -> list[tuple[str, float]]:
    """Join the lines of each paragraph; returns (text, font size) per paragraph."""
    lines = [line for page in pages for line in page]
    if not lines:
        return []
    body = _body_size(lines) or 1.0
    gaps = [
        a.y - b.y
        for a, b in zip(lines, lines[1:])
        if a.page == b.page and _same_size(a.size, body) and _same_size(b.size, body) and a.y > b.y
    ]
    # Most gaps are between lines of one paragraph, so a low quantile is the line pitch even when
    # many paragraphs are one line long; with only a few gaps to go by, assume at most 1.5 x size.
    gaps.sort()
    leading = gaps[len(gaps) // 4] if len(gaps) >= 4 else min([*gaps, body * 1.5])
    lengths = sorted(len(line.text) for line in lines if _same_size(line.size, body))
    full = lengths[int(len(lengths) * 0.9)] if lengths else 0
    words = _hyphen_evidence(lines)

    paragraphs: list[tuple[str, float]] = []
    current: list[_Line] = []
    for line in lines:
        if current and _continues(current[-1], line, leading * line.size / body, full):
            current.append(line)
            continue
        if current:
            paragraphs.append((_join(current, words), current[0].size))
        current = [line]
    paragraphs.append((_join(current, words), current[0].size))
    return paragraphs


def _same_size(a: float, b: float) -> bool:
    return abs(a - b) <= 0.15 * max(a, b, 1e-6)


def _continues(prev: _Line, line: _Line, leading: float, full: int) -> bool:
    """Whether `line` goes on with the paragraph that `prev` ends (`leading`: the usual gap
    between the baselines of two lines of this size)."""
    if not _same_size(prev.size, line.size) or _BULLET.match(line.text):
        return False
    ends_sentence = bool(_SENTENCE_END.search(prev.text))
    starts_lower = line.text[:1].islower()
    gap = prev.y - line.y
    if prev.page != line.page or gap <= 0 or gap > 3 * leading:
        # A new page or column: positions say nothing, so only an unfinished sentence continues.
        # (Scripts without case, like Arabic, count as lower case here.)
        return not ends_sentence and not line.text[:1].isupper()
    if gap > 1.3 * leading:
        return False  # a blank line's worth of space, or more, above this line
    # Lines inside a paragraph run (nearly) the full width, so after a clearly short line that
    # ended a sentence, or a very short one (a heading set in the body font), a capital starts a
    # new paragraph.
    if not starts_lower and full >= 30:
        if len(prev.text) < 0.6 * full or (ends_sentence and len(prev.text) < 0.8 * full):
            return False
    return True


def _hyphen_evidence(lines: Sequence[_Line]) -> set[str]:
    """Hyphenated words that occur inside a line somewhere, so a break after them is a real hyphen."""
    found: set[str] = set()
    for line in lines:
        for match in re.finditer(r"\b(\w+-\w+)\b", line.text):
            found.add(match.group(1).lower())
    return found


def _join(lines: Sequence[_Line], hyphenated: set[str]) -> str:
    text = lines[0].text
    for line in lines[1:]:
        nxt = line.text
        end = re.search(r"(\w+)[-\u00ad]$", text)
        if end and nxt[:1].islower():
            head = end.group(1)
            tail = re.match(r"\w+", nxt)
            word = f"{head}-{tail.group(0) if tail else ''}".lower()
            if text.endswith("\u00ad") or word not in hyphenated:
                text = text[:-1] + nxt  # end-of-line hyphenation: "bat-" + "teries"
            else:
                text = text + nxt  # a real compound that happened to break at its hyphen
        elif text.endswith(("-", "/", "\u2013")) and not text.endswith(" -"):
            text = text + nxt
        else:
            text = text + " " + nxt
    return text


def _first_heading(paragraphs: Sequence[tuple[str, float]], body: float) -> str:
    """The first paragraph set larger than the body text and short enough to be a heading."""
    for text, size in paragraphs[:6]:
        if size > body * 1.15 and len(text) <= 150 and any(ch.isalpha() for ch in text):
            return text
    return ""
