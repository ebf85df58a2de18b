"""The wheel as pip installs it: the icon as package data, the license, one version, working scripts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import segcore

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "segcore", "app", "resources")


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=180, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from a copy of the sources and installed into a folder; offline, no dependencies."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:  # a copy: building in the shared tree would write build/ and egg-info there
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = _run([*pip, "wheel", "--no-deps", "--no-index", "--no-build-isolation", "-w", str(tmp / "dist"), str(src)])
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (tmp / "dist").glob("segdesk-*.whl")
    site = tmp / "site"
    done = _run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)])
    assert done.returncode == 0, done.stdout + done.stderr
    return site


def _env(site: Path) -> dict[str, str]:
    # The installed copy comes first on the path, before the editable checkout in the venv.
    return {**os.environ, "PYTHONPATH": str(site)}


def test_the_installed_wheel_has_its_icon_license_and_version(installed, tmp_path):
    code = textwrap.dedent(
        """
        import importlib.metadata, importlib.resources, sys
        import app, segcore
        from app.launcher import ICON
        assert app.__file__.startswith(sys.argv[1]), app.__file__
        assert ICON.is_file() and ICON.read_bytes().startswith(b"<svg"), ICON
        assert str(ICON).startswith(sys.argv[1]), ICON
        dist = importlib.metadata.distribution("segdesk")
        assert dist.version == segcore.__version__, (dist.version, segcore.__version__)
        assert dist.metadata["License-Expression"] == "MIT"
        license = next(f for f in dist.files if f.name == "LICENSE")
        assert "segdesk authors" in license.read_text()
        """
    )
    result = _run([sys.executable, "-c", code, str(installed)], cwd=tmp_path, env=_env(installed))
    assert result.returncode == 0, result.stderr


def test_installed_scripts_print_the_same_version(installed, tmp_path):
    env = {**_env(installed), "QT_QPA_PLATFORM": "offscreen"}
    outputs = [_run([str(installed / "bin" / name), "--version"], cwd=tmp_path, env=env) for name in ("segcore", "segdesk")]
    assert [result.returncode for result in outputs] == [0, 0], [result.stderr for result in outputs]
    assert [result.stdout.split() for result in outputs] == [["segcore", segcore.__version__],
                                                             ["segdesk", segcore.__version__]]


def test_the_linux_launcher_files_name_the_installed_script_and_icon():
    import configparser
    import xml.etree.ElementTree as ElementTree

    desktop = configparser.ConfigParser(interpolation=None)
    desktop.optionxform = str  # keys are case-sensitive in .desktop files
    desktop.read(ROOT / "resources" / "segdesk.desktop")
    entry = desktop["Desktop Entry"]
    scripts = (ROOT / "pyproject.toml").read_text()
    assert entry["Type"] == "Application" and f'{entry["Exec"].split()[0]} = "app.launcher:main"' in scripts
    assert (ROOT / "resources" / "icons" / f'{entry["Icon"]}.svg').is_file()
    component = ElementTree.parse(ROOT / "resources" / "io.github.segdesk.metainfo.xml").getroot()
    assert component.findtext("launchable") == "segdesk.desktop" and component.findtext("provides/binary") == "segdesk"


def test_the_version_is_written_once():
    # setuptools reads segcore.__version__; the installed metadata and both --version follow it (tests above).
    assert 'dynamic = ["version"]' in (ROOT / "pyproject.toml").read_text()


def test_the_wheel_holds_the_packages_and_the_top_level_resources(installed):
    wheel = next((installed.parent / "dist").glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    # resources/ sits beside app/ and segcore/ in the tree and ships inside the wheel as app.resources.
    assert {"app/resources/icons/segdesk.svg", "app/resources/segdesk.desktop",
            "app/resources/io.github.segdesk.metainfo.xml"} <= set(names)
    assert not (ROOT / "app" / "resources").exists() and (ROOT / "resources" / "icons" / "segdesk.svg").is_file()
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"app", "segcore"}
