"""A deterministic, local TPC-H-style data generator (simplified; nothing is downloaded).

Tables have the real TPC-H column names and types the suite's queries need, with value
distributions that follow the spirit of the specification (dates, flags, priorities, market
segments, part types, comment words) so every query selects a realistic fraction of rows.
It is *not* dbgen: values differ, and ``partsupp`` is not generated.

Generation runs on the cluster, one task per file (see :func:`ensure_tpch`), and is cached
under ``<data_dir>/tpch/<version>-sf<SF>/<table>/part-NNNNN.parquet``. Chunking depends only
on the scale factor, so the same SF yields byte-identical data on every cluster::

    url = ensure_tpch(client, "/tmp/data", 0.01)
    dd.read_parquet(f"{url}/lineitem")
"""

from __future__ import annotations

import functools
import math
from typing import Any

import fsspec  # type: ignore[import-untyped, unused-ignore]
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from daskbench.suite._datagen import ensure_dataset, join_url

__all__ = ["TABLES", "VERSION", "ensure_tpch", "table_rows"]

VERSION = "v1"
SEED = 20_240_601
TABLES = ("region", "nation", "supplier", "customer", "part", "orders", "lineitem")

_BASE_ROWS = {"supplier": 10_000, "customer": 150_000, "part": 200_000, "orders": 1_500_000}
_ORDERS_PER_CHUNK = 150_000  # ~600k lineitem rows, ~80 MB in memory
_DIM_ROWS_PER_CHUNK = 500_000
_MIN_ORDER_CHUNKS = 4

_START = np.datetime64("1992-01-01")
_LAST_ORDER = np.datetime64("1998-08-02")  # so every line ships by the end of 1998
_CURRENT = np.datetime64("1995-06-17")  # lines received by then are returned/accepted

REGIONS = ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]
NATIONS = [  # (name, region key): the 25 nations of TPC-H
    ("ALGERIA", 0), ("ARGENTINA", 1), ("BRAZIL", 1), ("CANADA", 1), ("EGYPT", 4),
    ("ETHIOPIA", 0), ("FRANCE", 3), ("GERMANY", 3), ("INDIA", 2), ("INDONESIA", 2),
    ("IRAN", 4), ("IRAQ", 4), ("JAPAN", 2), ("JORDAN", 4), ("KENYA", 0),
    ("MOROCCO", 0), ("MOZAMBIQUE", 0), ("PERU", 1), ("CHINA", 2), ("ROMANIA", 3),
    ("SAUDI ARABIA", 4), ("VIETNAM", 2), ("RUSSIA", 3), ("UNITED KINGDOM", 3),
    ("UNITED STATES", 1),
]  # fmt: skip
SEGMENTS = ["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"]
PRIORITIES = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]
SHIPMODES = ["AIR", "FOB", "MAIL", "RAIL", "REG AIR", "SHIP", "TRUCK"]
INSTRUCTIONS = ["COLLECT COD", "DELIVER IN PERSON", "NONE", "TAKE BACK RETURN"]
_TYPE_1 = ["ECONOMY", "LARGE", "MEDIUM", "PROMO", "SMALL", "STANDARD"]
_TYPE_2 = ["ANODIZED", "BRUSHED", "BURNISHED", "PLATED", "POLISHED"]
_TYPE_3 = ["BRASS", "COPPER", "NICKEL", "STEEL", "TIN"]
_CONTAINER_1 = ["JUMBO", "LG", "MED", "SM", "WRAP"]
_CONTAINER_2 = ["BAG", "BOX", "CAN", "CASE", "DRUM", "JAR", "PACK", "PKG"]
_COLOURS = [
    "almond",
    "azure",
    "blue",
    "coral",
    "cream",
    "green",
    "ivory",
    "khaki",
    "lime",
    "navy",
    "olive",
    "peach",
    "red",
    "tan",
]
_WORDS = np.array(
    [
        "accounts",
        "bold",
        "carefully",
        "deposits",
        "even",
        "express",
        "final",
        "furiously",
        "ideas",
        "ironic",
        "packages",
        "pending",
        "quickly",
        "regular",
        "requests",
        "silent",
        "slyly",
        "special",
        "theodolites",
        "unusual",
    ],
    dtype=object,
)
_ALNUM = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789 "), dtype=object)


def table_rows(table: str, sf: float) -> int:
    """Rows of a table at scale factor ``sf`` (lineitem is random, ~4 lines per order)."""
    if table == "region":
        return len(REGIONS)
    if table == "nation":
        return len(NATIONS)
    return max(int(_BASE_ROWS[table] * sf), 1)


