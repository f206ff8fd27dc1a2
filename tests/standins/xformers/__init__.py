"""Stand-in for xformers (package with an ops submodule)."""
__version__ = "0.0.32+standin"
