"""Web tool for correcting pre-labels on long documents (reads and writes labeled-document records)."""
