"""The lab: corpus, training, alignment and evaluation. The product never imports it."""
