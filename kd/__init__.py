"""Efficient NER students: fine-tuning, scoring and prediction of token-classification models."""
