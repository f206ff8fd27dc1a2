"""Stand-in for xformers (only what attention uses)."""
__version__ = "0.0.0+standin"
