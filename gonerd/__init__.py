"""gonerd: build, label, publish and benchmark a long-context NER dataset.

The document pipeline lives in :mod:`gonerd.pipeline`; every stage is also a plain function.
"""

__version__ = "0.1.0"
