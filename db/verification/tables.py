"""Verification: cases, their documents, checks and comments; the imported FAA registry and sanctions lists.

The schema itself (constraints, indexes) is the raw-SQL migration in piccolo_migrations/; these classes
describe the same tables for Piccolo's registry.
"""

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    BigInt,
    BigSerial,
    Date,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.table import Table


class VerificationCase(Table, tablename="verification_cases"):
    id = UUID(primary_key=True, default=UUID4())
    subject_id = UUID(index=True)
    started_by = UUID()
    verification_type = Varchar(length=20)
    status = Varchar(length=30, default="submitted")
    listing_id = UUID(null=True, default=None)
    tail_number = Varchar(length=20, null=True, default=None)
    bank_account = Text(null=True, default=None)  # sealed JSON: app/core/crypto.py
    check_round = Integer(default=0)
    issues = JSONB(default="[]")
    submitted_at = Timestamptz(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class VerificationDocument(Table, tablename="verification_documents"):
    id = UUID(primary_key=True, default=UUID4())
    case_id = UUID(index=True)
    subject_id = UUID()
    kind = Varchar(length=40)
    content_type = Varchar(length=100)
    size_bytes = BigInt()
    sha256 = Varchar(length=64)
    storage_key = Text()
    file_name = Varchar(length=255, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class VerificationCheck(Table, tablename="verification_checks"):
    case_id = UUID()
    name = Varchar(length=30)
    round = Integer(default=0)
    status = Varchar(length=10, default="pending")
    detail = Text(default="")
    data = JSONB(default="{}")
    attempts = Integer(default=0)
    enqueue_generation = Integer(default=0)
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    duration_ms = Integer(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())


class VerificationComment(Table, tablename="verification_comments"):
    id = BigSerial(primary_key=True)
    case_id = UUID(index=True)
    author_id = UUID()
    decision = Varchar(length=30, null=True, default=None)
    body = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class DatasetImport(Table, tablename="verification_dataset_imports"):
    dataset = Varchar(length=20, primary_key=True)
    generation = BigInt(default=0)
    counts = JSONB(default="{}")
    source = Text(default="")
    imported_at = Timestamptz(default=TimestamptzNow())


class FaaAircraft(Table, tablename="faa_aircraft"):
    """MASTER.txt: one row per registered N-number (stored without the leading N)."""

    n_number = Varchar(length=10, primary_key=True)
    serial_number = Varchar(length=30)
    mfr_mdl_code = Varchar(length=7)
    eng_mfr_mdl = Varchar(length=5)
    year_mfr = Integer(null=True, default=None)
    type_registrant = Varchar(length=1)
    name = Varchar(length=50)
    street = Varchar(length=33)
    city = Varchar(length=18)
    state = Varchar(length=2)
    zip_code = Varchar(length=10)
    country = Varchar(length=2)
    last_action_date = Date(null=True, default=None)
    cert_issue_date = Date(null=True, default=None)
    certification = Varchar(length=10)
    type_aircraft = Varchar(length=1)
    type_engine = Varchar(length=2)
    status_code = Varchar(length=2)
    mode_s_code_hex = Varchar(length=10)
    air_worth_date = Date(null=True, default=None)
    other_names = Array(base_column=Varchar(length=50))
    expiration_date = Date(null=True, default=None)
    unique_id = Varchar(length=8)


class FaaAircraftReference(Table, tablename="faa_aircraft_reference"):
    """ACFTREF.txt: manufacturer and model by MFR MDL CODE."""

    code = Varchar(length=7, primary_key=True)
    mfr = Varchar(length=30)
    model = Varchar(length=20)
    type_acft = Varchar(length=1)
    type_eng = Varchar(length=2)
    ac_cat = Varchar(length=1)
    no_eng = Integer(null=True, default=None)
    no_seats = Integer(null=True, default=None)


class FaaDeregistered(Table, tablename="faa_deregistered"):
    """DEREG.txt: cancelled registrations (an N-number may appear many times)."""

    id = BigSerial(primary_key=True)
    n_number = Varchar(length=10)
    serial_number = Varchar(length=30)
    mfr_mdl_code = Varchar(length=7)
    status_code = Varchar(length=2)
    name = Varchar(length=50)
    cancel_date = Date(null=True, default=None)
    exp_country = Varchar(length=18)


class SanctionsEntry(Table, tablename="sanctions_entries"):
    """sdn.csv: one sanctioned party (individual, entity, vessel, aircraft)."""

    ent_num = Integer(primary_key=True)
    name = Text()
    sdn_type = Varchar(length=30)
    program = Text()
    title = Text()
    call_sign = Text()
    vess_type = Text()
    vess_flag = Text()
    vess_owner = Text()
    remarks = Text()


class SanctionsAlias(Table, tablename="sanctions_aliases"):
    """alt.csv: other names of an entry (aka, fka, nka)."""

    id = BigSerial(primary_key=True)
    ent_num = Integer(index=True)
    alt_num = Integer()
    alt_type = Varchar(length=10)
    alt_name = Text()
    alt_remarks = Text()


class SanctionsAddress(Table, tablename="sanctions_addresses"):
    """add.csv: addresses of an entry."""

    id = BigSerial(primary_key=True)
    ent_num = Integer(index=True)
    add_num = Integer()
    address = Text()
    city = Text()
    country = Text()
    add_remarks = Text()
