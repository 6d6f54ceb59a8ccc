-- Who used a link code, as `channel:external_id`. A chat platform delivers an update again when
-- its first delivery was not acknowledged (Telegram's webhook after a crash or a 5xx): the
-- redelivered `/start CODE` found the code used and told the client it was unknown, though
-- the first delivery had never got as far as linking them. The same account using the code
-- again now gets the same answer; anyone else is still refused.
ALTER TABLE link_codes ADD COLUMN used_by TEXT;