def _chunks(rows: int, per_chunk: int, minimum: int = 1) -> list[tuple[int, int]]:
    n = max(math.ceil(rows / per_chunk), minimum)
    bounds = [rows * i // n for i in range(n + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(n) if bounds[i + 1] > bounds[i]]


def _plan(sf: float) -> list[tuple[str, int, int, int]]:
    """(table, chunk number, first row, end row) of every file, in a fixed order."""
    plan: list[tuple[str, int, int, int]] = [("region", 0, 0, 5), ("nation", 0, 0, 25)]
    for table in ("supplier", "customer", "part"):
        chunks = _chunks(table_rows(table, sf), _DIM_ROWS_PER_CHUNK)
        plan += [(table, i, lo, hi) for i, (lo, hi) in enumerate(chunks)]
    chunks = _chunks(table_rows("orders", sf), _ORDERS_PER_CHUNK, _MIN_ORDER_CHUNKS)
    plan += [("orders", i, lo, hi) for i, (lo, hi) in enumerate(chunks)]
    return plan


def _rng(table: str, chunk: int) -> np.random.Generator:
    return np.random.default_rng([SEED, TABLES.index(table), chunk])


def _text(rng: np.random.Generator, n: int, lo: int = 4, hi: int = 9) -> list[str]:
    lengths = rng.integers(lo, hi, n)
    words = _WORDS[rng.integers(0, len(_WORDS), int(lengths.sum()))]
    ends = np.cumsum(lengths)
    return [" ".join(words[e - k : e]) for e, k in zip(ends, lengths, strict=True)]


def _address(rng: np.random.Generator, n: int) -> list[str]:
    chars = _ALNUM[rng.integers(0, len(_ALNUM), (n, 16))]
    return ["".join(row).strip() or "x" for row in chars]


def _phone(rng: np.random.Generator, nations: np.ndarray) -> list[str]:
    a, b, c = (
        rng.integers(100, 1000, len(nations)),
        rng.integers(100, 1000, len(nations)),
        (rng.integers(1000, 10000, len(nations))),
    )
    return [f"{n + 10}-{x}-{y}-{z}" for n, x, y, z in zip(nations, a, b, c, strict=True)]


def _money(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    return np.round(rng.uniform(lo, hi, n), 2)


def retail_price(partkey: np.ndarray) -> np.ndarray:
    """Price of a part, a pure function of its key (so lineitem needs no lookup)."""
    return np.round(900 + (partkey * 7_919 % 100_000) / 100, 2)


def _dates(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[ms]")


def _dimension(table: str, chunk: int, lo: int, hi: int, sf: float) -> pd.DataFrame:
    rng, n, keys = _rng(table, chunk), hi - lo, np.arange(lo + 1, hi + 1, dtype=np.int64)
    if table == "region":
        return pd.DataFrame(
            {"r_regionkey": np.arange(5), "r_name": REGIONS, "r_comment": _text(rng, 5)}
        )
    if table == "nation":
        return pd.DataFrame(
            {
                "n_nationkey": np.arange(25),
                "n_name": [name for name, _ in NATIONS],
                "n_regionkey": [region for _, region in NATIONS],
                "n_comment": _text(rng, 25),
            }
        )
    nations = rng.integers(0, 25, n)
    if table in ("supplier", "customer"):
        p = table[0]
        frame = {
            f"{p}_{table[:4] if p == 's' else 'cust'}key": keys,
            f"{p}_name": [f"{table.capitalize()}#{k:09d}" for k in keys],
            f"{p}_address": _address(rng, n),
            f"{p}_nationkey": nations,
            f"{p}_phone": _phone(rng, nations),
            f"{p}_acctbal": _money(rng, n, -999.99, 9999.99),
        }
        if table == "customer":
            frame["c_mktsegment"] = np.array(SEGMENTS, dtype=object)[rng.integers(0, 5, n)]
        frame[f"{p}_comment"] = _text(rng, n)
        return pd.DataFrame(frame)
    # part
    colours = np.array(_COLOURS, dtype=object)[rng.integers(0, len(_COLOURS), (n, 3))]
    mfgr = rng.integers(1, 6, n)
    return pd.DataFrame(
        {
            "p_partkey": keys,
            "p_name": [" ".join(c) for c in colours],
            "p_mfgr": [f"Manufacturer#{m}" for m in mfgr],
            "p_brand": [f"Brand#{m}{b}" for m, b in zip(mfgr, rng.integers(1, 6, n), strict=True)],
            "p_type": [
                f"{_TYPE_1[a]} {_TYPE_2[b]} {_TYPE_3[c]}"
                for a, b, c in zip(
                    rng.integers(0, 6, n), rng.integers(0, 5, n), rng.integers(0, 5, n), strict=True
                )
            ],
            "p_size": rng.integers(1, 51, n),
            "p_container": [
                f"{_CONTAINER_1[a]} {_CONTAINER_2[b]}"
                for a, b in zip(rng.integers(0, 5, n), rng.integers(0, 8, n), strict=True)
            ],
            "p_retailprice": retail_price(keys),
        }
    )


def _orders_and_lineitem(
    chunk: int, lo: int, hi: int, sf: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng, n = _rng("orders", chunk), hi - lo
    orderkeys = np.arange(lo + 1, hi + 1, dtype=np.int64)
    n_customer, n_part = table_rows("customer", sf), table_rows("part", sf)
    n_supplier = table_rows("supplier", sf)
    # as in TPC-H, a third of the customers (keys divisible by 3) never order
    custkeys = rng.integers(1, n_customer + 1, n)
    custkeys = np.where(custkeys % 3 == 0, np.where(custkeys > 1, custkeys - 1, 1), custkeys)
    span = int((_LAST_ORDER - _START).astype(int))
    orderdays = _START + rng.integers(0, span + 1, n).astype("timedelta64[D]")

    lines = rng.integers(1, 8, n)
    m = int(lines.sum())
    l_orderkey = np.repeat(orderkeys, lines)
    l_orderday = np.repeat(orderdays, lines)
    starts = np.repeat(np.cumsum(lines) - lines, lines)
    linenumber = np.arange(m) - starts + 1
    partkey = rng.integers(1, n_part + 1, m)
    quantity = rng.integers(1, 51, m).astype(np.float64)
    extended = np.round(quantity * retail_price(partkey), 2)
    discount = rng.integers(0, 11, m) / 100
    tax = rng.integers(0, 9, m) / 100
    shipday = l_orderday + rng.integers(1, 122, m).astype("timedelta64[D]")
    commitday = l_orderday + rng.integers(30, 91, m).astype("timedelta64[D]")
    receiptday = shipday + rng.integers(1, 31, m).astype("timedelta64[D]")
    returned = np.where(rng.random(m) < 0.5, "R", "A")
    returnflag = np.where(receiptday <= _CURRENT, returned, "N")
    open_line = shipday > _CURRENT
    lineitem = pd.DataFrame(
        {
            "l_orderkey": l_orderkey,
            "l_partkey": partkey,
            "l_suppkey": rng.integers(1, n_supplier + 1, m),
            "l_linenumber": linenumber,
            "l_quantity": quantity,
            "l_extendedprice": extended,
            "l_discount": discount,
            "l_tax": tax,
            "l_returnflag": returnflag.astype(object),
            "l_linestatus": np.where(open_line, "O", "F").astype(object),
            "l_shipdate": _dates(shipday),
            "l_commitdate": _dates(commitday),
            "l_receiptdate": _dates(receiptday),
            "l_shipinstruct": np.array(INSTRUCTIONS, dtype=object)[rng.integers(0, 4, m)],
            "l_shipmode": np.array(SHIPMODES, dtype=object)[rng.integers(0, 7, m)],
        }
    )
    charge = extended * (1 + tax) * (1 - discount)
    position = np.repeat(np.arange(n), lines)
    open_lines = np.bincount(position, weights=open_line, minlength=n)
    status = np.where(open_lines == lines, "O", np.where(open_lines == 0, "F", "P"))
    orders = pd.DataFrame(
        {
            "o_orderkey": orderkeys,
            "o_custkey": custkeys,
            "o_orderstatus": status.astype(object),
            "o_totalprice": np.round(np.bincount(position, weights=charge, minlength=n), 2),
            "o_orderdate": _dates(orderdays),
            "o_orderpriority": np.array(PRIORITIES, dtype=object)[rng.integers(0, 5, n)],
            "o_clerk": [f"Clerk#{c:09d}" for c in rng.integers(1, max(int(1000 * sf), 2), n)],
            "o_shippriority": np.zeros(n, dtype=np.int64),
            "o_comment": _text(rng, n),
        }
    )
    return orders, lineitem


def _write(url: str, table: str, chunk: int, frame: pd.DataFrame) -> None:
    fs, path = fsspec.core.url_to_fs(join_url(url, table))
    fs.makedirs(path, exist_ok=True)
    with fs.open(f"{path}/part-{chunk:05d}.parquet", "wb") as f:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), f)


def _write_part(url: str, i: int, *, sf: float) -> None:
    table, chunk, lo, hi = _plan(sf)[i]
    if table == "orders":
        orders, lineitem = _orders_and_lineitem(chunk, lo, hi, sf)
        _write(url, "orders", chunk, orders)
        _write(url, "lineitem", chunk, lineitem)
    else:
        _write(url, table, chunk, _dimension(table, chunk, lo, hi, sf))


def ensure_tpch(client: Any, data_dir: str, sf: float) -> str:
    """URL of the TPC-H tables at scale factor ``sf``, generating them on first use."""
    key = f"{VERSION}-sf{sf:g}"
    write = functools.partial(_write_part, sf=sf)
    return ensure_dataset(client, data_dir, "tpch", key, write, len(_plan(sf)), metadata={"sf": sf})
