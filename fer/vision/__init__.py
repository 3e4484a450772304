"""Faces in images: detection (upright, rotated, tracked), crops and drawing."""
