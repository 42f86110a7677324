"""Digest parsing: turn an input file into `Paper`s.

Four formats, recognised from the content (not the extension):

- ``daily-papers``: the text of a Hugging Face "Daily Papers" page (title, abstract, "• N authors", date);
- ``hf-json``: the same site's JSON API payload, a list of ``{"paper": {...}}`` or of bare paper objects;
- ``arxiv-atom``: an arXiv API Atom feed;
- ``jsonl``: one ``{"title", "abstract", "url"?}`` object per line.

Every problem with an input is a `DigestError` whose message is one line naming the file (and line).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from agent.models import Paper

Format = Literal["daily-papers", "hf-json", "arxiv-atom", "jsonl"]

FORMATS_HINT = "expected a Daily Papers page's text, its JSON API payload, an arXiv Atom feed or JSONL"

# New-style (2412.01234) and old-style (hep-th/9901001) arXiv ids, with an optional version suffix.
_ARXIV_ID = r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})(?:v\d+)?"
_ARXIV_ID_RE = re.compile(_ARXIV_ID, re.IGNORECASE)
_ARXIV_URL_RE = re.compile(rf"arxiv\.org/(?:abs|pdf)/{_ARXIV_ID}(?:\.pdf)?/?(?:[?#]|$)", re.IGNORECASE)

# Daily Papers page furniture. The header repeats before a footer (a list of the titles again), sometimes
# glued to the last entry's date line ("Nov 20, 2023Get trending papers..."), so the marker ends the entries.
_HEADER_LINES = {"new", "get trending papers in your email inbox!", "subscribe", "daily papers"}
_HEADER_LINES |= {"byak and the research community"}
_FOOTER_MARK = "Get trending papers in your email inbox!"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
_DATE_LINE_RE = re.compile(rf"(?P<date>{_MONTH}\s+\d{{1,2}}(?:,\s*\d{{4}})?)(?:\s+(?P<upvotes>\d+))?")
_AUTHORS_LINE_RE = re.compile(r"•\s*(?P<n>\d+)\s+authors?")
_DOT_LINE = "·"
_MAX_TITLE_CHARS = 300  # longest real title is ~140 chars, shortest real abstract ~1400

Line = tuple[int, str]  # (1-based line number, text)


class DigestError(ValueError):
    """An input that cannot be read as a digest.

    str() is one line, 'FILE[:LINE]: what is wrong; what to do'; `path` and `line` say the same for code.
    """

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.message = " ".join(message.split())  # always one line, whatever we quote
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {self.message}")

    def __reduce__(self) -> tuple[Any, ...]:  # keep it picklable despite the custom signature
        return (type(self), (self.path, self.message, self.line))


# ----------------------------------------------------------------------------------------------- public API


def normalize_title(title: str) -> str:
    """The de-duplication key of a title: case-folded, runs of punctuation and whitespace made one space."""
    folded = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", folded).split())


def paper_id_for(title: str, arxiv_id: str | None) -> str:
    """The arXiv id (version stripped) when known, else a slug of the title plus 8 hex of its sha256.

    The hash is taken over `normalize_title`, so titles that de-duplicate together share an id.
    An `arxiv_id` that is not a valid arXiv id is ignored.
    """
    if arxiv := _arxiv_from_id(arxiv_id):
        return arxiv
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_title)
    slug = ""
    for word in words[:6]:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > 48:
            break
        slug = candidate
    slug = slug or (words[0][:48] if words else "paper")
    digest = hashlib.sha256(normalize_title(title).encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}"


def detect_format(path: Path, text: str) -> Format:
    """Which parser reads `text`, judged by its first non-blank character."""
    head = text.lstrip("\ufeff \t\r\n")
    if not head:
        raise DigestError(path, f"empty file; {FORMATS_HINT}")
    if head[0] == "[":
        return "hf-json"
    if head[0] == "{":
        return "jsonl"
    if head[0] == "<":
        return "arxiv-atom"
    return "daily-papers"


def parse_file(path: Path) -> list[Paper]:
    """Every entry of one input file, in file order (duplicates included; `load_inputs` drops them)."""
    path = Path(path)
    text = _read_text(path)
    papers = _PARSERS[detect_format(path, text)](path, text)
    if not papers:
        raise DigestError(path, f"no paper entries found; {FORMATS_HINT}")
    return papers


def load_inputs(paths: list[Path]) -> list[Paper]:
    """All papers of all inputs, each paper once (its first occurrence), in input order.

    Two entries are the same paper when their arXiv ids match, or, unless both have (different) arXiv
    ids, when their normalized titles match.
    """
    papers: list[Paper] = []
    seen_ids: set[str] = set()
    seen_titles: dict[str, set[str | None]] = {}  # normalized title -> arXiv ids (None: unknown) seen with it
    for path in paths:
        for paper in parse_file(Path(path)):
            arxiv = paper.paper_id if _ARXIV_ID_RE.fullmatch(paper.paper_id) else None
            title = normalize_title(paper.title)
            ids = seen_titles.get(title)
            duplicate = (arxiv is not None and arxiv in seen_ids) or (
                ids is not None and (arxiv is None or None in ids)
            )
            # Record a dropped duplicate's keys too: its arXiv id is an alias of the paper kept.
            seen_titles.setdefault(title, set()).add(arxiv)
            if arxiv is not None:
                seen_ids.add(arxiv)
            if not duplicate:
                papers.append(paper)
    return papers


# ------------------------------------------------------------------------------------------------- helpers


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DigestError(path, "no such file; check the path")
    if path.is_dir():
        raise DigestError(path, "is a directory; pass the digest files themselves (e.g. digests/*.txt)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DigestError(path, f"cannot read the file ({exc.strerror}); check its permissions") from exc
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM, as some editors write
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DigestError(
            path, f"not UTF-8 text (byte 0x{data[exc.start]:02x}); re-save the digest as UTF-8", line
        ) from exc
    if not text.strip():
        raise DigestError(path, f"empty file; {FORMATS_HINT}")
    return text


def _lines(text: str) -> list[Line]:
    # Not str.splitlines(): that also splits on U+2028 and friends, which may sit inside an abstract.
    return [(n, raw.rstrip("\r")) for n, raw in enumerate(text.split("\n"), 1)]


def _squash(text: str) -> str:
    return " ".join(text.split())


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _make_paper(
    path: Path,
    line: int | None,
    what: str,
    title: Any,
    abstract: Any,
    *,
    arxiv_id: str | None = None,
    url: str | None = None,
    authors: int | None = None,
    date: str | None = None,
    upvotes: int | None = None,
) -> Paper:
    """Validate and normalise one entry; `what` names it in errors (e.g. "entry 3")."""
    for field, value in (("title", title), ("abstract", abstract)):
        if value is not None and not isinstance(value, str):
            raise DigestError(path, f"{what}: '{field}' must be a string, not {type(value).__name__}", line)
    title, abstract = _squash(title or ""), _squash(abstract or "")
    if not title:
        raise DigestError(path, f"{what} has no title; every entry needs a title and an abstract", line)
    if not abstract:
        raise DigestError(path, f"{what} {title[:60]!r} has no abstract; add it or remove the entry", line)
    return Paper(
        paper_id=paper_id_for(title, arxiv_id),
        title=title,
        abstract=abstract,
        url=url,
        authors=authors,
        date=date,
        upvotes=upvotes,
        source=path.name if line is None else f"{path.name}:{line}",
    )


def _arxiv_from_id(value: Any) -> str | None:
    """'2412.01234v2' -> '2412.01234'; None for anything that is not an arXiv id."""
    match = _ARXIV_ID_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    return match["id"] if match else None


def _arxiv_from_url(url: str | None) -> str | None:
    match = _ARXIV_URL_RE.search(url or "")
    return match["id"] if match else None


def _abs_url(arxiv_id: str | None) -> str | None:
    return f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None


def _iso_date(value: Any) -> str | None:
    """'2024-12-09T10:00:00.000Z' -> '2024-12-09'."""
    return value[:10] if isinstance(value, str) and value.strip() else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ------------------------------------------------------------------------------------- daily-papers (text)


def _meta_kind(text: str) -> str | None:
    """'authors', 'dot' or 'date' for the lines under an entry's abstract, else None."""
    stripped = text.strip()
    if _AUTHORS_LINE_RE.fullmatch(stripped):
        return "authors"
    if stripped == _DOT_LINE:
        return "dot"
    if _DATE_LINE_RE.fullmatch(stripped):
        return "date"
    return None


