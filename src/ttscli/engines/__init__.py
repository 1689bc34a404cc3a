"""The engine interface, the registry of engines, and how to load one by name."""
