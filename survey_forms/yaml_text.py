"""The YAML files we ship (the built-in forms, the wording catalogs), parsed by libyaml when PyYAML has it.

They are read at every start, and libyaml reads them several times faster than PyYAML's own parser. The two
parsers do not accept quite the same texts (libyaml takes ``{vi: Chọn?}``, PyYAML refuses it), so only files
whose reading a test compares under both (tests/test_cli_imports.py) are read this way; a file an operator
supplies (a forms folder, the holidays file) is read by PyYAML as it always was.
"""

from __future__ import annotations

import functools
import pickle
from typing import Any

import yaml

LIBYAML = bool(getattr(yaml, "__with_libyaml__", False))


def load_shipped(text: str) -> Any:
    """What ``yaml.safe_load(text)`` gives for a file we ship, by libyaml when PyYAML was built with it.

    A text libyaml refuses is read again by PyYAML's parser, so that the error raised is PyYAML's. A text read
    before in this process is not parsed again (every service, CLI command and test reads the same files): the
    caller gets its own copy of what it gave, which it may change freely.
    """
    return pickle.loads(_parsed(text))  # noqa: S301 - our own bytes, pickled just before from a parsed YAML file


@functools.lru_cache(maxsize=256)
def _parsed(text: str) -> bytes:
    """``text`` parsed, kept as bytes that give a fresh copy each time."""
    return pickle.dumps(_parse(text))


def _parse(text: str) -> Any:
    if LIBYAML:
        try:
            return yaml.load(text, Loader=yaml.CSafeLoader)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)
