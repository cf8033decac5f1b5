"""One record per dataset: every fact about a built-in set is declared once, in its source module.

A source module (``core/data/mnist.py``, ...) declares its sets with :func:`register`; the
package's ``__init__`` imports the sources in the order the app and the command line list them,
so :data:`RECORDS` holds them in that order. Everything that needs a dataset fact (the loader's
memo, the accepted spellings, the CLI's help, the tables' titles, how an upload is prepared) reads
it from here instead of keeping its own list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.data.dataset import ImageDataset

FOLDER_PREFIX = "folder:"
"""``folder:PATH`` loads any tree of class sub-folders; it is not a record (the path is the name)."""

UploadPreparation = Literal["fit", "pad28", "digits8"]


@dataclass(frozen=True)
class DatasetRecord:
    """Everything the code knows about one built-in dataset."""

    name: str  # registry name: the CLI's --dataset and the run folder's <dataset> level
    title: str  # how tables and pages name it
    class_names: tuple[str, ...]  # in label-id order
    loader: Callable[[DatasetRecord, Path, bool], ImageDataset]  # (record, data folder, download allowed)
    layout: str  # where its files sit under the data folder, for error messages; "" when it needs none
    grey: bool  # stored with one channel (else RGB)
    image_size: int  # side in pixels at model resolution
    upload: UploadPreparation = "fit"  # how an upload is made to look like its images (core.images)
    aliases: tuple[str, ...] = ()  # further accepted spellings, after lower-casing and '-' -> '_'

    @property
    def mode(self) -> str:
        """The PIL mode its images are decoded in."""
        return "L" if self.grey else "RGB"

    @property
    def needs_data_dir(self) -> bool:
        """False for sets bundled with a library, whose arrays do not depend on the data folder."""
        return bool(self.layout)

    def load(self, data_dir: Path, download: bool) -> ImageDataset:
        return self.loader(self, data_dir, download)


RECORDS: dict[str, DatasetRecord] = {}


def register(record: DatasetRecord) -> DatasetRecord:
    """Add ``record`` to :data:`RECORDS` (import order is listing order); returns it for a module constant."""
    if record.name in RECORDS:
        raise ValueError(f"dataset {record.name!r} is registered twice")
    RECORDS[record.name] = record
    return record


def canonical_name(name: str) -> str:
    """Registry names are case-insensitive and accept '-' for '_' (``fashion-mnist``) and each record's aliases."""
    if name.lower().startswith(FOLDER_PREFIX):
        return name  # a path keeps its case
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    for record in RECORDS.values():
        if key in record.aliases:
            return record.name
    return key


def find_record(name: str | None) -> DatasetRecord | None:
    """The record for any accepted spelling of a built-in name; None for folders, unknown names and None."""
    return RECORDS.get(canonical_name(name)) if name else None


def valid_names_text() -> str:
    return ", ".join(RECORDS) + ", or folder:PATH (a folder of class sub-folders)"


def layout_hint() -> str:
    """Where every downloadable set's files go: the tail of each "not found" message."""
    return ("Set GEOM_DATA_DIR or pass --data-dir to a folder laid out as: "
            + ", ".join(r.layout for r in RECORDS.values() if r.layout))
