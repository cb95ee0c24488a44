"""The durable run workflow on DBOS: queue → workflow → agent loop → finalise, and the workers that run it."""
