ALTER TABLE users DROP COLUMN prev_key_hash;
ALTER TABLE users DROP COLUMN prev_key_ciphertext;
