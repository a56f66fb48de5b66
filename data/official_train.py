"""The paper's GRPO train split (``tdemin16/ProactiveBench``, split ``train``: parquet ``data/train-*``, 26,879
rows, images embedded) as the rows the reward reads.

:func:`load_official_train` opens the split (hub id, parquet folder or file, ``save_to_disk`` folder), checks that
the card's mapped columns are there, maps every row with :class:`data.official_rows.RowMapper` (reading the text
columns only) and attaches the image column without copying or decoding it: a row's image is decoded when the
row is read. ``qwen_conf`` / ``llava_conf`` / ``*_delta`` are not read (their meaning is not published);
:func:`content_sha256`, recorded with the row count in resolved_config.yaml, covers every column.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset, DatasetInfo, Features, Image, List, Value, load_dataset, load_from_disk
from datasets.table import InMemoryTable

from data.builders import GRPO_FEATURES
from data.official_rows import OfficialTrainError, RowMapper, Where

OFFICIAL_TRAIN_REPO = "tdemin16/ProactiveBench"
TRAIN_FILE_PATTERNS = ("data/train-*.parquet", "train-*.parquet", "*.parquet")

_KEY_VALUES = List({"key": Value("string"), "value": Value("float32")})
CARD_FEATURES = Features(
    {
        "prompt": GRPO_FEATURES["prompt"],
        "ground_truth": Value("string"),
        "proactive_actions": List(Value("string")),
        "options": List(Value("string")),
        "images": List(Image()),
        "qwen_conf": Value("float32"),
        "llava_conf": Value("float32"),
        "qwen_delta": _KEY_VALUES,
        "llava_delta": _KEY_VALUES,
    }
)
TEXT_COLUMNS = ("prompt", "ground_truth", "proactive_actions", "options")
IMAGE_COLUMN = "images"


@dataclass(frozen=True)
class OfficialTrain:
    """The GRPO rows of the train split and what resolved_config.yaml records about them."""

    rows: Dataset
    provenance: dict[str, Any] = field(default_factory=dict)


# --- opening the split ------------------------------------------------------------------------------
def open_train_split(source: str | Path, cache_dir: str | None = None) -> Dataset:
    """The raw split: a ``save_to_disk`` folder, a folder or file of parquet, or a hub dataset id (split train).

    A parquet folder is read as ``data/train-*.parquet`` (the hub layout), else ``train-*.parquet``, else every
    ``*.parquet`` in it. Parquet is converted once into the datasets cache (``cache_dir``) and memory-mapped.
    """
    path = Path(source)
    if path.is_dir() and (path / "dataset_dict.json").is_file():
        splits = load_from_disk(str(path))
        if "train" not in splits:
            raise OfficialTrainError(
                f"{source}: saved DatasetDict without a 'train' split ({', '.join(splits)})"
            )
        return splits["train"]
    if path.is_dir() and (path / "state.json").is_file():
        return load_from_disk(str(path))
    if path.is_dir():
        files = next((sorted(path.glob(p)) for p in TRAIN_FILE_PATTERNS if any(path.glob(p))), [])
        if not files:
            raise OfficialTrainError(
                f"{source}: no parquet files (looked for {', '.join(TRAIN_FILE_PATTERNS)}) and not a save_to_disk folder"
            )
        return _load_parquet(files, cache_dir)
    if path.is_file():
        if path.suffix != ".parquet":
            raise OfficialTrainError(f"{source}: expected a .parquet file, a folder or a hub dataset id")
        return _load_parquet([path], cache_dir)
    try:
        return load_dataset(str(source), split="train", cache_dir=cache_dir)
    except (FileNotFoundError, ConnectionError) as err:
        raise OfficialTrainError(
            f"train_data {str(source)!r}: no such local folder or file, and the hub dataset could not be loaded "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
        ) from None


def _load_parquet(files: Sequence[Path], cache_dir: str | None) -> Dataset:
    return load_dataset(
        "parquet", data_files={"train": [str(f) for f in files]}, split="train", cache_dir=cache_dir
    )


def _check_schema(where: Where, dataset: Dataset) -> Dataset:
    """The mapped columns are there and ``images`` is a list of images (a list of bytes/path structs, as parquet
    written without the datasets schema holds them, is cast to it). Their values are checked row by row."""
    missing = [c for c in (*TEXT_COLUMNS, IMAGE_COLUMN) if c not in dataset.column_names]
    if missing:
        raise where.fail(None, missing[0], "a column of the dataset card", f"columns {dataset.column_names}")
    images = dataset.features[IMAGE_COLUMN]
    inner = getattr(images, "feature", None)
    if isinstance(inner, dict) and {"bytes", "path"} <= set(inner):  # parquet written without the HF schema
        dataset = dataset.cast_column(IMAGE_COLUMN, List(Image()))
        images, inner = dataset.features[IMAGE_COLUMN], dataset.features[IMAGE_COLUMN].feature
    if not isinstance(images, List) or not isinstance(inner, Image):
        raise where.fail(None, IMAGE_COLUMN, "a list of images (List(Image()))", images)
    return dataset


# --- the whole split --------------------------------------------------------------------------------
def _text_rows(dataset: Dataset, batch_size: int = 1024) -> Iterator[dict[str, Any]]:
    """The card's text columns, row by row (the image column is never read here)."""
    for batch in dataset.select_columns(list(TEXT_COLUMNS)).iter(batch_size=batch_size):
        yield from (dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True))


