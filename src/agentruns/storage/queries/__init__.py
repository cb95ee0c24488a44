"""Plain query functions: each takes a session and reads or writes one kind of row."""
