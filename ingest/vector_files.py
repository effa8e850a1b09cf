"""The vector files of an embedded Chroma database, checked before chromadb reads them.

Chroma keeps each collection's vectors as an hnswlib graph in `<database>/<segment id>/`:
    header.bin             the graph's sizes (100 bytes, hnswlib persistence version 1)
    data_level0.bin        per element: its level-0 links, its vector, its label
    length.bin             per element: the norm of the vector as given (vectors are
                           returned multiplied by it)
    link_lists.bin         per element: a byte count, then its links on the upper levels
    index_metadata.pickle  labels ↔ record ids, written with the others whenever the
                           segment is flushed (after ~1,000 writes)
hnswlib trusts these files: a truncated or overwritten one crashed `citeqa ask` with SIGSEGV,
and a zeroed length.bin made every returned vector zero, so answers came back wrong without a
word (tests/faults/test_damaged_files.py). `check_vector_files()` reads them as hnswlib will
and raises StoreDamagedError naming the first file that cannot be what hnswlib wrote. A
segment folder without index_metadata.pickle was never flushed: Chroma rebuilds that graph
from the log in chroma.sqlite3 and never reads its placeholder files, so neither does this
(a segment whose header counts elements was flushed, pickle or not).

The compromise: this checks structure (sizes, link targets, labels, finite numbers), not
checksums, since Chroma writes these files and not citeqa. Damage that keeps every size, link
and number plausible would pass; whole-file damage (cut short, zeroed, overwritten, deleted,
replaced by a folder) does not. The layout is chroma-core/hnswlib's (hnswalg.h, HEADER_FIELDS,
persistDirty, loadLinkLists) as used by chromadb 1.5.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ingest.errors import StoreDamagedError

# HEADER_FIELDS in order: PERSISTENCE_VERSION (int), offsetLevel0_, max_elements_,
# cur_element_count, size_data_per_element_, label_offset_, offsetData_ (size_t), maxlevel_
# (int), enterpoint_node_ (unsigned int), maxM_, maxM0_, M_ (size_t), mult_ (double),
# ef_construction_ (size_t); written field by field, so no padding.
_HEADER = struct.Struct("<iQQQQQQiIQQQdQ")
_VERSION = 1
_LINK_COUNT_MASK = 0xFFFF  # the low 16 bits of a link list's first word count its links
# hnswlib draws levels with mult = 1/ln(M): level 32 would need ~16^32 elements.
_MAX_LEVEL = 32
_FILES = ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin")
FLUSHED_MARK = "index_metadata.pickle"


class _Damaged(Exception):
    """One file of a segment is not what hnswlib wrote; args: (file name, what is wrong)."""


def check_vector_files(database: Path) -> None:
    """Check every flushed vector segment under `database` (an embedded Chroma folder).

    Raises StoreDamagedError naming the damaged file and `citeqa ingest --rebuild`; returns
    quietly when every graph Chroma will load is whole (or none was flushed yet).
    """
    if not database.is_dir():
        return
    for folder in sorted(database.iterdir()):
        if not folder.is_dir() or not _is_flushed(folder):
            continue
        try:
            _check_segment(folder)
        except _Damaged as damage:
            name, what = damage.args
            raise StoreDamagedError(
                f"{folder / name} is damaged ({what}): run `citeqa ingest --rebuild FILES`, "
                f"which moves {database.name} aside to {database.name}.damaged-<UTC time> and "
                "builds the index anew"
            ) from None


def _is_flushed(folder: Path) -> bool:
    """Whether Chroma will load this segment's files: it has the pickle written with every
    flush, or a readable header that counts elements (a flushed segment that lost its pickle).
    A placeholder's header counts none."""
    if (folder / FLUSHED_MARK).exists():
        return True
    try:
        header = (folder / "header.bin").read_bytes()
    except OSError:
        return False
    if len(header) != _HEADER.size:
        return False
    version, _, _, count, *_ = _HEADER.unpack(header)
    return bool(version == _VERSION and count > 0)


def _read(folder: Path, name: str) -> bytes:
    path = folder / name
    if not path.is_file():
        raise _Damaged(name, "missing" if not path.exists() else "not a file")
    try:
        return path.read_bytes()
    except OSError as error:
        raise _Damaged(name, f"cannot be read: {error.strerror}") from None


