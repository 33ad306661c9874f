"""The in-memory copy of the binary codes (mcp_distill.search.codes) follows writes by reading again only
the rows they touched: after inserts, updates, metadata changes and deletes, from this connection or
another, it holds exactly what a full reload reads, and searches the same. Real SQLite file, real
sqlite-vec, the real ONNX embedder."""

from __future__ import annotations

import numpy as np
import pytest
from test_vector_exact import corpus

from mcp_distill.search import codes as search_codes
from mcp_distill.search.codes import CodeMatrix, code_matrix
from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.search.index import Doc, Index
from mcp_distill.search.repository import legs as legs_db
from mcp_distill.search.vector import _pad8
from mcp_distill.store import Store, open_store

FULL_LOAD = CodeMatrix.load.__func__  # type: ignore[attr-defined]


@pytest.fixture
def index(store: Store, embedder: OnnxMiniLM) -> Index:
    idx = Index(store, embedder, "playbooks")
    idx.upsert(corpus())
    return idx


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the full reloads of the codes."""
    calls: list[int] = []
    def counting(cls: type[CodeMatrix], store: Store, token: str | None, batch: int = 50_000) -> CodeMatrix:
        calls.append(1)
        return FULL_LOAD(cls, store, token, batch)

    monkeypatch.setattr(CodeMatrix, "load", classmethod(counting))
    return calls


def live_rows(matrix: CodeMatrix) -> dict[int, tuple]:
    """Each live document's code, filter values (by name) and int8 vector, whatever its row."""
    names = {column: {v: k for k, v in table.items()} for column, table in matrix.names.items()}
    dead = set(matrix.dead.tolist())
    return {int(doc): (matrix.codes[i].tobytes(), names["collection"][int(matrix.collection[i])],
                       names["task_type"][int(matrix.task_type[i])], names["source"][int(matrix.source[i])],
                       float(matrix.ts_epoch[i]), matrix.q8[i].tobytes(), float(matrix.q8_scale[i]))
            for i, doc in enumerate(matrix.docs) if i not in dead}


TAG_SETS = (("t0",), ("t2",), ("t1", "t2"), ("garden",))


def tagged_docs(matrix: CodeMatrix, store: Store, tags: tuple[str, ...]) -> set[int]:
    rows = matrix.passing({}, matrix.tag_mask(store, tags))
    return {int(d) for d in matrix.docs[rows]} if rows is not None else set()


def assert_same_as_a_full_reload(index: Index, embedder: OnnxMiniLM, carried: bool = False) -> CodeMatrix:
    """``carried``: the tag masks were built before the writes, so the refresh must have carried them."""
    held = code_matrix(index.store)
    fresh = FULL_LOAD(CodeMatrix, index.store, held.token)
    assert live_rows(held) == live_rows(fresh)
    if carried:
        assert set(held.tagsets.tags()) == {"t0", "t1", "t2", "garden"}  # carried over, not read again
    for tags in TAG_SETS:  # the tag masks carried over the refresh are those a full reload reads
        assert tagged_docs(held, index.store, tags) == tagged_docs(fresh, index.store, tags), tags
    for text in ("the login page breaks", "a giraffe left the zoo", "disk full in production"):
        qvec = embedder.embed([text])[0]
        code = legs_db.query_code(index.store, _pad8(qvec).tobytes())
        for where in ({"collection": "playbooks"}, {"collection": "playbooks", "task_type": "perf"}):
            assert held.knn(code, where, 12, qvec, 40) == fresh.knn(code, where, 12, qvec, 40)
            assert held.knn(code, where, 500) == fresh.knn(code, where, 500)  # every live document, none dead
        # and the distances are sqlite-vec's own, for the rows a refresh appended or overwrote too
        padded = _pad8(qvec).tobytes()
        ours = held.knn(code, {"collection": "playbooks"}, 20)
        theirs = legs_db.knn(index.store, padded, 20, [("collection = ?", "playbooks")])
        assert legs_db.hamming(index.store, padded, ours) == legs_db.hamming(index.store, padded, theirs)
    return held


