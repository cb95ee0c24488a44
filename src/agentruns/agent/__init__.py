"""The agent loop on Pydantic AI: models, tools and the loop itself; knows nothing of HTTP or DBOS."""
