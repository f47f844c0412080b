-- 0001: the buckets of pkg/store, a tenant registry, sequences and leases.
--
-- Keys, values and tenant ids are bytea: compared byte by byte (the order
-- pkg/store promises) whatever the database's collation, and any byte string
-- is allowed. Values arrive sealed, so they do not compress: STORAGE EXTERNAL
-- keeps TOAST from trying.

CREATE TABLE tenants (
	id         bytea PRIMARY KEY,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- One table per tenant bucket; DELETE FROM tenants removes them all.
CREATE TABLE b_tenant (
	tenant bytea NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	k      bytea NOT NULL,
	v      bytea NOT NULL,
	PRIMARY KEY (tenant, k)
);
CREATE TABLE b_secrets (
	tenant bytea NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	k      bytea NOT NULL,
	v      bytea NOT NULL,
	PRIMARY KEY (tenant, k)
);
CREATE TABLE b_bodies (
	tenant bytea NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	k      bytea NOT NULL,
	v      bytea NOT NULL,
	PRIMARY KEY (tenant, k)
);
CREATE TABLE b_containers (
	tenant bytea NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	k      bytea NOT NULL,
	v      bytea NOT NULL,
	PRIMARY KEY (tenant, k)
);
CREATE TABLE b_attempts (
	tenant bytea NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	k      bytea NOT NULL,
	v      bytea NOT NULL,
	PRIMARY KEY (tenant, k)
);
CREATE TABLE b_audit (
	tenant bytea NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	k      bytea NOT NULL,
	v      bytea NOT NULL,
	PRIMARY KEY (tenant, k)
);
CREATE TABLE b_revoked (
	tenant bytea NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	k      bytea NOT NULL,
	v      bytea NOT NULL,
	PRIMARY KEY (tenant, k)
);

-- Global buckets.
CREATE TABLE b_app (
	k bytea PRIMARY KEY,
	v bytea NOT NULL
);
CREATE TABLE b_expiry (
	k bytea PRIMARY KEY,
	v bytea NOT NULL
);

-- Set here, not in CREATE TABLE: PostgreSQL 15 has no STORAGE column option.
ALTER TABLE b_tenant ALTER COLUMN v SET STORAGE EXTERNAL;
ALTER TABLE b_secrets ALTER COLUMN v SET STORAGE EXTERNAL;
ALTER TABLE b_bodies ALTER COLUMN v SET STORAGE EXTERNAL;
ALTER TABLE b_containers ALTER COLUMN v SET STORAGE EXTERNAL;
ALTER TABLE b_attempts ALTER COLUMN v SET STORAGE EXTERNAL;
ALTER TABLE b_audit ALTER COLUMN v SET STORAGE EXTERNAL;
ALTER TABLE b_revoked ALTER COLUMN v SET STORAGE EXTERNAL;
ALTER TABLE b_app ALTER COLUMN v SET STORAGE EXTERNAL;
ALTER TABLE b_expiry ALTER COLUMN v SET STORAGE EXTERNAL;

-- NextSequence: the last number handed out per tenant and bucket. A tenant's
-- counters go with it, as a bbolt bucket's sequence goes with the bucket.
CREATE TABLE tenant_sequences (
	tenant bytea  NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	bucket text   NOT NULL,
	n      bigint NOT NULL,
	PRIMARY KEY (tenant, bucket)
);
CREATE TABLE global_sequences (
	bucket text   PRIMARY KEY,
	n      bigint NOT NULL
);

-- Store.Lease: who holds each named lease, and until when by the database
-- clock.
CREATE TABLE leases (
	name       text        PRIMARY KEY,
	holder     text        NOT NULL,
	expires_at timestamptz NOT NULL
);
