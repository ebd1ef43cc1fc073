"""Provider streams: registration and auth, the connection loop, job sessions and resume."""
