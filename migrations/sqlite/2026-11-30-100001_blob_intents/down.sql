DROP TABLE blob_intents;
