"""Synthetic FMA micrographs: an LCD pixel array under a microscope, with one defect per image.

This data set stands in for confidential real FMA images (tests, demo, benchmarks, the demo model).
``fma-model synth`` (:mod:`models.commands.synth`) calls :func:`generate`.

The modules, from the bottom up (each imports only modules above it in this list):

* :mod:`~models.data.synth.canvas`: numeric helpers, the panel's pixel-array pattern, and the view
  (:class:`~models.data.synth.canvas.Ctx`) that defects are drawn into;
* :mod:`~models.data.synth.shapes`: blob outlines, strokes and random walks;
* :mod:`~models.data.synth.defect`: the :class:`~models.data.synth.defect.Defect` hooks, the glass
  edge, and how a leaf's parameters are drawn (blended towards a sibling's with ``difficulty``);
* one module per defect family of the demo taxonomy: :mod:`~models.data.synth.particles`,
  :mod:`~models.data.synth.residues` (stains and films), :mod:`~models.data.synth.mechanical`
  (scratches, cracks, chips, dents), :mod:`~models.data.synth.process` (bubbles, line open/short,
  ITO peeling);
* :mod:`~models.data.synth.unknown`: the kinds outside the taxonomy (``unknown:<name>`` samples);
* :mod:`~models.data.synth.registry`: which renderer draws which kind (:func:`make_defect`);
* :mod:`~models.data.synth.optics`: framing, illumination, blur and noise of one capture;
* :mod:`~models.data.synth.scene`: a scene (pattern + defect) rendered at a magnification;
* :mod:`~models.data.synth.dataset`: rendering every sample and writing the images and the manifest.

This package module only re-exports the names other code uses.
"""

from models.data.synth.canvas import PATTERNS
from models.data.synth.dataset import generate, label_dir, long_tail_counts, mag_text
from models.data.synth.optics import Optics, sample_optics
from models.data.synth.registry import make_defect
from models.data.synth.scene import (
    DIFFICULTY,
    FOV_1X_UM,
    Scene,
    SynthError,
    field_of_view,
    make_scene,
    render_sample,
    render_view,
)
from models.data.synth.unknown import UNKNOWN_TYPES

__all__ = [
    "DIFFICULTY",
    "FOV_1X_UM",
    "PATTERNS",
    "UNKNOWN_TYPES",
    "Optics",
    "Scene",
    "SynthError",
    "field_of_view",
    "generate",
    "label_dir",
    "long_tail_counts",
    "mag_text",
    "make_defect",
    "make_scene",
    "render_sample",
    "render_view",
    "sample_optics",
]
