"""Learning phoneme durations for a corpus without a teacher (monotonic alignment search)."""
