"""The failure of a form file, apart from survey_forms/catalog.py so that catching it loads no form's code."""

from __future__ import annotations


class FormError(Exception):
    """A form file that cannot be used; the message names the file and the problem."""
