"""Pure logic: the workflow table, the verdict rule, name normalization, screening, checksums, sniffing."""

from __future__ import annotations

import pytest

from app.verification import state
from app.verification.documents import DocumentTooLarge, UnsupportedDocumentType, inspect, sniff
from app.verification.names import normalize, normalize_identifier
from app.verification.registry import n_number_of
from app.verification.sanctions import SanctionsIndex
from app.verification.state import Action, CheckResult, Severity, Status
from tests.verification.conftest import pdf_bytes, png_bytes


def test_transition_table_allows_exactly_the_documented_workflow():
    assert state.transition("submitted", "submit") is Status.AUTO_CHECK
    assert state.transition("documents_required", "submit") is Status.AUTO_CHECK
    assert state.transition("manual_review", "request_documents") is Status.DOCUMENTS_REQUIRED
    for status in ("approved", "rejected"):
        assert state.allowed_actions(status) == []
    with pytest.raises(state.IllegalTransition):
        state.transition("auto_check", "approve")  # a reviewer decides only cases in manual review
    with pytest.raises(state.IllegalTransition):
        state.transition("nonsense", "submit")


@pytest.mark.parametrize(
    ("results", "verdict"),
    [
        ([CheckResult(check="documents", status="passed")], Action.CHECKS_PASSED),
        ([CheckResult(check="bank", status="failed", severity=Severity.REJECT)], Action.CHECKS_FAILED),
        ([CheckResult(check="registry", status="failed")], Action.CHECKS_FLAGGED),
        ([CheckResult(check="sanctions", status="error")], Action.CHECKS_FLAGGED),
        # A hit is a person's call even when another check would reject on its own.
        (
            [
                CheckResult(check="sanctions", status="failed", sanctions_hit=True),
                CheckResult(check="bank", status="failed", severity=Severity.REJECT),
            ],
            Action.CHECKS_FLAGGED,
        ),
    ],
)
def test_decide(results, verdict):
    assert state.decide(results) is verdict


def test_levels_and_checks_per_kind():
    assert state.checks_for("aircraft", has_bank_account=False) == ["documents", "registry", "sanctions"]
    assert state.checks_for("company", has_bank_account=True) == ["documents", "sanctions", "bank"]
    assert state.level_after_approval("company", bank_passed=True) == 2
    assert state.level_after_approval("company", bank_passed=False) == 1
    assert state.level_after_approval("aircraft", bank_passed=True) is None


def test_normalization():
    assert normalize("Société Générale, S.A.") == "societe generale"
    assert normalize("MAHAN AIR LLC") == normalize("Mahan Air") == "mahan air"
    assert normalize("Иванов Сергей") == "ivanov sergey"
    assert normalize("OOO") == "ooo"  # a name made only of a legal form is kept
    assert normalize_identifier("ep-mne ") == "EPMNE"
    assert n_number_of("N731PA") == "731PA" and n_number_of("D-EABC") is None and n_number_of("N0") is None


def _index() -> SanctionsIndex:
    index = SanctionsIndex(1)
    index.add_entry(1, "ABBAS, Abu", "individual", "SDGT", "", "")
    index.add_entry(2, "GLOBAL SKYLINK TRADING LLC", "", "RUSSIA", "", "")
    index.add_name(2, "SKYLINK GLOBAL FZE", "alias")
    index.add_entry(
        3, "EP-MNE", "aircraft", "IRGC", "Aircraft Manufacturer's Serial Number (MSN) 499;", "EP-MNE"
    )
    index.add_entry(4, "AL-RASHID, Muhammad Abu Bakr", "individual", "SDGT", "", "")
    return index


def test_screening_matches_variants_and_not_strangers():
    index = _index()
    assert [h.ent_num for h in index.screen_name("Abu Abbas")] == [1]
    assert [h.ent_num for h in index.screen_name("Abu Abas")] == [1]  # misspelt
    assert [h.ent_num for h in index.screen_name("Global Skylink Trading Ltd.")] == [2]
    assert index.screen_name("Skylink Global")[0].matched_on == "alias"
    assert [h.ent_num for h in index.screen_name("Muhammad Al-Rashid")] == [4]  # a name missing in the middle
    assert index.screen_name("Abbas Kiarostami") == []
    assert index.screen_name("Global Aviation Services") == []
    assert index.screen_name("Air") == []
    assert [h.matched_on for h in index.screen_aircraft("EP-MNE", None)] == ["tail_number"]
    assert [h.matched_on for h in index.screen_aircraft("N1", "499")] == ["serial_number"]
    assert index.screen_aircraft("N12345", "1234") == []


def test_documents_are_typed_by_their_bytes():
    assert sniff(pdf_bytes()) == "application/pdf"
    assert sniff(png_bytes()) == "image/png"
    assert sniff(b"MZ\x90\x00") is None
    assert inspect(png_bytes(), max_bytes=10_000, max_pixels=1000).width == 16
    with pytest.raises(UnsupportedDocumentType):
        inspect(b"<html>%PDF-</html>"[6:] * 0 + b"GIF89a....", max_bytes=100, max_pixels=10)
    with pytest.raises(DocumentTooLarge):
        inspect(pdf_bytes(), max_bytes=10, max_pixels=10)


async def test_bank_checksums():
    from app.verification.checks import bank
    from app.verification.config import VerificationConfig

    class Ctx:
        config = VerificationConfig()
        subject = {"first_name": "Ann", "last_name": "Lee", "company_name": "Lee Aviation GmbH"}

        def __init__(self, account):
            self.case = {"bank_account": account}

    ok = await bank.check_bank(Ctx({"holderName": "Lee Aviation", "iban": "DE89 3704 0044 0532 0130 00"}))
    assert ok.status == "passed"
    bad = await bank.check_bank(Ctx({"holderName": "Lee Aviation", "iban": "DE89370400440532013001"}))
    assert (bad.status, bad.severity) == ("failed", Severity.REJECT)
    aba = await bank.check_bank(
        Ctx({"holderName": "Ann Lee", "routingNumber": "011000015", "accountNumber": "12345678"})
    )
    assert aba.status == "passed"
    wrong_aba = await bank.check_bank(
        Ctx({"holderName": "Ann Lee", "routingNumber": "011000016", "accountNumber": "1234"})
    )
    assert wrong_aba.status == "failed"
    stranger = await bank.check_bank(Ctx({"holderName": "Someone Else", "iban": "DE89370400440532013000"}))
    assert (stranger.status, stranger.severity) == ("failed", Severity.REVIEW)
