"""The wire contract: request and response bodies of the Agent API, shared by the server and the client."""
