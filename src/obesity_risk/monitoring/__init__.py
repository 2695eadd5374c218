"""Prediction log, drift reports and rules."""
