"""Experiments on the model: sensitivity sweeps, Monte Carlo and calibration."""
