-- name: lock_signal_for_deletion
-- The signal about to be deleted (locked): its article, story and whether it is current.
SELECT id, article_id, story_id, is_current, topic_ids FROM signals WHERE id = :id FOR UPDATE;

-- name: delete_signal
-- Deletes one signal (a trigger leaves its tombstone in signal_changes; topic, entity,
-- embedding and related rows go with it; jobs and stories keep a NULL reference).
DELETE FROM signals WHERE id = :id;

-- name: restore_newest_version
-- After the current version of an article was deleted, its newest remaining version is
-- current again (a trigger logs it as updated). Returns that version and its story.
UPDATE signals SET is_current = true
WHERE id = (
    SELECT id FROM signals WHERE article_id = :article_id ORDER BY created_at DESC, id DESC LIMIT 1
) AND NOT is_current
RETURNING id, story_id;
