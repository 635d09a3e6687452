"""dockyard's volume-service: local named and anonymous volumes and their per-container references."""
