"""Building blocks shared by the generators: seeded random streams, vectorized text, summaries.

Every generator works in fixed-size chunks, each with its own random stream derived from
`(seed, dataset, table, chunk)`, so the output depends only on the seed and the sizes asked
for, never on timing or on how the work was split. Columns are built with numpy and pyarrow
compute; no Python code runs per row.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Ints = NDArray[np.int64]

T = TypeVar("T")

CHUNK_ROWS = 100_000
"""Rows per generated chunk; part of the output's identity (changing it changes the data)."""

US = 1_000_000
"""Microseconds per second: timestamps are int64 microseconds since the epoch, UTC."""

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def rng_for(seed: int, *key: int) -> np.random.Generator:
    """A random stream for one piece of work, independent of every other piece."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) % 2**64, *key]))


def chunks(total: int, size: int = CHUNK_ROWS) -> list[tuple[int, int, int]]:
    """`(index, offset, rows)` of the chunks that make up `total` rows."""
    return [(i, start, min(size, total - start)) for i, start in enumerate(range(0, total, size))]


def scaled(base: int, scale: float) -> int:
    """`base` rows times `scale`, at least one."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return max(1, round(base * scale))


def epoch_us(moment: datetime | date) -> int:
    """Microseconds since the epoch of a datetime (naive means UTC) or of midnight UTC of a date."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * US + moment.microsecond


def ts_array(us: Ints, tz: str | None = "UTC") -> pa.Array:
    """int64 microseconds as an Arrow timestamp array."""
    return pa.array(us, type=pa.timestamp("us", tz=tz))


def text(values: list[str]) -> pa.Array:
    """A small vocabulary as an Arrow string array, for `pick`."""
    return pa.array(values, type=pa.string())


def pick(vocab: pa.Array, index: Ints) -> pa.Array:
    """`vocab[index]` for an array of indices."""
    return vocab.take(pa.array(index, type=pa.int64()))


def join(*parts: pa.Array | str, sep: str = "") -> pa.Array:
    """Element-wise concatenation of string arrays and scalars."""
    return pc.binary_join_element_wise(*parts, sep)


def int_text(values: Ints) -> pa.Array:
    """Integers as decimal strings."""
    return pa.array(values, type=pa.int64()).cast(pa.string())


def padded(values: Ints, width: int) -> pa.Array:
    """Non-negative integers as zero-padded strings of at least `width` digits."""
    return pc.utf8_lpad(int_text(values), width=width, padding="0")


def float_text(values: NDArray[np.float64]) -> pa.Array:
    """Floats the way Python's `repr` writes them (`"48.0"`, `"52.260000000000005"`)."""
    shortest = pa.array(values, type=pa.float64()).cast(pa.string())
    integral = pc.invert(pc.match_substring_regex(shortest, r"[.eEn]"))
    return pc.if_else(integral, join(shortest, ".0"), shortest)


