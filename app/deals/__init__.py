"""Offers and deals: counter-offers, one contract per listing, backups, closing."""
