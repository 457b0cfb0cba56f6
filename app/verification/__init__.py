"""Verification (SPEC §4.5): KYC/KYB and aircraft checks run by workers, manual review, verification levels."""
