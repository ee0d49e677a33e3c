"""Shared code for the three calorie-alert scripts."""

__version__ = "0.1.0"
