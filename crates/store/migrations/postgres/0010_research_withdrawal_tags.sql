-- Research items are stored and matched under a withdrawal tag, a one-way hash of the
-- withdrawal key that only the owner's devices can compute; the key itself is never stored,
-- so nobody who reads this table (or is told a tag) can withdraw an item. Items stored
-- before kept the key itself: they are marked `key:` here and hashed into their tags by the
-- server as it starts (the hash is the crypto crate's, written once, not again in SQL).
ALTER TABLE research_items RENAME COLUMN withdrawal_id TO withdrawal_tag;
UPDATE research_items SET withdrawal_tag = 'key:' || withdrawal_tag;