def _blocks(lines: list[Line]) -> list[list[Line]]:
    """Runs of non-blank lines; an authors/dot line also starts a new block, in case no blank precedes it."""
    blocks: list[list[Line]] = []
    current: list[Line] = []
    for n, text in lines:
        after_text = bool(current) and _meta_kind(current[-1][1]) is None
        starts_meta = after_text and _meta_kind(text) in ("authors", "dot")
        if not text.strip() or starts_meta:
            if current:
                blocks.append(current)
            current = [(n, text)] if text.strip() else []
        else:
            current.append((n, text))
    if current:
        blocks.append(current)
    return blocks


def _is_meta(block: list[Line]) -> bool:
    return all(_meta_kind(text) for _, text in block)


def _is_title_like(block: list[Line] | None) -> bool:
    """A short block (a title may wrap); abstracts are paragraphs of a thousand characters or more."""
    return block is not None and len(block) <= 3 and sum(len(t.strip()) for _, t in block) <= _MAX_TITLE_CHARS


def _entry_lines(lines: list[Line]) -> list[Line]:
    """The lines between the page header and the footer."""
    start = 0
    while start < len(lines):
        text = lines[start][1].strip()
        if text and text.lower() not in _HEADER_LINES and not _DATE_LINE_RE.fullmatch(text):
            break
        start += 1
    body: list[Line] = []
    for n, text in lines[start:]:
        if _FOOTER_MARK in text:
            body.append((n, text[: text.index(_FOOTER_MARK)]))
            break
        if text.strip().lower() in _HEADER_LINES:  # the repeated header, not glued this time
            break
        body.append((n, text))
    return body


