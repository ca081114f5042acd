"""Telemetry: the Prometheus metrics every part of the server reports to."""
