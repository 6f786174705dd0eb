"""The spoken world's preparation stages (``domain.synthetic: true``), run in view by the recipe.

    world        short stories spoken by espeak-ng voices at 16 kHz (polyrlaif.datasets.speech): the
                 corpus, the RLAIF prompts, spoken StoryCloze, sWUGGY and sBLIMP
    units        a unit tokenizer: log-mel (or MFCC) features and k-means fitted on the corpus's audio
    unit_lm      a tiny unit LM pretrained on the corpus's unit strings: the starting policy
    transcriber  a tiny unit-to-text model trained on the corpus's and prompts' (units, transcript)
                 pairs: how the judge, an LLM, reads what the policy said
    vocoder      (``back_to_words: speech`` only) the world's own unit-to-speech, fitted on the corpus:
                 each unit's mean log-mel frame and run length, inverted by Griffin-Lim; an ASR
                 (pocketsphinx by default) then hears what the policy said

The judge's feedback comes from an LLM reading transcripts, never from the grammar's ground truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig
from polyrlaif.core.io import read_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import PrepStage
from polyrlaif.core.stages import stage_dir

__all__ = ["VOCODER_SETTINGS", "stages"]

log = get_logger(__name__)


def _world(cfg: TrainConfig) -> Any:
    w = cfg.domain.world

    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.datasets.speech import SpeechWorldConfig, generate_speech_world

        wc = SpeechWorldConfig(
            seed=w.seed, train_stories=w.train_stories, prompt_stories=w.prompt_stories,
            storycloze=w.storycloze, swuggy_words=w.swuggy_words, sblimp_pairs=w.sblimp_pairs,
        )  # fmt: skip
        generate_speech_world(out, wc)
        return {"data_dir": str(out)}

    return run


def _rows(data_dir: str, name: str) -> list[tuple[Path, str]]:
    return [(Path(data_dir) / r["audio"], r["text"]) for r in read_jsonl(Path(data_dir) / name)]


def _units(cfg: TrainConfig) -> Any:
    w = cfg.domain.world

    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.domains.spoken_lm.units import UnitTokenizer

        wavs = [a for a, _ in _rows(prepared["world"]["data_dir"], "corpus.jsonl")]
        tok = UnitTokenizer.fit(wavs, n_units=w.n_units, features=w.features, seed=w.seed)
        return {"units": str(tok.save(out / "units"))}

    return run


def _encode(prepared: Mapping[str, dict[str, Any]], name: str) -> list[tuple[str, str]]:
    """(unit string, transcript) of every utterance of a world file."""
    from tqdm.auto import tqdm

    from polyrlaif.domains.spoken_lm.units import UnitTokenizer

    tok = UnitTokenizer.load(prepared["units"]["units"])
    rows = _rows(prepared["world"]["data_dir"], name)
    return [(tok.to_text(tok.encode(a)), t) for a, t in tqdm(rows, desc=f"units of {name}", unit="utt")]


def _unit_lm(cfg: TrainConfig) -> Any:
    w = cfg.domain.world

    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.core.trainers.trl_sft import SFTExample, SFTSettings, sft_train
        from polyrlaif.domains.spoken_lm.adapter import build_tiny_unit_lm
        from polyrlaif.domains.spoken_lm.units import UnitTokenizer

        tokens = UnitTokenizer.load(prepared["units"]["units"]).tokens()
        init = build_tiny_unit_lm(
            out / "init", tokens, seed=w.seed, hidden=w.unit_lm_hidden, layers=w.unit_lm_layers
        )
        examples = [SFTExample(None, units) for units, _ in _encode(prepared, "corpus.jsonl")]
        settings = SFTSettings(epochs=w.unit_lm_epochs, lr=w.lr, batch_size=w.batch_size, seed=w.seed)
        result = sft_train(str(init), examples, out, settings)
        return {"model": result.model_path, "loss": result.metrics.get("loss")}

    return run


def _transcriber(cfg: TrainConfig) -> Any:
    w = cfg.domain.world

    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.core.trainers.trl_sft import SFTExample, SFTSettings, sft_train
        from polyrlaif.domains.spoken_lm.adapter import (
            CONTINUATION_TEMPLATE,
            TRANSCRIBER_TEMPLATE,
            build_tiny_unit_lm,
        )
        from polyrlaif.domains.spoken_lm.units import UnitTokenizer

        pairs = _encode(prepared, "corpus.jsonl") + _encode(prepared, "prompts.jsonl")
        words = sorted({word for _, text in pairs for word in text.split()})
        tokens = UnitTokenizer.load(prepared["units"]["units"]).tokens() + words
        template = TRANSCRIBER_TEMPLATE if w.transcriber_eos else CONTINUATION_TEMPLATE
        init = build_tiny_unit_lm(out / "init", tokens, seed=w.seed + 1, hidden=96, chat_template=template)
        examples = [SFTExample([{"role": "user", "content": u}], text) for u, text in pairs]
        settings = SFTSettings(epochs=w.transcriber_epochs, lr=w.lr, batch_size=w.batch_size, seed=w.seed + 1)
        result = sft_train(str(init), examples, out, settings)
        return {"model": result.model_path, "loss": result.metrics.get("loss")}

    return run


#: The world vocoder's mel size and FFT size (its stage's settings).
VOCODER_SETTINGS = {"n_mels": 80, "n_fft": 1024}


def _vocoder(cfg: TrainConfig) -> Any:
    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.domains.spoken_lm.units import UnitTokenizer
        from polyrlaif.domains.spoken_lm.vocoder import WorldVocoder

        tok = UnitTokenizer.load(prepared["units"]["units"])
        wavs = [a for a, _ in _rows(prepared["world"]["data_dir"], "corpus.jsonl")]
        vocoder = WorldVocoder.fit(wavs, tok, **VOCODER_SETTINGS)
        unseen = sum(c == 0 for c in vocoder.counts)
        return {"vocoder": str(vocoder.save(out / "vocoder")), "unseen_units": unseen}

    return run


def _lm_size(w: Any) -> dict[str, int]:
    """The unit LM's size as stage settings, only where it is not the default (so worlds built before
    the size was a setting keep their hash)."""
    size = {"hidden": w.unit_lm_hidden, "layers": w.unit_lm_layers}
    return {} if size == {"hidden": 64, "layers": 2} else size


def stages(cfg: TrainConfig) -> list[PrepStage]:
    """The world's stages for this run (none without ``domain.synthetic``)."""
    d = cfg.domain
    if not d.synthetic:
        return []
    w, root = d.world, d.world_dir
    sizes = ("seed", "train_stories", "prompt_stories", "storycloze", "swuggy_words", "sblimp_pairs")
    train = {"lr": w.lr, "batch_size": w.batch_size, "seed": w.seed}
    at = {name: stage_dir(root, name) for name in ("data", "units", "unit_lm", "transcriber", "vocoder")}
    out = [
        PrepStage("world", at["data"], {k: getattr(w, k) for k in sizes}, _world(cfg),
                  description="stories spoken by espeak-ng voices"),
        PrepStage("units", at["units"], {"n_units": w.n_units, "features": w.features, "seed": w.seed},
                  _units(cfg), after=("world",), description="k-means units over the corpus's features"),
        PrepStage("unit_lm", at["unit_lm"], {**train, "epochs": w.unit_lm_epochs, **_lm_size(w)},
                  _unit_lm(cfg), after=("world", "units"), description="unit LM pretraining on the corpus"),
        PrepStage("transcriber", at["transcriber"],
                  {**train, "epochs": w.transcriber_epochs, **({"eos": True} if w.transcriber_eos else {})},
                  _transcriber(cfg), after=("world", "units"), description="units -> words, for the judge"),
    ]  # fmt: skip
    if d.back_to_words == "speech":
        vocoder = PrepStage("vocoder", at["vocoder"], dict(VOCODER_SETTINGS), _vocoder(cfg),
                            after=("world", "units"), description="units -> speech, for the ASR")  # fmt: skip
        out.append(vocoder)
    return out
