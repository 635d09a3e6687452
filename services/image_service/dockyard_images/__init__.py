"""dockyard's image service: content store, layer snapshots, image records (see ARCHITECTURE.md)."""
