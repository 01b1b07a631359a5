"""Agreement with human reviewers: metrics, curves, threshold calibration, baselines."""
