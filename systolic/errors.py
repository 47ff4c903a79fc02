"""The one exception the systolic package raises for bad input; the commands turn it into exit code 2."""

from __future__ import annotations


class SystolicInputError(ValueError):
    """Bad input: a topology row, a config field, an objective. The message names the file, row and field."""
