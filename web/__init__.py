"""The web front end and JSON API."""
