-- Email verification: when the address of an account was last confirmed by a
-- click on an emailed link. Accounts made before this migration count as
-- confirmed, so that turning PAPERFEED_VERIFY_EMAIL on locks nobody out.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
UPDATE users SET email_verified_at = created_at;
