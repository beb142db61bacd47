"""Every ``fma-model`` sub-command: argument parsing and printing only; the work is in the library packages."""
