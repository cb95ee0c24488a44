"""The HTTP API: parse, authenticate, call a service, serialise. No business logic."""
