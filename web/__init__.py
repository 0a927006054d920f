"""The bot's own web server (every transport mode): /healthz today, more pages later."""
