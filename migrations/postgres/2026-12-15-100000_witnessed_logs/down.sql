DROP TABLE witnessed_logs;
