"""Judging and timing voices: WER and DNSMOS judges, speed benchmarks."""
