"""Analyst effort: keys per image in the re-judge queue, under two calibrations of one model, side by side.

``python -m bench.effort [--bundle B] [--before MANIFEST_OR_REV] [--data MANIFEST] [--out DIR]``

The demo model's outputs on a test set of a seed never used (the ``bench.coverage_methods`` test set: seed 11, 720
known images of the 18 types and 81 of three unknown kinds) are routed by the shipped calibration (``after``) and by
another one (``before``: by default the per-leaf calibration the demo bundle shipped with before
``--method ltt``, read from git at ``54c7f54``). For every image sent to a person and not judged blind (the re-judge
queue's images), the keys an analyst who knows the answer needs in the app:

* Enter when the true leaf is the model's first, a digit when it is 2nd to 5th of the Top-5: 1 key;
* U for a defect kind outside the tree: 1 key;
* otherwise the picker: C, then the true leaf by arrows from the preselected predicted leaf or by typing a few
  letters of its name (whichever is fewer: counted as at most 3), then Enter; a picker the model scoped to its
  determined subgroup or group needs Tab first when the true leaf lies outside it.

The app scopes the Top-5 keys too: an image with a determined group or subgroup lists that node's five best
leaves, and A widens to the whole tree's. The count is made both ways (``..._scoped_top5``): with the scoped list
a true leaf in it is 1 key, one outside it but in the whole tree's Top-5 is 2 (A, then the digit).

The queue can also be worked group by group (``..._grouped``): the gallery grouped by predicted type, :data:`COLUMNS`
tiles a row. In each group the analyst starts on the heading, walks with the arrows to each image whose answer
is not the group's type (the grid distance) and judges it (a Top-5 digit or U: 1 key, else the picker); a judged
image leaves the grid and the ones after it move up a place. Then back to the heading, Space selects the rest and
Enter accepts them (2 keys, none when nothing is left), and one arrow to the next heading.

Blind spot checks are left out (the queue leaves them out too; each is C, a few keys and Enter). Prints, per
calibration: images auto-judged, images in the queue, mean keys per queued image, and keys per 100 images of the
batch (the whole batch's work, auto-judged images costing none). A model, not a stopwatch: it counts keys, not time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, ROUTING_DEMO, log, write_result

BEFORE_REV = "54c7f54"  # the last commit that changed the demo manifest before --method ltt: per leaf
PICKER_TYPING = 3  # keys to type a leaf's name far enough to single it out
COLUMNS = 5  # the queue gallery's tiles a row in a 1,600-px-wide window


def _calibration_at(source: str) -> Any:
    """A calibration from a manifest file, or from the demo manifest at a git revision."""
    from models.routing.policy import Calibration

    path = Path(source)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        text = subprocess.run(["git", "show", f"{source}:resources/demo/model/manifest.json"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout
    return Calibration.from_manifest(json.loads(text))


def picker_keys(taxonomy: Any, predicted: str, truth: str, scope: str | None) -> int:
    """C, Tab when the true leaf is outside the scope, the way to it (arrows or typing), Enter."""
    order = list(taxonomy.leaves)  # the picker lists the leaves in tree order
    moves = min(abs(order.index(truth) - order.index(predicted)), PICKER_TYPING)
    widen = scope is not None and scope not in taxonomy.path(truth)
    return 1 + int(widen) + moves + 1


def image_keys(taxonomy: Any, top5: list[str], truth: str | None, scope: str | None) -> int:
    """Keys for one queued image whose answer is ``truth`` (None: outside the tree)."""
    if truth is None:
        return 1  # U
    if truth in top5:
        return 1  # Enter or a digit
    return picker_keys(taxonomy, top5[0], truth, scope)


def scoped_keys(taxonomy: Any, order: list[str], truth: str | None, scope: str | None) -> int:
    """Keys for one queued image with the Top-5 scoped to its determined node (``order``: leaves, best first)."""
    if scope is None or truth is None:
        return image_keys(taxonomy, order[:5], truth, scope)
    inside = [leaf for leaf in order if scope in taxonomy.path(leaf)][:5]
    if truth in inside:
        return 1
    if truth in order[:5]:
        return 2  # A, then the digit
    return picker_keys(taxonomy, order[0], truth, scope)


def grouped_keys(taxonomy: Any, predicted: str, members: list[tuple[list[str], str | None]],
                 columns: int = COLUMNS) -> int:
    """Keys for one group of the gallery grouped by predicted type (module docstring): ``members`` are its images
    in the queue's order, each as (its leaves best first, its answer)."""
    place = ["heading", *range(len(members))]  # the grid's tiles: the heading, then the group's images
    cursor, keys = 0, 0

    def walk(to: int) -> int:
        return abs(to // columns - cursor // columns) + abs(to % columns - cursor % columns)

    for i, (order, truth) in enumerate(members):
        if truth == predicted:
            continue
        at = place.index(i)
        keys += walk(at) + (1 if truth is None or truth in order[:5] else picker_keys(taxonomy, order[0], truth,
                                                                                       None))
        place.remove(i)
        cursor = min(at, len(place) - 1)  # the next image takes its place
    if len(place) > 1:
        keys += walk(0) + 2  # to the heading, Space, Enter
    return keys + 1  # on to the next heading


def effort(calibration: Any, taxonomy: Any, out: Any, truths: list[str | None]) -> dict[str, Any]:
    """Route the outputs by ``calibration`` and count the queue's keys."""
    from models.calibration.temperature import leaf_probs_at
    from models.inference.collect import route_outputs
    from models.routing.policy import determined_batch

    probs = leaf_probs_at(out.level_logits, calibration.temperature, taxonomy)
    out = dataclasses.replace(out, leaf_probs=probs)
    auto, reasons, _ = route_outputs(calibration, taxonomy, out)
    nodes, levels = determined_batch(calibration, taxonomy, probs, reasons)
    leaves, leaf_set = list(taxonomy.leaves), set(taxonomy.leaves)
    queued = [i for i in range(len(truths)) if not auto[i] and "spot_check" not in reasons[i]]
    # the picker opens on a determined group or subgroup (a determined leaf is auto-judged, or a spot check)
    scopes = {i: nodes[i] for i in queued if levels[i] >= 0 and nodes[i] not in leaf_set}
    keys, scoped, picker = [], [], 0
    groups: dict[str, list[tuple[list[str], str | None]]] = {}
    for i in queued:
        order = [leaves[j] for j in np.argsort(-probs[i])]
        groups.setdefault(order[0], []).append((order, truths[i]))
        top5 = order[:5]
        keys.append(image_keys(taxonomy, top5, truths[i], scopes.get(i)))
        scoped.append(scoped_keys(taxonomy, order, truths[i], scopes.get(i)))
        picker += truths[i] is not None and truths[i] not in top5
    n = len(truths)
    grouped = sum(grouped_keys(taxonomy, leaf, members) for leaf, members in groups.items())
    return {"mean_keys_per_queued_grouped": round(grouped / len(queued), 3) if queued else None,
            "keys_per_100_images_grouped": round(100 * grouped / n, 1), "groups": len(groups),
            "queue_top1": round(float(np.mean([t == o[0] for m in groups.values() for o, t in m])), 3) if queued
            else None,
            "images": n, "auto": int(auto.sum()), "queued": len(queued),
            "spot_checks": sum("spot_check" in r for r in reasons),
            "mean_keys_per_queued": round(float(np.mean(keys)), 3) if keys else None,
            "keys_per_100_images": round(100 * sum(keys) / n, 1), "picker_share": round(picker / max(1, len(queued)), 3),
            "scoped_pickers": len(scopes),
            "mean_keys_per_queued_scoped_top5": round(float(np.mean(scoped)), 3) if scoped else None,
            "keys_per_100_images_scoped_top5": round(100 * sum(scoped) / n, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.effort", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=ROUTING_DEMO,
                        help="the calibrated bundle whose outputs are routed (default: resources/demo/model)")
    parser.add_argument("--before", default=BEFORE_REV, help="a manifest file, or a git revision of the demo's")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "coverage_methods" / "test11" / "manifest.csv")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    from bench.coverage_methods import TEST, render_set
    from models.bundle.io import load_bundle
    from models.data.manifest import read_manifest
    from models.inference.collect import collect_outputs
    from models.inference.predictor import Predictor

    if not args.data.is_file():
        render_set(args.data.parent, TEST)
    bundle = load_bundle(args.bundle)
    taxonomy = bundle.manifest.taxonomy
    predictor = Predictor(bundle, batch_size=32)
    samples = read_manifest(args.data, taxonomy, verify_images=False).samples
    results: dict[str, Any] = {"bundle": str(args.bundle), "data": str(args.data), "before": args.before, "calibrations": {}}
    outs: dict[tuple[str, ...], Any] = {}  # a calibration with test-time flips routes the outputs made with them
    for name, cal in (("before", _calibration_at(args.before)), ("after", bundle.manifest.calibration)):
        if cal.flips not in outs:
            predictor.flips = cal.flips
            log(f"[effort] predicting {len(samples)} images of {args.data}"
                + (f" with test-time flips {','.join(cal.flips)}" if cal.flips else ""))
            outs[cal.flips] = collect_outputs(predictor, [s.path for s in samples], keys=True)
        out = outs[cal.flips]
        truths = [None if samples[i].is_unknown else samples[i].label for i in out.index]
        r = effort(cal, taxonomy, out, truths)
        r["method"] = cal.method or "per-leaf"
        r["flips"] = list(cal.flips)
        results["calibrations"][name] = r
        log(f"  {name:<6} ({r['method']}): {r['auto']} of {r['images']} auto-judged, {r['queued']} in the queue; "
            f"{r['mean_keys_per_queued']} keys per queued image ({r['picker_share']:.0%} need the picker, "
            f"{r['scoped_pickers']} scoped to a determined node); {r['keys_per_100_images']} keys per 100 images; "
            f"with the Top-5 scoped too: {r['mean_keys_per_queued_scoped_top5']} per queued image, "
            f"{r['keys_per_100_images_scoped_top5']} per 100 images; group by group ({r['groups']} groups, the "
            f"queue's Top-1 {r['queue_top1']}): {r['mean_keys_per_queued_grouped']} per queued image, "
            f"{r['keys_per_100_images_grouped']} per 100 images")
    b, a = results["calibrations"]["before"], results["calibrations"]["after"]
    log(f"  after / before: keys per 100 images {a['keys_per_100_images'] / b['keys_per_100_images']:.2f}x, "
        f"per queued image {a['mean_keys_per_queued'] / b['mean_keys_per_queued']:.2f}x")
    write_result(args.out, "effort", False, results, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
