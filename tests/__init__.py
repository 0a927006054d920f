"""Saima test suite."""
