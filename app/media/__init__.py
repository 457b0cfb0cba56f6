"""Stored media files (listing photos) behind a small storage interface, served under /media."""
