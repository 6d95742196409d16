"""Tag classifiers, calibration, scoring, metrics."""
