"""Data layer: image loading, manifest reading, demo data."""
