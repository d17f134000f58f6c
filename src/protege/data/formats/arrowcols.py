"""Arrow columns <-> numpy arrays, with the shape checks the readers need (no pandas).

LeRobot stores a vector feature as a (fixed-size) list column and a shape-(1,) feature as a scalar
column; Minari's Arrow storage does the same for Box spaces. These helpers convert both ways and name
the file and column when a row holds the wrong number of values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from protege.errors import bad_input


def to_numpy(col: pa.Array | pa.ChunkedArray, shape: tuple[int, ...], source: Path | str, name: str) -> np.ndarray:
    """Column of N rows -> (N, *shape). Lists are flattened (any nesting); every row must hold prod(shape) values."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    n = len(col)
    per_row = int(np.prod(shape)) if shape else 1
    values = col
    while pa.types.is_list(values.type) or pa.types.is_large_list(values.type) or pa.types.is_fixed_size_list(values.type):
        values = values.flatten()
    if len(values) != n * per_row:
        found = f"{len(values) / n:g} values per row" if n else "no rows"
        raise bad_input(source, name, f"{per_row} values per row (shape {list(shape)})", found)
    if values.null_count:
        raise bad_input(source, name, "no missing values", f"{values.null_count} nulls")
    return values.to_numpy(zero_copy_only=False).reshape(n, *shape)


def from_numpy(arr: np.ndarray) -> pa.Array:
    """(N,) -> scalar column; (N, d1, ...) -> fixed-size list column of d1*... values (row-major)."""
    arr = np.ascontiguousarray(arr)
    if arr.ndim == 1:
        return pa.array(arr)
    flat = arr.reshape(len(arr), -1)
    return pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), flat.shape[1])


def pandas_index_metadata(index_col: str, columns: dict[str, str]) -> dict[bytes, bytes]:
    """Schema metadata that makes pandas.read_parquet use `index_col` as the index (LeRobot's tasks table).

    columns: name -> pandas type name ("unicode", "int64", ...), index column included.
    """
    cols = [{"name": name, "field_name": name, "pandas_type": t, "numpy_type": "object" if t == "unicode" else t,
             "metadata": None} for name, t in columns.items()]
    meta: dict[str, Any] = {"index_columns": [index_col], "column_indexes": [], "columns": cols,
                            "creator": {"library": "protege"}, "pandas_version": "2.2.0"}
    return {b"pandas": json.dumps(meta).encode()}
