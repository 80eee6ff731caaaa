-- API keys gain ownership, scopes, expiry, metadata and the admin role.
-- NULL models/routes: unrestricted; a list restricts the key to those names
-- (globs such as 'gpt-4o*' allowed). Expired keys stop authenticating.
ALTER TABLE api_keys
    ADD COLUMN org_id     text,
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN models     text[],
    ADD COLUMN routes     text[],
    ADD COLUMN metadata   jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN is_admin   boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT api_keys_metadata_object
        CHECK (jsonb_typeof(metadata) = 'object');
