"""A hierarchy (or grouped structure) of series built from the id columns, as a sparse summing matrix.

Levels are lists of id columns. The empty list is the **total**; the list of every id column is the
**bottom** level (the series of the dataset). The default is nested in column order: total -> first id
column -> first two -> ... -> bottom. Any set of levels may be asked for (``[[], ["State"], ["Industry"],
["State", "Industry"]]`` is a grouped structure); the bottom level is always added.

Nodes are ordered aggregates first (level by level, in the order given), the bottom series last, so the
summing matrix is ``S = [A; I]`` (the convention of Wickramasuriya et al. and of Nixtla's
hierarchicalforecast). ``S`` is a ``scipy.sparse.csr_matrix`` with one non-zero per bottom series and
level, so 100,000 bottom series with a few levels take a few megabytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from forecasting.errors import ConfigError

TOTAL = "total"
LEVEL = "level"


def level_name(cols) -> str:
    """The label of a level in outputs: its comma-joined id columns, ``total`` for the total."""
    return ",".join(cols) if cols else TOTAL


def parse_levels(text: str | None) -> list[list[str]] | None:
    """``";State;State,Industry"`` -> ``[[], ["State"], ["State", "Industry"]]``; None or blank -> None."""
    if text is None:
        return None
    return [[c.strip() for c in part.split(",") if c.strip()] for part in str(text).split(";")]


def default_levels(id_cols: list[str]) -> list[list[str]]:
    """Nested in column order: total, first id column, first two, ..., all of them."""
    return [list(id_cols[:k]) for k in range(len(id_cols) + 1)]


def check_levels(levels: list[list[str]] | None, id_cols: list[str]) -> list[list[str]]:
    """Validated levels (duplicates dropped, columns in id-column order, the bottom level last)."""
    if not id_cols:
        raise ConfigError("a hierarchy needs id columns (store, product …): with one series there is nothing to reconcile")
    levels = default_levels(id_cols) if levels is None else levels
    out: list[list[str]] = []
    for lv in levels:
        unknown = [c for c in lv if c not in id_cols]
        if unknown:
            raise ConfigError(f"hierarchy level '{level_name(lv)}' names column(s) {unknown} that are not id "
                              f"columns; the id columns are {', '.join(id_cols)}")
        if len(set(lv)) != len(lv):
            raise ConfigError(f"hierarchy level '{level_name(lv)}' names a column twice")
        canon = [c for c in id_cols if c in lv]
        if canon not in out and len(canon) < len(id_cols):
            out.append(canon)
    out.append(list(id_cols))
    return out


@dataclass
class Hierarchy:
    """Nodes of every level and the summing matrix that adds the bottom series up to them."""
    id_cols: list[str]
    levels: list[list[str]]            # aggregate levels in order, then the bottom level
    S: sp.csr_matrix                   # (n_nodes, n_bottom)
    nodes: pd.DataFrame                # per node (row order of S): unique_id, level, id columns (None where summed)
    bottom_ids: list[str]              # unique_id of the bottom series, column order of S
    level_of: np.ndarray = field(repr=False, default=None)   # per node: index into ``levels``

    @property
    def n_nodes(self) -> int:
        return int(self.S.shape[0])

    @property
    def n_bottom(self) -> int:
        return int(self.S.shape[1])

    @property
    def n_aggregate(self) -> int:
        return self.n_nodes - self.n_bottom

    @property
    def A(self) -> sp.csr_matrix:
        """The aggregation rows of ``S`` (aggregates x bottom)."""
        return self.S[: self.n_aggregate]

    @property
    def node_ids(self) -> list[str]:
        return self.nodes["unique_id"].tolist()

    @property
    def level_names(self) -> list[str]:
        return [level_name(lv) for lv in self.levels]

    def level_index(self, name_or_cols) -> int:
        name = name_or_cols if isinstance(name_or_cols, str) else level_name(name_or_cols)
        names = self.level_names
        if name not in names:
            raise ConfigError(f"'{name}' is not a level of this hierarchy; its levels: {', '.join(names)}")
        return names.index(name)

    def rows_of_level(self, k: int) -> np.ndarray:
        return np.flatnonzero(self.level_of == k)

    def is_nested(self) -> bool:
        """True when each level's columns include the previous level's (a strict hierarchy: one parent each)."""
        return all(set(self.levels[i]) <= set(self.levels[i + 1]) for i in range(len(self.levels) - 1))

    def parents(self, k: int) -> np.ndarray:
        """For each node of level ``k`` (k >= 1) of a nested hierarchy, the row of its parent at level k-1."""
        cache = self.__dict__.setdefault("_parents", {})
        if k not in cache:
            rows, up = self.rows_of_level(k), self.rows_of_level(k - 1)
            # a node's parent is the node of level k-1 that holds the node's first bottom series
            block = self.S[rows[0]: rows[-1] + 1]                 # a level's rows are contiguous
            first_bottom = block.indices[block.indptr[:-1]]
            owner = np.empty(self.n_bottom, dtype=np.int64)
            sub = self.S[up[0]: up[-1] + 1].tocoo()
            owner[sub.col] = up[sub.row]
            cache[k] = owner[first_bottom]
        return cache[k]

    def aggregate(self, bottom: np.ndarray) -> np.ndarray:
        """Every node's values from the bottom series' values (``(n_bottom, ...)`` -> ``(n_nodes, ...)``)."""
        b = np.asarray(bottom, dtype=float)
        flat = b.reshape(b.shape[0], -1)
        return np.asarray(self.S @ flat).reshape((self.n_nodes,) + b.shape[1:])


def build_hierarchy(keys: pd.DataFrame, id_cols: list[str], levels: list[list[str]] | None = None) -> Hierarchy:
    """The hierarchy of the bottom series in ``keys`` (``unique_id`` and the id columns, one row per series).

    ``levels``: lists of id columns (``[]`` = total); None = nested default. Works for 100,000 series:
    every level is a ``groupby(...).ngroup()`` and one sparse block."""
    levels = check_levels(levels, list(id_cols))
    keys = keys.reset_index(drop=True)
    m = len(keys)
    if m < 2:
        raise ConfigError("reconciliation needs at least two series (a hierarchy of one series has nothing to add up)")
    blocks, node_parts, level_of = [], [], []
    bottom_ids = keys["unique_id"].astype(str).tolist()
    for k, lv in enumerate(levels[:-1]):
        if lv:
            codes = keys.groupby(lv, sort=True, dropna=False).ngroup().to_numpy()
            firsts = keys.groupby(lv, sort=True, dropna=False).head(1)
            order = np.argsort(codes[firsts.index.to_numpy()], kind="stable")
            firsts = firsts.iloc[order]
        else:
            codes = np.zeros(m, dtype=np.int64)
            firsts = keys.iloc[:1]
        n_k = int(codes.max()) + 1
        blocks.append(sp.csr_matrix((np.ones(m), (codes, np.arange(m))), shape=(n_k, m)))
        part = pd.DataFrame({c: (firsts[c].to_numpy(dtype=object) if c in lv else [None] * n_k)
                             for c in id_cols})
        part.insert(0, "unique_id", [aggregate_id(lv, [firsts[c].iloc[i] for c in lv]) for i in range(n_k)])
        part.insert(1, LEVEL, level_name(lv))
        node_parts.append(part)
        level_of.append(np.full(n_k, k))
    bottom = keys[["unique_id"] + list(id_cols)].copy()
    bottom["unique_id"] = bottom["unique_id"].astype(str)
    for c in id_cols:
        bottom[c] = bottom[c].astype(object)
    bottom.insert(1, LEVEL, level_name(id_cols))
    node_parts.append(bottom)
    level_of.append(np.full(m, len(levels) - 1))
    blocks.append(sp.identity(m, format="csr"))
    S = sp.vstack(blocks, format="csr")
    nodes = pd.concat(node_parts, ignore_index=True)
    dup = nodes["unique_id"].duplicated()
    if dup.any():
        raise ConfigError(f"series name '{nodes['unique_id'][dup].iloc[0]}' is both a bottom series and an aggregate; "
                          "rename it in the data")
    return Hierarchy(list(id_cols), levels, S, nodes, bottom_ids, np.concatenate(level_of))


def aggregate_id(cols: list[str], values: list) -> str:
    """The series name of an aggregate node: ``total``, or ``State=NSW`` / ``State=NSW / Industry=Retail``."""
    if not cols:
        return TOTAL
    return " / ".join(f"{c}={v}" for c, v in zip(cols, values))
