"""Payments behind one provider interface, the double-entry ledger, plans and subscriptions."""
