"""English text front-end: normalisation, sentences, offline g2p, phoneme symbols."""
