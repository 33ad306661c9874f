"""A published run id holding a placeholder is found again in the store by the text around it, on both
backends (SQLite file, PostgreSQL on a real server): the lookup is a prefix range scan plus matching in
Python, so no backend's pattern syntax (GLOB's ``*?[``, LIKE's ``%_``) leaks into what a key means."""

from __future__ import annotations

from datetime import UTC, datetime

from mcp_distill.collect.repository import save_scores, scored_run_keys_matching
from mcp_distill.datasets.lookups import Resolver
from mcp_distill.models import ScoredRun
from mcp_distill.redact.aliases import Publisher
from mcp_distill.redact.edges import redaction_key

TOKEN = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ3bC5"
KEYS = [
    f"run:alpha-{TOKEN}", f"run:alpha-{TOKEN}-tail", "run:alpha", f"run:ALPHA-{TOKEN}",
    f"run:al*pha-{TOKEN}", f"run:al%_[x]-{TOKEN}", f"run:beta-{TOKEN}", f"task:alpha-{TOKEN}",
    "run:alpha-é-ü", "run:alphb",
]


def _scored(store) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    save_scores(store, [(ScoredRun(evidence_run_id=k, category="accepted", reasons=["test"], scored_at=when,
                                   scorer_version="t1"), 1) for k in KEYS])


def test_keys_are_matched_by_their_parts_in_order(any_store):
    _scored(any_store)
    assert scored_run_keys_matching(any_store, ["run:alpha-", ""]) == sorted(
        [f"run:alpha-{TOKEN}", f"run:alpha-{TOKEN}-tail", "run:alpha-é-ü"])
    assert scored_run_keys_matching(any_store, ["run:alpha-", "-tail"]) == [f"run:alpha-{TOKEN}-tail"]
    assert scored_run_keys_matching(any_store, ["run:alpha-", "-", "ü"]) == ["run:alpha-é-ü"]
    # pattern characters of GLOB and LIKE mean themselves, case counts
    assert scored_run_keys_matching(any_store, ["run:al*pha-", ""]) == [f"run:al*pha-{TOKEN}"]
    assert scored_run_keys_matching(any_store, ["run:al%_[x]-", ""]) == [f"run:al%_[x]-{TOKEN}"]
    assert scored_run_keys_matching(any_store, ["run:ALPHA-", ""]) == [f"run:ALPHA-{TOKEN}"]
    # a key that starts with the placeholder: every key is a candidate, the tail decides
    assert scored_run_keys_matching(any_store, ["", f"-{TOKEN}"]) == sorted(k for k in KEYS if k.endswith(f"-{TOKEN}"))
    assert scored_run_keys_matching(any_store, ["run:alpha"]) == ["run:alpha"]
    assert scored_run_keys_matching(any_store, ["run:gamma", ""]) == []


def test_the_resolver_finds_the_raw_run_of_a_published_id(any_store):
    _scored(any_store)
    publish = Publisher(redaction_key(any_store))
    for raw in (f"run:alpha-{TOKEN}", f"run:al*pha-{TOKEN}", f"run:al%_[x]-{TOKEN}", f"task:alpha-{TOKEN}"):
        published = publish.id(raw)
        assert TOKEN not in published and "[REDACTED:github_token:" in published
        assert Resolver(any_store).run(published) == raw
    # a placeholder of a secret the store never held resolves to nothing: the published id stays as it is
    stranger = Publisher(redaction_key(any_store)).id(f"run:alpha-{TOKEN[:-1]}X")
    assert "[REDACTED:github_token:" in stranger
    assert Resolver(any_store).run(stranger) == stranger
