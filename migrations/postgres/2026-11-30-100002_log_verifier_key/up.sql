-- The verifier key (origin and public key) of the key that signs this log's checkpoints, set by
-- the first `prequal serve` and checked by every later one: every process serving the database
-- must sign with the same key, or clients would see checkpoints that do not verify.
ALTER TABLE log_head ADD COLUMN verifier_key TEXT;
