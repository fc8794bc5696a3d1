-- What raised a staff alert (many accounts in an hour, a read outside usual hours), so one
-- kind of alert does not hide another: each is raised at most once an hour per staff member.
ALTER TABLE staff_alerts ADD COLUMN kind TEXT NOT NULL DEFAULT 'bulk_access';
