"""What is known about each JPEG: its content hash, its size in pixels, and whether it decodes whole.

Every image is read and fully decoded once (PIL's `load` raises on damaged data that its cheap
`verify` lets through), in parallel threads (the decoder releases the GIL). The facts are kept in a
manifest beside the decoded-image cache, keyed by file size, inode and change times, so a later run
only re-reads files that changed. The content hashes key the decoded-image cache and make the
data set's digest cover the pixels, not just the label file.

The manifest holds one compact row per file, `name: [stamp, sha256, width, height, problem]`
(format 2), written one row per line: a dict of dicts per file (format 1) cost twice the memory to
read back at Kaggle's 61,578 images. A format-1 manifest is still read (and rewritten as format 2
the next time a file is read again); anything else unreadable counts as no manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from physml.data.paths import cache_base

FORMAT = 2
IN_FLIGHT = 64  # images submitted ahead per worker thread: the pool never holds a future per file


@dataclass(frozen=True, slots=True)
class ImageFacts:
    sha256: str
    width: int
    height: int
    problem: str | None = None  # why the file is not a whole JPEG


def inspect(path: Path) -> ImageFacts:
    """Hash, header and end marker, then a full decode (what training will need)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ImageFacts("", 0, 0, f"cannot be read ({exc})")
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        return ImageFacts(digest, 0, 0, "is empty")
    if data[:2] != b"\xff\xd8":
        return ImageFacts(digest, 0, 0, "is not a JPEG (no start-of-image marker)")
    if b"\xff\xd9" not in data[-64:]:
        return ImageFacts(digest, 0, 0, "is truncated (no end-of-image marker)")
    try:
        with Image.open(path) as image:
            image.load()
            width, height = image.size
    except Exception as exc:  # PIL raises OSError, SyntaxError and others for damaged data
        return ImageFacts(digest, 0, 0, f"is corrupt ({exc})")
    return ImageFacts(digest, width, height)


def manifest_path(folder: Path) -> Path:
    name = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return cache_base() / "galaxy_images" / f"manifest-{name}.json"


def read_manifest(store: Path) -> dict[str, list]:
    """name -> [stamp, sha256, width, height, problem]; {} when there is none or it cannot be read."""
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(known, dict):
        return {}
    if known.get("format") == FORMAT:
        rows = known.get("images")
        return rows if isinstance(rows, dict) else {}
    rows = {}  # format 1: {name: {"stamp": ..., "facts": {"sha256", "width", "height", "problem"}}}
    for name, entry in known.items():
        try:
            facts = entry["facts"]
            rows[name] = [entry["stamp"], facts["sha256"], facts["width"], facts["height"], facts.get("problem")]
        except (TypeError, KeyError, AttributeError):
            continue  # not a format-1 entry: that file is read again
    return rows


def known_facts(row, stamp: str) -> ImageFacts | None:
    """The facts in a manifest row if it is well formed and its stamp is this file's, else None."""
    if not (isinstance(row, list) and len(row) == 5 and row[0] == stamp):
        return None
    sha256, width, height, problem = row[1:]
    if not (isinstance(sha256, str) and type(width) is int and type(height) is int):
        return None
    if problem is not None and not isinstance(problem, str):
        return None
    return ImageFacts(sha256, width, height, problem)


def write_manifest(store: Path, rows: Iterator[tuple[str, list]]) -> None:
    """Format 2, one row per line, streamed (no second copy of the manifest as one string), under a
    temporary name of this writer's own: trials on one node may scan the same folder at once, each
    writes whole, one wins (a shared `.tmp` name let one writer rename another's half-written file)."""
    store.parent.mkdir(parents=True, exist_ok=True)
    temporary = store.with_name(f"{store.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "w") as out:
            out.write(f'{{"format": {FORMAT}, "images": {{')
            for index, (name, row) in enumerate(rows):
                out.write(f"{',' if index else ''}\n{json.dumps(name)}: {json.dumps(row)}")
            out.write("\n}}\n")
        temporary.replace(store)
    finally:
        temporary.unlink(missing_ok=True)


def inspect_all(paths: list[Path], workers: int) -> Iterator[ImageFacts]:
    """inspect() of each path, in order, on `workers` threads with a bounded number in flight."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ahead = iter(paths)
        pending = deque(pool.submit(inspect, path) for path in islice(ahead, IN_FLIGHT * workers))
        while pending:
            found = pending.popleft().result()
            for path in islice(ahead, 1):
                pending.append(pool.submit(inspect, path))
            yield found


def scan(paths: list[Path], progress: bool = True) -> dict[Path, ImageFacts]:
    """Facts of every path, from the manifest where a file is unchanged, else read now."""
    if not paths:
        return {}
    store = manifest_path(paths[0].parent)
    known = read_manifest(store)
    facts: dict[Path, ImageFacts] = {}
    stamps: list[str] = []
    todo: list[Path] = []
    for path in paths:
        try:
            stat = path.stat()
            # ctime changes on any write and cannot be set back: a replaced file is always read again
            stamp = f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"
        except OSError:
            stamp = "missing"
        stamps.append(stamp)
        found = known_facts(known.pop(path.name, None), stamp)  # popped: each row freed once converted
        if found is None:
            todo.append(path)
        else:
            facts[path] = found
    if not todo:
        return facts
    found_now = inspect_all(todo, max(2, os.cpu_count() or 2))
    for path, found in tqdm(
        zip(todo, found_now), total=len(todo), desc="check JPEGs", unit="img", disable=not progress
    ):
        facts[path] = found
    del todo, found_now

    def rows() -> Iterator[tuple[str, list]]:
        for name, row in known.items():  # files of this folder not asked for now (a --limit run): kept
            if isinstance(row, list) and len(row) == 5:
                yield name, row
        for path, stamp in zip(paths, stamps):
            entry = facts[path]
            yield path.name, [stamp, entry.sha256, entry.width, entry.height, entry.problem]

    write_manifest(store, rows())
    return facts