def _parse_daily_papers(path: Path, text: str) -> list[Paper]:
    lines = _lines(text)
    blocks = _blocks(_entry_lines(lines))
    has_header = any(t.strip().lower() in _HEADER_LINES for _, t in lines)
    if not has_header and not any(_is_meta(b) for b in blocks):
        raise DigestError(
            path, f"no recognizable entries (no Daily Papers header or '• N authors' lines); {FORMATS_HINT}"
        )

    entries: list[dict[str, Any]] = []  # {"line", "title", "abstract": [str], "meta": {...} | None}
    titles_seen: set[str] = set()
    for i, block in enumerate(blocks):
        current = entries[-1] if entries else None
        first_line = block[0][0]
        joined = " ".join(t.strip() for _, t in block)
        if _is_meta(block):
            if current is None or current["meta"] is not None:
                raise DigestError(path, "author/date lines without a paper title above them", first_line)
            if not current["abstract"]:
                title = current["title"][:60]
                raise DigestError(path, f"entry {title!r} has no abstract; add it or remove the entry", current["line"])
            current["meta"] = _parse_meta(block)
        elif current is not None and not current["abstract"]:
            current["abstract"].append(joined)
        elif current is not None and current["meta"] is None and not _is_title_like(block):
            current["abstract"].append(joined)  # an abstract's further paragraph: keep one paragraph
        else:
            if not _is_title_like(block):
                raise DigestError(path, f"expected a paper title, found {len(joined)} characters of text", first_line)
            next_block = blocks[i + 1] if i + 1 < len(blocks) else None
            key = normalize_title(joined)
            if key in titles_seen and (next_block is None or _is_title_like(next_block)):
                break  # a footer repeating the titles, without its header marker
            titles_seen.add(key)
            entries.append({"line": first_line, "title": joined, "abstract": [], "meta": None})

    return [
        _make_paper(path, e["line"], "entry", e["title"], " ".join(e["abstract"]), **(e["meta"] or {})) for e in entries
    ]


def _parse_meta(block: list[Line]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for _, text in block:
        stripped = text.strip()
        if match := _AUTHORS_LINE_RE.fullmatch(stripped):
            meta["authors"] = int(match["n"])
        elif match := _DATE_LINE_RE.fullmatch(stripped):
            meta["date"] = " ".join(match["date"].split())
            meta["upvotes"] = int(match["upvotes"]) if match["upvotes"] else None
    return meta


# ---------------------------------------------------------------------------------------- hf-json (list)


def _json_item_lines(text: str) -> list[int]:
    """The line each top-level element of a (valid) JSON list starts on, for error messages and `source`."""
    decoder = json.JSONDecoder()
    whitespace = re.compile(r"[\s,]*")

    def skip(pos: int) -> int:
        m = whitespace.match(text, pos)  # only optional parts: it always matches
        return m.end() if m else pos

    pos = skip(text.index("[") + 1)
    lines = []
    while pos < len(text) and text[pos] != "]":
        lines.append(_line_at(text, pos))
        _, pos = decoder.raw_decode(text, pos)
        pos = skip(pos)
    return lines


def _parse_hf_json(path: Path, text: str) -> list[Paper]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DigestError(
            path, f"not valid JSON ({exc.msg}); expected a list of Daily Papers API objects", exc.lineno
        ) from exc
    if not isinstance(data, list):
        raise DigestError(path, "expected a JSON list of papers (the Daily Papers API payload)", 1)
    papers = []
    for index, (item, line) in enumerate(zip(data, _json_item_lines(text), strict=True), 1):
        what = f"entry {index}"
        paper = item.get("paper", item) if isinstance(item, dict) else None
        if not isinstance(paper, dict):
            raise DigestError(path, f"{what} is not an object with 'title' and 'summary'", line)
        arxiv = _arxiv_from_id(paper.get("id"))
        authors = paper.get("authors")
        papers.append(
            _make_paper(
                path,
                line,
                what,
                paper.get("title") or item.get("title"),
                paper.get("summary") or paper.get("abstract"),
                arxiv_id=arxiv,
                url=_abs_url(arxiv),
                authors=len(authors) if isinstance(authors, list) else None,
                date=_iso_date(paper.get("publishedAt") or item.get("publishedAt")),
                upvotes=_int_or_none(paper.get("upvotes")),
            )
        )
    return papers


# ------------------------------------------------------------------------------------------- arxiv-atom


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ET.Element, name: str) -> str:
    child = next((c for c in element if _local(c.tag) == name), None)
    return "".join(child.itertext()) if child is not None else ""


