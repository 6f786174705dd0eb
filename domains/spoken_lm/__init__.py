"""The spoken_lm domain (Align-SLM): a textless unit language model continues spoken prompts."""
