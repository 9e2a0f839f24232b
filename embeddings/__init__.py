"""Text encoders and the vector index."""
