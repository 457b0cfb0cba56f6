from db.core.sql import sql_migration

ID = "2026-11-26T08:41:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "verification: cases, documents, checks, comments; FAA registry and sanctions list tables"

STATEMENTS = [
    """
    CREATE TABLE verification_cases (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        subject_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        started_by uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        verification_type varchar(20) NOT NULL
            CHECK (verification_type IN ('individual', 'company', 'aircraft')),
        status varchar(30) NOT NULL DEFAULT 'submitted' CHECK (status IN
            ('submitted', 'documents_required', 'auto_check', 'manual_review', 'approved', 'rejected')),
        listing_id uuid REFERENCES listings (id) ON DELETE SET NULL,
        tail_number varchar(20),
        bank_account jsonb,
        check_round integer NOT NULL DEFAULT 0 CHECK (check_round >= 0),
        issues jsonb NOT NULL DEFAULT '[]',
        submitted_at timestamptz,
        decided_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK (verification_type <> 'aircraft' OR tail_number IS NOT NULL)
    )
    """,
    "CREATE INDEX verification_cases_subject_idx ON verification_cases (subject_id, created_at DESC, id DESC)",
    "CREATE INDEX verification_cases_status_idx ON verification_cases (status, updated_at, id)",
    # One open case per subject and kind (per aircraft for aircraft cases): a second start gets 409.
    """
    CREATE UNIQUE INDEX verification_cases_one_open_uq
    ON verification_cases (subject_id, verification_type, coalesce(tail_number, ''))
    WHERE status NOT IN ('approved', 'rejected')
    """,
    """
    CREATE TABLE verification_documents (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        case_id uuid NOT NULL REFERENCES verification_cases (id) ON DELETE CASCADE,
        subject_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind varchar(40) NOT NULL,
        content_type varchar(100) NOT NULL,
        size_bytes bigint NOT NULL CHECK (size_bytes > 0),
        sha256 char(64) NOT NULL,
        storage_key text NOT NULL,
        file_name varchar(255) NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (case_id, sha256)
    )
    """,
    "CREATE INDEX verification_documents_case_idx ON verification_documents (case_id, created_at)",
    # The documents check looks for the same file under another account.
    "CREATE INDEX verification_documents_sha_idx ON verification_documents (sha256)",
    """
    CREATE TABLE verification_checks (
        case_id uuid NOT NULL REFERENCES verification_cases (id) ON DELETE CASCADE,
        name varchar(30) NOT NULL,
        round integer NOT NULL DEFAULT 0,
        status varchar(10) NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'running', 'passed', 'failed', 'error')),
        detail text NOT NULL DEFAULT '',
        data jsonb NOT NULL DEFAULT '{}',
        attempts integer NOT NULL DEFAULT 0,
        enqueue_generation integer NOT NULL DEFAULT 0,
        started_at timestamptz,
        finished_at timestamptz,
        duration_ms integer,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (case_id, name)
    )
    """,
    # The sweep and the queue estimate read only unfinished checks.
    """CREATE INDEX verification_checks_open_idx ON verification_checks (updated_at)
       WHERE status IN ('pending', 'running')""",
    "CREATE INDEX verification_checks_finished_idx ON verification_checks (finished_at) WHERE duration_ms IS NOT NULL",
    """
    CREATE TABLE verification_comments (
        id bigserial PRIMARY KEY,
        case_id uuid NOT NULL REFERENCES verification_cases (id) ON DELETE CASCADE,
        author_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        decision varchar(30),
        body text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX verification_comments_case_idx ON verification_comments (case_id, id)",
    # Which generation of each imported dataset is live: workers rebuild their indexes when it changes.
    """
    CREATE TABLE verification_dataset_imports (
        dataset varchar(20) PRIMARY KEY,
        generation bigint NOT NULL DEFAULT 0,
        counts jsonb NOT NULL DEFAULT '{}',
        source text NOT NULL DEFAULT '',
        imported_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE faa_aircraft (
        n_number text PRIMARY KEY,
        serial_number text NOT NULL DEFAULT '',
        mfr_mdl_code text NOT NULL DEFAULT '',
        eng_mfr_mdl text NOT NULL DEFAULT '',
        year_mfr integer,
        type_registrant text NOT NULL DEFAULT '',
        name text NOT NULL DEFAULT '',
        street text NOT NULL DEFAULT '',
        city text NOT NULL DEFAULT '',
        state text NOT NULL DEFAULT '',
        zip_code text NOT NULL DEFAULT '',
        country text NOT NULL DEFAULT '',
        last_action_date date,
        cert_issue_date date,
        certification text NOT NULL DEFAULT '',
        type_aircraft text NOT NULL DEFAULT '',
        type_engine text NOT NULL DEFAULT '',
        status_code text NOT NULL DEFAULT '',
        mode_s_code_hex text NOT NULL DEFAULT '',
        air_worth_date date,
        other_names text[] NOT NULL DEFAULT '{}',
        expiration_date date,
        unique_id text NOT NULL DEFAULT ''
    )
    """,
    "CREATE INDEX faa_aircraft_serial_idx ON faa_aircraft (serial_number)",
    """
    CREATE TABLE faa_aircraft_reference (
        code text PRIMARY KEY,
        mfr text NOT NULL DEFAULT '',
        model text NOT NULL DEFAULT '',
        type_acft text NOT NULL DEFAULT '',
        type_eng text NOT NULL DEFAULT '',
        ac_cat text NOT NULL DEFAULT '',
        no_eng integer,
        no_seats integer
    )
    """,
    """
    CREATE TABLE faa_deregistered (
        id bigserial PRIMARY KEY,
        n_number text NOT NULL,
        serial_number text NOT NULL DEFAULT '',
        mfr_mdl_code text NOT NULL DEFAULT '',
        status_code text NOT NULL DEFAULT '',
        name text NOT NULL DEFAULT '',
        cancel_date date,
        exp_country text NOT NULL DEFAULT ''
    )
    """,
    "CREATE INDEX faa_deregistered_n_number_idx ON faa_deregistered (n_number)",
    "CREATE INDEX faa_deregistered_serial_idx ON faa_deregistered (serial_number)",
    """
    CREATE TABLE sanctions_entries (
        ent_num integer PRIMARY KEY,
        name text NOT NULL,
        sdn_type text NOT NULL DEFAULT '',
        program text NOT NULL DEFAULT '',
        title text NOT NULL DEFAULT '',
        call_sign text NOT NULL DEFAULT '',
        vess_type text NOT NULL DEFAULT '',
        vess_flag text NOT NULL DEFAULT '',
        vess_owner text NOT NULL DEFAULT '',
        remarks text NOT NULL DEFAULT ''
    )
    """,
    """
    CREATE TABLE sanctions_aliases (
        id bigserial PRIMARY KEY,
        ent_num integer NOT NULL,
        alt_num integer NOT NULL,
        alt_type text NOT NULL DEFAULT '',
        alt_name text NOT NULL,
        alt_remarks text NOT NULL DEFAULT ''
    )
    """,
    "CREATE INDEX sanctions_aliases_ent_idx ON sanctions_aliases (ent_num)",
    """
    CREATE TABLE sanctions_addresses (
        id bigserial PRIMARY KEY,
        ent_num integer NOT NULL,
        add_num integer NOT NULL,
        address text NOT NULL DEFAULT '',
        city text NOT NULL DEFAULT '',
        country text NOT NULL DEFAULT '',
        add_remarks text NOT NULL DEFAULT ''
    )
    """,
    "CREATE INDEX sanctions_addresses_ent_idx ON sanctions_addresses (ent_num)",
]


async def forwards():
    return sql_migration(
        migration_id=ID, app_name="verification", description=DESCRIPTION, statements=STATEMENTS
    )
