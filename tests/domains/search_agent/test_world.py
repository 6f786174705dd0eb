"""The generated QA world: deterministic, answerable from its supporting documents, with chained two-hop
questions and near-name distractors, read by the loaders, built by a resumable stage, big enough to tell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_configs import tiny_config

from polyrlaif.datasets.qa.world import QAWorld, QAWorldConfig, build_world, write_world
from polyrlaif.datasets.qa.world_entities import REFERENCE_KINDS

TINY = QAWorldConfig(
    towns=6, rivers=3, people=8, organisations=3, events=3, distractor_rate=0.34, single_hop=16, two_hop=8
)


@pytest.fixture(scope="module")
def world() -> QAWorld:
    return build_world()


def _texts(world: QAWorld) -> dict[str, str]:
    return {d["id"]: d["text"] for d in world.documents}


def test_the_same_settings_give_byte_identical_files_and_another_seed_another_world(tmp_path: Path) -> None:
    a, b = write_world(tmp_path / "a"), write_world(tmp_path / "b", QAWorldConfig())
    for name in ("corpus", "questions", "entities", "manifest"):
        assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes(), name
    other = write_world(tmp_path / "c", QAWorldConfig(seed=1))
    assert other.corpus.read_bytes() != a.corpus.read_bytes()
    # the corpus depends on the entities only: asking fewer questions keeps every document
    fewer = write_world(tmp_path / "d", QAWorldConfig(single_hop=100, two_hop=50))
    assert fewer.corpus.read_bytes() == a.corpus.read_bytes()
    assert len(fewer.questions.read_text().splitlines()) == 150


def test_default_sizes(world: QAWorld) -> None:
    assert len(world.documents) >= 250
    hops = [q.hops for q in world.questions]
    assert (hops.count(1), hops.count(2)) == (360, 240)
    assert {e.kind for e in world.entities.values()} == {"town", "river", "person", "organisation", "event"}


def test_ids_titles_and_questions_are_unique(world: QAWorld) -> None:
    for values in (
        [d["id"] for d in world.documents],
        [d["title"] for d in world.documents],
        [q.id for q in world.questions],
        [q.question for q in world.questions],  # the expert's script is keyed by the question text
        [(q.entity, q.attribute) for q in world.questions],  # no fact is asked twice
    ):
        assert len(set(values)) == len(values)


def test_every_answer_appears_in_its_supporting_document(world: QAWorld) -> None:
    texts = _texts(world)
    for q in world.questions:
        assert all(s in texts for s in q.supporting_ids), q.id
        last = texts[q.supporting_ids[-1]]
        assert q.answers[0] in last, q.id
        for alias in q.answers[1:]:
            # an alias is verbatim (a surname, "Sallow" of "River Sallow", "412" of "412 km") or the
            # canonical number without its thousands separators ("1,204" / "1204")
            assert alias in last or alias == q.answers[0].replace(",", ""), (q.id, alias)
    assert any("," in q.answers[0] and q.answers[0].replace(",", "") in q.answers for q in world.questions)


def test_two_hop_questions_chain_through_the_first_document(world: QAWorld) -> None:
    texts, entities = _texts(world), world.entities
    two_hop = [q for q in world.questions if q.hops == 2]
    assert two_hop
    for q in two_hop:
        first, second = (entities[s] for s in q.supporting_ids)
        assert second.name in texts[first.id], q.id  # the first document names the second's entity
        assert second.id in {first.attrs[a] for a in first.attrs if a in REFERENCE_KINDS}, q.id
        assert q.entity == second.id
        assert q.answers[0] not in texts[first.id], q.id  # the second document is needed


def test_distractors_are_near_names_of_the_same_kind_with_other_values(world: QAWorld) -> None:
    entities = world.entities
    twins = [e for e in entities.values() if e.twin_of is not None]
    assert len(twins) >= 0.15 * len(entities)
    assert {t.kind for t in twins} == {"town", "river", "person", "organisation", "event"}
    for twin in twins:
        original = entities[twin.twin_of]
        assert twin.kind == original.kind
        assert len(twin.name) == len(original.name)
        assert sum(a != b for a, b in zip(twin.name, original.name, strict=True)) == 1, twin.name
        assert all(twin.attrs[k] != original.attrs[k] for k in original.attrs), twin.name
    # questions about an entity that has a near-name twin: the twin's value of the asked attribute differs
    partners = {t.twin_of: t for t in twins} | {t.id: entities[t.twin_of] for t in twins}
    confusable = [q for q in world.questions if q.entity in partners]
    assert len(confusable) >= 50
    for q in confusable:
        assert partners[q.entity].attrs[q.attribute] != entities[q.entity].attrs[q.attribute], q.id


def test_the_loaders_read_the_world_back(tmp_path: Path, world: QAWorld) -> None:
    from polyrlaif.datasets.qa.fictional import load_questions
    from polyrlaif.datasets.qa.loaders import load_qa
    from polyrlaif.domains.search_agent.corpus import load_corpus

    files = write_world(tmp_path)
    expected = [(q.id, q.question, q.answers, q.supporting_ids) for q in world.questions]
    for loaded in (
        load_qa(files.questions),
        load_qa(files.questions, "fictional"),
        load_questions(files.questions),
    ):
        assert [(q.id, q.question, q.answers, q.supporting_ids) for q in loaded] == expected
    docs = load_corpus(files.corpus)
    assert [(d.id, d.title, d.text) for d in docs] == [
        (d["id"], d["title"], d["text"]) for d in world.documents
    ]
    manifest = json.loads(files.manifest.read_text())
    assert manifest["counts"]["documents"] == len(world.documents)


def test_settings_that_cannot_be_met_are_refused() -> None:
    with pytest.raises(ValueError, match="world.towns"):
        QAWorldConfig(towns=0)
    with pytest.raises(ValueError, match="distractor_rate"):
        QAWorldConfig(distractor_rate=1.5)
    with pytest.raises(ValueError, match="room for"):
        build_world(QAWorldConfig(towns=3, rivers=2, people=4, organisations=2, events=2, single_hop=500))


def _corpus_bytes(config: QAWorldConfig) -> bytes:
    rows = build_world(config).documents
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in rows).encode()


def _cfg(tmp_path: Path, *overrides: str):
    from polyrlaif.core.config import load_config

    return load_config(tiny_config("search_agent"), [f"run.output_dir={tmp_path / 'run'}", *overrides])


def test_the_world_stage_is_skipped_on_rerun_and_refuses_changed_settings(tmp_path: Path) -> None:
    from polyrlaif.core.stages import run_stages
    from polyrlaif.datasets.qa.loaders import load_qa
    from polyrlaif.domains.search_agent.build import stages

    assert stages(_cfg(tmp_path))[0].output_dir is None  # without world_dir: the shared stage cache
    own = f"domain.world_dir={tmp_path / 'run' / 'world'}"
    cfg = _cfg(tmp_path, own)
    plan = stages(cfg)
    assert [s.name for s in plan] == ["world"] and plan[0].output_dir == tmp_path / "run" / "world"
    outputs, reports = run_stages(plan)
    assert [r.status for r in reports] == ["ran"]
    world = outputs["world"]
    assert len(load_qa(world["questions"])) == TINY.single_hop + TINY.two_hop
    assert Path(world["corpus"]).read_bytes() == _corpus_bytes(TINY)
    stamp = Path(world["corpus"]).stat().st_mtime_ns

    again, reports = run_stages(stages(_cfg(tmp_path, own)))
    assert [r.status for r in reports] == ["skipped"] and again == outputs
    assert Path(world["corpus"]).stat().st_mtime_ns == stamp

    with pytest.raises(ValueError, match=r"'world'.*seed: 0 -> 1"):
        run_stages(stages(_cfg(tmp_path, own, "domain.world.seed=1")))
    shared = _cfg(tmp_path, f"domain.world_dir={tmp_path / 'shared'}")
    assert stages(shared)[0].output_dir == tmp_path / "shared"


def test_the_warm_start_runs_after_the_world_it_reads(tmp_path: Path) -> None:
    from polyrlaif.domains.search_agent.build import stages

    plan = stages(_cfg(tmp_path, "domain.warm_start=true"))
    assert [s.name for s in plan] == ["world", "warm_start"]
    assert plan[1].after == ("world",)
    assert [s.name for s in stages(_cfg(tmp_path, "domain.source=files", "domain.warm_start=true"))] == [
        "warm_start"
    ]


def test_a_generated_world_with_other_sources_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="domain.questions"):
        _cfg(tmp_path, "domain.questions=q.jsonl")


def test_the_held_out_split_has_at_least_150_questions(world: QAWorld) -> None:
    from polyrlaif.core.config import load_config
    from polyrlaif.domains.search_agent.config import SearchAgentConfig
    from polyrlaif.domains.search_agent.data import split_questions

    _, held_out = split_questions(world.questions, SearchAgentConfig().eval_holdout)
    assert len(held_out) >= 150
    demo = load_config("search_agent/world-grpo").domain  # the demo evaluates one-hop questions only
    questions = [q for q in build_world(demo.world).questions if q.hops <= demo.max_hops]
    train, held_out = split_questions(questions, demo.eval_holdout)
    assert len(held_out) >= 150 and len(train) >= 200


def test_the_warm_start_demonstrates_on_at_most_warm_start_questions(
    tmp_path: Path, tiny_lm_path: str
) -> None:
    from polyrlaif.core.io import read_jsonl
    from polyrlaif.core.stages import run_stages
    from polyrlaif.domains.search_agent.build import stages

    cfg = _cfg(
        tmp_path,
        f"model.name_or_path={tiny_lm_path}",
        "domain.warm_start=true",
        "domain.warm_start_questions=2",
        "domain.warm_start_epochs=1",
        "domain.max_hops=1",
        "domain.max_turns=4",
        f"domain.world_dir={tmp_path / 'world'}",
    )
    plan = stages(cfg)
    assert plan[1].settings["warm_start_questions"] == 2
    assert "warm_start_questions" not in stages(_cfg(tmp_path, "domain.warm_start=true"))[1].settings
    outputs, _ = run_stages(plan)
    assert len(read_jsonl(plan[1].output_dir / "expert_trajectories.jsonl")) == 2
    assert Path(outputs["warm_start"]["model"]).is_dir()
    with pytest.raises(ValueError, match="warm_start_questions"):
        _cfg(tmp_path, "domain.warm_start_questions=0")
