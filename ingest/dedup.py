"""Repeated and near-duplicate passages by MinHash + LSH: candidate pairs only, never all pairs.

A text is compared as the set of its lower-case ASCII words and numbers (so CJK-only text has
no words and is never a duplicate). A MinHash signature estimates the Jaccard similarity of
two such sets; cutting it into bands and bucketing equal bands finds the pairs worth checking
in near-linear time. The compromise: a pair is found with a probability, not a certainty, so
the bands are sized to make a miss at the threshold rare (the arithmetic is by each constant),
and every candidate is then checked exactly (in-document, and across documents at question
time, where both texts are at hand) or by the full signature (`group_near_duplicates`, for
callers holding signatures only). Word hashes are CRC-32 and the permutations come from a
fixed seed, because keys stored in an index must be the same in every process (Python's
`hash()` is salted per run). `KeyTable` holds the keys of a whole index as numbers, so a
chunk's candidates are found with eight binary searches, not a scan.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"[a-z0-9]+")

# Two paragraphs sharing this share of their word sets are one paragraph told twice: the
# Strategy's two repeats in IV (3) score 0.92 and 0.56 (a re-translation under a new opening
# sentence); every other pair of its paragraphs scores 0.28 or less.
DUPLICATE_JACCARD = 0.5
# Shorter paragraphs (list items, headings) share most of their few words by chance.
MIN_DUPLICATE_WORDS = 20

# Across documents we look for the same passage re-issued, not a paraphrase: a copy with a few
# words or one figure changed scores about 0.9 or more (50 distinct words, one replaced: 49/51
# = 0.96; three replaced: 0.89), the Strategy's re-translated repeat 0.56. 0.8 keeps the
# first and leaves the second.
NEAR_DUPLICATE_JACCARD = 0.8

# In-document candidates: 72 bands of 4 rows. A pair at Jaccard s shares one band with
# probability 1 - (1 - s**4)**72; at s = 0.5 that is 1 - (15/16)**72 = 1 - 0.0096 = 0.990.
# Fewer rows would need fewer bands (r = 2: 17 bands) but make unrelated paragraphs candidates
# too often: the Strategy's paragraph pairs have a median Jaccard of 0.09 (stop words), and
# r = 4 makes 1.1 % of its pairs candidates where r = 2 makes 15 %.
_ROWS_PER_BAND = 4
_BANDS = 72
NUM_PERMUTATIONS = _ROWS_PER_BAND * _BANDS  # 288

# Cross-document keys: the first 24 values as 8 bands of 3 rows, few enough to store with each
# chunk. At s = 0.8 a pair shares a key with probability 1 - (1 - 0.8**3)**8 = 1 - 0.488**8
# = 0.997; at s = 0.3 with 0.20 and at s = 0.1 with 0.008, so a look-up returns few strangers.
_KEY_ROWS_PER_BAND = 3
_KEY_BANDS = 8

# Universal hashing h(x) = (a*x + b) mod p with p the Mersenne prime 2**31 - 1: a < 2**31 and
# x < 2**32 keep a*x + b below 2**63, exact in uint64, and every value fits in uint32.
_PRIME = (1 << 31) - 1
# Fixed: changing the seed (or NUM_PERMUTATIONS) changes every key already stored in an index.
_SEED = 20060101


@dataclass(frozen=True)
class Signature:
    """MinHash of a text's word set: for each of NUM_PERMUTATIONS hash functions, the least
    hash of any of its words. `values` is empty for a text without words."""

    values: tuple[int, ...]

    def similarity(self, other: Signature) -> float:
        """Estimated Jaccard similarity: the share of positions where the two minima agree
        (standard error √(s(1-s)/288), 0.024 at s = 0.8); 0.0 if either text has no words."""
        if not self.values or not other.values:
            return 0.0
        agree = np.count_nonzero(np.array(self.values) == np.array(other.values))
        return float(agree) / len(self.values)


def word_set(text: str) -> frozenset[str]:
    """The words a text is compared by: lower-case runs of ASCII letters and digits."""
    return frozenset(_WORD.findall(text.lower()))


def jaccard(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    """|a ∩ b| / |a ∪ b| of two word sets; 0.0 when both are empty."""
    shared = len(a & b)
    union = len(a) + len(b) - shared
    return shared / union if union else 0.0


def find_repeats(texts: Sequence[str]) -> dict[int, int]:
    """Map the index of each repeated text to the index of its first occurrence.

    A text repeats an earlier one when both have at least MIN_DUPLICATE_WORDS distinct words
    and their word sets' Jaccard similarity is at least DUPLICATE_JACCARD. Each repeat points
    at the earliest such text that is not itself a repeat. Only pairs sharing a MinHash band
    are checked, exactly; a pair at the threshold is missed with probability under 1 %, a more
    similar pair far less often (at 0.6: 1e-4). Deterministic: the same texts give the same map.
    """
    words = [word_set(text) for text in texts]
    eligible = [index for index, found in enumerate(words) if len(found) >= MIN_DUPLICATE_WORDS]
    if len(eligible) < 2:
        return {}
    signatures = _signature_matrix([words[index] for index in eligible])
    earlier_candidates = _candidate_pairs(signatures, _BANDS, _ROWS_PER_BAND)
    repeats: dict[int, int] = {}
    for later, candidates in sorted(earlier_candidates.items()):
        for earlier in sorted(candidates):
            original, copy = eligible[earlier], eligible[later]
            if original in repeats:
                continue
            if jaccard(words[copy], words[original]) >= DUPLICATE_JACCARD:
                repeats[copy] = original
                break
    return repeats


def signature(text: str) -> Signature:
    """The MinHash signature of a text's word set (see `word_set`)."""
    words = word_set(text)
    if not words:
        return Signature(())
    return Signature(tuple(_signature_matrix([words])[0].tolist()))


