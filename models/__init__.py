"""The hierarchical defect classifier, headless (no Qt, no SQL).

Packages along the flow, each importing only those below it (ARCHITECTURE.md; checked by import-linter):
``commands`` (the ``fma-model`` CLI) > ``training`` | ``calibration`` > ``evaluation`` > ``inference`` >
``bundle`` > ``routing`` > ``data`` | ``nn`` > the plain modules (``taxonomy``, ``imageio`` ...).
"""
