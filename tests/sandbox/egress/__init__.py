"""Tests of the sandboxes' network egress (sandbox/egress)."""
