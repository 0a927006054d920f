"""DingTalk transport: Stream and HTTP-callback receiving, the OpenAPI client, sending and `saima doctor`."""
