-- Issue 18: an admin or viewer may be limited to organizations. NULL: every organization;
-- a JSON array of organization names otherwise (an empty array: none). Roles are `super`,
-- `admin` and now `viewer`.
ALTER TABLE admins ADD COLUMN organizations TEXT NULL;
