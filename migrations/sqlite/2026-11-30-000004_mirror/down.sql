DROP TABLE mirror_rejections;
DROP TABLE mirror_state;
