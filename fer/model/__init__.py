"""Emotion models: architectures, model files with their cards, inference, evaluation, explanations."""
