"""The spoken story world: a tiny spoken language for textless spoken LMs and Align-SLM on a CPU.

It is the CPU stand-in for LibriSpeech, the spoken prompts and the spoken benchmarks of the
``spoken_lm`` domain. Stories come from a small grammar (:mod:`.grammar`: eight characters, eight
scenes, about 110 words), each with a coherent and a StoryCloze-style incoherent ending; espeak-ng
speaks them in several voices (:mod:`.tts`, 16 kHz mono WAV); :mod:`.zerospeech` makes the
pseudo-words and ungrammatical sentences of the sWUGGY and sBLIMP style sets; and :mod:`.world`
writes the corpus, the RLAIF prompts, spoken StoryCloze (sSC, tSC) and ZeroSpeech 2021 style
``gold.csv`` sets, holding out whole (character, place) pairs for evaluation.

Example::

    from polyrlaif.datasets.speech import SpeechWorldConfig, generate_speech_world, read_wav

    world = generate_speech_world("runs/speech_world", SpeechWorldConfig(seed=0))
    samples, rate = read_wav(world.file("prompts/prompt_00001.wav"))
"""

from polyrlaif.datasets.speech.grammar import (
    CHARACTERS,
    INCOHERENT_KINDS,
    SCENES,
    Scene,
    Story,
    all_combos,
    all_sentences,
    heldout_combos,
    sample_story,
    tokens,
    vocabulary,
)
from polyrlaif.datasets.speech.tts import (
    DEFAULT_VOICES,
    EspeakError,
    EspeakNotFoundError,
    check_voices,
    espeak_available,
    phonemize,
    read_wav,
    render_wav,
    synthesize,
)
from polyrlaif.datasets.speech.world import (
    WORLD_FORMAT,
    SpeechWorldConfig,
    SpeechWorldManifest,
    generate_speech_world,
    load_speech_world,
)
from polyrlaif.datasets.speech.zerospeech import (
    LEXICAL_COLUMNS,
    SYNTACTIC_COLUMNS,
    SYNTACTIC_SUBTYPES,
    frequency_band,
    pseudo_word,
    ungrammatical_variants,
)

__all__ = [
    "CHARACTERS",
    "DEFAULT_VOICES",
    "INCOHERENT_KINDS",
    "LEXICAL_COLUMNS",
    "SCENES",
    "SYNTACTIC_COLUMNS",
    "SYNTACTIC_SUBTYPES",
    "WORLD_FORMAT",
    "EspeakError",
    "EspeakNotFoundError",
    "Scene",
    "SpeechWorldConfig",
    "SpeechWorldManifest",
    "Story",
    "all_combos",
    "all_sentences",
    "check_voices",
    "espeak_available",
    "frequency_band",
    "generate_speech_world",
    "heldout_combos",
    "load_speech_world",
    "phonemize",
    "pseudo_word",
    "read_wav",
    "render_wav",
    "sample_story",
    "synthesize",
    "tokens",
    "ungrammatical_variants",
    "vocabulary",
]
