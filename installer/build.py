#!/usr/bin/env python3
"""Build the workstation app: ``python installer/build.py`` (from the checkout's development environment).

Steps, each printed with its time:

1. the demo model with its workstation runtime: a copy of ``resources/demo/model_cbam`` (the app's default,
   ``app/demo.py``) into ``build/installer/``, and
   ``fma-model export-runtime`` on it (needs this environment's torch; checked against torch on the demo batch);
2. a build environment *without torch*, outside the checkout (:func:`build_venv_dir`: a user cache folder, so the
   checkout never holds a second copy of every dependency's sources and tests), with ``pip install .`` (the workstation
   dependencies only), psycopg for a team database, and PyInstaller;
3. PyInstaller on ``installer/fma-judge.spec`` into ``dist/fma-judge/`` (one folder);
4. the build report ``dist/build-report.json`` (and on the console): the folder's size, its ten largest files, and a
   check that no torch, CUDA or training package got in (the build fails if one did);
5. Linux: ``dist/fma-judge-VERSION-linux-x86_64.tar.gz`` holding the folder, ``fma-judge.desktop`` and the icon, with
   ``install.sh`` (per-user: ~/.local); Windows: run ``iscc installer/windows/fma-judge.iss`` next (see the README).

``--check`` then runs ``dist/fma-judge/fma-judge --self-test`` and ``--demo --screenshot`` in both languages from
the folder, and measures cold start to window and to first prediction.

Only the standard library is imported here; the steps run in their own processes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "installer"
DIST = ROOT / "dist"
APP = DIST / "fma-judge"
DEMO_MODEL = ROOT / "resources" / "demo" / "model_cbam"  # app/demo.py's DEMO_MODEL (a test holds them equal)
FORBIDDEN = ("torch", "torchvision", "timm", "pytorch_grad_cam", "nvidia", "triton", "cv2", "scipy", "sklearn",
             "optuna", "onnxscript", "libcudart", "libcublas", "libcudnn", "libtorch")
"""Names that must not appear as a directory or library in the frozen folder (the workstation runtime has no torch)."""
MAX_FOLDER_BYTES = 500 * 10**6


def step(title: str):
    print(f"[build] {title}", flush=True)
    return time.perf_counter()


def done(started: float) -> None:
    print(f"[build]   {time.perf_counter() - started:.0f} s", flush=True)


def run(cmd: list[str], **kw) -> None:
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def version() -> str:
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    return "0"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def demo_model_with_runtime() -> Path:
    """Step 1: the demo bundle with its runtime graphs (re-exported only when the demo model changed)."""
    source = DEMO_MODEL
    target = WORK / "demo" / source.name  # the frozen app finds it under this name, as app/demo.py does
    stamp = target / ".source-manifest"
    manifest = (source / "manifest.json").read_bytes()
    if stamp.is_file() and stamp.read_bytes() == manifest and (target / "runtime_predict.onnx").is_file():
        print("[build]   unchanged since the last build", flush=True)
        return target
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    run([sys.executable, "-m", "models.commands.cli", "export-runtime", target, "--data", ROOT / "resources" / "demo" / "batch"],
        cwd=ROOT)
    stamp.write_bytes(manifest)
    return target


def build_venv_dir() -> Path:
    """Where the build environment lives: ``FMA_BUILD_VENV``, else the user's cache folder (``%LOCALAPPDATA%`` on
    Windows, ``$XDG_CACHE_HOME`` or ``~/.cache`` elsewhere) / ``fma-judge/build-venv``."""
    if os.environ.get("FMA_BUILD_VENV"):
        return Path(os.environ["FMA_BUILD_VENV"])
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        cache = Path(os.environ["LOCALAPPDATA"])
    else:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "fma-judge" / "build-venv"


def build_venv(postgres: bool) -> Path:
    """Step 2: a virtual environment with the workstation dependencies only (no torch) and PyInstaller."""
    venv = build_venv_dir()
    py = venv_python(venv)
    if not py.exists():
        run([sys.executable, "-m", "venv", venv])
    extras = "installer,postgres" if postgres else "installer"
    run([py, "-m", "pip", "install", "--disable-pip-version-check", "-q", f"{ROOT}[{extras}]"])
    probe = subprocess.run([py, "-c", "import importlib.util as u; print(u.find_spec('torch') is not None)"],
                           capture_output=True, text=True, check=True)
    if probe.stdout.strip() != "False":
        raise SystemExit(f"[build] {venv} has torch installed; delete it and build again")
    return py


def freeze(py: Path, demo_model: Path, postgres: bool) -> None:
    """Step 3: PyInstaller."""
    env = {**os.environ, "FMA_BUILD_DEMO_MODEL": str(demo_model), "FMA_BUILD_POSTGRES": "1" if postgres else "0"}
    run([py, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN", "--distpath", DIST,
         "--workpath", WORK / "pyinstaller", ROOT / "installer" / "fma-judge.spec"], cwd=ROOT, env=env)


def report() -> dict:
    """Step 4: sizes, the largest files, and the no-torch check."""
    files = [p for p in APP.rglob("*") if p.is_file() and not p.is_symlink()]
    total = sum(p.stat().st_size for p in files)
    largest = sorted(files, key=lambda p: p.stat().st_size, reverse=True)[:10]
    found = sorted({str(p.relative_to(APP)) for p in APP.rglob("*")
                    if any(p.name == f or p.name.startswith(f + ".") or p.name.startswith(f + "-") for f in FORBIDDEN)})
    out = {"version": version(), "platform": f"{platform.system()}-{platform.machine()}", "python": platform.python_version(),
           "folder": str(APP), "files": len(files), "bytes": total, "mb": round(total / 1e6, 1),
           "largest": [{"file": str(p.relative_to(APP)), "mb": round(p.stat().st_size / 1e6, 1)} for p in largest],
           "forbidden_found": found, "max_mb": MAX_FOLDER_BYTES / 1e6}
    print(f"[build]   {APP}: {out['mb']} MB in {len(files)} files (limit {out['max_mb']:.0f} MB); largest:")
    for item in out["largest"]:
        print(f"[build]     {item['mb']:>6.1f} MB  {item['file']}")
    if found:
        raise SystemExit(f"[build] the frozen folder holds training packages: {', '.join(found[:10])}")
    if total > MAX_FOLDER_BYTES:
        raise SystemExit(f"[build] the frozen folder is {out['mb']} MB, over {out['max_mb']:.0f} MB")
    return out


def linux_archive() -> Path:
    """Step 5 (Linux): the folder, the .desktop file, the icon and install.sh in one .tar.gz."""
    name = f"fma-judge-{version()}-linux-{platform.machine()}"
    archive = DIST / f"{name}.tar.gz"
    linux = ROOT / "installer" / "linux"
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(APP, arcname=f"{name}/fma-judge")
        tar.add(linux / "fma-judge.desktop", arcname=f"{name}/fma-judge.desktop")
        tar.add(linux / "install.sh", arcname=f"{name}/install.sh")
        tar.add(ROOT / "installer" / "fma-judge.png", arcname=f"{name}/fma-judge.png")
    return archive


def check(out: dict) -> None:
    """``--check``: the frozen app's self-test, the demo screenshot in both languages, and cold-start times."""
    exe = APP / ("fma-judge-cli.exe" if os.name == "nt" else "fma-judge")
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    scratch = WORK / "check"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    db = f"sqlite:///{scratch / 'selftest.sqlite3'}"
    started = time.perf_counter()
    test = subprocess.run([exe, "--self-test", "--db", db], capture_output=True, text=True, env=env, timeout=600)
    print(test.stdout, end="", flush=True)
    out["self_test"] = {"rc": test.returncode, "seconds": round(time.perf_counter() - started, 1),
                        "lines": test.stdout.strip().splitlines()}
    shots = {}
    for lang in ("en", "zh_TW"):
        png = scratch / f"demo_{lang}.png"
        started = time.perf_counter()
        shot = subprocess.run([exe, "--demo", "--screenshot", png, "--lang", lang, "--db",
                               f"sqlite:///{scratch / f'demo_{lang}.sqlite3'}"],
                              capture_output=True, text=True, env=env, timeout=600)
        shots[lang] = {"rc": shot.returncode, "png": str(png), "seconds": round(time.perf_counter() - started, 1),
                       "bytes": png.stat().st_size if png.is_file() else 0, "stderr": shot.stderr.strip()[-500:]}
        print(f"[build]   --demo --screenshot --lang {lang}: rc {shot.returncode}, {png} "
              f"({shots[lang]['bytes']} bytes, {shots[lang]['seconds']} s)", flush=True)
    out["screenshots"] = shots
    if test.returncode != 0 or any(s["rc"] != 0 or s["bytes"] < 10_000 for s in shots.values()):
        (DIST / "build-report.json").write_text(json.dumps(out, indent=2))
        raise SystemExit("[build] the frozen app failed its checks (see above and dist/build-report.json)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--no-postgres", action="store_true", help="leave the PostgreSQL driver out")
    p.add_argument("--check", action="store_true", help="run the frozen app's self-test and demo screenshots")
    args = p.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    postgres = not args.no_postgres
    total = time.perf_counter()
    t = step("1/5 the demo model's workstation runtime (fma-model export-runtime)")
    demo = demo_model_with_runtime()
    done(t)
    t = step("2/5 a build environment without torch (pip install . pyinstaller)")
    py = build_venv(postgres)
    done(t)
    t = step("3/5 PyInstaller: dist/fma-judge/")
    shutil.rmtree(APP, ignore_errors=True)
    freeze(py, demo, postgres)
    done(t)
    t = step("4/5 build report")
    out = report()
    done(t)
    if sys.platform.startswith("linux"):
        t = step("5/5 Linux archive")
        archive = linux_archive()
        out["archive"] = {"file": str(archive), "mb": round(archive.stat().st_size / 1e6, 1)}
        print(f"[build]   {archive} ({out['archive']['mb']} MB)", flush=True)
        done(t)
    else:
        print("[build] 5/5 Windows: now run  iscc installer\\windows\\fma-judge.iss  (Inno Setup 6)", flush=True)
    out["build_s"] = round(time.perf_counter() - total)
    if args.check:
        t = step("check: the frozen app's self-test and demo screenshots")
        check(out)
        done(t)
    (DIST / "build-report.json").write_text(json.dumps(out, indent=2))
    print(f"[build] done in {out['build_s']} s; report: {DIST / 'build-report.json'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