def near_duplicate_keys(text: str) -> tuple[str, ...]:
    """Short strings to store with a chunk so near-duplicates can be looked up by equality.

    Two texts whose word sets have Jaccard similarity 0.8 share at least one key with
    probability 0.997 (0.2 at 0.3). Each key starts with its band number ("3:…"), so keys of
    different bands never match and all of them can share one list. A text without words has
    no keys. Check what a look-up returns with `group_near_duplicates`.
    """
    return _keys(signature(text))


def group_near_duplicates(
    signatures: Mapping[str, Signature], threshold: float = NEAR_DUPLICATE_JACCARD
) -> list[tuple[str, ...]]:
    """Groups of ids whose texts are near-duplicates, each in the mapping's order; singletons
    are left out.

    Two ids are linked when they share a `near_duplicate_keys` key and their signatures'
    estimated similarity is at least `threshold`; a group is a connected set of links, so A and
    C can share a group through B without being linked themselves. Words include numbers: a
    passage with one figure changed ("by 2010" for "by 2020") still groups with the original,
    which is what dropping repeated passages wants, but a caller that shows one passage per
    group hides the changed figure; compare `word_set`s where figures matter.
    """
    ids = list(signatures)
    buckets: dict[str, list[int]] = {}
    for index, chunk_id in enumerate(ids):
        for key in _keys(signatures[chunk_id]):
            buckets.setdefault(key, []).append(index)
    parent = list(range(len(ids)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    checked: set[tuple[int, int]] = set()
    for members in buckets.values():
        for position, later in enumerate(members):
            for earlier in members[:position]:
                if (earlier, later) in checked:
                    continue
                checked.add((earlier, later))
                if signatures[ids[earlier]].similarity(signatures[ids[later]]) >= threshold:
                    parent[root(later)] = root(earlier)
    groups: dict[int, list[str]] = {}
    for index, chunk_id in enumerate(ids):
        groups.setdefault(root(index), []).append(chunk_id)
    return [tuple(group) for group in groups.values() if len(group) > 1]


@lru_cache(maxsize=1)
def _permutations() -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    rng = np.random.default_rng(_SEED)
    a = rng.integers(1, _PRIME, size=NUM_PERMUTATIONS, dtype=np.uint64)
    b = rng.integers(0, _PRIME, size=NUM_PERMUTATIONS, dtype=np.uint64)
    return a, b


def _signature_matrix(word_sets: Sequence[Collection[str]]) -> npt.NDArray[np.uint32]:
    """One MinHash row per non-empty word set, each word hashed once (CRC-32) for all rows."""
    a, b = _permutations()
    word_hash: dict[str, int] = {}
    rows = np.empty((len(word_sets), NUM_PERMUTATIONS), dtype=np.uint32)
    for row, words in enumerate(word_sets):
        hashes = np.fromiter(
            (word_hash.setdefault(word, zlib.crc32(word.encode())) for word in words),
            dtype=np.uint64,
            count=len(words),
        )
        permuted = (hashes[:, None] * a[None, :] + b[None, :]) % np.uint64(_PRIME)
        rows[row] = permuted.min(axis=0)
    return rows


def _candidate_pairs(
    signatures: npt.NDArray[np.uint32], bands: int, rows_per_band: int
) -> dict[int, set[int]]:
    """For each row sharing a band with an earlier row, those earlier rows.

    A band's values are folded into one uint64 (wrapping arithmetic) so that a sort finds the
    equal ones; two different bands folding to the same number only add a candidate, which
    the caller checks anyway.
    """
    count = signatures.shape[0]
    banded = signatures[:, : bands * rows_per_band].reshape(count, bands, rows_per_band)
    folded = np.zeros((count, bands), dtype=np.uint64)
    for row in range(rows_per_band):
        folded = folded * np.uint64(0x100000001B3) + banded[:, :, row].astype(np.uint64)
    candidates: dict[int, set[int]] = {}
    for band in range(bands):
        order = np.argsort(folded[:, band], kind="stable")
        ordered = folded[order, band]
        # Runs of equal keys are buckets; a run of one (most of them) makes no candidate.
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        ends = np.r_[starts[1:], count]
        shared = ends - starts > 1
        for start, end in zip(starts[shared].tolist(), ends[shared].tolist()):
            bucket = sorted(order[start:end].tolist())
            for position, later in enumerate(bucket[1:], start=1):
                candidates.setdefault(later, set()).update(bucket[:position])
    return candidates


def _keys(signature: Signature) -> tuple[str, ...]:
    if not signature.values:
        return ()
    keys = []
    for band in range(_KEY_BANDS):
        rows = signature.values[band * _KEY_ROWS_PER_BAND : (band + 1) * _KEY_ROWS_PER_BAND]
        digest = zlib.crc32(np.array(rows, dtype="<u4").tobytes())
        keys.append(f"{band}:{digest:08x}")
    return tuple(keys)


class KeyTable:
    """The `near_duplicate_keys` of many texts (rows 0..n-1) as numbers, for look-ups by row.

    Held per row: its eight key digests (uint32, band = column) and whether it has keys; per
    band: the rows sorted by that band's digest (int32) and the sorted digests (uint32). That
    is 97 bytes a row (a million chunks: 97 MB), against ~650 for the BM25 index beside it,
    and a look-up is eight binary searches plus the rows found: O(log n + sharers).
    """

    _FILE = "near_keys.npz"

    def __init__(
        self,
        digests: npt.NDArray[np.uint32],
        present: npt.NDArray[np.bool_],
        order: npt.NDArray[np.int32],
        ordered: npt.NDArray[np.uint32],
    ) -> None:
        self._digests = digests
        self._present = present
        self._order = order
        self._ordered = ordered

    @classmethod
    def build(cls, keys: Sequence[Sequence[str]]) -> KeyTable:
        """A table of these rows' keys (each `near_duplicate_keys(text)`, possibly empty).
        Raises ValueError for a key that `near_duplicate_keys` would not make."""
        count = len(keys)
        digests = np.zeros((count, _KEY_BANDS), dtype=np.uint32)
        present = np.zeros(count, dtype=np.bool_)
        for row, row_keys in enumerate(keys):
            if not row_keys:
                continue
            digests[row] = parse_keys(row_keys)
            present[row] = True
        order = np.argsort(digests, axis=0, kind="stable").T.astype(np.int32)
        ordered = np.take_along_axis(digests.T, order.astype(np.int64), axis=1)
        return cls(digests, present, order, np.ascontiguousarray(ordered))

    def __len__(self) -> int:
        return len(self._present)

    def sharing(self, row: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The rows that share at least one key with `row` (without `row` itself) and how many
        keys each shares, most shared first, then by row: a copy at Jaccard 0.95 matches each
        band with probability 0.95**3 = 0.86 (about 7 of the 8 keys), a stranger at 0.3 with
        0.027 (rarely more than one), so the likely copies come first. Empty for a row without
        keys. Raises IndexError for a row out of range."""
        empty = np.zeros(0, dtype=np.int64)
        if not self._present[row]:
            return empty, empty
        found = []
        for band in range(_KEY_BANDS):
            value = self._digests[row, band]
            column = self._ordered[band]
            low = np.searchsorted(column, value, side="left")
            high = np.searchsorted(column, value, side="right")
            found.append(self._order[band, low:high])
        rows, counts = np.unique(np.concatenate(found), return_counts=True)
        wanted = (rows != row) & self._present[rows]
        rows, counts = rows[wanted].astype(np.int64), counts[wanted].astype(np.int64)
        order = np.lexsort((rows, -counts))
        return rows[order], counts[order]

    def save(self, folder: Path) -> list[str]:
        """Write the table into folder; returns the names of the files written."""
        with (folder / self._FILE).open("wb") as handle:
            np.savez(
                handle, digests=self._digests, present=self._present, order=self._order,
                ordered=self._ordered,
            )
        return [self._FILE]

    @classmethod
    def load(cls, folder: Path, rows: int) -> KeyTable:
        """Read a table saved by `save`; ValueError unless it holds `rows` consistent rows."""
        try:
            with np.load(folder / cls._FILE, allow_pickle=False) as saved:
                digests, present = saved["digests"], saved["present"]
                order, ordered = saved["order"], saved["ordered"]
        except (KeyError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"the near-duplicate key table cannot be read ({error})") from None
        if not (
            digests.shape == (rows, _KEY_BANDS) and digests.dtype == np.uint32
            and present.shape == (rows,) and present.dtype == np.bool_
            and order.shape == ordered.shape == (_KEY_BANDS, rows)
            and order.dtype == np.int32 and ordered.dtype == np.uint32
            and (rows == 0 or (0 <= int(order.min()) and int(order.max()) < rows))
            and np.array_equal(np.take_along_axis(digests.T, order.astype(np.int64), axis=1), ordered)
            and bool(np.all(np.diff(ordered.astype(np.int64), axis=1) >= 0))
        ):
            raise ValueError("the near-duplicate key table does not fit together")
        return cls(digests, present, order, ordered)


def parse_keys(keys: Sequence[str]) -> npt.NDArray[np.uint32]:
    """The digests of one text's keys, band by band ("3:0a1b2c3d" → 0x0a1b2c3d at column 3).
    Raises ValueError unless they are the eight band-numbered keys `near_duplicate_keys` makes."""
    if len(keys) != _KEY_BANDS:
        raise ValueError(f"expected {_KEY_BANDS} near-duplicate keys, got {len(keys)}")
    digests = np.zeros(_KEY_BANDS, dtype=np.uint32)
    for band, key in enumerate(keys):
        number, _, digest = key.partition(":")
        if number != str(band) or len(digest) != 8:
            raise ValueError(f"not a near-duplicate key of band {band}: {key!r}")
        digests[band] = int(digest, 16)
    return digests
