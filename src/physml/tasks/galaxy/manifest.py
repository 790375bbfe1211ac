"""What is known about each JPEG: its content hash, its size in pixels, and whether it decodes whole.

Every image is read and fully decoded once (PIL's `load` raises on damaged data that its cheap
`verify` lets through), in parallel threads (the decoder releases the GIL). The facts are kept in a
manifest beside the decoded-image cache, keyed by file size, inode and change times, so a later run
only re-reads files that changed. The content hashes key the decoded-image cache and make the
data set's digest cover the pixels, not just the label file.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from physml.data.paths import cache_base


@dataclass(frozen=True)
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


def scan(paths: list[Path], progress: bool = True) -> dict[Path, ImageFacts]:
    """Facts of every path, from the manifest where a file is unchanged, else read now."""
    if not paths:
        return {}
    store = manifest_path(paths[0].parent)
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        known = {}
    facts: dict[Path, ImageFacts] = {}
    todo: list[tuple[Path, str]] = []
    for path in paths:
        try:
            stat = path.stat()
            # ctime changes on any write and cannot be set back: a replaced file is always read again
            stamp = f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"
        except OSError:
            stamp = "missing"
        entry = known.get(path.name)
        if entry and entry.get("stamp") == stamp:
            facts[path] = ImageFacts(**entry["facts"])
        else:
            todo.append((path, stamp))
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = pool.map(inspect, [path for path, _ in todo])
        for (path, stamp), found in tqdm(
            zip(todo, results), total=len(todo), desc="check JPEGs", unit="img", disable=not progress
        ):
            facts[path] = found
            known[path.name] = {"stamp": stamp, "facts": asdict(found)}
    if todo:
        store.parent.mkdir(parents=True, exist_ok=True)
        temporary = store.with_suffix(".tmp")
        temporary.write_text(json.dumps(known))
        temporary.replace(store)
    return facts
