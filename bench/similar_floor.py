"""How alike are judged images of the same type, and of different types? How ``SIMILAR_FLOOR`` was chosen.

``python -m bench.similar_floor [BUNDLE] --data MANIFEST``

Predicts every image of the manifest that has a known label, treats all of them as judged with their true label,
and prints, for the cosine similarity of the embeddings the similar-cases panel compares: the share of image pairs
of different types at or above each candidate floor, how many images have no image of their own type at least that
alike, and the least alike of every image's six nearest (the six the panel shows). The floor
(:data:`app.services.similar.SIMILAR_FLOOR`) should cost an image its own-type neighbour almost never, while keeping
a stranger from being offered as "similar" when few images are judged. The measurement behind it:
``fma-model synth data/simfloor --per-class 20 --seed 41 --difficulty 0.3`` and this command on its manifest with the
demo model.
"""

from __future__ import annotations

import argparse

import numpy as np

from app.services.similar import SIMILAR_FLOOR
from models.data.manifest import load_data

FLOORS = (0.15, 0.2, 0.25, 0.3, 0.4)
SHOWN = 6  # the similar-cases panel's tiles


def floor_table(embeddings: np.ndarray, labels: list[str], floors=FLOORS) -> list[dict]:
    """One row per floor: ``other_pairs`` (share of pairs of different types at or above it), ``lonely`` (images
    whose most alike image of their own type is below it), plus ``nearest_min`` (the least alike of every image's
    ``SHOWN`` nearest, the same in every row)."""
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit.T
    lab = np.asarray(labels)
    n = len(lab)
    upper = np.triu_indices(n, 1)
    other = lab[upper[0]] != lab[upper[1]]
    np.fill_diagonal(sims, -np.inf)
    own_best = np.array([sims[i][(lab == lab[i]) & (np.arange(n) != i)].max(initial=-np.inf) for i in range(n)])
    nearest_min = float(np.sort(sims, axis=1)[:, -min(SHOWN, n - 1):].min()) if n > 1 else float("nan")
    pair_sims = sims[upper][other]
    return [{"floor": f, "other_pairs": float((pair_sims >= f).mean()) if len(pair_sims) else 0.0,
             "lonely": int((own_best < f).sum()), "images": n, "nearest_min": nearest_min} for f in floors]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.similar_floor", description=__doc__.split("\n")[0])
    p.add_argument("bundle", nargs="?", default="resources/demo/model_cbam")
    p.add_argument("--data", required=True, help="a manifest (fma-model synth writes one)")
    args = p.parse_args(argv)

    from models.inference.predictor import Predictor

    predictor = Predictor(args.bundle)
    known = [s for s in load_data(args.data, predictor.taxonomy).samples if not s.is_unknown]
    preds = predictor.predict([s.path for s in known])
    kept = [(pr.embedding, s.label) for pr, s in zip(preds, known, strict=True) if pr.embedding is not None and not pr.error]
    if len(kept) < 2:
        raise SystemExit("fewer than two images could be predicted: nothing to compare")
    rows = floor_table(np.stack([e for e, _ in kept]), [lab for _, lab in kept])
    print(f"{len(kept)} images of {len({lab for _, lab in kept})} types; the product's floor: {SIMILAR_FLOOR}")
    print(f"least alike of every image's {SHOWN} nearest: {rows[0]['nearest_min']:.3f}")
    print("| floor | pairs of different types at or above it | images with no own-type image that alike |")
    print("|---|---|---|")
    for row in rows:
        print(f"| {row['floor']:.2f} | {row['other_pairs'] * 100:.1f} % | {row['lonely']} of {row['images']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