def cents_text(cents: Ints) -> pa.Array:
    """Integer cents as `"12.30"` strings."""
    sign = pc.if_else(pa.array(cents < 0), "-", "")
    whole = np.abs(cents)
    return join(sign, int_text(whole // 100), ".", padded(whole % 100, 2))


def money(cents: Ints, precision: int = 12) -> pa.Array:
    """Integer cents as an exact decimal128(precision, 2) array."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # sign-extend to 128 bits
    return pa.Array.from_buffers(pa.decimal128(precision, 2), len(cents), [None, pa.py_buffer(words.tobytes())])


def hex_text(rng: np.random.Generator, n: int, nbytes: int, *, upper: bool = False, dashes: bool = False) -> pa.Array:
    """Random hex strings of `nbytes` bytes; `dashes` formats 16 bytes as a UUID (8-4-4-4-12)."""
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    digits = np.empty((n, nbytes * 2), dtype=np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 15]
    if upper:
        digits = np.where(digits >= ord("a"), digits - 32, digits).astype(np.uint8)
    if dashes:
        if nbytes != 16:
            raise ValueError("a UUID has 16 bytes")
        digits = np.insert(digits, [8, 12, 16, 20], ord("-"), axis=1)
    width = digits.shape[1]
    return pa.array(np.ascontiguousarray(digits).view(f"S{width}").ravel()).cast(pa.string())


def weighted(rng: np.random.Generator, weights: NDArray[np.float64] | list[float], n: int) -> Ints:
    """`n` indices drawn with the given (unnormalised) weights."""
    w = np.asarray(weights, dtype=np.float64)
    cumulative = np.cumsum(w / w.sum())
    picks = np.searchsorted(cumulative, rng.random(n), side="right")
    return np.minimum(picks, len(w) - 1).astype(np.int64)


def decimal_of_cents(total_cents: int) -> Decimal:
    """An exact money total from integer cents."""
    return Decimal(int(total_cents)).scaleb(-2)


@dataclass
class Summary:
    """What a generator produced: independent truth for tests and benchmarks.

    Attributes:
        dataset: The generator's name (`shop`, `totesys`, `glossier`, `customers`, `online_retail`).
        rows: Rows written per table or entity.
        files: Full URLs of the files written, in order.
        totals: Checksums: exact sums of money columns and other figures a consumer can recompute.
        checksums: sha256 of each written file's bytes, by URL.
        seconds: Wall time of the generation.
    """

    dataset: str
    rows: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    _started: float = field(default_factory=time.perf_counter, repr=False)

    def add_rows(self, table: str, rows: int) -> None:
        """Count `rows` more rows for `table`."""
        self.rows[table] = self.rows.get(table, 0) + int(rows)

    def add_total(self, name: str, value: Any) -> None:
        """Add `value` to the running total `name`."""
        self.totals[name] = self.totals.get(name, 0) + value

    def add_file(self, url: str, data: bytes | Sequence[bytes]) -> None:
        """Record a written file (its bytes, or the pieces they were written in) and its checksum."""
        digest = hashlib.sha256()
        for piece in [data] if isinstance(data, bytes) else data:
            digest.update(piece)
        self.files.append(url)
        self.checksums[url] = digest.hexdigest()

    def finish(self) -> Summary:
        """Stop the clock; returns self."""
        self.seconds = time.perf_counter() - self._started
        return self

    @property
    def total_rows(self) -> int:
        """Rows written over all tables."""
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        """Throughput of the whole generation."""
        return self.total_rows / self.seconds if self.seconds > 0 else 0.0


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield `items` in order while a background thread computes up to `depth` ahead.

    Generating a chunk (numpy, Arrow compute) and writing the previous one (a database or
    object store waiting on I/O) both release the GIL, so the two overlap on separate cores.
    """
    done = object()
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                slots.put(item)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            slots.put(_Failure(exc))
        else:
            slots.put(done)

    worker = threading.Thread(target=produce, name="shopflow-demo-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                slots.get_nowait()
            except queue.Empty:
                worker.join(0.01)


@dataclass(frozen=True)
class _Failure:
    error: BaseException


def hashed_uniform(seed: int, ids: Ints, salt: int) -> NDArray[np.float64]:
    """Uniform numbers in [0, 1) that depend only on `(seed, id, salt)`: an id draws the same value in any batch.

    splitmix64's finaliser over the id, so attributes of an entity (a customer's name, their
    n-th address) can be recomputed wherever the entity shows up again.
    """
    mix = np.uint64((int(seed) * 0x2545F4914F6CDD1D + int(salt) * 0x9E3779B97F4A7C15) % 2**64)
    with np.errstate(over="ignore"):
        x = ids.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9) + mix
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def hashed_index(seed: int, ids: Ints, salt: int, size: int) -> Ints:
    """Indices in `[0, size)` that depend only on `(seed, id, salt)`."""
    return np.minimum((hashed_uniform(seed, ids, salt) * size).astype(np.int64), size - 1)


def hashed_weighted(seed: int, ids: Ints, salt: int, weights: NDArray[np.float64] | list[float]) -> Ints:
    """Indices drawn with `weights` that depend only on `(seed, id, salt)`."""
    w = np.asarray(weights, dtype=np.float64)
    cumulative = np.cumsum(w / w.sum())
    picks = np.searchsorted(cumulative, hashed_uniform(seed, ids, salt), side="right")
    return np.minimum(picks, len(w) - 1).astype(np.int64)


def seconds_text(seconds: Ints, sep: str = " ") -> pa.Array:
    """Seconds since the epoch as `YYYY-MM-DD HH:MM:SS` (or with `T` as `sep`)."""
    naive = pa.array(seconds, type=pa.timestamp("s")).cast(pa.string())
    return naive if sep == " " else pc.replace_substring(naive, " ", sep)
