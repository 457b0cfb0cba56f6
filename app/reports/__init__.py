"""Excel reports built by a worker and delivered by signed link and notification (issue 16)."""
