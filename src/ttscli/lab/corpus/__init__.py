"""The distilled training corpus: a teacher voice made to speak our own phonemes."""
