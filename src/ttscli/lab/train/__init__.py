"""Training FastSpeech 2 / 2s voices and their vocoders: data, losses, presets, run state."""
