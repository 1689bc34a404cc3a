"""Runners: a text source through an engine into a sink, single output or batch."""
