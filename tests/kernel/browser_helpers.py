"""Headless Chromium for page tests: the rendered DOM, a screenshot and its pixels.

Chromium runs as root in CI, so it needs --no-sandbox. The other flags keep
it from contacting any host: no background networking, no component or sync
updates, no QUIC, and a fresh profile folder per run.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def run_chromium(binary: str, profile: Path, *arguments: str) -> str:
    """Run headless Chromium with a fresh profile folder and return its standard output."""
    profile.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [binary, *_FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def dump_dom(binary: str, page: Path, profile: Path) -> str:
    """Return the DOM that Chromium built from ``page``, serialised as HTML."""
    return run_chromium(binary, profile, "--dump-dom", page.resolve().as_uri())


def screenshot(binary: str, page: Path, target: Path, profile: Path) -> Path:
    """Save a 1280x2000 screenshot of ``page`` to ``target`` as PNG."""
    run_chromium(
        binary,
        profile,
        "--hide-scrollbars",
        "--window-size=1280,2000",
        f"--screenshot={target}",
        page.resolve().as_uri(),
    )
    return target


@dataclass
class Dom:
    """What the page tests look for in a dumped DOM."""

    ids: set[str] = field(default_factory=set)
    hrefs: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # src attributes of any element
    tags: dict[str, int] = field(default_factory=dict)  # element counts by tag name
    root_attributes: dict[str, str | None] = field(default_factory=dict)  # of <html>
    pre_texts: list[str] = field(default_factory=list)  # text of each <pre>, entities decoded
    row_ids: list[str] = field(default_factory=list)  # ids of <tr> elements, in order
    text: str = ""  # all text outside <style>, in order


def parse_dom(markup: str) -> Dom:
    parser = _DomParser()
    parser.feed(markup)
    parser.close()
    return parser.dom


class _DomParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.dom = Dom()
        self._pre: list[str] | None = None
        self._in_style = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.dom.tags[tag] = self.dom.tags.get(tag, 0) + 1
        if tag == "html":
            self.dom.root_attributes = attributes
        if attributes.get("id"):
            self.dom.ids.add(attributes["id"])
            if tag == "tr":
                self.dom.row_ids.append(attributes["id"])
        if attributes.get("href") is not None:
            self.dom.hrefs.append(attributes["href"])
        if attributes.get("src") is not None:
            self.dom.sources.append(attributes["src"])
        if tag == "pre":
            self._pre = []
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre" and self._pre is not None:
            self.dom.pre_texts.append("".join(self._pre))
            self._pre = None
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._pre is not None:
            self._pre.append(data)
        if not self._in_style:
            self._text.append(data)
            self.dom.text = "".join(self._text)


def png_pixels(path: Path) -> list[tuple[int, ...]]:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG into a flat list of pixels."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    chunks: dict[bytes, bytes] = {}
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunks[kind] = chunks.get(kind, b"") + data[position + 8 : position + 8 + length]
        position += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8, f"unsupported PNG bit depth {depth}"
    assert color in (2, 6), f"unsupported PNG color type {color}"
    assert interlace == 0, "unsupported interlaced PNG"
    channels = 3 if color == 2 else 4

    raw = zlib.decompress(chunks[b"IDAT"])
    stride = width * channels
    previous = bytearray(stride)
    pixels: list[tuple[int, ...]] = []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, channels)
        pixels += [tuple(line[i : i + 3]) for i in range(0, stride, channels)]
        previous = line
    return pixels


def _unfilter(kind: int, line: bytearray, previous: bytearray, channels: int) -> None:
    """Undo one PNG row filter in place (PNG specification, section 9)."""
    for i in range(len(line)):
        left = line[i - channels] if i >= channels else 0
        up = previous[i]
        corner = previous[i - channels] if i >= channels else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            estimate = left + up - corner
            distances = (abs(estimate - left), abs(estimate - up), abs(estimate - corner))
            nearest = (left, up, corner)[distances.index(min(distances))]
            line[i] = (line[i] + nearest) & 0xFF