def _check_segment(folder: Path) -> None:
    files = {name: _read(folder, name) for name in _FILES}
    # Read by Chroma, which reports its own errors for it; what can be seen without
    # unpickling: a pickle opens with the PROTO opcode and ends with STOP.
    mark = _read(folder, FLUSHED_MARK)
    if not (mark.startswith(b"\x80") and mark.endswith(b".")):
        raise _Damaged(FLUSHED_MARK, "not a whole pickle")
    header = files["header.bin"]
    if len(header) != _HEADER.size:
        raise _Damaged("header.bin", f"{len(header)} bytes, not {_HEADER.size}")
    (
        version, offset_level0, max_elements, count, element_bytes, label_offset, data_offset,
        max_level, entry_point, max_links, max_links0, _m, mult, _ef,
    ) = _HEADER.unpack(header)
    links0_bytes = 4 + 4 * max_links0
    if (
        version != _VERSION
        or offset_level0 != 0
        or not 0 < max_links <= max_links0 <= 4096
        or data_offset != links0_bytes
        or label_offset <= data_offset
        or (label_offset - data_offset) % 4
        or element_bytes != label_offset + 8
        or count > max_elements
        or not -1 <= max_level <= _MAX_LEVEL
        or (count > 0 and (entry_point >= count or max_level < 0))
        or not (np.isfinite(mult) and mult > 0)
    ):
        raise _Damaged("header.bin", "its sizes do not describe an hnswlib graph")

    level0 = files["data_level0.bin"]
    if len(level0) % element_bytes or not count * element_bytes <= len(level0) <= max_elements * element_bytes:
        raise _Damaged("data_level0.bin", f"{len(level0)} bytes for {count} elements of {element_bytes}")
    rows = np.frombuffer(level0, dtype=np.uint8, count=count * element_bytes).reshape(count, element_bytes)
    words = rows[:, :links0_bytes].copy().view("<u4")
    links = words[:, 0] & _LINK_COUNT_MASK
    used = np.arange(max_links0)[None, :] < links[:, None]
    vectors = rows[:, data_offset:label_offset].copy().view("<f4")
    labels = rows[:, label_offset:].copy().view("<u8")[:, 0]
    if (
        (links > max_links0).any()
        or (words[:, 1:][used] >= count).any()
        or not np.isfinite(vectors).all()
        or len(np.unique(labels)) != count
    ):
        raise _Damaged("data_level0.bin", "links, vectors or labels out of range")

    lengths_raw = files["length.bin"]
    if len(lengths_raw) % 4 or not count * 4 <= len(lengths_raw) <= max_elements * 4:
        raise _Damaged("length.bin", f"{len(lengths_raw)} bytes for {count} elements")
    lengths = np.frombuffer(lengths_raw, dtype="<f4", count=count)
    # A zero vector has length 0 (a chunk without sentences), but not every vector of a graph.
    if count and (not np.isfinite(lengths).all() or (lengths < 0).any() or not (lengths > 0).any()):
        raise _Damaged("length.bin", "vector lengths that are negative, not numbers, or all zero")

    _check_upper_links(files["link_lists.bin"], count, max_links, max_level)


def _check_upper_links(data: bytes, count: int, max_links: int, max_level: int) -> None:
    """link_lists.bin: for each element, a byte count (levels × one link list) and its lists."""
    list_bytes = 4 + 4 * max_links
    offset = 0
    for _ in range(count):
        if offset + 4 > len(data):
            raise _Damaged("link_lists.bin", "ends before its last element")
        (size,) = struct.unpack_from("<I", data, offset)
        offset += 4
        if not size:
            continue
        if size % list_bytes or size // list_bytes > max_level or offset + size > len(data):
            raise _Damaged("link_lists.bin", "an element's link lists do not fit the graph")
        lists = np.frombuffer(data, dtype="<u4", count=size // 4, offset=offset).reshape(-1, max_links + 1)
        counts = lists[:, 0] & _LINK_COUNT_MASK
        used = np.arange(max_links)[None, :] < counts[:, None]
        if (counts > max_links).any() or (lists[:, 1:][used] >= count).any():
            raise _Damaged("link_lists.bin", "links out of range")
        offset += size
    if offset != len(data):
        raise _Damaged("link_lists.bin", f"{len(data) - offset} bytes more than its elements hold")
