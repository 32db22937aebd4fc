DROP TABLE package_materials;
