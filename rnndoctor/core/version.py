"""The package version (pyproject.toml's, kept equal by tests/test_project.py)."""

VERSION = "0.3.0"
