"""Pre-labeling of documents: spaCy NER for PER/ORG/LOC, rules for MISC, import of human corrections."""

from gonerd.label.base import Labeler, Span

__all__ = ["Labeler", "Span"]
