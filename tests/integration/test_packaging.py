"""The distribution installs one import package, `hotro`: another distribution that ships
a generic top-level `services` or `shared` package can be installed and removed beside it
without touching ours (they used to overwrite each other's files)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.slow


def _run(cwd: Path, *args: str | Path) -> str:
    # cwd: never the checkout, whose folders would shadow what is installed.
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _other_distribution(tmp: Path) -> Path:
    project = tmp / "other"
    for package in ("services", "shared"):
        (project / package).mkdir(parents=True)
        (project / package / "__init__.py").write_text(f"OWNER = 'other-{package}'\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=70"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "other-services"\nversion = "1.0"\n'
        '[tool.setuptools]\npackages = ["services", "shared"]\n')
    return project


def test_installs_beside_a_distribution_with_top_level_services_and_shared(
        tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    pip = (sys.executable, "-m", "pip")
    _run(tmp_path, *pip, "wheel", "--quiet", "--no-deps", "-w", wheels, ROOT)
    other_project = _other_distribution(tmp_path)
    _run(tmp_path, *pip, "wheel", "--quiet", "--no-deps", "-w", wheels, other_project)
    ours = next(wheels.glob("hotro-*.whl"))
    other = next(wheels.glob("other_services-*.whl"))

    venv = tmp_path / "venv"
    _run(tmp_path, sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(_run(tmp_path, python, "-c", purelib).strip())
    # Our dependencies come from the test environment's site-packages (a plain path: its
    # .pth files, the editable install among them, are not processed).
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")

    _run(tmp_path, *pip, "--python", python, "install", "--quiet", "--no-deps", ours)
    top_level = (next(site.glob("hotro-*.dist-info")) / "top_level.txt")
    if top_level.exists():
        assert top_level.read_text().split() == ["hotro"]
    assert not (site / "services").exists() and not (site / "shared").exists()
    init = site / "hotro" / "services" / "__init__.py"
    before = init.read_bytes()

    _run(tmp_path, *pip, "--python", python, "install", "--quiet", "--no-deps", other)
    probe = ("import services, shared, hotro.services.intake.domain, hotro.shared.clock;"
             "print(services.OWNER, shared.OWNER, hotro.services.intake.domain.__name__)")
    assert _run(tmp_path, python, "-c", probe).split() == [
        "other-services", "other-shared", "hotro.services.intake.domain"]
    assert init.read_bytes() == before

    _run(tmp_path, *pip, "--python", python, "uninstall", "--yes", "--quiet", "other-services")
    assert init.read_bytes() == before
    _run(tmp_path, python, "-c", "import hotro.services.intake.application, hotro.shared.contracts")
