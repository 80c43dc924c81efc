"""Efficient-attention models: NER fine-tuning and scoring, conversion, distillation, benchmarks."""
