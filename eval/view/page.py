"""One static page: ``index.html`` (styles, script and the filterable index inlined) and ``view_files/``
beside it (each item's details in chunk files loaded on demand, and the thumbnails).

Nothing is fetched from a network or a server: the page opens from disk. Its weight stays small for
large runs because the index holds one short row per item and only the chunks of the items on screen
are loaded (``PAGE_SIZE`` items per page, ``CHUNK_SIZE`` items per chunk).
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from PIL import Image

from data.images import open_view

PAGE_FILE = "index.html"
FILES_DIR = "view_files"
CHUNK_DIR = f"{FILES_DIR}/chunks"
THUMB_DIR = f"{FILES_DIR}/thumbs"
CHUNK_SIZE = 10
PAGE_SIZE = 20
THUMB_SIDE = 224
THUMB_QUALITY = 85

Field = tuple[str, str, str]  # label, text, kind: "text", "pre" (preformatted) or "details" (folded)


@dataclass(frozen=True)
class Tag:
    """One value of the outcome filter; ``tone`` colours its chip (good, bad, ask, warn or "")."""

    id: str
    label: str
    tone: str = ""


@dataclass(frozen=True)
class Facet:
    """A filter with one value per item (scenario, mode, training step)."""

    name: str
    label: str
    values: tuple[str, ...]


@dataclass
class Item:
    """One card: an episode (per run) or a GRPO prompt group; ``detail`` goes to a chunk file."""

    title: str
    facets: tuple[str, ...]  # one value per page facet
    tags: list[list[str]]  # per run: the ids of the tags it carries
    differ: bool
    detail: dict[str, Any]  # {"runs": [run detail or None, ...]}, see turn() and run_detail()


@dataclass
class Page:
    title: str
    subtitle: str
    runs: list[str]
    facets: list[Facet]
    tags: list[Tag]
    items: list[Item]
    tag_label: str = "outcome"
    item_noun: str = "episodes"
    summary_html: str = ""
    about: str = ""  # shown folded under the header (e.g. the run's configuration)
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in the index for scripts and tests


def turn(
    image: str | None,
    caption: str,
    fields: Sequence[Field],
    badge: str = "",
    tone: str = "",
    show_image: bool = True,
) -> dict[str, Any]:
    """One row of a run's column: a thumbnail (None: "not available"; none at all without ``show_image``),
    a caption with a chip, and labelled fields."""
    row = {"caption": caption, "badge": badge, "tone": tone, "fields": [list(f) for f in fields]}
    return {"img": image, **row} if show_image else row


def visible(text: str) -> str:
    """``text`` as it is, or, when it holds nothing visible (empty, spaces, newlines), its repr saying so."""
    return text if text.strip() else f"(blank: {text!r})"


def run_detail(head: str, turns: Sequence[dict[str, Any]], notes: Sequence[Field] = ()) -> dict[str, Any]:
    return {"head": head, "turns": list(turns), "notes": [list(f) for f in notes]}


class Thumbnails:
    """Resized JPEG copies of the images shown, written once into ``view_files/thumbs``.

    A thumbnail is named by its source (path, size, modification time, crop), so a re-render reuses
    the ones already written and a changed image gets a new one.
    """

    def __init__(self, out_dir: str | Path, side: int = THUMB_SIDE) -> None:
        self.out_dir = Path(out_dir)
        (self.out_dir / THUMB_DIR).mkdir(parents=True, exist_ok=True)
        self.side = side
        self.missing: list[str] = []
        self._known: dict[str, str | None] = {}

    def of_file(self, path: Path, crop: Sequence[float] | None = None) -> str | None:
        """The thumbnail of the image file ``path`` (cropped); None, remembered in ``missing``, if absent."""
        try:
            stat = path.stat()
        except OSError:
            self.missing.append(str(path))
            return None
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{self.side}|{crop}"
        if key not in self._known:
            name = f"{THUMB_DIR}/{hashlib.sha1(key.encode()).hexdigest()[:20]}.jpg"
            if not (self.out_dir / name).is_file():
                box = tuple(crop) if crop is not None else None
                save_thumbnail(open_view(path.parent, path.name, box), self.out_dir / name, self.side)
            self._known[key] = name
        return self._known[key]


def save_thumbnail(image: Image.Image, path: Path, side: int, quality: int = THUMB_QUALITY) -> None:
    """``image`` shrunk to at most ``side`` pixels on a side, saved as JPEG."""
    image = image.convert("RGB")
    image.thumbnail((side, side))
    image.save(path, "JPEG", quality=quality)


def html_table(header: Sequence[str], rows: Sequence[Sequence[Any]], css: str = "summary") -> str:
    """A small escaped HTML table."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def page_index(page: Page) -> dict[str, Any]:
    """What the page's script reads: facets, tags, runs and one compact row per item."""
    tag_index = {tag.id: i for i, tag in enumerate(page.tags)}
    value_index = [{value: i for i, value in enumerate(f.values)} for f in page.facets]
    rows = [
        [
            item.title,
            [value_index[i][value] for i, value in enumerate(item.facets)],
            [sorted(tag_index[t] for t in run_tags) for run_tags in item.tags],
            int(item.differ),
        ]
        for item in page.items
    ]
    return {
        "title": page.title,
        "runs": page.runs,
        "facets": [{"name": f.name, "label": f.label, "values": list(f.values)} for f in page.facets],
        "tags": [{"id": t.id, "label": t.label, "tone": t.tone} for t in page.tags],
        "tag_label": page.tag_label,
        "item_noun": page.item_noun,
        "page_size": PAGE_SIZE,
        "chunk_size": CHUNK_SIZE,
        "chunk_dir": CHUNK_DIR,
        "items": rows,
        **page.extra,
    }


