"""Units of administration and the fields of procedures, with the targets a unit sets per field."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Boolean, Float, ForeignKey, String, Table, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from storage.tables.base import Base, Id


class UnitRow(Base):
    """An administrative unit (tỉnh, xã, phường…); units form a tree."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    form_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    # the unit's own targets (percent); None: the configured defaults (docs/METHOD.md, targets)
    target_satisfaction: Mapped[float | None] = mapped_column(Float)
    target_on_time: Mapped[float | None] = mapped_column(Float)
    # whether the unit issues documents in its own name (a commune, a ward) or not (a reception point): an
    # apology slip is issued by the nearest unit, itself or above it, that does
    issues_documents: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    place: Mapped[str | None] = mapped_column(String(100))  # the slip's date line: "Hoàn Kiếm, ngày …"
    signer_name: Mapped[str | None] = mapped_column(String(100))  # who signs its slips; None: the setting
    signer_title: Mapped[str | None] = mapped_column(String(200))  # "KT. CHỦ TỊCH|PHÓ CHỦ TỊCH"; None: the settings


class FieldRow(Base):
    """A field of procedures (lĩnh vực: Hộ tịch, Đất đai, Chứng thực…), named once, referred to by id."""

    __tablename__ = "fields"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class FieldTargetRow(Base):
    """A unit's own targets for one field (lĩnh vực), in percent; None: the unit's targets (docs/METHOD.md, targets)."""

    __tablename__ = "field_targets"
    __table_args__ = (UniqueConstraint("unit_id", "field"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(100))
    target_satisfaction: Mapped[float | None] = mapped_column(Float)
    target_on_time: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime]


UNITS = cast(Table, UnitRow.__table__)
FIELDS = cast(Table, FieldRow.__table__)
FIELD_TARGETS = cast(Table, FieldTargetRow.__table__)
