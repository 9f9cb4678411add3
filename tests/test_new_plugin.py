"""A generated plugin installs into a fresh virtual environment, passes its own tests, and
shows up in `srarena plugins` and in a bench."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
import venv

import pytest

from srarena.cli.scaffold import ScaffoldError, new_plugin


def fresh_venv(path):
    """A new venv that sees this environment's packages (srarena and its dependencies)
    (pip and setuptools included) through a .pth file, so nothing is downloaded."""
    venv.create(path, with_pip=False, system_site_packages=False)
    python = path / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True,
                             check=True).stdout.strip()
    ours = [sysconfig.get_paths()["purelib"], *site.getsitepackages()]
    lines = [f"import site; site.addsitedir({folder!r})" for folder in dict.fromkeys(ours)]
    with open(os.path.join(purelib, "srarena-parent.pth"), "w") as handle:
        handle.write("\n".join(lines) + "\n")  # addsitedir also reads editable installs' .pth
    return python


def run(python, *args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",
                                                           "SRARENA_PLUGIN_MODULES")}
    return subprocess.run([str(python), *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["upscaler", "metric"])
def test_generated_plugin_installs_passes_and_is_used(tmp_path, kind):
    name = f"demo-{kind}"
    root = new_plugin(name, kind, tmp_path)
    python = fresh_venv(tmp_path / "venv")
    install = run(python, "-m", "pip", "install", "--no-index", "--no-deps",
                  "--no-build-isolation", "-e", str(root))
    assert install.returncode == 0, install.stdout + install.stderr
    tests = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests"),
                cwd=root)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout
    listed = run(python, "-m", "srarena", "plugins", "--json")
    rows = {row["distribution"]: row for row in json.loads(listed.stdout)}
    assert rows[f"srarena-{name}"]["status"] == "ok"
    assert rows[f"srarena-{name}"]["registers"] == [f"{kind}:{name}"]
    bench_args = (["-u", name, "-m", "psnr"] if kind == "upscaler"
                  else ["-u", "nearest", "-m", name])
    bench = run(python, "-m", "srarena", "bench", *bench_args, "--out",
                str(tmp_path / "run"))
    assert bench.returncode == 0, bench.stdout + bench.stderr
    scores = run(python, "-c", "import srarena, sys; f = srarena.open_run(sys.argv[1])"
                 ".scores(); print(sorted(set(f.upscaler)), sorted(set(f.metric)))",
                 str(tmp_path / "run"))
    assert name in scores.stdout, scores.stdout + scores.stderr


def test_dataset_template_is_written(tmp_path):
    root = new_plugin("demo-data", "dataset", tmp_path)
    assert (root / "src" / "srarena_demo_data" / "dataset.py").is_file()
    assert 'demo-data = "srarena_demo_data.plugin"' in (root / "pyproject.toml").read_text()


def test_bad_names_and_existing_folders_are_refused(tmp_path):
    with pytest.raises(ScaffoldError):
        new_plugin("Bad Name", "upscaler", tmp_path)
    new_plugin("twice", "upscaler", tmp_path)
    with pytest.raises(ScaffoldError, match="not empty"):
        new_plugin("twice", "upscaler", tmp_path)
    with pytest.raises(ScaffoldError, match="kind"):
        new_plugin("x", "vocoder", tmp_path)


assert sys.version_info >= (3, 10)
