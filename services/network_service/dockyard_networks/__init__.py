"""dockyard's network service (libnetwork's role): bridges, IPAM, netns sandboxes, endpoints."""
