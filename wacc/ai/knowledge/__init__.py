"""The knowledge base: articles cut into passages, and the passages that answer a question."""
