"""shim-runner: one gRPC service for all tasks; a conmon monitor per container runs runc."""