_TEMPLATE = Template(
    """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
$css</style>
</head>
<body>
<header><h1>$title</h1><p>$subtitle</p></header>
<main>
$summary
$about
<div id="controls"></div>
<div id="cards"></div>
</main>
<script type="application/json" id="view-index">$index</script>
<script>
$script</script>
</body>
</html>
"""
)


def _asset(name: str) -> str:
    return resources.files("eval.view").joinpath("assets", name).read_text(encoding="utf-8")


def _json(value: Any) -> str:
    """Compact JSON that is also safe inside an HTML <script> element."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def write_page(page: Page, out_dir: str | Path) -> Path:
    """Write ``out_dir/index.html`` and its chunk files (replacing earlier ones); returns the page's path."""
    out = Path(out_dir)
    chunks = out / CHUNK_DIR
    if chunks.exists():
        shutil.rmtree(chunks)
    chunks.mkdir(parents=True)
    for start in range(0, len(page.items), CHUNK_SIZE):
        details = [item.detail for item in page.items[start : start + CHUNK_SIZE]]
        number = start // CHUNK_SIZE
        (chunks / f"{number:05d}.js").write_text(
            f"window.viewChunk({number},{_json(details)});\n", encoding="utf-8"
        )
    about = (
        f'<details class="about"><summary>configuration</summary><pre>{html.escape(page.about)}</pre></details>'
        if page.about
        else ""
    )
    text = _TEMPLATE.substitute(
        title=html.escape(page.title),
        subtitle=html.escape(page.subtitle),
        css=_asset("view.css"),
        summary=page.summary_html,
        about=about,
        index=_json(page_index(page)),
        script=_asset("view.js"),
    )
    path = out / PAGE_FILE
    path.write_text(text, encoding="utf-8")
    return path


def read_index(page_path: str | Path) -> dict[str, Any]:
    """The index embedded in a written page (for scripts and tests)."""
    text = Path(page_path).read_text(encoding="utf-8")
    start = text.index('<script type="application/json" id="view-index">')
    start = text.index(">", start) + 1
    return json.loads(text[start : text.index("</script>", start)])


def read_detail(page_path: str | Path, index: int) -> dict[str, Any]:
    """The detail of item ``index`` from its chunk file."""
    chunk = Path(page_path).parent / CHUNK_DIR / f"{index // CHUNK_SIZE:05d}.js"
    text = chunk.read_text(encoding="utf-8")
    details = json.loads(text[text.index(",") + 1 : text.rindex(");")])
    return details[index % CHUNK_SIZE]
