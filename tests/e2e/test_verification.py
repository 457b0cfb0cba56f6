"""A buyer verifies in the browser and watches the checks run live; an admin decides it in the queue."""

from __future__ import annotations

import os

from tests.e2e.conftest import screenshot, wait_ready
from tests.e2e.test_seller import _png

STATUS = "#verifications article [data-testid='status']"


async def _rename(user_id: str, first_name: str, last_name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await conn.execute(
            "UPDATE users SET first_name = $2, last_name = $3 WHERE id = $1::uuid",
            user_id,
            first_name,
            last_name,
        )
    finally:
        await conn.close()


async def test_verification_progress_is_live_and_the_admin_decides_it(people):
    buyer = await people.create("buyer", level=1)
    # Named like an entry of the shipped OFAC sample: the sanctions check fails (a possible match) whether
    # or not an earlier test of the session loaded that list (`atp seed` does), and with no list at all it
    # fails too (nothing to screen against). Either way a person decides.
    await _rename(buyer["id"], "Sergei Petrovich", "Ivanov")
    admin = await people.create("admin", level=3)
    page = await people.page(buyer)
    await page.goto("/verification")
    await wait_ready(page)
    await page.get_by_label("Verify").select_option("individual")
    await page.get_by_role("button", name="Start").click()
    case = page.locator("#verifications article").first
    await case.get_by_label("Document", exact=True).set_input_files(
        files=[{"name": "passport.png", "mimeType": "image/png", "buffer": _png()}]
    )
    await case.get_by_label("Document kind").select_option("id_document")
    await case.get_by_role("button", name="Upload and submit").click()
    # The worker's checks run and the case goes to a person;
    # the page follows on verification:<id> without reloading.
    # Allow for a worker that is still busy with earlier browser tests' jobs in a full run.
    await page.locator(STATUS, has_text="manual review").wait_for(timeout=30_000)
    verification_id = await case.get_attribute("data-verification-id")
    await screenshot(page, "verification")

    admin_page = await people.page(admin)
    await admin_page.goto("/admin")
    await wait_ready(admin_page)
    review = admin_page.locator(f"#review-queue article[data-verification-id='{verification_id}']")
    await review.get_by_text("sanctions: failed").wait_for()
    await review.get_by_label("Comments").fill("Passport checked by hand.")
    await review.get_by_role("button", name="Approve").click()
    await review.wait_for(state="detached")

    await page.locator(STATUS, has_text="approved").wait_for()
    received = await page.evaluate("window.atp.realtime.stats.byType")
    assert received.get("verification.status_changed", 0) >= 1, received
