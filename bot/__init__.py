"""Saima runtime: configuration, wiring, the message pipeline and the DingTalk transports."""

__version__ = "0.1.0"
