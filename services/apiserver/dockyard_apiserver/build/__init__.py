"""The classic Dockerfile builder behind `POST /build` (Docker 20.10's legacy builder)."""
