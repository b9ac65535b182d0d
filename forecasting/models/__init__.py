"""Models: one protocol (base.py), one registry (registry.py), one small file per family."""
