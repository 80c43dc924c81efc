"""Pre-labeling of documents: spaCy NER for PER/ORG/LOC, rules for MISC, import of human corrections.

Public API: :func:`label_documents`, :func:`write_labeled`, :func:`read_labeled`,
:func:`import_corrections`, :func:`export_conll`, and the :class:`Labeler` protocol.
"""

from gonerd.label.base import Labeler, Span
from gonerd.label.core import HUMAN_PREFIX, build_labelers, is_human, label_doc, label_documents, label_source
from gonerd.label.corrections import export_conll, import_corrections
from gonerd.label.io import read_documents, read_labeled, write_labeled

__all__ = ["HUMAN_PREFIX", "Labeler", "Span", "build_labelers", "export_conll", "import_corrections", "is_human",
           "label_doc", "label_documents", "label_source", "read_documents", "read_labeled", "write_labeled"]
