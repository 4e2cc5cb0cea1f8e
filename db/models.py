"""The database schema: photos and their embeddings, guides, renders with full parameters, verdicts.

Types are portable (no SQLite- or PostgreSQL-only columns) so any SQLAlchemy URL works.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

_RAW = "fsb64:"  # marks a path whose bytes are not UTF-8, stored as base64 of those bytes


class FsPath(TypeDecorator):
    """A file path as the OS gives it: names that are not UTF-8 (Python holds them with
    surrogate escapes) are stored as base64 of their bytes and come back unchanged."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: object) -> str | None:
        if value is None:
            return None
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return _RAW + base64.b64encode(os.fsencode(value)).decode("ascii")

    def process_result_value(self, value: str | None, dialect: object) -> str | None:
        if value is not None and value.startswith(_RAW):
            return os.fsdecode(base64.b64decode(value[len(_RAW):]))
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


# Ids are never reused: a deleted render's id stays dead, so bookmarks, links and `tag N` never
# reach other work (SQLite's AUTOINCREMENT; PostgreSQL's sequences never go back anyway).
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class ImageFile:
    """Columns shared by photos and guides: one row per distinct content (SHA-256)."""

    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(FsPath)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Photo(ImageFile, Base):
    """An input photo; the same bytes are one photo wherever they live."""

    __tablename__ = "photos"
    embeddings: Mapped[list[Embedding]] = relationship(back_populates="photo", cascade="all, delete-orphan")
    renders: Mapped[list[Render]] = relationship(back_populates="photo", foreign_keys="Render.photo_id")


class Embedding(Base):
    """A photo's pooled, L2-normalised features in one backbone's space (never mixed across backbones)."""

    __tablename__ = "embeddings"
    __table_args__ = (UniqueConstraint("photo_id", "backbone"), NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    backbone: Mapped[str] = mapped_column(String(64), index=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    photo: Mapped[Photo] = relationship(back_populates="embeddings")


class Guide(ImageFile, Base):
    """A guide image whose pixels fill what the mask drops."""

    __tablename__ = "guides"


class Render(Base):
    """One render: photo, guide, the full `RenderParams` as JSON, backbone, output and timings."""

    __tablename__ = "renders"
    __table_args__ = (Index("ix_renders_job", "photo_id", "guide_id", "params_hash"),
                      Index("ix_renders_output", "output_path"), NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    guide_id: Mapped[int | None] = mapped_column(ForeignKey("guides.id", ondelete="SET NULL"))
    params: Mapped[str] = mapped_column(Text)
    params_version: Mapped[int] = mapped_column(Integer, default=1)  # renderer.params.PARAMS_VERSION when stored
    params_original: Mapped[str | None] = mapped_column(Text)  # the text first stored, when a migration rewrote it
    params_hash: Mapped[str] = mapped_column(String(64))
    backbone: Mapped[str | None] = mapped_column(String(64))
    style_model: Mapped[str | None] = mapped_column(String(64))  # the network of the style stage, if any
    layer: Mapped[str | None] = mapped_column(String(64), index=True)  # copied from params, for filtering
    mask: Mapped[str | None] = mapped_column(String(64), index=True)
    output_path: Mapped[str] = mapped_column(FsPath)
    timings: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    photo: Mapped[Photo] = relationship(back_populates="renders", foreign_keys=[photo_id])
    guide: Mapped[Guide | None] = relationship()
    verdicts: Mapped[list[Verdict]] = relationship(back_populates="render", cascade="all, delete-orphan")


class Curator(Base):
    __tablename__ = "curators"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


VERDICTS = ("good", "bad")  # what a verdict can say


class Verdict(Base):
    """A curator's judgement of a render. A later verdict by the same curator supersedes
    the earlier one (`current` false) — history is kept."""

    __tablename__ = "verdicts"
    __table_args__ = (
        CheckConstraint("verdict IN ('good', 'bad')", name="ck_verdict_kind"),
        CheckConstraint("score IS NULL OR (score >= 1 AND score <= 5)", name="ck_verdict_score"),
        Index("ix_verdicts_current", "render_id", "current"),
        # one current verdict per curator and render, even when two taggers race
        Index("ux_verdicts_one_current", "render_id", "curator_id", unique=True,
              sqlite_where=text('"current"'), postgresql_where=text('"current"')),
        NEVER_REUSE_IDS,
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    render_id: Mapped[int] = mapped_column(ForeignKey("renders.id", ondelete="CASCADE"))
    curator_id: Mapped[int] = mapped_column(ForeignKey("curators.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(4))
    score: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    render: Mapped[Render] = relationship(back_populates="verdicts")
    curator: Mapped[Curator] = relationship()


class Change(Base):
    """Counters of removals (embeddings deleted, verdicts withdrawn): with the newest row id they
    tell a cache (the FAISS index, the learnt taste) in O(1) that the database moved on."""

    __tablename__ = "changes"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