def test_writes_are_followed_row_by_row(index: Index, embedder: OnnxMiniLM, loads: list[int]) -> None:
    first = code_matrix(index.store)
    for tags in TAG_SETS:
        tagged_docs(first, index.store, tags)  # the masks are built now, so each refresh must carry them
    assert loads == [1]
    index.upsert([Doc(id="giraffe", title="Giraffe escaped from the zoo", text="A tall animal left its enclosure."),
                  Doc(id="d001", title="kubernetes rollout stalls", text="Pods wait for a volume."),  # new text
                  Doc(id="d002", title=corpus()[2].title, text=corpus()[2].text, task_type="deploy",  # metadata only
                      source="review", tags=["t1", "garden"], ts="2026-11-01T00:00:00Z")])  # t2 -> t1 + garden
    held = assert_same_as_a_full_reload(index, embedder, carried=True)
    d002 = int(index.store.query_one("SELECT id FROM search_docs WHERE doc_id = 'd002'")["id"])
    assert d002 in tagged_docs(held, index.store, ("garden",)) and d002 not in tagged_docs(held, index.store, ("t2",))
    assert held.seq > first.seq and len(held.docs) == len(first.docs) + 1
    assert index.search("a giraffe escaped from the zoo", k=1, mode="semantic").hits[0].id == "giraffe"
    index.delete(["giraffe", "d005", "d010"])
    held = assert_same_as_a_full_reload(index, embedder, carried=True)
    assert len(held.dead) == 3
    index.upsert([Doc(id="giraffe", title="Giraffe escaped again", text="The tall animal is out once more.")])
    assert_same_as_a_full_reload(index, embedder, carried=True)
    assert index.search("the giraffe is out again", k=1, mode="semantic").hits[0].id == "giraffe"
    hits = index.search("timeouts on the staging cluster", k=300, mode="semantic").hits
    assert not {"d005", "d010"} & {h.id for h in hits}
    assert loads == [1], "every refresh above read only the rows written"


def test_a_write_from_another_connection_is_read_row_by_row(index: Index, embedder: OnnxMiniLM,
                                                          loads: list[int]) -> None:
    code_matrix(index.store)
    other = open_store(index.store.path)
    try:
        Index(other, embedder, "playbooks").upsert([Doc(id="owl", title="An owl nests in the server room",
                                                        text="Feathers in the rack fans.")])
    finally:
        other.close()
    assert_same_as_a_full_reload(index, embedder)
    assert loads == [1]


def test_writes_that_do_not_list_their_rows_or_too_many_reload_in_full(
        index: Index, embedder: OnnxMiniLM, loads: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    code_matrix(index.store)
    index.reindex()  # drops the vec0 table (an unlisted change), then writes every row again
    assert_same_as_a_full_reload(index, embedder)
    assert len(loads) == 2
    monkeypatch.setattr(legs_db, "LOG_KEEP", 3)
    held = code_matrix(index.store)
    index.upsert([Doc(id=f"n{i}", title=f"new note {i}", text="About a printer.") for i in range(6)])
    assert legs_db.code_changes(index.store, held.seq)[1] is None  # the log no longer reaches back to it
    assert_same_as_a_full_reload(index, embedder)
    assert len(loads) == 3
    monkeypatch.setattr(search_codes, "REFRESH_SHARE", 0.01)  # 4 changed rows of 306 are now "many"
    index.upsert([Doc(id=f"m{i}", title=f"another note {i}", text="About a scanner.") for i in range(4)])
    assert_same_as_a_full_reload(index, embedder)
    assert len(loads) == 4


def test_the_arrays_grow_with_spare_room_not_one_copy_per_write(index: Index, embedder: OnnxMiniLM) -> None:
    code_matrix(index.store)
    grown = []
    for i in range(12):
        index.upsert([Doc(id=f"x{i}", title=f"note {i} on the nightly build", text="It failed.")])
        held = code_matrix(index.store)
        grown.append(id(held.spare))
    assert len(set(grown)) == 1  # one allocation served all twelve appends
    assert np.array_equal(np.sort(held.docs), np.sort(assert_same_as_a_full_reload(index, embedder).docs))
