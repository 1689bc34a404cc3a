"""Audio: DSP in torch and the sinks that consume chunk streams."""
