"""Batches beyond one process: Ray actors around an engine; the driver writes the files."""
