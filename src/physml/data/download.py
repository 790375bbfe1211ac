"""Download a public data set into the cache, check its pinned size and SHA-256, then unpack it.

Nothing lands in the destination unless the checksum matches: the archive is fetched to a
temporary file next to it, verified, and only then unpacked.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import requests
from tqdm.auto import tqdm

from physml.errors import DownloadError


@dataclass(frozen=True)
class ArchiveSpec:
    name: str
    url: str
    sha256: str
    size_bytes: int | None
    members: tuple[str, ...]  # files that must be in the archive


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, target: Path, timeout: float = 60, progress: bool = True) -> None:
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            response.raise_for_status()
            total = int(response.headers.get("content-length", 0)) or None
            with (
                open(target, "wb") as handle,
                tqdm(
                    total=total, unit="B", unit_scale=True, desc=f"download {Path(url).name}", disable=not progress
                ) as bar,
            ):
                for chunk in response.iter_content(chunk_size=1 << 16):
                    handle.write(chunk)
                    bar.update(len(chunk))
    except requests.RequestException as exc:
        raise DownloadError(f"cannot download {url}: {exc}") from None


def download_archive(
    spec: ArchiveSpec, dest: Path, url: str | None = None, sha256: str | None = None, progress: bool = True
) -> Path:
    """Fetch `spec` (or `url`), verify size and SHA-256, unpack its members into `dest`."""
    url = url or spec.url
    expected = (sha256 or spec.sha256).lower()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".download-") as tmp:
        archive = Path(tmp) / "archive.zip"
        fetch(url, archive, progress=progress)
        size = archive.stat().st_size
        if spec.size_bytes is not None and sha256 is None and size != spec.size_bytes:
            raise DownloadError(f"{url}: {size} bytes, expected {spec.size_bytes}; nothing was unpacked")
        seen = sha256_of(archive)
        if seen != expected:
            raise DownloadError(
                f"{url}: SHA-256 mismatch: expected {expected}, got {seen} ({size} bytes); nothing was "
                "unpacked. If the source changed on purpose, check it and pass --sha256 with the new value."
            )
        try:
            with zipfile.ZipFile(archive) as bundle:
                names = {Path(n).name: n for n in bundle.namelist() if not n.endswith("/")}
                missing = [m for m in spec.members if m not in names]
                if missing:
                    raise DownloadError(f"{url}: archive lacks {', '.join(missing)}; it has {sorted(names)}")
                for member in spec.members:
                    with bundle.open(names[member]) as source, open(Path(tmp) / member, "wb") as target:
                        shutil.copyfileobj(source, target)
        except zipfile.BadZipFile as exc:
            raise DownloadError(f"{url}: not a valid zip archive: {exc}") from None
        for member in spec.members:
            (Path(tmp) / member).replace(dest / member)
    return dest
