"""Helpers shared by every dockyard service: config, layout, logging, gRPC, errors."""
