"""Packaging: the wheel carries the web UI, the vendored browser files and the CLI.

The slow tests build a wheel from a copy of the repository (so the work tree's build/
and node_modules/ are never touched), inspect it, then install it into a fresh venv.
The fast tests guard the npm lockfile and the rule that the repo names no registry host.
"""

from __future__ import annotations

import ast
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
WHEEL_ASSETS = "wacc/_assets"
WHEEL_VENDOR = f"{WHEEL_ASSETS}/static/vendor"

# Built by concatenation so that this file does not itself contain the names it forbids.
FORBIDDEN_HOSTS = (
    "registry." + "npmjs",
    "registry." + "yarnpkg",
    "pypi" + ".org",
    "files." + "pythonhosted",
)


def repo_files() -> list[str]:
    """Files git would commit: tracked ones plus new, not-ignored ones (relative paths).

    New files count too, so a check fails before a bad file is committed, and a wheel
    built from the copy matches what the next commit will contain.
    """
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: cannot list the repository's files")
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout
    names = sorted({n for n in out.decode("utf-8").split("\0") if n})
    # A tracked file deleted in the work tree is still listed by --cached.
    return [n for n in names if (REPO / n).is_file()]


def vendor_spec() -> dict[str, dict[str, Any]]:
    """hatch_build.VENDOR, read without importing hatchling (it is a build-time dependency)."""
    tree = ast.parse((REPO / "hatch_build.py").read_text(encoding="utf-8"))
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "VENDOR" and node.value is not None:
            return ast.literal_eval(node.value)
    raise AssertionError("hatch_build.py defines no VENDOR dict")


# --- fast checks -------------------------------------------------------------------


def test_lockfile_records_no_download_addresses() -> None:
    lock = json.loads((REPO / "package-lock.json").read_text(encoding="utf-8"))
    packages = lock["packages"]
    assert set(packages) > {""}, "package-lock.json locks no packages"
    for key, entry in packages.items():
        assert "resolved" not in entry, f"{key} records a download address"
        if key:  # "" is the project itself; every real package must be hash-pinned.
            assert entry.get("integrity", "").startswith("sha512-"), f"{key} has no integrity"
    assert "resolved" not in (REPO / "package-lock.json").read_text(encoding="utf-8")


def test_browser_packages_are_pinned_and_declared() -> None:
    package_json = json.loads((REPO / "package.json").read_text(encoding="utf-8"))
    deps = package_json["dependencies"]
    lock = json.loads((REPO / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    for name, spec in deps.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", spec), f"{name} is not pinned exactly: {spec}"
        assert lock[f"node_modules/{name}"]["version"] == spec, f"lockfile disagrees on {name}"
    # Every direct dependency is vendored and vice versa: nothing installed for nothing.
    assert set(vendor_spec()) == set(deps)


def test_repository_names_no_registry_host() -> None:
    offenders = []
    for name in repo_files():
        data = (REPO / name).read_bytes().lower()
        offenders += [f"{name}: {host}" for host in FORBIDDEN_HOSTS if host.encode() in data]
    assert not offenders, "registry host names in the repository:\n" + "\n".join(offenders)


# --- slow: build the wheel and install it ------------------------------------------


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("wacc-src")
    for name in repo_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, src / name)
    return src


@pytest.fixture(scope="module")
def wheel(repo_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wacc-dist")
    env = {k: v for k, v in os.environ.items() if k != "WACC_SKIP_ASSETS"}
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out)],
        cwd=repo_copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"wheel build failed:\n{proc.stdout}\n{proc.stderr}"
    wheels = list(out.glob("wacc-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def under(prefix: str, names: list[str]) -> list[str]:
    return [
        n[len(prefix) + 1 :] for n in names if n.startswith(prefix + "/") and not n.endswith("/")
    ]


@pytest.mark.slow
def test_wheel_contents(wheel: Path, repo_copy: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode("utf-8")
        manifest = json.loads(zf.read(f"{WHEEL_VENDOR}/manifest.json"))
    source = [p.relative_to(repo_copy).as_posix() for p in repo_copy.rglob("*") if p.is_file()]

    # The web UI: every first-party template and static file, under wacc/_assets/.
    for folder in ("templates", "static"):
        shipped = set(under(f"{WHEEL_ASSETS}/{folder}", names))
        ours = set(under(folder, source))
        assert ours, f"the repository has no {folder}/ files to ship"
        assert ours <= shipped, f"{folder}/ files missing from the wheel: {sorted(ours - shipped)}"

    # The vendored browser files, each with its package's license, as declared.
    vendored = set(under(WHEEL_VENDOR, names))
    lock = json.loads((repo_copy / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    for package, spec in vendor_spec().items():
        for rel in spec["files"]:
            assert f"{package}/{Path(rel).name}" in vendored, f"{package}: {rel} not in the wheel"
        licenses = [n for n in vendored if re.match(rf"{re.escape(package)}/LICEN[CS]E", n)]
        assert licenses, f"{package}: no LICENSE file in the wheel"
        entry = manifest["packages"][package]
        assert entry["version"] == lock[f"node_modules/{package}"]["version"]
        assert sorted(entry["files"]) == sorted(Path(rel).name for rel in spec["files"])

    # Database migrations are plain modules inside the package; they must ship.
    migrations = {n for n in source if re.fullmatch(r"wacc/db/migrations/.+\.py", n)}
    assert migrations, "the repository has no wacc/db/migrations/*.py"
    assert migrations <= set(names), f"migrations missing: {sorted(migrations - set(names))}"

    # The `wacc` console script, pointing where pyproject.toml says.
    scripts = tomllib.loads((repo_copy / "pyproject.toml").read_text(encoding="utf-8"))
    parser = configparser.ConfigParser()
    parser.read_string(entry_points)
    assert parser["console_scripts"]["wacc"] == scripts["project"]["scripts"]["wacc"]

    # Nothing from node_modules or the build tree leaks in beyond the declared files.
    assert not [n for n in names if "node_modules" in n or n.startswith("build/")]


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("WACC_TEST_SKIP_WHEEL_INSTALL") == "1",
    reason="WACC_TEST_SKIP_WHEEL_INSTALL=1: not installing the wheel into a fresh venv",
)
def test_wheel_installs_and_runs(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    bin_dir = venv / "bin"
    # A clean environment: no PYTHONPATH or outer venv leaking the source tree in.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["WACC_DATA_DIR"] = str(tmp_path / "data")

    def run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
        # cwd is outside the repository so `import wacc` can only find the installed copy.
        return subprocess.run(
            list(args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout
        )

    install = run(str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel), timeout=900)
    assert install.returncode == 0, f"pip install failed:\n{install.stdout}\n{install.stderr}"

    # The installed package finds its assets inside itself, not in a source tree.
    probe = run(
        str(bin_dir / "python"),
        "-c",
        "import json, pathlib, wacc, wacc.assets as a; print(json.dumps({"
        "'pkg': str(pathlib.Path(wacc.__file__).parent), 'vendor': str(a.vendor_dir()),"
        "'templates': str(a.templates_dir()), 'manifest': a.vendor_manifest()}))",
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    pkg = Path(found["pkg"])
    assert venv.resolve() in pkg.resolve().parents, f"imported wacc from {pkg}, not the venv"
    assert Path(found["vendor"]) == pkg / "_assets" / "static" / "vendor"
    assert Path(found["templates"]) == pkg / "_assets" / "templates"
    assert set(found["manifest"]["packages"]) == set(vendor_spec())

    version = run(str(bin_dir / "wacc"), "version")
    assert version.returncode == 0, f"`wacc version` failed:\n{version.stdout}\n{version.stderr}"
