"""Where a run's tools execute: a `Sandbox` protocol, its bubblewrap jail and a development fallback."""
