ALTER TABLE profiles DROP COLUMN log_index;
ALTER TABLE profiles DROP COLUMN signature;
ALTER TABLE profiles DROP COLUMN key_id;
ALTER TABLE profiles DROP COLUMN body_sha256;
UPDATE profiles SET organisation_id = '' WHERE organisation_id = 'registry';
DROP TABLE profile_owners;
