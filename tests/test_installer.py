"""The workstation install: its dependencies leave torch out, every module of the app imports without torch, and the
frozen folder (``python installer/build.py``; built outside the test run, see the README) passes its self-test."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import ROOT
from tests.test_runtime import BLOCK_TORCH

TRAINING = {"torch", "torchvision", "timm", "grad-cam", "onnx", "onnxscript", "optuna"}  # safetensors: numpy reads too


def _name(requirement: str) -> str:
    return requirement.split(";")[0].split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower()


def test_the_workstation_dependencies_leave_the_training_side_out():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {_name(r) for r in project["dependencies"]}
    extras = project["optional-dependencies"]
    assert not base & TRAINING and {"onnxruntime", "pyside6-essentials", "sqlalchemy"} <= base
    assert {"torch", "timm", "onnxscript"} <= {_name(r) for r in extras["train"]}
    # the app and training compute LayerCAM themselves: grad-cam is only the benches' and tests' reference
    assert "grad-cam" not in {_name(r) for r in extras["train"]} | base
    assert "fma-judge[train,tune,postgres]" in extras["dev"]  # the README's two commands install everything
    assert "grad-cam" in {_name(r) for r in extras["dev"]}


def test_every_module_of_the_app_imports_without_torch():
    script = BLOCK_TORCH + """
import importlib, pkgutil, sys
import app
names = [m.name for m in pkgutil.walk_packages(app.__path__, "app.") if ".migrations" not in m.name]
for name in names:
    importlib.import_module(name)
import models.inference.runtime, models.inference.core, models.inference.arrays, models.bundle.spectrum
print(len(names), "torch" in sys.modules)
print(" ".join(sorted(sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr[-3000:]
    first, imported = out.stdout.splitlines()[-2:]
    count, torch_loaded = first.split()
    assert int(count) > 40 and torch_loaded == "False"
    # nothing the workstation imports may be left out of the frozen app (safetensors was, and the frozen app could
    # not load a bundle with a spectrum head)
    excluded = _spec_excludes()
    frozen_out = sorted(m for m in imported.split() if any(m == e or m.startswith(e + ".") for e in excluded))
    assert "torch" in excluded and not frozen_out, frozen_out


def _spec_excludes() -> list[str]:
    """The ``excludes`` list of installer/fma-judge.spec (a literal list)."""
    import ast

    tree = ast.parse((ROOT / "installer" / "fma-judge.spec").read_text(encoding="utf-8"))
    (node,) = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "excludes"]
    return ast.literal_eval(node.value)


def test_the_installer_freezes_the_model_the_app_opens_by_default():
    import importlib.util

    from app.demo import DEMO_MODEL

    spec = importlib.util.spec_from_file_location("installer_build", ROOT / "installer" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)  # only the standard library: nothing runs on import
    assert build.DEMO_MODEL == DEMO_MODEL and (DEMO_MODEL / "manifest.json").is_file()
    # the spec puts the exported copy where the frozen app's app/demo.py looks: resources/demo/<the same name>
    assert 'f"resources/demo/{DEMO_MODEL.name}"' in (ROOT / "installer" / "fma-judge.spec").read_text(encoding="utf-8")


FROZEN = ROOT / "dist" / "fma-judge" / ("fma-judge-cli.exe" if os.name == "nt" else "fma-judge")


@pytest.mark.skipif(not FROZEN.is_file(), reason="no frozen build (python installer/build.py makes dist/fma-judge/)")
def test_the_frozen_app_passes_its_self_test(tmp_path):
    out = subprocess.run([str(FROZEN), "--self-test", "--db", f"sqlite:///{tmp_path / 'it.sqlite3'}"],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
                              "FMA_JUDGE_SETTINGS": str(tmp_path / "s.ini")})  # no remembered model: the demo's
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    assert "PASS  model" in out.stdout and "onnx-runtime" in out.stdout and "as on the training machine" in out.stdout
    assert not list((ROOT / "dist" / "fma-judge").rglob("torch"))
