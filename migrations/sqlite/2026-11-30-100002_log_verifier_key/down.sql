ALTER TABLE log_head DROP COLUMN verifier_key;
