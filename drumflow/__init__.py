"""drumflow: DAW-style batch pipelines for drum recordings (YAML graphs over larsnet)."""
__version__ = "0.1.0"
