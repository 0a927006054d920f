"""Test doubles that speak real protocols on loopback (never fakes of our own functions)."""
