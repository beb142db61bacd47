"""The network: configuration (torch-free), backbone with per-level heads, CBAM, hierarchical losses."""
