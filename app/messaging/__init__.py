"""Messaging (issue 13, API.md "Messaging"): threads per listing between buyer, seller and broker."""
