"""The layering rules of ARCHITECTURE.md, as import contracts (``[tool.importlinter]`` in pyproject.toml).

``python3 dev.py test`` runs ``lint-imports`` before the tests; here the contracts are checked on the real tree
and shown to fail on planted violations (a copy of the sources with one bad import added), so a contract that
silently stopped checking anything would fail this file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

LINT = Path(sys.executable).parent / "lint-imports"
pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (pip install -e .[dev])")


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache", str(root / "pyproject.toml")], cwd=root,
                          capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(root), "PATH": ""})


@pytest.fixture(scope="module")
def copy_of_sources(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for name in ("models", "app", "bench"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.qm", "*.ts"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_tree_keeps_every_contract():
    res = _lint(ROOT)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "BROKEN" not in res.stdout and " KEPT" in res.stdout


# (file to edit, line planted at its end, the contract that must break)
PLANTED = {
    "models import Qt": ("models/taxonomy.py", "import PySide6.QtCore  # planted", "models is headless"),
    "models import the store": ("models/inference/records.py", "import app.store.records  # planted",
                                "models is headless"),
    "a service imports Qt": ("app/services/judging.py", "from PySide6.QtCore import QObject  # planted",
                             "the store and the services import no Qt"),
    "the UI runs the network": ("app/ui/viewer.py", "from models.inference.predictor import Predictor  # planted",
                                "the UI reaches the model and the database only through"),
    "the UI reads ORM rows": ("app/ui/picker.py", "from app.store import schema  # planted",
                              "the UI reaches the model and the database only through"),
    "the UI routes on its own": ("app/ui/viewer.py", "from models.routing.policy import route  # planted",
                                 "the UI reaches the model and the database only through"),
    "the UI exports past the service": ("app/ui/viewer.py", "from app.store.export import export_labels  # planted",
                                        "the UI reaches the model and the database only through"),
    "a lower layer imports a higher one": ("models/nn/losses.py", "import models.training.loop  # planted",
                                           "models/ is layered along the flow"),
    "the store imports a service": ("app/store/export.py", "import app.services.judging  # planted",
                                    "app/ is layered"),
    "an import cycle inside a package": ("models/inference/outputs.py", "import models.inference.records  # planted",
                                         "no import cycles"),
    "a benchmark reads store internals": ("bench/pipeline.py", "from app.store import repo  # planted",
                                          "the benchmarks measure public APIs"),
}


@pytest.mark.parametrize("case", sorted(PLANTED))
def test_a_planted_violation_breaks_its_contract(copy_of_sources: Path, case: str):
    file, line, contract = PLANTED[case]
    target = copy_of_sources / file
    original = target.read_text(encoding="utf-8")
    if case == "an import cycle inside a package":  # records must import outputs back for a cycle
        records = copy_of_sources / "models/inference/records.py"
        records_text = records.read_text(encoding="utf-8")
        records.write_text(records_text + "\nimport models.inference.outputs  # planted\n", encoding="utf-8")
    target.write_text(original + f"\n{line}\n", encoding="utf-8")
    try:
        res = _lint(copy_of_sources)
    finally:
        target.write_text(original, encoding="utf-8")
        if case == "an import cycle inside a package":
            records.write_text(records_text, encoding="utf-8")
    assert res.returncode != 0, f"{case}: no contract broke\n{res.stdout[-2000:]}"
    broken = [ln for ln in res.stdout.splitlines() if " BROKEN" in ln]  # (may end "BROKEN (1 ignored import)")
    assert any(contract in ln for ln in broken), f"{case}: expected '{contract}' broken, got {broken}"
