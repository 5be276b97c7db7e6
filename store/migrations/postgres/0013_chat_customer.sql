-- Who a web chat conversation was with: `CHANNEL:sub` for a visitor the
-- site identified (a signed token), `anon-…` for an anonymous one (one
-- per conversation); empty for conversations written before this. The
-- agent desk lists a customer's earlier conversations by it.
ALTER TABLE chats ADD COLUMN customer TEXT NOT NULL DEFAULT '';
CREATE INDEX chats_customer ON chats (customer, started_at);
