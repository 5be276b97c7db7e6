-- The visitor's satisfaction survey at the end of a web chat: a score of
-- 1 to 5, an optional comment, and when it was given. Written after the
-- conversation's record (an UPDATE of its row).
ALTER TABLE chats ADD COLUMN rating INTEGER;
ALTER TABLE chats ADD COLUMN rating_comment TEXT;
ALTER TABLE chats ADD COLUMN rated_at TEXT;
