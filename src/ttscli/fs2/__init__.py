"""FastSpeech 2 / 2s: configuration, modules, model, vocoders and the synthesis engine."""
