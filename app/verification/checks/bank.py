"""Bank account check: IBAN (ISO 13616 mod-97) or US ABA routing number checksum, and a holder name."""

from __future__ import annotations

from rapidfuzz import fuzz
from stdnum import iban as iban_number
from stdnum.exceptions import ValidationError
from stdnum.us import rtn

from app.verification.checks import CheckContext, Outcome, passed, subject_name
from app.verification.names import normalize
from app.verification.state import Severity


async def check_bank(ctx: CheckContext) -> Outcome:
    account = ctx.case.get("bank_account") or {}
    holder = (account.get("holderName") or "").strip()
    if not holder:
        return Outcome(
            status="failed", severity=Severity.REJECT, detail="the account holder's name is missing"
        )
    if account.get("iban"):
        try:
            number = iban_number.validate(account["iban"])
        except ValidationError as exc:
            return _invalid(f"the IBAN is not valid ({exc.message})")
        described = f"IBAN {number[:4]}…{number[-4:]}"
    else:
        try:
            rtn.validate(account.get("routingNumber") or "")
        except ValidationError as exc:
            return _invalid(f"the ABA routing number is not valid ({exc.message})")
        digits = "".join(ch for ch in account.get("accountNumber") or "" if ch.isalnum())
        if not 4 <= len(digits) <= 17:
            return _invalid("a US account number has 4 to 17 characters")
        described = f"ABA {account['routingNumber']}"
    names = [n for n in (ctx.subject.get("company_name"), subject_name(ctx.subject)) if n]
    score = max((fuzz.token_set_ratio(normalize(holder), normalize(n)) for n in names), default=0.0)
    if names and score < ctx.config.registrant_threshold:
        return Outcome(
            status="failed",
            detail=f"{described} is valid, but the holder '{holder}' does not match the account's name",
            issues=[
                {
                    "type": "bank_holder_mismatch",
                    "holderName": holder,
                    "expected": names,
                    "score": round(score, 1),
                }
            ],
        )
    return passed(f"{described} is valid; holder {holder}")


def _invalid(detail: str) -> Outcome:
    return Outcome(
        status="failed",
        severity=Severity.REJECT,
        detail=detail,
        issues=[{"type": "bank_invalid", "detail": detail}],
    )
