DROP TABLE signatures;
DROP TABLE datasets;
DROP TABLE package_readers;
DROP TABLE packages;
DROP TABLE api_tokens;
DROP TABLE signing_keys;
DROP TABLE organisations;
