"""Preference-optimisation backends behind one seam (see polyrlaif.core.trainers.base)."""
