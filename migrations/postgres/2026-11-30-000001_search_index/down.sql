DROP TABLE dataset_points;
DROP TABLE search_index;
