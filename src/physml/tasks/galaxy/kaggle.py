"""Galaxy Zoo from Kaggle: the competition files through the Kaggle API and the user's credentials."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from physml.errors import DownloadError

COMPETITION = "galaxy-zoo-the-galaxy-challenge"
FILES = ("training_solutions_rev1.zip", "images_training_rev1.zip")

HOW_TO = f"""To download Galaxy Zoo you need the Kaggle API and your credentials:
  1. pip install kaggle
  2. create an API token at https://www.kaggle.com/settings (Account > API > Create New Token) and save
     it as ~/.kaggle/kaggle.json (chmod 600), or set KAGGLE_USERNAME and KAGGLE_KEY
  3. accept the competition rules at https://www.kaggle.com/c/{COMPETITION}/rules
  4. run `physml data download galaxy` again
Or download {", ".join(FILES)} by hand, unzip them into one folder, and point --data-dir (or
PHYSML_DATA_DIR, a folder holding galaxy_zoo/) at it."""


def has_credentials() -> bool:
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    return (config_dir / "kaggle.json").exists() or bool(
        os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY")
    )


def download_galaxy_zoo(dest: Path) -> Path:
    """Fetch the training labels and images of the competition into `dest` and unzip them."""
    if not has_credentials():
        raise DownloadError("no Kaggle credentials found.\n" + HOW_TO)
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
    except ImportError:
        raise DownloadError("the `kaggle` package is not installed.\n" + HOW_TO) from None
    api = KaggleApi()
    try:
        api.authenticate()
    except Exception as exc:  # the client raises OSError or its own errors
        raise DownloadError(f"Kaggle rejected the credentials: {exc}\n" + HOW_TO) from None
    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        try:
            api.competition_download_file(COMPETITION, name, path=str(dest), quiet=False)
        except Exception as exc:
            raise DownloadError(f"Kaggle download of {name} failed: {exc}\n" + HOW_TO) from None
        with zipfile.ZipFile(dest / name) as bundle:
            bundle.extractall(dest)
        (dest / name).unlink()
    return dest
