-- The operations removed were repeats; nothing to put back.
SELECT 1;
