"""The collector's IN lists are padded to a power of two: the same rows come back, and few SQL texts exist."""

from pathlib import Path

import orjson

from mcp_distill.adapters import find_adapter
from mcp_distill.collect.repository import stored_ids, transaction
from mcp_distill.collect.repository.lists import CHUNK, in_lists, padded
from mcp_distill.collect.storing import BatchWriter
from mcp_distill.collect.summary import FileSummary
from mcp_distill.collect.workers import prepare_line
from mcp_distill.store import open_store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lakehouse_kb" / "distilled_facts.jsonl"


def test_padding_repeats_the_last_value_up_to_a_power_of_two():
    assert padded(["a"]) == ["a"]
    assert padded(["a", "b", "c"]) == ["a", "b", "c", "c"]
    assert len(padded(list(range(300)))) == 512
    lists = list(in_lists(list(range(CHUNK + 3))))
    assert [len(values) for _, values in lists] == [CHUNK, 4]
    assert sorted({v for _, values in lists for v in values}) == list(range(CHUNK + 3))
    assert list(in_lists([])) == []


def test_stored_ids_finds_exactly_the_stored_ones_whatever_the_list_length(tmp_path):
    template = orjson.loads(EXAMPLE.read_bytes().splitlines()[0])
    lines = [orjson.dumps({**template, "run_id": f"r{i}", "text": f"fact number {i}"}) + b"\n" for i in range(7)]
    src = tmp_path / EXAMPLE.name
    src.write_bytes(b"".join(lines))
    store = open_store(tmp_path / "d.db")
    adapter = find_adapter(src, template, whole_file=False)
    items, offset = [], 0
    for raw in lines:
        item = prepare_line(str(src), adapter, offset, raw)
        offset += len(raw)
        if item is not None and item[0] == "record":
            items.append(item)
    assert len(items) == 7
    writer = BatchWriter(store, None)
    with transaction(store) as conn:
        writer.store_items(conn, src, items[:5], FileSummary(str(src), adapter.stream))
    ids = [item[2].record_id for item in items]
    with transaction(store) as conn:
        for n in range(1, 8):
            assert stored_ids(conn, [*ids[:n], "nope"]) == set(ids[:min(n, 5)])
    store.close()
