"""``fma-model predict`` and ``fma-model info``.

A bundle with a spectrum head it may use fuses each image's FTIR spectra, found beside it by name
(:func:`models.spectra.match_spectra`: ``P001.jdx`` belongs to ``P001.png``), unless ``--no-spectra``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from models.commands.arguments import positive_int
from models.imageio import expand_paths
from models.sysinfo import device_arg

if TYPE_CHECKING:
    from models.bundle.manifest import BundleManifest


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help="model bundle folder or .zip")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders of images")
    p.add_argument("--json", action="store_true", help="print one JSON object per image (JSON lines)")
    p.add_argument("--heatmaps", metavar="DIR", help="write a heatmap overlay PNG per image into DIR")
    p.add_argument("--recursive", "-r", action="store_true", help="also look into sub-folders")
    p.add_argument("--batch-size", type=positive_int, default=16, help="images per forward pass (default 16)")
    p.add_argument("--device", default="cpu", type=device_arg, help="cpu, cuda, cuda:1 ... (default cpu)")
    p.add_argument("--no-spectra", action="store_true",
                   help="judge the images alone, even where a spectrum lies beside them and the bundle has a "
                        "spectrum head")


def _spectra_beside(files: list[Path]):
    """``spectra(index, name)`` for :meth:`Predictor.iter_predict`: the spectra found beside each image, read when
    its prediction is made (one that cannot be read is reported on stderr and left out)."""
    from models.spectra import is_spectrum_candidate, match_spectra, read_spectra

    folders = {f.parent for f in files}
    candidates = [c for folder in folders if folder.is_dir() for c in folder.iterdir()
                  if is_spectrum_candidate(c.name) and c.is_file()]
    pairs, _ = match_spectra(files, candidates)
    return lambda index, name: read_spectra(pairs.get(files[index], ()),
                                            lambda m: print(f"note: {m}", file=sys.stderr))


def run(args: argparse.Namespace) -> int:
    from models.inference.heatmaps import overlay_heatmap
    from models.inference.predictor import Predictor

    predictor = Predictor(args.bundle, device=args.device, batch_size=args.batch_size)
    files, skipped = expand_paths(args.paths, args.recursive)
    if skipped:
        print(f"note: skipped {skipped} non-image file(s) in the given folder(s)", file=sys.stderr)
    if not files:
        print("no images found in the given path(s)", file=sys.stderr)
        return 1
    tax = predictor.taxonomy
    heat_dir = Path(args.heatmaps) if args.heatmaps else None
    if heat_dir:
        try:
            heat_dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            print(f"fma-model predict: error: --heatmaps {heat_dir} is a file, not a folder", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"fma-model predict: error: cannot create the --heatmaps folder {heat_dir}: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return 2
    used_names: set[str] = set()
    errors = 0
    spectra = _spectra_beside(files) if predictor.fuses_spectra and not args.no_spectra else None
    for pred in predictor.iter_predict(files, heatmaps=heat_dir is not None, spectra=spectra):
        if pred.error:
            errors += 1
        if heat_dir is not None and pred.heatmap is not None:
            from models.imageio import load_image

            stem = Path(pred.file).stem
            name = f"{stem}_heatmap.png"
            n = 1
            while name in used_names:
                n += 1
                name = f"{stem}_{n}_heatmap.png"
            used_names.add(name)
            overlay_heatmap(load_image(pred.file), pred.heatmap).save(heat_dir / name)
        if args.json:
            print(json.dumps(pred.to_json(tax), ensure_ascii=False), flush=True)
        elif pred.error:
            print(f"{pred.file}\tERROR\t{pred.error}", flush=True)
        else:
            fused = f"\t+{pred.spectra} spectrum" if pred.spectra else ""
            more = f"\talso {';'.join(pred.labels[1:])}" if len(pred.labels) > 1 else ""
            print(f"{pred.file}\t{pred.leaf}\t{'/'.join(pred.path)}\t{pred.confidence:.3f}{more}{fused}", flush=True)
    if errors:
        where = "their \"error\" field" if args.json else "the ERROR lines"
        print(f"{errors} of {len(files)} image(s) could not be read (see {where})", file=sys.stderr)
    return 1 if errors else 0


def add_info_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help="model bundle folder or .zip")
    p.add_argument("--json", action="store_true", help="print the whole manifest")


def run_info(args: argparse.Namespace) -> int:
    from models.bundle.files import read_bundle_manifest

    m = read_bundle_manifest(args.bundle)
    if args.json:
        print(json.dumps(m.to_json(), indent=2, ensure_ascii=False))
        return 0
    lines = [
        f"model_version : {m.model_version}",
        f"created       : {m.created or None}",
        f"backbone/head : {m.network.backbone} / {m.network.head} (loss: {m.loss.kind if m.loss else '-'})",
        f"input         : {list(m.input_size)}",
        f"taxonomy      : {m.taxonomy.id} ({m.taxonomy.fingerprint()[:12]})",
        f"trained on    : {_trained_line(m)}",
        f"calibrated    : {_calibration_line(m)}",
        f"spectrum head : {_spectrum_line(m)}",
    ]
    if m.is_multilabel:
        lines.append(f"multi-label   : {_multilabel_line(m)}")
    for key in ("top1", "top5", "hier_f1"):
        value = m.metrics.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):  # metrics are reported, not checked
            lines.append(f"{key:<14}: {value:.4f}")
    print("\n".join(lines))
    return 0


def _trained_line(m: BundleManifest) -> str:
    """What the weights learned from, and the bundle a fine-tuning started from (a lead comparing two rounds of the
    retraining loop could not tell which model each came from)."""
    t = m.train
    if t is None:
        return "-"
    text = (f"{t.n_train} training + {t.n_val} validation images of {', '.join(t.data_sources) or '-'}"
            + (f" (data {t.data_hash[:12]})" if t.data_hash else ""))
    if t.init_from is not None:
        text += f"; fine-tuned from {t.init_from.model_version} ({t.init_from.path})"
    return text


def _multilabel_line(m: BundleManifest) -> str:
    rec = m.multilabel
    chosen = {} if rec is None else rec.thresholds
    text = "a leaf is present from 0.5" + (
        f" ({len(chosen)} leaves from their own threshold, chosen on {rec.n_val} validation images: "
        f"{min(chosen.values()):.2f}..{max(chosen.values()):.2f})" if chosen and rec else "")
    if rec is None or not rec.is_calibrated:
        return text + "; set routing not calibrated (no image is auto-judged)"
    if rec.set_threshold is None:
        return text + f"; set routing at purity {rec.target_purity:g}: no threshold reached it (every image to a person)"
    return (text + f"; set routing at purity {rec.target_purity:g}: auto-judged from set confidence "
            f"{rec.set_threshold:.4g} ({rec.routing.get('coverage')} of the calibration images)")


def _spectrum_line(m: BundleManifest) -> str:
    rec = m.spectrum
    if rec is None:
        return "no (images alone)"
    if m.is_multilabel or rec.weight == 0:
        why = "a multi-label bundle" if m.is_multilabel else "its fusion weight is 0"
        return f"yes, not used ({why}): images are judged alone"
    if m.calibration is not None and not rec.is_calibrated:
        return (f"yes, not calibrated: images are judged alone until `fma-model calibrate` runs on images with "
                f"spectra (fusion weight {rec.weight:g})")
    auto = sum(v is not None for v in rec.thresholds.values())
    routing = f", fused routing: {auto}/{len(rec.thresholds)} leaves can be auto-judged" if rec.is_calibrated else ""
    return f"yes (fusion weight {rec.weight:g}, trained on {rec.n_train} images{routing})"


def _calibration_line(m: BundleManifest) -> str:
    cal = m.calibration
    if cal is None or not cal.thresholds:
        return "no"
    auto = sum(v is not None for v in cal.thresholds.values())
    unknown = cal.unknown.method if cal.unknown is not None else "-"
    return (f"yes (T {m.effective_temperature:.3f}, target purity {cal.target_purity}, "
            f"{auto}/{len(cal.thresholds)} leaves can be auto-judged, unknown score {unknown}, "
            f"spot check {cal.spot_check:g}"
            + (f", test-time flips {','.join(cal.flips)}: {len(cal.flips) + 1} passes per image" if cal.flips else "")
            + ")")
