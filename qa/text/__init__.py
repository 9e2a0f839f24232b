"""The bottom layer: pure text helpers every stage shares (normalisation, script, sentences, tokens, shingles, alignment)."""
