"""Storage: the schema, the database connection and plain query functions that take a session."""
