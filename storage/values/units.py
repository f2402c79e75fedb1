"""An administrative unit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    """An administrative unit."""

    id: int
    code: str
    name: str
    parent_id: int | None
    form_id: str | None
    target_satisfaction: float | None = None
    target_on_time: float | None = None
    issues_documents: bool = True  # False: a reception point, whose slips its nearest issuing parent issues
    place: str | None = None  # the place name of its documents' date line; None: from its name
    signer_name: str | None = None  # who signs its slips; None: the deployment's setting
    signer_title: str | None = None  # the signature's position lines, "|" between them; None: the settings
