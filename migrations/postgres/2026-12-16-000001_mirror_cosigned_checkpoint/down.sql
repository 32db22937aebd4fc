ALTER TABLE mirror_state DROP COLUMN cosigned_checkpoint;
