-- Operations queued before they were coalesced: a sync or block that repeats the waiting
-- operation before it (same user, kind and key; no other operation but key deletions in
-- between; neither held by a worker) does nothing the first will not do, and goes.
DELETE FROM outbox
WHERE kind IN ('sync', 'block')
  AND claimed_by IS NULL
  AND EXISTS (
    SELECT 1 FROM outbox AS prev
    WHERE prev.user_id = outbox.user_id
      AND prev.id < outbox.id
      AND prev.kind = outbox.kind
      AND (prev.key_hash = outbox.key_hash
           OR (prev.key_hash IS NULL AND outbox.key_hash IS NULL))
      AND prev.claimed_by IS NULL
      AND NOT EXISTS (
        SELECT 1 FROM outbox AS mid
        WHERE mid.user_id = outbox.user_id
          AND mid.id > prev.id
          AND mid.id < outbox.id
          AND mid.kind <> 'delete'
      )
  );
