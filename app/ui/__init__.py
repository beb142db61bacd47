"""The Qt views: thin widgets over :mod:`app.services`, fed plain records through signals and item models."""
