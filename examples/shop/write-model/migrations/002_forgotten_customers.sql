-- A forgotten customer keeps its row (its id and version, so its stream stays in step) with every personal value
-- blanked, its address row deleted, and its e-mail index entry replaced by a value naming only its id.
ALTER TABLE customers ADD COLUMN forgotten INTEGER NOT NULL DEFAULT 0;
