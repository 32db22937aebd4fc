DROP TABLE log_nodes;
DROP TABLE log_entries;
DROP TABLE log_head;