def _parse_atom(path: Path, text: str) -> list[Paper]:
    if re.match(r"\s*(?:<\?xml[^>]*>\s*)?(?:<!doctype\s+html|<html)", text, re.IGNORECASE):
        raise DigestError(path, "is an HTML page; save the page's text, or the API's JSON, instead", 1)
    if declaration := re.search(r"<!\s*(?:DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise DigestError(
            path,
            "DOCTYPE/ENTITY declarations are not allowed in a feed (entity expansion risk); remove them",
            _line_at(text, declaration.start()),
        )
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        reason = re.sub(r": line \d+, column \d+$", "", str(exc))
        raise DigestError(path, f"not valid XML ({reason}); expected an arXiv Atom feed", exc.position[0]) from exc
    if _local(root.tag) != "feed":
        raise DigestError(path, f"root element is <{_local(root.tag)}>, expected an Atom <feed>", 1)

    entries = [child for child in root if _local(child.tag) == "entry"]
    # ElementTree keeps no line numbers; the n-th <entry> tag in the text is the n-th entry element.
    starts = [_line_at(text, m.start()) for m in re.finditer(r"<(?:[\w.-]+:)?entry[\s>]", text)]
    lines: list[int | None] = list(starts) if len(starts) == len(entries) else [None] * len(entries)
    papers = []
    for index, (entry, line) in enumerate(zip(entries, lines, strict=True), 1):
        entry_id = _child_text(entry, "id").strip()
        if "arxiv.org/api/errors" in entry_id:  # how the arXiv API reports a bad query
            raise DigestError(path, f"the feed is an arXiv API error: {_child_text(entry, 'summary')}", line)
        arxiv = _arxiv_from_url(entry_id)
        url = _abs_url(arxiv) or (entry_id if entry_id.startswith(("http://", "https://")) else None)
        authors = sum(1 for child in entry if _local(child.tag) == "author")
        papers.append(
            _make_paper(
                path,
                line,
                f"entry {index}",
                _child_text(entry, "title"),
                _child_text(entry, "summary"),
                arxiv_id=arxiv,
                url=url,
                authors=authors or None,
                date=_iso_date(_child_text(entry, "published")),
            )
        )
    return papers


# ------------------------------------------------------------------------------------------------ jsonl


def _parse_jsonl(path: Path, text: str) -> list[Paper]:
    expected = "each line must be an object with 'title' and 'abstract'"
    papers = []
    for n, raw in _lines(text):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DigestError(path, f"not valid JSON ({exc.msg}); {expected}", n) from exc
        if not isinstance(obj, dict):
            raise DigestError(path, f"a JSON {type(obj).__name__}, not an object; {expected}", n)
        url = obj.get("url")
        if url is not None and not isinstance(url, str):
            raise DigestError(path, f"'url' must be a string, not {type(url).__name__}", n)
        arxiv = _arxiv_from_url(url)
        papers.append(_make_paper(path, n, "entry", obj.get("title"), obj.get("abstract"), arxiv_id=arxiv, url=url))
    return papers


_PARSERS: dict[Format, Callable[[Path, str], list[Paper]]] = {
    "daily-papers": _parse_daily_papers,
    "hf-json": _parse_hf_json,
    "arxiv-atom": _parse_atom,
    "jsonl": _parse_jsonl,
}
