ALTER TABLE admins DROP COLUMN organizations;
