"""`physml data download` against a real HTTP server on 127.0.0.1 serving a zip the test builds."""

import functools
import hashlib
import http.server
import threading
import zipfile

import pytest

from physml.cli import main
from physml.data.download import download_archive
from physml.errors import DownloadError
from physml.tasks.supercon.data import UCI_ARCHIVE as UCI_SUPERCON
from physml.tasks.supercon.data import load_supercon


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def uci_zip(http_root, supercon_dir):
    """A zip laid out like the UCI one (two CSVs), built from the first 200 real rows."""
    import pandas as pd

    root, base = http_root
    archive = root / "superconductivty+data.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for stem in ("train", "unique_m"):
            frame = pd.read_csv(supercon_dir / f"{stem}.csv.gz", nrows=200, dtype=str, keep_default_na=False)
            bundle.writestr(f"{stem}.csv", frame.to_csv(index=False))
    return f"{base}/{archive.name}", hashlib.sha256(archive.read_bytes()).hexdigest()


def test_download_checks_sha256_and_unpacks(uci_zip, tmp_path):
    url, digest = uci_zip
    dest = download_archive(UCI_SUPERCON, tmp_path / "cache" / "supercon", url=url, sha256=digest, progress=False)
    assert sorted(p.name for p in dest.iterdir()) == ["train.csv", "unique_m.csv"]
    assert len(load_supercon(dest).tc) == 200


def test_checksum_mismatch_unpacks_nothing(uci_zip, tmp_path):
    url, _ = uci_zip
    dest = tmp_path / "cache" / "supercon"
    with pytest.raises(DownloadError, match=r"SHA-256 mismatch: expected 0{64}, got [0-9a-f]{64}"):
        download_archive(UCI_SUPERCON, dest, url=url, sha256="0" * 64, progress=False)
    assert list(dest.iterdir()) == []


def test_pinned_checksum_is_used_by_default(uci_zip, tmp_path):
    url, _ = uci_zip
    with pytest.raises(DownloadError, match=f"expected {UCI_SUPERCON.sha256}"):
        download_archive(UCI_SUPERCON, tmp_path / "d", url=url, progress=False)


def test_http_error_names_the_url(http_root, tmp_path):
    _, base = http_root
    with pytest.raises(DownloadError, match=f"cannot download {base}/missing.zip: 404"):
        download_archive(UCI_SUPERCON, tmp_path / "d", url=f"{base}/missing.zip", sha256="0" * 64, progress=False)


def test_cli_download_then_check(uci_zip, tmp_path, capsys):
    url, digest = uci_zip
    dest = tmp_path / "dl"
    assert main(["data", "download", "supercon", "--url", url, "--sha256", digest, "--data-dir", str(dest)]) == 0
    assert "200 materials, 81 features" in capsys.readouterr().out
    assert main(["data", "check", "supercon", "--data-dir", str(tmp_path / "empty")]) == 2
    assert "not found" in capsys.readouterr().err


def test_galaxy_download_refuses_a_url_it_would_not_use(tmp_path, capsys):
    """galaxy's files come through the Kaggle API: a --url is an error, not silently dropped."""
    code = main(["data", "download", "galaxy", "--url", "http://127.0.0.1:9/x.zip", "--data-dir", str(tmp_path)])
    assert code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--url and --sha256 do not apply to galaxy" in err[0], err
    assert not any(tmp_path.iterdir())
