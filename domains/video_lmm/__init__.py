"""The video_lmm domain (VLM-RLAIF): video LMMs answering questions about videos, with AI feedback."""
