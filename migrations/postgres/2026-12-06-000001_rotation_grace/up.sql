-- A rotated user's previous key, kept (encrypted like the current one) until LiteLLM has
-- confirmed the new key: services are handed the key that works until then, and the old key is
-- deleted in LiteLLM only after the switch.
ALTER TABLE users ADD COLUMN prev_key_ciphertext BYTEA;
ALTER TABLE users ADD COLUMN prev_key_hash TEXT;
