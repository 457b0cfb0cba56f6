"""Reservations: listing holds, the waitlist and broker customer reservations (API.md "Reservations")."""