def _image_chunks(where: Where, dataset: Dataset) -> list[pa.Array]:
    """Each row's one image (struct of bytes and path), as slices of the dataset's own Arrow buffers."""
    chunks, offset = [], 0
    for chunk in dataset.data.column(IMAGE_COLUMN).chunks:
        lengths = pc.fill_null(pc.list_value_length(chunk), 0)
        bad = pc.not_equal(lengths, 1)
        if pc.any(bad).as_py():
            first = pc.index(bad, True).as_py()
            found = chunk[first].as_py()
            raise where.fail(
                offset + first, IMAGE_COLUMN, "a list of one image", found and f"{len(found)} images"
            )
        images = chunk.flatten()
        data, path = images.flatten()
        empty = pc.and_(pc.is_null(data), pc.is_null(path))
        if pc.any(empty).as_py():
            raise where.fail(
                offset + pc.index(empty, True).as_py(), IMAGE_COLUMN, "an image with bytes or a path", None
            )
        chunks.append(images)
        offset += len(chunk)
    return chunks


def _grpo_table(columns: dict[str, list[Any]], images: list[pa.Array]) -> pa.Table:
    schema = GRPO_FEATURES.arrow_schema
    arrays = []
    for name in schema.names:
        kind = schema.field(name).type
        if name == "image":
            arrays.append(pa.chunked_array([chunk.cast(kind) for chunk in images], type=kind))
        else:
            arrays.append(pa.array(columns[name], type=kind))
    return pa.Table.from_arrays(arrays, schema=schema)


def map_train_split(dataset: Dataset, source: str) -> OfficialTrain:
    """The GRPO rows of a raw split as loaded (columns of :data:`CARD_FEATURES`, no indices mapping), every row
    checked; the image column is shared with ``dataset``, not copied or decoded."""
    where = Where(source)
    dataset = _check_schema(where, dataset)
    mapper = RowMapper(where)
    rows = [mapper.row(index, raw) for index, raw in enumerate(_text_rows(dataset))]
    if not rows:
        raise OfficialTrainError(f"{source}: the train split has no rows")
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    encodings = mapper.finish(columns["answer"], columns["accepted_categories"])
    table = _grpo_table(columns, _image_chunks(where, dataset))
    digest = content_sha256(dataset)
    # An explicit fingerprint: datasets would otherwise hash the whole in-memory table, images included.
    grpo = Dataset(
        InMemoryTable(table), info=DatasetInfo(features=GRPO_FEATURES), fingerprint=f"grpo-{digest[:40]}"
    )
    counts = Counter(scenario or "unknown" for scenario in columns["scenario"])
    provenance = {
        "source": source,
        "rows": len(grpo),
        "content_sha256": digest,
        "encodings": encodings,
        "scenarios": dict(sorted(counts.items())),
        "rows_with_hint": mapper.hints,
        "unread_columns": [c for c in dataset.column_names if c not in (*TEXT_COLUMNS, IMAGE_COLUMN)],
    }
    return OfficialTrain(grpo, provenance)


def load_official_train(
    source: str | Path = OFFICIAL_TRAIN_REPO, cache_dir: str | None = None
) -> OfficialTrain:
    """Open the split at ``source`` (:func:`open_train_split`) and map it (:func:`map_train_split`)."""
    return map_train_split(open_train_split(source, cache_dir), str(source))


# --- content hash -----------------------------------------------------------------------------------
def _record_batches(dataset: Dataset) -> Iterator[pa.RecordBatch]:
    """The dataset's record batches, read from its Arrow files one at a time (not memory-mapped)."""
    files = [f["filename"] for f in dataset.cache_files]
    if not files:
        yield from dataset.data.to_batches()
        return
    for name in files:
        with pa.OSFile(name) as handle:
            yield from pa.ipc.open_stream(handle)


def content_sha256(dataset: Dataset) -> str:
    """sha256 over every row in order: its non-image columns as canonical JSON, its images' count, paths and sizes,
    and the images' bytes (hashed from Arrow's buffers, not copied).

    Independent of how the split is stored (hub, parquet, save_to_disk) and of its record batches.
    """
    streams = {name: hashlib.sha256() for name in ("rows", "counts", "paths", "sizes", "bytes")}
    count = 0
    for batch in _record_batches(dataset):
        names = [n for n in batch.schema.names if n != IMAGE_COLUMN]
        for row in pa.Table.from_batches([batch]).select(names).to_pylist():
            streams["rows"].update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode() + b"\n")
        images = batch.column(IMAGE_COLUMN)
        image_bytes, paths = images.flatten().flatten()
        for name, values in (
            ("counts", pc.list_value_length(images)),
            ("paths", paths),
            ("sizes", pc.binary_length(image_bytes)),
        ):
            streams[name].update("".join(f"{json.dumps(v)}\n" for v in values.to_pylist()).encode())
        for value in image_bytes:
            if value.is_valid:
                streams["bytes"].update(value.as_buffer())
        count += batch.num_rows
    if count != len(dataset):
        raise RuntimeError(
            f"content hash read {count} rows from the Arrow files of a dataset of {len(dataset)}"
        )
    return hashlib.sha256(b"".join(stream.digest() for stream in streams.values())).hexdigest()
