"""Back to words through speech in the synthetic spoken world: how many words pocketsphinx gets wrong.

Builds (or reuses, with ``--world-dir``) a spoken story world as ``domain.synthetic`` does: espeak-ng
stories, k-means units over log-mel features fitted on the corpus, and the world's own unit vocoder
(:class:`~polyrlaif.domains.spoken_lm.vocoder.WorldVocoder`) fitted on the same corpus. Then, on the
held-out prompt utterances (other stories than the corpus's, every voice), pocketsphinx with a language
model of the corpus's transcripts (what ``back_to_words: speech`` uses) transcribes

* ``espeak``: the original espeak-ng audio (the ASR's own error rate on this speech);
* ``world_vocoder``: the vocoder's resynthesis of the utterance's own deduplicated units (what the
  verifier hears from a policy that said exactly the prompt's units).

Printed: the word error rate of each (errors over reference words, with the counts), per voice, and
the seconds each side took.

Usage::

    python bench/speech_back_to_words.py                  # 200 corpus stories, 48 prompts: ~1 min
    python bench/speech_back_to_words.py --world-dir /tmp/speech-world --prompts 64
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Build the world, fit units and the vocoder, transcribe both sides; print the WERs."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--world-dir", help="where the world is built or found (default: a temporary folder)")
    p.add_argument("--train-stories", type=int, default=200, help="corpus stories (units, vocoder, ASR LM)")
    p.add_argument("--prompts", type=int, default=48, help="held-out prompt utterances transcribed")
    p.add_argument("--n-units", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import logging

    import torch

    from polyrlaif.core.io import read_jsonl
    from polyrlaif.datasets.speech import SpeechWorldConfig, generate_speech_world
    from polyrlaif.domains.spoken_lm.asr import PocketSphinxASR, word_errors
    from polyrlaif.domains.spoken_lm.units import UnitTokenizer, load_audio
    from polyrlaif.domains.spoken_lm.vocoder import WorldVocoder
    from polyrlaif.domains.spoken_lm.world import VOCODER_SETTINGS

    logging.disable(logging.WARNING)
    torch.set_num_threads(1)
    root = Path(args.world_dir or tempfile.mkdtemp(prefix="polyrlaif-speech-bench-"))
    cfg = SpeechWorldConfig(seed=args.seed, train_stories=args.train_stories, prompt_stories=args.prompts,
                            storycloze=10, swuggy_words=4, sblimp_pairs=4)  # fmt: skip
    start = time.perf_counter()
    world = generate_speech_world(root / "data", cfg)
    corpus = read_jsonl(world.corpus)
    prompts = read_jsonl(world.prompts)[: args.prompts]
    wavs = [world.file(r["audio"]) for r in corpus]
    tok = UnitTokenizer.fit(wavs, n_units=args.n_units, features="logmel", seed=args.seed)
    vocoder = WorldVocoder.fit(wavs, tok, **VOCODER_SETTINGS)
    asr = PocketSphinxASR([r["text"] for r in corpus])
    print(f"world: {len(corpus)} corpus utterances, {len(prompts)} held-out prompts in {root}; "
          f"units and vocoder fitted in {time.perf_counter() - start:.0f} s")  # fmt: skip

    audio = [load_audio(world.file(r["audio"]))[0] for r in prompts]
    sides: dict[str, list] = {"espeak": audio}
    t = time.perf_counter()
    sides["world_vocoder"] = [vocoder.synthesize(tok.encode(w)) for w in audio]
    synth_s = time.perf_counter() - t
    for side, waves in sides.items():
        t = time.perf_counter()
        heard = asr.transcribe(waves, vocoder.sample_rate)
        asr_s = time.perf_counter() - t
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for row, hyp in zip(prompts, heard, strict=True):
            errors, words = word_errors(row["text"], hyp)
            for key in ("all", row["voice"]):
                counts[key][0] += errors
                counts[key][1] += words
        e, n = counts.pop("all")
        extra = f", synthesis {synth_s:.1f} s" if side == "world_vocoder" else ""
        print(f"{side:14s} WER {e / n:.3f} ({e}/{n} words), ASR {asr_s:.1f} s{extra}")
        print("    per voice: " + ", ".join(f"{v} {c[0] / c[1]:.2f}" for v, c in sorted(counts.items())))
        print(f"    e.g. ref: {prompts[0]['text']}\n         hyp: {heard[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
