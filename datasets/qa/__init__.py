"""Question answering data for the search-agent domain.

:mod:`.loaders` reads open-domain QA files (NQ, HotpotQA, 2Wiki, MuSiQue, Bamboogle, FlashRAG) into one
record type; :mod:`.fictional` is the packaged fictional world, whose corpus and questions
(``fictional_corpus.jsonl``, ``fictional_questions.jsonl``) live beside it, so no model can answer
from memory; :mod:`.world` generates a larger invented world of the same shape from a seed (its
phrasings in :mod:`.world_text`, its entity graph in :mod:`.world_entities`).
"""
